//! The check generated SQL must pass before it runs: exactly one statement,
//! a query (SELECT, WITH … SELECT, set operations of those), and no
//! SELECT … INTO. The model's SQL never reaches anything else.

use datafusion::execution::context::SQLOptions;
use datafusion::sql::sqlparser::ast::{SetExpr, Statement};
use datafusion::sql::sqlparser::dialect::GenericDialect;
use datafusion::sql::sqlparser::parser::Parser;

pub fn read_only_select(sql: &str) -> Result<(), String> {
    let statements = Parser::parse_sql(&GenericDialect {}, sql).map_err(|e| format!("not valid SQL: {e}"))?;
    match statements.as_slice() {
        [] => Err("no SQL statement".into()),
        [Statement::Query(q)] => check_body(&q.body),
        [_] => Err("only a SELECT query is allowed".into()),
        _ => Err(format!("one statement only, not {}", statements.len())),
    }
}

/// The engine's own refusal, a second line behind the parser check and the
/// default for the user's `vuhitra sql`: no DDL (CREATE, DROP), no DML
/// (INSERT, COPY … TO), no statements (SET, transactions), anywhere in the
/// plan, subqueries included.
pub fn read_only_options() -> SQLOptions {
    SQLOptions::new().with_allow_ddl(false).with_allow_dml(false).with_allow_statements(false)
}

/// Whether a planning error is [`read_only_options`] refusing the statement.
pub fn refused_as_writing(message: &str) -> bool {
    ["DDL not supported", "DML not supported", "Statement not supported"].iter().any(|m| message.contains(m))
}

fn check_body(body: &SetExpr) -> Result<(), String> {
    match body {
        SetExpr::Select(s) if s.into.is_some() => Err("SELECT … INTO writes a table; only reading is allowed".into()),
        SetExpr::Select(_) | SetExpr::Values(_) | SetExpr::Table(_) => Ok(()),
        SetExpr::Query(q) => check_body(&q.body),
        SetExpr::SetOperation { left, right, .. } => check_body(left).and(check_body(right)),
        _ => Err("only a SELECT query is allowed".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_single_read_only_queries_pass() {
        for ok in [
            "SELECT region, sum(amount) FROM sales GROUP BY region",
            "WITH t AS (SELECT 1 AS x) SELECT x FROM t",
            "SELECT 1 UNION SELECT 2",
        ] {
            assert_eq!(read_only_select(ok), Ok(()), "{ok}");
        }
        for bad in [
            "DROP TABLE sales",
            "SELECT 1; DROP TABLE sales",
            "INSERT INTO sales VALUES (1)",
            "SELECT * INTO copy FROM sales",
            "COPY sales TO '/tmp/x.csv'",
            "CREATE EXTERNAL TABLE x STORED AS CSV LOCATION '/etc/passwd'",
            "",
            "SELEC 1",
        ] {
            assert!(read_only_select(bad).is_err(), "{bad}");
        }
    }
}
