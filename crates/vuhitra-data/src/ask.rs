//! Questions in plain language: what the model is told about a table, and
//! how its SQL is taken out of the answer. The SQL then has to pass
//! `guard::read_only_select` and runs on DataFusion; nothing the model
//! writes is executed any other way.

use crate::profile::{ColumnKind, Profile};

/// The system prompt for writing SQL.
pub const SYSTEM: &str = "You translate questions about a table into SQL for Apache DataFusion. \
Answer with exactly one SQL SELECT statement in a ```sql code block, then one short sentence \
explaining what it computes. Quote column names with double quotes. Never modify data.";

/// What the model is shown of one table.
pub struct TableBrief<'a> {
    pub name: &'a str,
    pub profile: &'a Profile,
    /// The first rows, as CSV.
    pub sample_csv: String,
}

/// The user message: each table's schema, statistics and first rows, then
/// the question.
pub fn prompt(tables: &[TableBrief], question: &str) -> String {
    let mut s = String::new();
    for t in tables {
        let profile = t.profile;
        s.push_str(&format!("Table \"{}\" has {} rows and these columns:\n", t.name, profile.rows));
        for c in &profile.columns {
            let mut facts = vec![format!("type {}", c.data_type)];
            if c.nulls > 0 {
                facts.push(format!("{} nulls", c.nulls));
            }
            if let (Some(lo), Some(hi)) = (&c.min, &c.max) {
                facts.push(format!("from {lo} to {hi}"));
            }
            if let Some(d) = c.distinct {
                facts.push(format!("about {d} distinct"));
            }
            if c.kind == ColumnKind::Text && !c.top_values.is_empty() {
                let tops: Vec<&str> = c.top_values.iter().map(|(v, _)| v.as_str()).collect();
                facts.push(format!("common values: {}", tops.join(", ")));
            }
            s.push_str(&format!("- \"{}\": {}\n", c.name, facts.join("; ")));
        }
        s.push_str(&format!("\nFirst rows of \"{}\" (CSV):\n{}\n", t.name, t.sample_csv));
    }
    s.push_str(&format!("Question: {question}\n"));
    s
}

/// The SQL in a model's answer: the first ```sql (or bare ```) block, else
/// the text from the first SELECT or WITH; and the text after the block,
/// up to any further block (models like to repeat themselves), as the
/// explanation.
pub fn extract_sql(answer: &str) -> Option<(String, String)> {
    for fence in ["```sql", "```SQL", "```"] {
        if let Some(start) = answer.find(fence) {
            let rest = &answer[start + fence.len()..];
            let end = rest.find("```").unwrap_or(rest.len());
            let sql = rest[..end].trim().trim_end_matches(';').trim().to_string();
            let after = rest.get(end + 3..).unwrap_or("");
            let explanation = after[..after.find("```").unwrap_or(after.len())].trim().to_string();
            if !sql.is_empty() {
                return Some((sql, explanation));
            }
        }
    }
    let upper = answer.to_ascii_uppercase();
    let word_at = |k: &str| {
        upper.match_indices(k).map(|(i, _)| i).find(|&i| {
            let before = upper[..i].chars().next_back().is_none_or(|c| !c.is_alphanumeric());
            let after = upper[i + k.len()..].chars().next().is_none_or(char::is_whitespace);
            before && after
        })
    };
    let select = word_at("SELECT")?;
    // A WITH clause counts only when its SELECT follows in the same sentence.
    let start = match word_at("WITH") {
        Some(w) if w < select && !upper[w..select].contains('.') => w,
        _ => select,
    };
    let text = &answer[start..];
    let end = text.find(';').map(|i| i + 1).unwrap_or(text.len());
    Some((text[..end].trim().trim_end_matches(';').to_string(), text[end..].trim().to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sql_is_taken_from_fences_or_plain_text() {
        let (sql, why) = extract_sql("Sure!\n```sql\nSELECT count(*) FROM t;\n```\nCounts the rows.").unwrap();
        assert_eq!((sql.as_str(), why.as_str()), ("SELECT count(*) FROM t", "Counts the rows."));
        let (_, why) = extract_sql("```sql\nSELECT 1\n```\nOne.\n```sql\nSELECT 1\n```\nOne again.").unwrap();
        assert_eq!(why, "One.", "a repeated block and what follows it are not the explanation");
        let (sql, _) = extract_sql("The query is: select max(\"a\") from t; done").unwrap();
        assert_eq!(sql, "select max(\"a\") from t");
        assert!(extract_sql("I cannot help with that.").is_none());
    }
}
