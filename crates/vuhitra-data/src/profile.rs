//! Profiling a registered table with a few aggregate queries: one pass for
//! counts, nulls, distinct counts, min/max, mean, standard deviation and
//! quartiles of every column; one for all pairwise correlations of numeric
//! columns; one per text column for its top values and one per numeric
//! column for its histogram. DataFusion streams each pass, so a file larger
//! than memory profiles in bounded memory (approximate distinct counts and
//! quartiles keep it so).

use datafusion::arrow::array::{Array, ArrayRef, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::util::display::array_value_to_string;
use datafusion::prelude::SessionContext;
use serde::Serialize;

use crate::load::{DataError, Result};

const HISTOGRAM_BUCKETS: usize = 10;
const TOP_VALUES: usize = 5;
/// Correlations are computed for at most this many numeric columns.
const MAX_CORRELATED: usize = 24;

#[derive(Debug, Clone, Serialize)]
pub struct Profile {
    pub table: String,
    pub rows: u64,
    pub columns: Vec<ColumnProfile>,
    pub correlations: Vec<Correlation>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ColumnKind {
    Numeric,
    Text,
    Temporal,
    Boolean,
    Other,
}

#[derive(Debug, Clone, Serialize)]
pub struct ColumnProfile {
    pub name: String,
    pub data_type: String,
    pub kind: ColumnKind,
    pub nulls: u64,
    /// Approximate (HyperLogLog) for large columns.
    pub distinct: Option<u64>,
    pub min: Option<String>,
    pub max: Option<String>,
    pub mean: Option<f64>,
    pub std: Option<f64>,
    /// Approximate 25th, 50th and 75th percentiles (t-digest).
    pub quartiles: Option<[f64; 3]>,
    pub top_values: Vec<(String, u64)>,
    /// Counts in equal-width buckets from min to max.
    pub histogram: Vec<u64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Correlation {
    pub a: String,
    pub b: String,
    /// Pearson's r.
    pub r: f64,
}

fn kind_of(dt: &DataType) -> ColumnKind {
    match dt {
        dt if dt.is_numeric() => ColumnKind::Numeric,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => ColumnKind::Text,
        DataType::Date32 | DataType::Date64 | DataType::Timestamp(..) | DataType::Time32(_) | DataType::Time64(_) => {
            ColumnKind::Temporal
        }
        DataType::Boolean => ColumnKind::Boolean,
        _ => ColumnKind::Other,
    }
}

/// An identifier quoted for SQL.
pub fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

async fn query(ctx: &SessionContext, sql: &str) -> Result<Vec<RecordBatch>> {
    let df = ctx.sql(sql).await.map_err(|e| DataError::Query(e.to_string()))?;
    df.collect().await.map_err(|e| DataError::Query(e.to_string()))
}

fn f64_at(col: &ArrayRef, row: usize) -> Option<f64> {
    if col.is_null(row) {
        return None;
    }
    let c = cast(col, &DataType::Float64).ok()?;
    let a = c.as_any().downcast_ref::<datafusion::arrow::array::Float64Array>()?;
    Some(a.value(row)).filter(|v| v.is_finite())
}

fn string_at(col: &ArrayRef, row: usize) -> Option<String> {
    (!col.is_null(row)).then(|| array_value_to_string(col, row).ok()).flatten()
}

pub async fn profile(ctx: &SessionContext, table: &str) -> Result<Profile> {
    let df = ctx.table(table).await.map_err(|e| DataError::Query(e.to_string()))?;
    let schema = df.schema().as_arrow().clone();
    let t = quote(table);
    let columns: Vec<(String, DataType, ColumnKind)> =
        schema.fields().iter().map(|f| (f.name().clone(), f.data_type().clone(), kind_of(f.data_type()))).collect();

    // Pass 1: everything per column, in one scan.
    let mut select = vec!["count(*)".to_string()];
    for (name, dt, kind) in &columns {
        let c = quote(name);
        select.push(format!("count({c})"));
        let ordered = matches!(kind, ColumnKind::Numeric | ColumnKind::Text | ColumnKind::Temporal);
        // approx_distinct takes integers and strings: floats and times are
        // counted by their text.
        let native = dt.is_integer() || *kind == ColumnKind::Text;
        select.push(match (ordered, native) {
            (true, true) => format!("approx_distinct({c})"),
            (true, false) => format!("approx_distinct(CAST({c} AS VARCHAR))"),
            (false, _) => format!("count(DISTINCT {c})"),
        });
        if ordered {
            select.push(format!("min({c})"));
            select.push(format!("max({c})"));
        }
        if *kind == ColumnKind::Numeric {
            let d = format!("CAST({c} AS DOUBLE)");
            select.push(format!("avg({d})"));
            select.push(format!("stddev({d})"));
            for p in ["0.25", "0.5", "0.75"] {
                select.push(format!("approx_percentile_cont({p}) WITHIN GROUP (ORDER BY {d})"));
            }
        }
    }
    let batches = query(ctx, &format!("SELECT {} FROM {t}", select.join(", "))).await?;
    let row = batches.iter().find(|b| b.num_rows() > 0).ok_or_else(|| DataError::Query("no result".into()))?;
    let mut i = 0;
    let mut next = || {
        i += 1;
        row.column(i - 1).clone()
    };
    let rows = f64_at(&next(), 0).unwrap_or(0.0) as u64;
    let mut profiles = Vec::new();
    for (name, dt, kind) in &columns {
        let non_null = f64_at(&next(), 0).unwrap_or(0.0) as u64;
        let distinct = f64_at(&next(), 0).map(|v| v as u64);
        let ordered = matches!(kind, ColumnKind::Numeric | ColumnKind::Text | ColumnKind::Temporal);
        let (min, max) = if ordered { (string_at(&next(), 0), string_at(&next(), 0)) } else { (None, None) };
        let (mut mean, mut std, mut quartiles) = (None, None, None);
        if *kind == ColumnKind::Numeric {
            mean = f64_at(&next(), 0);
            std = f64_at(&next(), 0);
            let q: Vec<Option<f64>> = (0..3).map(|_| f64_at(&next(), 0)).collect();
            quartiles = match q[..] {
                [Some(a), Some(b), Some(c)] => Some([a, b, c]),
                _ => None,
            };
        }
        profiles.push(ColumnProfile {
            name: name.clone(),
            data_type: dt.to_string(),
            kind: *kind,
            nulls: rows - non_null.min(rows),
            distinct,
            min,
            max,
            mean,
            std,
            quartiles,
            top_values: Vec::new(),
            histogram: Vec::new(),
        });
    }

    // Top values of text columns.
    for p in profiles.iter_mut().filter(|p| matches!(p.kind, ColumnKind::Text | ColumnKind::Boolean)) {
        let c = quote(&p.name);
        let sql = format!(
            "SELECT CAST({c} AS VARCHAR), count(*) AS n FROM {t} WHERE {c} IS NOT NULL GROUP BY 1 ORDER BY n DESC, 1 LIMIT {TOP_VALUES}"
        );
        for b in query(ctx, &sql).await? {
            for r in 0..b.num_rows() {
                let v = string_at(b.column(0), r).unwrap_or_default();
                let n = f64_at(b.column(1), r).unwrap_or(0.0) as u64;
                p.top_values.push((v, n));
            }
        }
    }

    // Histograms of numeric columns, between their min and max.
    for p in profiles.iter_mut().filter(|p| p.kind == ColumnKind::Numeric) {
        let (Some(lo), Some(hi)) = (
            p.min.as_deref().and_then(|v| v.parse::<f64>().ok()),
            p.max.as_deref().and_then(|v| v.parse::<f64>().ok()),
        ) else {
            continue;
        };
        let mut counts = vec![0u64; HISTOGRAM_BUCKETS];
        if hi > lo {
            let c = quote(&p.name);
            let width = (hi - lo) / HISTOGRAM_BUCKETS as f64;
            let sql = format!(
                "SELECT LEAST(CAST(FLOOR((CAST({c} AS DOUBLE) - ({lo:e})) / ({width:e})) AS BIGINT), {last}) AS bucket, count(*)
                 FROM {t} WHERE {c} IS NOT NULL GROUP BY 1",
                last = HISTOGRAM_BUCKETS - 1
            );
            for b in query(ctx, &sql).await? {
                for r in 0..b.num_rows() {
                    if let (Some(k), Some(n)) = (f64_at(b.column(0), r), f64_at(b.column(1), r)) {
                        counts[(k.max(0.0) as usize).min(HISTOGRAM_BUCKETS - 1)] += n as u64;
                    }
                }
            }
        } else {
            counts[0] = rows - p.nulls;
        }
        p.histogram = counts;
    }

    // Pairwise correlations of numeric columns, in one scan.
    let numeric: Vec<&str> = profiles
        .iter()
        .filter(|p| p.kind == ColumnKind::Numeric)
        .map(|p| p.name.as_str())
        .take(MAX_CORRELATED)
        .collect();
    let mut pairs = Vec::new();
    for (i, a) in numeric.iter().enumerate() {
        for b in &numeric[i + 1..] {
            pairs.push((a.to_string(), b.to_string()));
        }
    }
    let mut correlations = Vec::new();
    if !pairs.is_empty() {
        let exprs: Vec<String> = pairs
            .iter()
            .map(|(a, b)| format!("corr(CAST({} AS DOUBLE), CAST({} AS DOUBLE))", quote(a), quote(b)))
            .collect();
        let batches = query(ctx, &format!("SELECT {} FROM {t}", exprs.join(", "))).await?;
        if let Some(row) = batches.iter().find(|b| b.num_rows() > 0) {
            for (k, (a, b)) in pairs.into_iter().enumerate() {
                if let Some(r) = f64_at(row.column(k), 0) {
                    correlations.push(Correlation { a, b, r });
                }
            }
        }
    }
    Ok(Profile { table: table.to_string(), rows, columns: profiles, correlations })
}

/// A histogram as a line of block characters, scaled to the fullest bucket.
pub fn sparkline(counts: &[u64]) -> String {
    const BLOCKS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let max = counts.iter().copied().max().unwrap_or(0);
    if max == 0 {
        return String::new();
    }
    counts
        .iter()
        .map(|&c| if c == 0 { ' ' } else { BLOCKS[((c as f64 / max as f64) * 7.0).round() as usize] })
        .collect()
}
