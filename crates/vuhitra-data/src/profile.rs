//! Profiling a registered table in few passes: one SQL aggregate pass for
//! counts, nulls, distinct counts, min/max, mean, standard deviation and
//! all pairwise correlations of numeric columns; one scan in Rust, each
//! partition on its own task, for the histograms and quartiles of numeric
//! columns and the distinct counts DataFusion's `approx_distinct` does not
//! take (floats, dates, times); and one GROUP BY per text column for its top
//! values. Every pass streams, so a file larger than memory profiles in
//! bounded memory (distinct counts and quartiles are sketches); a small
//! file is read into memory once beforehand (`Loaded::read_into_memory`) so
//! the passes do not parse it again.

use std::time::Instant;

use datafusion::arrow::array::{Array, ArrayRef, Float64Array, Int64Array, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::util::display::array_value_to_string;
use datafusion::prelude::SessionContext;
use futures_util::StreamExt;
use serde::Serialize;

use crate::load::{DataError, Result};
use crate::sketch::DistinctSketch;
use datafusion_functions_aggregate_common::tdigest::TDigest;

/// Buckets of a histogram; fewer means one bucket per integer value.
pub const HISTOGRAM_BUCKETS: usize = 10;
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
    /// Approximate 25th, 50th and 75th percentiles (t-digest, like
    /// DataFusion's `approx_percentile_cont`).
    pub quartiles: Option<[f64; 3]>,
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

/// How pass 1 counts a column's distinct values.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Distinct {
    /// `approx_distinct`, which takes integers and strings.
    Sql,
    /// Exactly, for columns of few values (booleans) and unordered types.
    Exact,
    /// A HyperLogLog sketch over the values' bits, in the Rust scan.
    Scan,
}

fn distinct_method(dt: &DataType, kind: ColumnKind) -> Distinct {
    match kind {
        ColumnKind::Text => Distinct::Sql,
        ColumnKind::Numeric if dt.is_integer() => Distinct::Sql,
        ColumnKind::Numeric | ColumnKind::Temporal => Distinct::Scan,
        ColumnKind::Boolean | ColumnKind::Other => Distinct::Exact,
    }
}

fn is_ordered(kind: ColumnKind) -> bool {
    matches!(kind, ColumnKind::Numeric | ColumnKind::Text | ColumnKind::Temporal)
}

pub async fn profile(ctx: &SessionContext, table: &str) -> Result<Profile> {
    let df = ctx.table(table).await.map_err(|e| DataError::Query(e.to_string()))?;
    let schema = df.schema().as_arrow().clone();
    let t = quote(table);
    let columns: Vec<(String, DataType, ColumnKind)> =
        schema.fields().iter().map(|f| (f.name().clone(), f.data_type().clone(), kind_of(f.data_type()))).collect();
    let numeric: Vec<&str> = columns
        .iter()
        .filter(|(_, _, k)| *k == ColumnKind::Numeric)
        .map(|(n, _, _)| n.as_str())
        .take(MAX_CORRELATED)
        .collect();
    let mut pairs = Vec::new();
    for (i, a) in numeric.iter().enumerate() {
        for b in &numeric[i + 1..] {
            pairs.push((a.to_string(), b.to_string()));
        }
    }

    // Pass 1: every aggregate DataFusion computes in one scan.
    let mut select = vec!["count(*)".to_string()];
    for (name, dt, kind) in &columns {
        let c = quote(name);
        select.push(format!("count({c})"));
        match distinct_method(dt, *kind) {
            Distinct::Sql => select.push(format!("approx_distinct({c})")),
            Distinct::Exact => select.push(format!("count(DISTINCT {c})")),
            Distinct::Scan => {}
        }
        if is_ordered(*kind) {
            select.push(format!("min({c})"));
            select.push(format!("max({c})"));
        }
        if *kind == ColumnKind::Numeric {
            let d = format!("CAST({c} AS DOUBLE)");
            select.push(format!("avg({d})"));
            select.push(format!("stddev({d})"));
        }
        if *kind == ColumnKind::Boolean {
            select.push(format!("count(CASE WHEN {c} THEN 1 END)"));
        }
    }
    for (a, b) in &pairs {
        select.push(format!("corr(CAST({} AS DOUBLE), CAST({} AS DOUBLE))", quote(a), quote(b)));
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
        let distinct = match distinct_method(dt, *kind) {
            Distinct::Scan => None,
            _ => f64_at(&next(), 0).map(|v| v as u64),
        };
        let (min, max) = if is_ordered(*kind) { (string_at(&next(), 0), string_at(&next(), 0)) } else { (None, None) };
        let (mut mean, mut std) = (None, None);
        if *kind == ColumnKind::Numeric {
            mean = f64_at(&next(), 0);
            std = f64_at(&next(), 0);
        }
        let mut top_values = Vec::new();
        if *kind == ColumnKind::Boolean {
            let trues = f64_at(&next(), 0).unwrap_or(0.0) as u64;
            top_values = [("true", trues), ("false", non_null - trues.min(non_null))]
                .into_iter()
                .filter(|(_, n)| *n > 0)
                .map(|(v, n)| (v.to_string(), n))
                .collect();
            top_values.sort_by_key(|(_, n)| std::cmp::Reverse(*n));
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
            quartiles: None,
            top_values,
            histogram: Vec::new(),
        });
    }
    let mut correlations = Vec::new();
    for (a, b) in pairs {
        if let Some(r) = f64_at(&next(), 0) {
            correlations.push(Correlation { a, b, r });
        }
    }

    // Pass 2: histograms, quartiles and the remaining distinct counts.
    let started = Instant::now();
    scan(ctx, &t, &columns, rows, &mut profiles).await?;
    tracing::debug!("profile {table}: histograms and sketches in {:.1?}", started.elapsed());

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

/// What the Rust scan keeps for one column; one copy per partition, merged
/// at the end.
#[derive(Clone)]
struct ScanState {
    /// Index into the columns.
    column: usize,
    numeric: bool,
    /// Histogram range and counts, for numeric columns with a spread.
    range: Option<(f64, f64)>,
    histogram: Vec<u64>,
    sketch: Option<DistinctSketch>,
    /// Quartiles of numeric columns: one t-digest gives all three (three
    /// `approx_percentile_cont` calls would build three).
    digest: Option<TDigest>,
}

/// Centroids per t-digest, as in DataFusion's `approx_percentile_cont`.
const DIGEST_SIZE: usize = 100;

impl ScanState {
    fn update(&mut self, col: &ArrayRef) -> Result<()> {
        if self.numeric {
            let values = cast(col, &DataType::Float64).map_err(|e| DataError::Query(e.to_string()))?;
            let values = values.as_any().downcast_ref::<Float64Array>().expect("cast to Float64");
            let mut finite = Vec::with_capacity(values.len());
            for v in values.iter().flatten() {
                if let Some(h) = &mut self.sketch {
                    // 0.0 and -0.0 are one value.
                    h.add((if v == 0.0 { 0.0f64 } else { v }).to_bits());
                }
                if !v.is_finite() {
                    continue;
                }
                finite.push(v);
                if let Some((lo, hi)) = self.range {
                    let buckets = self.histogram.len();
                    let k = ((v - lo) / (hi - lo) * buckets as f64).floor();
                    self.histogram[(k.max(0.0) as usize).min(buckets - 1)] += 1;
                }
            }
            if let Some(d) = &mut self.digest {
                *d = d.merge_unsorted_f64(finite);
            }
        } else if let Some(h) = &mut self.sketch {
            // Dates and times count by their integer representation; a type
            // without one gets no distinct count.
            let Ok(values) = cast(col, &DataType::Int64) else {
                self.sketch = None;
                return Ok(());
            };
            let values = values.as_any().downcast_ref::<Int64Array>().expect("cast to Int64");
            for v in values.iter().flatten() {
                h.add(v as u64);
            }
        }
        Ok(())
    }

    fn merge(&mut self, other: ScanState) {
        for (a, b) in self.histogram.iter_mut().zip(other.histogram) {
            *a += b;
        }
        match (&mut self.sketch, other.sketch) {
            (Some(a), Some(b)) => a.merge(&b),
            // A partition that could not sketch the column spoils the count.
            (a, None) => *a = None,
            (None, Some(_)) => {}
        }
        if let (Some(a), Some(b)) = (&mut self.digest, other.digest) {
            *a = TDigest::merge_digests([&*a, &b]);
        }
    }
}

/// Histograms and quartiles of numeric columns, and sketched distinct
/// counts of floats, decimals, dates and times, in one scan of just those
/// columns, each partition of the table on its own task.
async fn scan(
    ctx: &SessionContext,
    t: &str,
    columns: &[(String, DataType, ColumnKind)],
    rows: u64,
    profiles: &mut [ColumnProfile],
) -> Result<()> {
    let mut states = Vec::new();
    for (k, (_, dt, kind)) in columns.iter().enumerate() {
        let sketch = (distinct_method(dt, *kind) == Distinct::Scan).then(DistinctSketch::default);
        let numeric = *kind == ColumnKind::Numeric;
        let p = &mut profiles[k];
        let mut range = None;
        if numeric {
            let bound = |v: &Option<String>| v.as_deref().and_then(|v| v.parse::<f64>().ok());
            let (lo, hi) = (bound(&p.min), bound(&p.max));
            // Integers of a narrow range get one bucket per value, so that
            // 1..=9 does not show a gap where two values share a bucket.
            let buckets = match (lo, hi) {
                (Some(lo), Some(hi)) if dt.is_integer() && hi - lo < HISTOGRAM_BUCKETS as f64 => (hi - lo) as usize + 1,
                _ => HISTOGRAM_BUCKETS,
            };
            p.histogram = vec![0; buckets];
            match (lo, hi) {
                (Some(lo), Some(hi)) if hi > lo => range = Some((lo, hi)),
                (Some(_), Some(_)) => p.histogram[0] = rows - p.nulls,
                _ => p.histogram.clear(),
            }
        }
        if numeric || sketch.is_some() {
            let histogram = if range.is_some() { vec![0; p.histogram.len()] } else { Vec::new() };
            let digest = numeric.then(|| TDigest::new(DIGEST_SIZE));
            states.push(ScanState { column: k, numeric, range, histogram, sketch, digest });
        }
    }
    if states.is_empty() {
        return Ok(());
    }
    let list: Vec<String> = states.iter().map(|s| quote(&columns[s.column].0)).collect();
    let df =
        ctx.sql(&format!("SELECT {} FROM {t}", list.join(", "))).await.map_err(|e| DataError::Query(e.to_string()))?;
    let streams = df.execute_stream_partitioned().await.map_err(|e| DataError::Query(e.to_string()))?;
    let tasks: Vec<_> = streams
        .into_iter()
        .map(|mut stream| {
            let mut states = states.clone();
            tokio::spawn(async move {
                while let Some(batch) = stream.next().await {
                    let batch = batch.map_err(|e| DataError::Query(e.to_string()))?;
                    for (s, col) in states.iter_mut().zip(batch.columns()) {
                        s.update(col)?;
                    }
                }
                Ok::<_, DataError>(states)
            })
        })
        .collect();
    let mut merged: Option<Vec<ScanState>> = None;
    for task in tasks {
        let part = task.await.map_err(|e| DataError::Query(e.to_string()))??;
        match &mut merged {
            None => merged = Some(part),
            Some(m) => m.iter_mut().zip(part).for_each(|(a, b)| a.merge(b)),
        }
    }
    for s in merged.unwrap_or(states) {
        let p = &mut profiles[s.column];
        if s.range.is_some() {
            p.histogram = s.histogram;
        }
        if let Some(h) = s.sketch {
            p.distinct = Some(h.count());
        }
        if let Some(d) = s.digest.filter(|d| d.count() > 0.0) {
            p.quartiles = Some([0.25, 0.5, 0.75].map(|q| d.estimate_quantile(q)));
        }
    }
    Ok(())
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
