//! The check generated SQL must pass before it runs: exactly one statement,
//! a query (SELECT, WITH … SELECT, set operations of those), and no
//! SELECT … INTO or data-modifying statement anywhere in it (CTEs, derived
//! tables and subqueries are walked too). The model's SQL never reaches
//! anything else, and the engine refuses writes again (`read_only_options`).

use datafusion::execution::context::SQLOptions;
use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{Query, SetExpr, Statement, Visit, Visitor};
use datafusion::sql::sqlparser::dialect::GenericDialect;
use datafusion::sql::sqlparser::parser::Parser;

pub fn read_only_select(sql: &str) -> Result<(), String> {
    let statements = Parser::parse_sql(&GenericDialect {}, sql).map_err(|e| format!("not valid SQL: {e}"))?;
    match statements.as_slice() {
        [] => Err("no SQL statement".into()),
        // Every query inside counts too: CTEs, derived tables, subqueries.
        [s @ Statement::Query(_)] => match s.visit(&mut ReadOnly) {
            ControlFlow::Break(why) => Err(why),
            ControlFlow::Continue(()) => Ok(()),
        },
        [_] => Err("only a SELECT query is allowed".into()),
        _ => Err(format!("one statement only, not {}", statements.len())),
    }
}

/// Walks every query and statement of a parsed query.
struct ReadOnly;

impl Visitor for ReadOnly {
    type Break = String;

    fn pre_visit_query(&mut self, query: &Query) -> ControlFlow<String> {
        match check_body(&query.body) {
            Ok(()) => ControlFlow::Continue(()),
            Err(why) => ControlFlow::Break(why),
        }
    }

    fn pre_visit_statement(&mut self, statement: &Statement) -> ControlFlow<String> {
        match statement {
            Statement::Query(_) => ControlFlow::Continue(()),
            // A data-modifying CTE (WITH d AS (DELETE … RETURNING …)) holds one.
            _ => ControlFlow::Break("only reading is allowed, also inside WITH and subqueries".into()),
        }
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
            "WITH a AS (SELECT 1 AS x), b AS (SELECT x FROM a) SELECT * FROM b WHERE x IN (SELECT x FROM a)",
            "SELECT * FROM (SELECT region FROM sales) AS s",
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
            // Inside CTEs, derived tables and subqueries.
            "WITH t AS (SELECT * INTO copy FROM sales) SELECT * FROM t",
            "WITH d AS (DELETE FROM sales RETURNING *) SELECT * FROM d",
            "WITH i AS (INSERT INTO sales VALUES (1) RETURNING *) SELECT * FROM i",
            "SELECT * FROM (SELECT * INTO copy FROM sales) AS s",
            "SELECT 1 WHERE EXISTS (SELECT * INTO copy FROM sales)",
            "SELECT 1 UNION SELECT * INTO copy FROM sales",
        ] {
            assert!(read_only_select(bad).is_err(), "{bad}");
        }
    }
}
