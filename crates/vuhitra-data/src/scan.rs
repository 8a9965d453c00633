//! The Rust pass of a profile: one scan of the numeric, date/time and
//! boolean columns, each partition of the table on its own task, for what
//! DataFusion computes slowly or not at all: histograms, quartiles (one
//! t-digest per column where `approx_percentile_cont` builds one per
//! quantile), mean and standard deviation, pairwise Pearson correlations,
//! distinct counts of floats, dates and times (a HyperLogLog), and true
//! counts of booleans. Every statistic merges across batches and
//! partitions, so memory stays bounded however large the table is.

use datafusion::arrow::array::{Array, ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::prelude::SessionContext;
use datafusion_functions_aggregate_common::tdigest::TDigest;
use futures_util::StreamExt;

use crate::load::{DataError, Result};
use crate::profile::{quote, sketched, ColumnKind, ColumnProfile, Correlation, HISTOGRAM_BUCKETS};
use crate::sketch::DistinctSketch;

/// Correlations are computed for at most this many numeric columns.
const MAX_CORRELATED: usize = 24;
/// Centroids per t-digest, as in DataFusion's `approx_percentile_cont`.
const DIGEST_SIZE: usize = 100;

/// Count, mean and sum of squared deviations, merged with Chan et al.'s
/// formula, so batches and partitions combine without a second pass.
#[derive(Clone, Copy, Default)]
struct Moments {
    n: f64,
    mean: f64,
    m2: f64,
}

impl Moments {
    fn of(values: &[f64]) -> Moments {
        if values.is_empty() {
            return Moments::default();
        }
        let n = values.len() as f64;
        let mean = values.iter().sum::<f64>() / n;
        Moments { n, mean, m2: values.iter().map(|v| (v - mean) * (v - mean)).sum() }
    }

    fn merge(&mut self, o: Moments) {
        if o.n == 0.0 {
            return;
        }
        let n = self.n + o.n;
        let d = o.mean - self.mean;
        self.m2 += o.m2 + d * d * self.n * o.n / n;
        self.mean += d * o.n / n;
        self.n = n;
    }

    /// The sample standard deviation, as SQL's `stddev`.
    fn std(&self) -> Option<f64> {
        (self.n > 1.0).then(|| (self.m2 / (self.n - 1.0)).sqrt())
    }
}

/// Co-moments of two columns over the rows where both have a finite value.
#[derive(Clone, Copy, Default)]
struct CoMoments {
    n: f64,
    mean_x: f64,
    mean_y: f64,
    c: f64,
    m2x: f64,
    m2y: f64,
}

impl CoMoments {
    fn of(x: &Float64Array, y: &Float64Array) -> CoMoments {
        let both = |k: usize| {
            (x.is_valid(k) && y.is_valid(k))
                .then(|| (x.value(k), y.value(k)))
                .filter(|(a, b)| a.is_finite() && b.is_finite())
        };
        let (mut n, mut sx, mut sy) = (0.0, 0.0, 0.0);
        for (a, b) in (0..x.len()).filter_map(both) {
            n += 1.0;
            sx += a;
            sy += b;
        }
        if n == 0.0 {
            return CoMoments::default();
        }
        let (mean_x, mean_y) = (sx / n, sy / n);
        let mut m = CoMoments { n, mean_x, mean_y, ..Default::default() };
        for (a, b) in (0..x.len()).filter_map(both) {
            let (dx, dy) = (a - mean_x, b - mean_y);
            m.c += dx * dy;
            m.m2x += dx * dx;
            m.m2y += dy * dy;
        }
        m
    }

    fn merge(&mut self, o: CoMoments) {
        if o.n == 0.0 {
            return;
        }
        let n = self.n + o.n;
        let (dx, dy) = (o.mean_x - self.mean_x, o.mean_y - self.mean_y);
        let w = self.n * o.n / n;
        self.c += o.c + dx * dy * w;
        self.m2x += o.m2x + dx * dx * w;
        self.m2y += o.m2y + dy * dy * w;
        self.mean_x += dx * o.n / n;
        self.mean_y += dy * o.n / n;
        self.n = n;
    }

    /// Pearson's r; none without spread.
    fn r(&self) -> Option<f64> {
        let spread = (self.m2x * self.m2y).sqrt();
        (self.n > 1.0 && spread > 0.0).then(|| (self.c / spread).clamp(-1.0, 1.0))
    }
}

/// What the scan keeps for one column.
#[derive(Clone)]
struct ColumnScan {
    /// Index into the profile's columns.
    column: usize,
    kind: ColumnKind,
    /// Histogram range and counts, for numeric columns with a spread.
    range: Option<(f64, f64)>,
    histogram: Vec<u64>,
    sketch: Option<DistinctSketch>,
    digest: Option<TDigest>,
    /// Every finite value, for exact quartiles of data in memory.
    values: Option<Vec<f64>>,
    moments: Moments,
    trues: u64,
}

impl ColumnScan {
    /// Takes in one batch of the column; returns its values as floats for
    /// the correlations when it is numeric.
    fn update(&mut self, col: &ArrayRef) -> Result<Option<ArrayRef>> {
        match self.kind {
            ColumnKind::Numeric => {
                let floats = cast(col, &DataType::Float64).map_err(|e| DataError::Query(e.to_string()))?;
                let values = floats.as_any().downcast_ref::<Float64Array>().expect("cast to Float64");
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
                self.moments.merge(Moments::of(&finite));
                if let Some(d) = &mut self.digest {
                    // An unstable sort is faster than the stable one
                    // `merge_unsorted_f64` uses, and equal floats are equal.
                    finite.sort_unstable_by(f64::total_cmp);
                    *d = d.merge_sorted_f64(&finite);
                }
                if let Some(all) = &mut self.values {
                    all.extend_from_slice(&finite);
                }
                return Ok(Some(floats));
            }
            ColumnKind::Boolean => {
                if let Some(b) = col.as_any().downcast_ref::<BooleanArray>() {
                    self.trues += b.true_count() as u64;
                }
            }
            _ => {
                // Dates and times count by their integer representation; a
                // type without one gets no distinct count.
                if let Some(h) = &mut self.sketch {
                    let Ok(values) = cast(col, &DataType::Int64) else {
                        self.sketch = None;
                        return Ok(None);
                    };
                    let values = values.as_any().downcast_ref::<Int64Array>().expect("cast to Int64");
                    for v in values.iter().flatten() {
                        h.add(v as u64);
                    }
                }
            }
        }
        Ok(None)
    }

    fn merge(&mut self, other: ColumnScan) {
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
        if let (Some(a), Some(b)) = (&mut self.values, other.values) {
            a.extend(b);
        }
        self.moments.merge(other.moments);
        self.trues += other.trues;
    }
}

/// One partition's state: every scanned column, and the co-moments of each
/// pair of correlated columns (indices into `columns`).
#[derive(Clone)]
struct PartitionScan {
    columns: Vec<ColumnScan>,
    pairs: Vec<(usize, usize, CoMoments)>,
}

impl PartitionScan {
    fn update(&mut self, batch: &RecordBatch) -> Result<()> {
        let mut floats = Vec::with_capacity(self.columns.len());
        for (c, col) in self.columns.iter_mut().zip(batch.columns()) {
            floats.push(c.update(col)?);
        }
        let as_f64 = |k: usize| floats[k].as_ref().and_then(|a| a.as_any().downcast_ref::<Float64Array>());
        for (a, b, m) in &mut self.pairs {
            if let (Some(x), Some(y)) = (as_f64(*a), as_f64(*b)) {
                m.merge(CoMoments::of(x, y));
            }
        }
        Ok(())
    }

    fn merge(&mut self, other: PartitionScan) {
        self.columns.iter_mut().zip(other.columns).for_each(|(a, b)| a.merge(b));
        for ((_, _, a), (_, _, b)) in self.pairs.iter_mut().zip(other.pairs) {
            a.merge(b);
        }
    }
}

/// Scans the table and fills in the profiles' histograms, quartiles, means,
/// standard deviations, sketched distinct counts and boolean counts (their
/// counts, nulls, min and max come from the SQL pass before); returns the
/// correlations.
pub(crate) async fn scan(
    ctx: &SessionContext,
    t: &str,
    rows: u64,
    types: &[DataType],
    profiles: &mut [ColumnProfile],
    exact: bool,
) -> Result<Vec<Correlation>> {
    let mut columns = Vec::new();
    for (k, (p, dt)) in profiles.iter_mut().zip(types).enumerate() {
        let numeric = p.kind == ColumnKind::Numeric;
        let sketch = sketched(dt, p.kind, exact).then(DistinctSketch::default);
        if !(numeric || p.kind == ColumnKind::Boolean || sketch.is_some()) {
            continue;
        }
        let mut range = None;
        let mut histogram = Vec::new();
        if numeric {
            let bound = |v: &Option<String>| v.as_deref().and_then(|v| v.parse::<f64>().ok());
            let (lo, hi) = (bound(&p.min), bound(&p.max));
            // Integers of a narrow range get one bucket per value, so that
            // 1..=9 does not show a gap where two values share a bucket.
            let buckets = match (lo, hi) {
                (Some(lo), Some(hi)) if dt.is_integer() && hi - lo < HISTOGRAM_BUCKETS as f64 => (hi - lo) as usize + 1,
                _ => HISTOGRAM_BUCKETS,
            };
            match (lo, hi) {
                (Some(lo), Some(hi)) if hi > lo => {
                    range = Some((lo, hi));
                    histogram = vec![0; buckets];
                }
                (Some(_), Some(_)) => p.histogram = vec![rows - p.nulls],
                _ => {}
            }
        }
        let digest = (numeric && !exact).then(|| TDigest::new(DIGEST_SIZE));
        let values = (numeric && exact).then(Vec::new);
        columns.push(ColumnScan {
            column: k,
            kind: p.kind,
            range,
            histogram,
            sketch,
            digest,
            values,
            moments: Moments::default(),
            trues: 0,
        });
    }
    if columns.is_empty() {
        return Ok(Vec::new());
    }
    let correlated: Vec<usize> =
        (0..columns.len()).filter(|&k| columns[k].kind == ColumnKind::Numeric).take(MAX_CORRELATED).collect();
    let mut pairs = Vec::new();
    for (i, &a) in correlated.iter().enumerate() {
        for &b in &correlated[i + 1..] {
            pairs.push((a, b, CoMoments::default()));
        }
    }
    let start = PartitionScan { columns, pairs };

    let list: Vec<String> = start.columns.iter().map(|c| quote(&profiles[c.column].name)).collect();
    let df =
        ctx.sql(&format!("SELECT {} FROM {t}", list.join(", "))).await.map_err(|e| DataError::Query(e.to_string()))?;
    let streams = df.execute_stream_partitioned().await.map_err(|e| DataError::Query(e.to_string()))?;
    let tasks: Vec<_> = streams
        .into_iter()
        .map(|mut stream| {
            let mut part = start.clone();
            tokio::spawn(async move {
                while let Some(batch) = stream.next().await {
                    part.update(&batch.map_err(|e| DataError::Query(e.to_string()))?)?;
                }
                Ok::<_, DataError>(part)
            })
        })
        .collect();
    let mut merged: Option<PartitionScan> = None;
    for task in tasks {
        let part = task.await.map_err(|e| DataError::Query(e.to_string()))??;
        match &mut merged {
            None => merged = Some(part),
            Some(m) => m.merge(part),
        }
    }
    let done = merged.unwrap_or(start);

    let correlations = done
        .pairs
        .iter()
        .filter_map(|(a, b, m)| {
            let name = |k: usize| profiles[done.columns[k].column].name.clone();
            m.r().map(|r| Correlation { a: name(*a), b: name(*b), r })
        })
        .collect();
    for c in done.columns {
        let p = &mut profiles[c.column];
        if c.range.is_some() {
            p.histogram = c.histogram;
        }
        if let Some(h) = c.sketch {
            // A sketch can overshoot; there are never more distinct values than values.
            p.distinct = Some(h.count().min(rows - p.nulls));
            p.approximate = true;
        }
        if c.kind == ColumnKind::Numeric {
            p.mean = (c.moments.n > 0.0).then_some(c.moments.mean);
            p.std = c.moments.std();
        }
        if let Some(d) = c.digest.filter(|d| d.count() > 0.0) {
            p.quartiles = Some([0.25, 0.5, 0.75].map(|q| d.estimate_quantile(q)));
            p.approximate = true;
        }
        if let Some(mut all) = c.values.filter(|v| !v.is_empty()) {
            all.sort_unstable_by(f64::total_cmp);
            p.quartiles = Some([0.25, 0.5, 0.75].map(|q| interpolated_quantile(&all, q)));
        }
        if c.kind == ColumnKind::Boolean {
            let falses = (rows - p.nulls).saturating_sub(c.trues);
            let mut counts: Vec<(String, u64)> = [("true", c.trues), ("false", falses)]
                .into_iter()
                .filter(|(_, n)| *n > 0)
                .map(|(v, n)| (v.into(), n))
                .collect();
            counts.sort_by_key(|(_, n)| std::cmp::Reverse(*n));
            p.distinct = Some(counts.len() as u64);
            p.top_values = counts;
        }
    }
    Ok(correlations)
}

/// The `q` quantile of sorted values, linearly interpolated between the two
/// nearest ranks (pandas' and NumPy's default).
fn interpolated_quantile(sorted: &[f64], q: f64) -> f64 {
    let at = q * (sorted.len() - 1) as f64;
    let (lo, hi) = (at.floor() as usize, at.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (at - lo as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_interpolate_as_pandas_does() {
        // pandas: pd.Series([1, 2, 3, 4]).quantile([.25, .5, .75]) == [1.75, 2.5, 3.25]
        let v = [1.0, 2.0, 3.0, 4.0];
        assert_eq!([0.25, 0.5, 0.75].map(|q| interpolated_quantile(&v, q)), [1.75, 2.5, 3.25]);
        assert_eq!(interpolated_quantile(&[7.0], 0.75), 7.0);
    }

    #[test]
    fn merged_moments_equal_the_whole() {
        let values: Vec<f64> = (0..1000).map(|i| (i as f64 * 0.37).sin() * 100.0 + 5.0).collect();
        let whole = Moments::of(&values);
        let mut parts = Moments::default();
        for chunk in values.chunks(77) {
            parts.merge(Moments::of(chunk));
        }
        assert!((whole.mean - parts.mean).abs() < 1e-9 && (whole.std().unwrap() - parts.std().unwrap()).abs() < 1e-9);
    }

    #[test]
    fn correlation_merges_and_skips_gaps() {
        let x = Float64Array::from(vec![Some(1.0), Some(2.0), None, Some(4.0), Some(5.0), Some(f64::NAN)]);
        let y = Float64Array::from(vec![Some(2.0), Some(4.0), Some(9.0), Some(8.0), Some(10.0), Some(1.0)]);
        assert!((CoMoments::of(&x, &y).r().unwrap() - 1.0).abs() < 1e-12);
        let (xa, ya) = (Float64Array::from(vec![1.0, 2.0, 3.0]), Float64Array::from(vec![3.0, 1.0, 2.0]));
        let (xb, yb) = (Float64Array::from(vec![4.0, 5.0]), Float64Array::from(vec![5.0, 4.0]));
        let mut merged = CoMoments::of(&xa, &ya);
        merged.merge(CoMoments::of(&xb, &yb));
        let whole = CoMoments::of(
            &Float64Array::from(vec![1.0, 2.0, 3.0, 4.0, 5.0]),
            &Float64Array::from(vec![3.0, 1.0, 2.0, 5.0, 4.0]),
        );
        assert!((merged.r().unwrap() - whole.r().unwrap()).abs() < 1e-12);
        assert!((whole.r().unwrap() - 0.6).abs() < 1e-12);
        let flat = Float64Array::from(vec![1.0, 1.0, 1.0]);
        assert!(CoMoments::of(&flat, &xa).r().is_none(), "no spread, no r");
    }
}
