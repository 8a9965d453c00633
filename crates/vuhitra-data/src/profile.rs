//! Profiling a registered table in few passes: one SQL aggregate pass for
//! counts, nulls, min/max and the distinct counts of integers and text
//! (`approx_distinct`); one Rust scan (`scan.rs`) for everything about
//! numbers, dates and booleans that DataFusion computes slowly or not at
//! all; and one GROUP BY per text column for its top values. Every pass
//! streams, so a file larger than memory profiles in bounded memory
//! (distinct counts and quartiles are sketches); a small file is read into
//! memory once beforehand (`Loaded::read_into_memory`) so the passes do not
//! parse it again, and then its distinct counts and quartiles are exact
//! (`count(DISTINCT)`, sorted values): sketches are used only where
//! streaming needs them, and such figures are marked `approximate`.

use std::time::Instant;

use datafusion::arrow::array::{Array, ArrayRef, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::util::display::array_value_to_string;
use datafusion::prelude::SessionContext;
use serde::Serialize;

use crate::load::{DataError, Result};

/// Buckets of a histogram; fewer means one bucket per integer value.
pub const HISTOGRAM_BUCKETS: usize = 10;
const TOP_VALUES: usize = 5;

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
    /// Exact for data in memory; a sketch (HyperLogLog) when streamed, then
    /// `approximate`. Never more than the non-null values.
    pub distinct: Option<u64>,
    pub min: Option<String>,
    pub max: Option<String>,
    pub mean: Option<f64>,
    pub std: Option<f64>,
    /// The 25th, 50th and 75th percentiles, linearly interpolated between
    /// the sorted values (as pandas does) for data in memory; a t-digest
    /// estimate (as DataFusion's `approx_percentile_cont`) when streamed.
    pub quartiles: Option<[f64; 3]>,
    /// Whether the distinct count or the quartiles are sketch estimates.
    pub approximate: bool,
    pub top_values: Vec<(String, u64)>,
    /// Counts in equal-width buckets from min to max: ten, or one per value
    /// for integers of a narrower range.
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

/// How a column's distinct values are counted.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Distinct {
    /// `approx_distinct` in the SQL pass, which takes integers and strings.
    Sql,
    /// Exactly in the SQL pass, for types nothing else takes.
    Exact,
    /// In the Rust scan: a HyperLogLog sketch over the values' bits for
    /// floats, dates and times; the true and false counts for booleans.
    Scan,
}

fn distinct_method(dt: &DataType, kind: ColumnKind, exact: bool) -> Distinct {
    match kind {
        ColumnKind::Boolean => Distinct::Scan,
        _ if exact => Distinct::Exact,
        ColumnKind::Text => Distinct::Sql,
        ColumnKind::Numeric if dt.is_integer() => Distinct::Sql,
        ColumnKind::Numeric | ColumnKind::Temporal => Distinct::Scan,
        ColumnKind::Other => Distinct::Exact,
    }
}

/// Whether the scan sketches the column's distinct count.
pub(crate) fn sketched(dt: &DataType, kind: ColumnKind, exact: bool) -> bool {
    kind != ColumnKind::Boolean && distinct_method(dt, kind, exact) == Distinct::Scan
}

fn is_ordered(kind: ColumnKind) -> bool {
    matches!(kind, ColumnKind::Numeric | ColumnKind::Text | ColumnKind::Temporal)
}

/// Profiles `table`. With `exact` (the data is in memory, or small),
/// distinct counts and quartiles are exact; without, they are sketched in
/// bounded memory and marked approximate.
pub async fn profile(ctx: &SessionContext, table: &str, exact: bool) -> Result<Profile> {
    let df = ctx.table(table).await.map_err(|e| DataError::Query(e.to_string()))?;
    let schema = df.schema().as_arrow().clone();
    let t = quote(table);
    let columns: Vec<(String, DataType, ColumnKind)> =
        schema.fields().iter().map(|f| (f.name().clone(), f.data_type().clone(), kind_of(f.data_type()))).collect();
    // Pass 1: the aggregates DataFusion computes fast, in one scan.
    let mut select = vec!["count(*)".to_string()];
    for (name, dt, kind) in &columns {
        let c = quote(name);
        select.push(format!("count({c})"));
        match distinct_method(dt, *kind, exact) {
            Distinct::Sql => select.push(format!("approx_distinct({c})")),
            Distinct::Exact => select.push(format!("count(DISTINCT {c})")),
            Distinct::Scan => {}
        }
        if is_ordered(*kind) {
            select.push(format!("min({c})"));
            select.push(format!("max({c})"));
        }
    }
    let started = Instant::now();
    let batches = query(ctx, &format!("SELECT {} FROM {t}", select.join(", "))).await?;
    tracing::debug!("profile {table}: aggregates in {:.1?}", started.elapsed());
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
        let method = distinct_method(dt, *kind, exact);
        let distinct = match method {
            Distinct::Scan => None,
            // A sketch can overshoot; there are never more distinct values than values.
            _ => f64_at(&next(), 0).map(|v| (v as u64).min(non_null)),
        };
        let (min, max) = if is_ordered(*kind) { (string_at(&next(), 0), string_at(&next(), 0)) } else { (None, None) };
        profiles.push(ColumnProfile {
            name: name.clone(),
            data_type: dt.to_string(),
            kind: *kind,
            nulls: rows - non_null.min(rows),
            distinct,
            min,
            max,
            mean: None,
            std: None,
            quartiles: None,
            approximate: method == Distinct::Sql,
            top_values: Vec::new(),
            histogram: Vec::new(),
        });
    }

    // Pass 2: numbers, dates and booleans, in Rust.
    let started = Instant::now();
    let types: Vec<DataType> = columns.iter().map(|(_, dt, _)| dt.clone()).collect();
    let correlations = crate::scan::scan(ctx, &t, rows, &types, &mut profiles, exact).await?;
    tracing::debug!("profile {table}: scan in {:.1?}", started.elapsed());

    // Top values of text columns.
    let started = Instant::now();
    for p in profiles.iter_mut().filter(|p| p.kind == ColumnKind::Text) {
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
    tracing::debug!("profile {table}: top values in {:.1?}", started.elapsed());
    Ok(Profile { table: table.to_string(), rows, columns: profiles, correlations })
}

/// A statistic for people: four decimals at most, scientific notation for
/// very large and very small magnitudes.
pub fn format_number(x: f64) -> String {
    if x.abs() >= 1e6 || (x != 0.0 && x.abs() < 1e-3) {
        format!("{x:.3e}")
    } else {
        format!("{x:.4}").trim_end_matches('0').trim_end_matches('.').to_string()
    }
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
