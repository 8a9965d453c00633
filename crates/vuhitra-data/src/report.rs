//! A profile as one self-contained HTML page: inline CSS and inline SVG
//! charts (a histogram per numeric column, top-value bars per text or
//! boolean column, a correlation heatmap), no scripts and no external
//! resources, so it opens offline in any browser and can be mailed as is.
//! Every name and value from the data is escaped.

use std::fmt::Write;

use crate::load::Loaded;
use crate::profile::{format_number, ColumnKind, ColumnProfile, Profile, HISTOGRAM_BUCKETS};

const CHART_WIDTH: f64 = 320.0;
const CHART_HEIGHT: f64 = 120.0;
const BAR_ROW: f64 = 20.0;
const CELL: f64 = 30.0;
/// Text from the data is cut to this many characters in labels.
const LABEL_CHARS: usize = 28;

const STYLE: &str = "
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:2rem auto;max-width:72rem;padding:0 1rem;color:#1d2330;background:#fff}
h1{font-size:1.5rem;margin:0 0 .25rem}h2{font-size:1.15rem;margin:2rem 0 .75rem}h3{font-size:1rem;margin:0 0 .4rem;overflow-wrap:anywhere}
.meta{color:#5b6475;margin:0 0 1.5rem}
table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums}
th,td{text-align:left;padding:.3rem .5rem;border-bottom:1px solid #e3e6ec;vertical-align:top}
th{background:#f4f6f9;font-weight:600}td.num{text-align:right}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(22rem,1fr));gap:1rem}
.card{border:1px solid #e3e6ec;border-radius:.5rem;padding:1rem}
.card dl{display:grid;grid-template-columns:auto 1fr;gap:.1rem .75rem;margin:.5rem 0}
.card dt{color:#5b6475}.card dd{margin:0;overflow-wrap:anywhere}
.kind{font-size:.8rem;color:#5b6475;font-weight:normal}
svg text{font:11px system-ui,sans-serif;fill:#3b4354}
.bar{fill:#3a6fd8}.bar.text{fill:#2f9e77}.axis{stroke:#9aa3b2}
.nullbar{display:inline-block;height:.6rem;background:#d9534f;vertical-align:middle;margin-left:.3rem}
";

/// Escapes text for HTML element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn label(text: &str) -> String {
    let mut chars = text.chars();
    let cut: String = chars.by_ref().take(LABEL_CHARS).collect();
    escape(&if chars.next().is_some() { format!("{cut}…") } else { cut })
}

fn number(v: Option<f64>) -> String {
    v.map_or("–".into(), format_number)
}

/// The whole report; `generated` is the time to print in its header.
pub fn html(source: &Loaded, profile: &Profile, generated: &str) -> String {
    let file = source.path.display().to_string();
    let mut h = String::new();
    let _ = write!(
        h,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <meta name=\"generator\" content=\"vuhitra {}\">\
         <title>Profile of {}</title><style>{STYLE}</style></head><body>\n",
        env!("CARGO_PKG_VERSION"),
        escape(&file)
    );
    let _ = writeln!(
        h,
        "<h1>Profile of {}</h1><p class=\"meta\">{} rows × {} columns · {:?}{} · generated {}</p>",
        escape(&file),
        profile.rows,
        profile.columns.len(),
        source.format,
        escape(&source.how_read()),
        escape(generated)
    );
    summary(&mut h, profile);
    h.push_str("<h2>Columns</h2><div class=\"cards\">\n");
    for c in &profile.columns {
        card(&mut h, c, profile.rows);
    }
    h.push_str("</div>\n");
    if !profile.correlations.is_empty() {
        h.push_str("<h2>Correlations (Pearson r)</h2>\n");
        heatmap(&mut h, profile);
    }
    h.push_str("</body></html>\n");
    h
}

fn summary(h: &mut String, p: &Profile) {
    h.push_str(
        "<h2>Summary</h2><table class=\"summary\"><thead><tr><th>Column</th><th>Type</th><th>Nulls</th>\
         <th>Distinct</th><th>Min</th><th>Max</th><th>Mean</th><th>Std</th></tr></thead><tbody>\n",
    );
    for c in &p.columns {
        let share = if p.rows == 0 { 0.0 } else { c.nulls as f64 / p.rows as f64 };
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td>{}</td><td class=\"num\">{}<span class=\"nullbar\" style=\"width:{:.1}rem\"></span></td>\
             <td class=\"num\">{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            label(&c.name),
            escape(&c.data_type),
            c.nulls,
            share * 4.0,
            c.distinct.map_or("–".into(), |d| d.to_string()),
            c.min.as_deref().map_or("–".into(), label),
            c.max.as_deref().map_or("–".into(), label),
            number(c.mean),
            number(c.std),
        );
    }
    h.push_str("</tbody></table>\n");
}

fn card(h: &mut String, c: &ColumnProfile, rows: u64) {
    let kind = format!("{:?}", c.kind).to_lowercase();
    let _ = write!(
        h,
        "<section class=\"card\"><h3>{} <span class=\"kind\">{} · {}</span></h3><dl>",
        escape(&c.name),
        kind,
        escape(&c.data_type)
    );
    let mut item = |term: &str, value: String| {
        let _ = write!(h, "<dt>{term}</dt><dd>{value}</dd>");
    };
    let share = if rows == 0 { 0.0 } else { 100.0 * c.nulls as f64 / rows as f64 };
    item("nulls", format!("{} ({share:.1}%)", c.nulls));
    if let Some(d) = c.distinct {
        item("distinct", if c.approximate { format!("≈ {d}") } else { d.to_string() });
    }
    if let (Some(lo), Some(hi)) = (&c.min, &c.max) {
        let term = if c.kind == ColumnKind::Temporal { "range" } else { "min … max" };
        item(term, format!("{} … {}", escape(lo), escape(hi)));
    }
    if c.kind == ColumnKind::Numeric {
        item("mean ± std", format!("{} ± {}", number(c.mean), number(c.std)));
        if let Some([q1, q2, q3]) = c.quartiles {
            let about = if c.approximate { "≈ " } else { "" };
            item("quartiles", format!("{about}{} · {} · {}", number(Some(q1)), number(Some(q2)), number(Some(q3))));
        }
    }
    h.push_str("</dl>");
    if !c.histogram.is_empty() {
        histogram(h, c);
    }
    if !c.top_values.is_empty() {
        top_values(h, c);
    }
    h.push_str("</section>\n");
}

fn histogram(h: &mut String, c: &ColumnProfile) {
    let max = c.histogram.iter().copied().max().unwrap_or(0).max(1) as f64;
    let (plot_h, base) = (CHART_HEIGHT - 34.0, CHART_HEIGHT - 20.0);
    let width = CHART_WIDTH / c.histogram.len() as f64;
    let _ = write!(
        h,
        "<svg class=\"chart histogram\" role=\"img\" width=\"{CHART_WIDTH}\" height=\"{CHART_HEIGHT}\" \
         viewBox=\"0 0 {CHART_WIDTH} {CHART_HEIGHT}\"><title>Histogram of {}</title>",
        escape(&c.name)
    );
    let (lo, hi) =
        (c.min.as_deref().and_then(|v| v.parse::<f64>().ok()), c.max.as_deref().and_then(|v| v.parse::<f64>().ok()));
    for (i, &n) in c.histogram.iter().enumerate() {
        let bar_h = plot_h * n as f64 / max;
        let range = match (lo, hi) {
            (Some(lo), Some(_)) if c.histogram.len() < HISTOGRAM_BUCKETS => format!("{}: ", lo as i64 + i as i64),
            (Some(lo), Some(hi)) => {
                let step = (hi - lo) / c.histogram.len() as f64;
                format!("{} – {}: ", number(Some(lo + step * i as f64)), number(Some(lo + step * (i + 1) as f64)))
            }
            _ => String::new(),
        };
        let _ = write!(
            h,
            "<rect class=\"bar\" x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{bar_h:.1}\"><title>{range}{n}</title></rect>",
            i as f64 * width + 1.0,
            base - bar_h,
            width - 2.0,
        );
    }
    let _ = write!(
        h,
        "<line class=\"axis\" x1=\"0\" y1=\"{base}\" x2=\"{CHART_WIDTH}\" y2=\"{base}\"/>\
         <text x=\"0\" y=\"{}\">{}</text><text x=\"{CHART_WIDTH}\" y=\"{}\" text-anchor=\"end\">{}</text>\
         <text x=\"0\" y=\"10\">{}</text></svg>",
        CHART_HEIGHT - 5.0,
        label(c.min.as_deref().unwrap_or("")),
        CHART_HEIGHT - 5.0,
        label(c.max.as_deref().unwrap_or("")),
        max as u64
    );
}

fn top_values(h: &mut String, c: &ColumnProfile) {
    let max = c.top_values.iter().map(|(_, n)| *n).max().unwrap_or(0).max(1) as f64;
    let height = BAR_ROW * c.top_values.len() as f64;
    let (label_w, count_w) = (130.0, 60.0);
    let bar_space = CHART_WIDTH - label_w - count_w;
    let _ = write!(
        h,
        "<svg class=\"chart top-values\" role=\"img\" width=\"{CHART_WIDTH}\" height=\"{height}\" \
         viewBox=\"0 0 {CHART_WIDTH} {height}\"><title>Most frequent values of {}</title>",
        escape(&c.name)
    );
    for (i, (value, n)) in c.top_values.iter().enumerate() {
        let y = i as f64 * BAR_ROW;
        let w = (bar_space * *n as f64 / max).max(1.0);
        let _ = write!(
            h,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>\
             <rect class=\"bar text\" x=\"{label_w}\" y=\"{:.1}\" width=\"{w:.1}\" height=\"{:.1}\"><title>{}: {n}</title></rect>\
             <text x=\"{:.1}\" y=\"{:.1}\">{n}</text>",
            label_w - 6.0,
            y + 14.0,
            label(value),
            y + 3.0,
            BAR_ROW - 6.0,
            escape(value),
            label_w + w + 4.0,
            y + 14.0,
        );
    }
    h.push_str("</svg>");
}

/// Blue for positive r, red for negative, stronger for larger |r|.
fn heat(r: f64) -> String {
    let (red, green, blue) = if r >= 0.0 { (58, 111, 216) } else { (217, 83, 79) };
    format!("rgba({red},{green},{blue},{:.2})", r.abs().min(1.0))
}

fn heatmap(h: &mut String, p: &Profile) {
    let mut names: Vec<&str> = Vec::new();
    for c in &p.correlations {
        for n in [c.a.as_str(), c.b.as_str()] {
            if !names.contains(&n) {
                names.push(n);
            }
        }
    }
    let r_of = |a: &str, b: &str| -> Option<f64> {
        if a == b {
            return Some(1.0);
        }
        p.correlations.iter().find(|c| (c.a == a && c.b == b) || (c.a == b && c.b == a)).map(|c| c.r)
    };
    // Room for the longest label, at about 6.5 px per character.
    let longest = names.iter().map(|n| n.chars().count().min(LABEL_CHARS + 1)).max().unwrap_or(0);
    let margin = 16.0 + 6.5 * longest as f64;
    let size = margin + CELL * names.len() as f64;
    let _ = write!(
        h,
        "<svg class=\"chart correlations\" role=\"img\" width=\"{size}\" height=\"{size}\" viewBox=\"0 0 {size} {size}\">\
         <title>Correlations between numeric columns</title>"
    );
    for (i, name) in names.iter().enumerate() {
        let at = margin + CELL * i as f64 + CELL / 2.0;
        let _ = write!(
            h,
            "<text x=\"{:.1}\" y=\"{at:.1}\" text-anchor=\"end\" dominant-baseline=\"middle\">{}</text>\
             <text transform=\"translate({at:.1},{:.1}) rotate(-60)\">{}</text>",
            margin - 6.0,
            label(name),
            margin - 6.0,
            label(name)
        );
    }
    for (i, a) in names.iter().enumerate() {
        for (j, b) in names.iter().enumerate() {
            let Some(r) = r_of(a, b) else { continue };
            let (x, y) = (margin + CELL * j as f64, margin + CELL * i as f64);
            let _ = write!(
                h,
                "<rect class=\"cell\" x=\"{x:.1}\" y=\"{y:.1}\" width=\"{CELL}\" height=\"{CELL}\" fill=\"{}\">\
                 <title>{} × {}: {r:+.3}</title></rect>",
                heat(r),
                escape(a),
                escape(b)
            );
            if names.len() <= 12 {
                let _ = write!(
                    h,
                    "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" dominant-baseline=\"middle\"{}>{:.2}</text>",
                    x + CELL / 2.0,
                    y + CELL / 2.0,
                    // Light text on dark cells.
                    if r.abs() > 0.5 { " style=\"fill:#fff\"" } else { "" },
                    r
                );
            }
        }
    }
    h.push_str("</svg>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_in_data_is_escaped() {
        assert_eq!(
            escape("<script>\"a\" & 'b'</script>"),
            "&lt;script&gt;&quot;a&quot; &amp; &#39;b&#39;&lt;/script&gt;"
        );
        assert_eq!(label(&"x".repeat(40)), format!("{}…", "x".repeat(LABEL_CHARS)));
    }
}
