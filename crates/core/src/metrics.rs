//! Training metrics of a finished fine-tuning job: the results CSV the API attaches to a
//! succeeded job (`result_files[0]`), a summary of it, and a small loss chart as SVG.
//!
//! The CSV has a `step` column and some of `train_loss`, `train_accuracy` /
//! `train_mean_token_accuracy`, `valid_loss`, `valid_accuracy` / `valid_mean_token_accuracy`,
//! `full_valid_loss`, `full_valid_mean_token_accuracy`; cells may be empty, and older API
//! versions returned the whole file base64-encoded. Unknown columns are ignored.
//!
//! The SVG is written by hand on purpose: no SVG or plotting crate draws a simple line chart
//! without pulling in a large dependency tree, and the chart (axes, a few ticks, two polylines,
//! a legend and a title) is a few dozen lines of markup.
//!
//! Everything here is pure: no I/O, no Node.js types.

use std::fmt::Write as _;

use serde::Serialize;

/// At most this many points of each series are drawn; longer series are downsampled evenly,
/// keeping the first and the last point.
pub const MAX_POINTS_PER_SERIES: usize = 1000;

/// Summary of a job's metrics. Serialised in camelCase for JavaScript.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MetricsSummary {
    /// The highest step that has any value (0 when there is none).
    pub steps: u64,
    /// The train loss at the last step that has one.
    pub final_train_loss: Option<f64>,
    /// The lowest train loss.
    pub best_train_loss: Option<f64>,
    /// The validation loss at the last step that has one.
    pub final_valid_loss: Option<f64>,
    /// The lowest validation loss.
    pub best_valid_loss: Option<f64>,
    /// The train accuracy at the last step that has one.
    pub final_train_accuracy: Option<f64>,
    /// The validation accuracy at the last step that has one.
    pub final_valid_accuracy: Option<f64>,
    /// Passed through from the job (`trained_tokens`).
    pub trained_tokens: Option<u64>,
}

/// The metric series of a results file, each as `(step, value)` pairs sorted by step.
/// Empty or non-finite cells are not in the series.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub train_loss: Vec<(u64, f64)>,
    pub valid_loss: Vec<(u64, f64)>,
    pub train_accuracy: Vec<(u64, f64)>,
    pub valid_accuracy: Vec<(u64, f64)>,
}

/// Parses a results CSV (plain, or base64-encoded as older API versions returned it).
///
/// Returns `None` when the content is neither CSV starting with a header line nor base64 of one,
/// when the header has no `step` column, or when there is no data row with a valid step.
/// Column choice: train loss from `train_loss`; train accuracy from `train_accuracy`, else
/// `train_mean_token_accuracy`; validation loss from `valid_loss`, falling back to
/// `full_valid_loss` when `valid_loss` is absent or has no value at all (the fallback is per
/// column, not per cell, so a series never mixes the two); validation accuracy likewise from
/// `valid_accuracy` / `valid_mean_token_accuracy`, falling back to `full_valid_accuracy` /
/// `full_valid_mean_token_accuracy`. Rows whose step is not a non-negative integer are skipped.
pub fn parse_results(csv: &str) -> Option<Series> {
    let text = csv.trim_start_matches('\u{feff}').trim();
    if starts_with_step(text) {
        parse_csv(text)
    } else {
        let bytes = decode_base64(text)?;
        let decoded = String::from_utf8(bytes).ok()?;
        let decoded = decoded.trim_start_matches('\u{feff}').trim();
        if starts_with_step(decoded) {
            parse_csv(decoded)
        } else {
            None
        }
    }
}

/// Summarises the series; `trained_tokens` comes from the job and is passed through.
/// Non-finite values (possible only in a hand-built `Series`) are ignored.
pub fn summarize(series: &Series, trained_tokens: Option<u64>) -> MetricsSummary {
    let steps = [
        &series.train_loss,
        &series.valid_loss,
        &series.train_accuracy,
        &series.valid_accuracy,
    ]
    .iter()
    .flat_map(|s| finite(s))
    .map(|(step, _)| step)
    .max()
    .unwrap_or(0);
    MetricsSummary {
        steps,
        final_train_loss: last(&series.train_loss),
        best_train_loss: min(&series.train_loss),
        final_valid_loss: last(&series.valid_loss),
        best_valid_loss: min(&series.valid_loss),
        final_train_accuracy: last(&series.train_accuracy),
        final_valid_accuracy: last(&series.valid_accuracy),
        trained_tokens,
    }
}

/// Renders the train and validation loss as a standalone SVG document (white background,
/// axes with rounded ticks, train loss solid, validation loss dashed, a legend, the title).
///
/// Each series is drawn as one `<polyline>` (class `train-loss` / `valid-loss`) with one `x,y`
/// pair per point, downsampled to [`MAX_POINTS_PER_SERIES`]; a series without points is left
/// out, and a one-point series also gets a dot so it is visible. The title is XML-escaped.
pub fn render_svg(series: &Series, title: &str) -> String {
    let train = downsample(&finite(&series.train_loss), MAX_POINTS_PER_SERIES);
    let valid = downsample(&finite(&series.valid_loss), MAX_POINTS_PER_SERIES);
    let chart = Chart::fitting(&train, &valid);
    let lines: [Line; 2] = [
        (&train, "train-loss", "Train loss", TRAIN_COLOUR, None),
        (
            &valid,
            "valid-loss",
            "Validation loss",
            VALID_COLOUR,
            Some("6 4"),
        ),
    ];
    let mut svg = String::with_capacity(4096 + 16 * (train.len() + valid.len()));
    write_frame(&mut svg, title);
    chart.write_grid(&mut svg);
    write_axes(&mut svg);
    for line in &lines {
        chart.write_series(&mut svg, line);
    }
    write_legend(&mut svg, &lines);
    svg.push_str("</svg>\n");
    svg
}

/// A series to draw: its points, CSS class, legend label, colour and dash pattern.
type Line<'a> = (
    &'a Vec<(u64, f64)>,
    &'static str,
    &'static str,
    &'static str,
    Option<&'static str>,
);

/// The two axes of the chart, fitted to the data.
struct Chart {
    x: Axis,
    y: Axis,
}

impl Chart {
    fn fitting(train: &[(u64, f64)], valid: &[(u64, f64)]) -> Chart {
        let all = || train.iter().chain(valid.iter());
        if train.is_empty() && valid.is_empty() {
            return Chart {
                x: Axis::nice(0.0, 1.0, 6, true),
                y: Axis::nice(0.0, 1.0, 6, false),
            };
        }
        let x_lo = all().map(|p| p.0).min().unwrap_or(0) as f64;
        let x_hi = all().map(|p| p.0).max().unwrap_or(0) as f64;
        let y_lo = all().map(|p| p.1).fold(f64::INFINITY, f64::min);
        let y_hi = all().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max);
        Chart {
            x: Axis::nice(x_lo, x_hi, 6, true),
            y: Axis::nice(y_lo, y_hi, 6, false),
        }
    }

    fn px(&self, step: f64) -> f64 {
        PLOT_LEFT + self.x.fraction(step) * (PLOT_RIGHT - PLOT_LEFT)
    }

    fn py(&self, v: f64) -> f64 {
        PLOT_BOTTOM - self.y.fraction(v) * (PLOT_BOTTOM - PLOT_TOP)
    }

    /// Grid lines and tick labels.
    fn write_grid(&self, svg: &mut String) {
        let _ = writeln!(svg, r##"<g stroke="#e5e5e5" stroke-width="1">"##);
        for t in self.x.ticks() {
            let x = self.px(t);
            let _ = writeln!(
                svg,
                r#"<line x1="{x:.2}" y1="{PLOT_TOP:.2}" x2="{x:.2}" y2="{PLOT_BOTTOM:.2}"/>"#
            );
        }
        for t in self.y.ticks() {
            let y = self.py(t);
            let _ = writeln!(
                svg,
                r#"<line x1="{PLOT_LEFT:.2}" y1="{y:.2}" x2="{PLOT_RIGHT:.2}" y2="{y:.2}"/>"#
            );
        }
        let _ = writeln!(svg, "</g>");
        let _ = writeln!(svg, r##"<g font-size="12" fill="#444">"##);
        for t in self.x.ticks() {
            let _ = writeln!(
                svg,
                r#"<text x="{:.2}" y="{:.2}" text-anchor="middle">{}</text>"#,
                self.px(t),
                PLOT_BOTTOM + 18.0,
                self.x.label(t)
            );
        }
        for t in self.y.ticks() {
            let _ = writeln!(
                svg,
                r#"<text x="{:.2}" y="{:.2}" dy="0.35em" text-anchor="end">{}</text>"#,
                PLOT_LEFT - 8.0,
                self.py(t),
                self.y.label(t)
            );
        }
        let _ = writeln!(svg, "</g>");
    }

    /// One series as a polyline (and a dot when it has a single point).
    fn write_series(&self, svg: &mut String, line: &Line) {
        let (points, class, _, colour, dash) = *line;
        if points.is_empty() {
            return;
        }
        let mut coords = String::with_capacity(points.len() * 16);
        for (i, &(step, v)) in points.iter().enumerate() {
            if i > 0 {
                coords.push(' ');
            }
            let _ = write!(coords, "{:.2},{:.2}", self.px(step as f64), self.py(v));
        }
        let _ = writeln!(
            svg,
            r#"<polyline class="{class}" points="{coords}" fill="none" stroke="{colour}" stroke-width="2" stroke-linejoin="round" stroke-linecap="round"{}/>"#,
            dash_attr(dash)
        );
        if let [(step, v)] = points.as_slice() {
            let _ = writeln!(
                svg,
                r#"<circle cx="{:.2}" cy="{:.2}" r="3.5" fill="{colour}"/>"#,
                self.px(*step as f64),
                self.py(*v)
            );
        }
    }
}

fn dash_attr(dash: Option<&str>) -> String {
    dash.map(|d| format!(r#" stroke-dasharray="{d}""#))
        .unwrap_or_default()
}

/// The document's opening, background and title.
fn write_frame(svg: &mut String, title: &str) {
    let _ = writeln!(svg, r#"<?xml version="1.0" encoding="UTF-8"?>"#);
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" font-family="sans-serif">"#
    );
    let _ = writeln!(
        svg,
        r#"<rect x="0" y="0" width="{WIDTH}" height="{HEIGHT}" fill="white"/>"#
    );
    let _ = writeln!(
        svg,
        r##"<text x="{:.1}" y="30" text-anchor="middle" font-size="18" font-weight="bold" fill="#222">{}</text>"##,
        WIDTH / 2.0,
        escape_xml(title)
    );
}

/// The axes and their labels.
fn write_axes(svg: &mut String) {
    let _ = writeln!(
        svg,
        r##"<path d="M{PLOT_LEFT:.2},{PLOT_TOP:.2} V{PLOT_BOTTOM:.2} H{PLOT_RIGHT:.2}" fill="none" stroke="#333" stroke-width="1"/>"##
    );
    let _ = writeln!(
        svg,
        r##"<text x="{:.2}" y="{:.2}" text-anchor="middle" font-size="13" fill="#222">Step</text>"##,
        (PLOT_LEFT + PLOT_RIGHT) / 2.0,
        HEIGHT - 12.0
    );
    let y_mid = (PLOT_TOP + PLOT_BOTTOM) / 2.0;
    let _ = writeln!(
        svg,
        r##"<text x="18" y="{y_mid:.2}" text-anchor="middle" font-size="13" fill="#222" transform="rotate(-90 18 {y_mid:.2})">Loss</text>"##
    );
}

/// The legend, or a note when there is nothing to draw.
fn write_legend(svg: &mut String, lines: &[Line]) {
    let y_mid = (PLOT_TOP + PLOT_BOTTOM) / 2.0;
    let shown: Vec<_> = lines.iter().filter(|l| !l.0.is_empty()).collect();
    if shown.is_empty() {
        let _ = writeln!(
            svg,
            r##"<text x="{:.2}" y="{y_mid:.2}" text-anchor="middle" font-size="14" fill="#888">No loss data</text>"##,
            (PLOT_LEFT + PLOT_RIGHT) / 2.0
        );
        return;
    }
    let box_w = 140.0;
    let box_h = 10.0 + 20.0 * shown.len() as f64;
    let box_x = PLOT_RIGHT - box_w - 10.0;
    let box_y = PLOT_TOP + 10.0;
    let _ = writeln!(svg, r##"<g class="legend" font-size="12" fill="#222">"##);
    let _ = writeln!(
        svg,
        r##"<rect x="{box_x:.2}" y="{box_y:.2}" width="{box_w:.2}" height="{box_h:.2}" fill="white" fill-opacity="0.9" stroke="#ccc"/>"##
    );
    for (i, (_, _, label, colour, dash)) in shown.iter().enumerate() {
        let y = box_y + 15.0 + 20.0 * i as f64;
        let _ = writeln!(
            svg,
            r#"<line x1="{:.2}" y1="{y:.2}" x2="{:.2}" y2="{y:.2}" stroke="{colour}" stroke-width="2"{}/>"#,
            box_x + 10.0,
            box_x + 38.0,
            dash_attr(*dash)
        );
        let _ = writeln!(
            svg,
            r#"<text x="{:.2}" y="{y:.2}" dy="0.35em">{label}</text>"#,
            box_x + 46.0
        );
    }
    let _ = writeln!(svg, "</g>");
}

// --- Chart layout ---------------------------------------------------------------------------

const WIDTH: f64 = 800.0;
const HEIGHT: f64 = 450.0;
const PLOT_LEFT: f64 = 72.0;
const PLOT_RIGHT: f64 = 776.0;
const PLOT_TOP: f64 = 52.0;
const PLOT_BOTTOM: f64 = 390.0;
const TRAIN_COLOUR: &str = "#1f77b4";
const VALID_COLOUR: &str = "#ff7f0e";

/// An axis with "nice" bounds and tick spacing (1, 2 or 5 times a power of ten).
#[derive(Debug, Clone, Copy)]
struct Axis {
    min: f64,
    max: f64,
    step: f64,
    decimals: usize,
}

impl Axis {
    /// An axis covering `lo..=hi` with about `target` ticks; `integer` axes tick on whole
    /// numbers and do not go below zero when the data does not.
    fn nice(lo: f64, hi: f64, target: usize, integer: bool) -> Axis {
        let (mut lo, mut hi) = if lo.is_finite() && hi.is_finite() {
            (lo.min(hi), lo.max(hi))
        } else {
            (0.0, 1.0)
        };
        if hi == lo {
            let pad = if integer || lo == 0.0 {
                1.0
            } else {
                lo.abs() * 0.1
            };
            let non_negative = lo >= 0.0;
            lo -= pad;
            hi += pad;
            if integer && non_negative {
                lo = lo.max(0.0);
            }
        }
        let span = hi - lo;
        if !span.is_finite() || span <= 0.0 {
            // Only reachable with absurd magnitudes; keep the output finite.
            return Axis {
                min: lo,
                max: hi,
                step: f64::INFINITY,
                decimals: 0,
            };
        }
        let mut step = nice_num(span / (target.max(2) - 1) as f64);
        if integer {
            step = step.max(1.0);
        }
        let min = (lo / step).floor() * step;
        let max = (hi / step).ceil() * step;
        let decimals = if integer {
            0
        } else {
            (-step.log10().floor()).clamp(0.0, 12.0) as usize
        };
        Axis {
            min,
            max,
            step,
            decimals,
        }
    }

    /// Where `v` lies between `min` (0) and `max` (1); 0.5 if that cannot be computed.
    fn fraction(&self, v: f64) -> f64 {
        let f = (v - self.min) / (self.max - self.min);
        if f.is_finite() {
            f
        } else {
            0.5
        }
    }

    /// The tick positions, `min` to `max` inclusive.
    fn ticks(&self) -> Vec<f64> {
        if !self.step.is_finite() {
            return vec![self.min, self.max];
        }
        let n = ((self.max - self.min) / self.step).round();
        let n = if n.is_finite() {
            n.clamp(0.0, 50.0) as usize
        } else {
            0
        };
        (0..=n).map(|i| self.min + i as f64 * self.step).collect()
    }

    fn label(&self, v: f64) -> String {
        let s = format!("{:.*}", self.decimals, v);
        // `-0.00` and the like.
        if s.starts_with('-') && s[1..].chars().all(|c| c == '0' || c == '.') {
            s[1..].to_string()
        } else {
            s
        }
    }
}

/// The "nice" number nearest `x`: 1, 2 or 5 (or 10) times a power of ten.
fn nice_num(x: f64) -> f64 {
    let base = 10f64.powf(x.log10().floor());
    let f = x / base;
    let nf = if f < 1.5 {
        1.0
    } else if f < 3.0 {
        2.0
    } else if f < 7.0 {
        5.0
    } else {
        10.0
    };
    nf * base
}

/// Keeps at most `max` points, evenly spread by index, always including the first and last.
fn downsample(points: &[(u64, f64)], max: usize) -> Vec<(u64, f64)> {
    let n = points.len();
    if n <= max {
        return points.to_vec();
    }
    if max <= 1 {
        return points.last().copied().into_iter().collect();
    }
    // Indices round(k * (n-1) / (max-1)) for k = 0..max: strictly increasing because
    // n - 1 > max - 1, first 0, last n - 1.
    (0..max)
        .map(|k| {
            let idx = (k as u128 * (n as u128 - 1) + (max as u128 - 1) / 2) / (max as u128 - 1);
            points[idx as usize]
        })
        .collect()
}

/// Escapes text for XML content and attribute values. Characters XML 1.0 does not allow at
/// all (most C0 controls) become U+FFFD so the document stays well-formed.
fn escape_xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{fffe}' || c == '\u{ffff}' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

// --- Parsing --------------------------------------------------------------------------------

fn starts_with_step(text: &str) -> bool {
    text.get(..4)
        .is_some_and(|s| s.eq_ignore_ascii_case("step"))
}

fn parse_csv(text: &str) -> Option<Series> {
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let header: Vec<String> = split_row(lines.next()?)
        .map(|h| h.to_ascii_lowercase())
        .collect();
    let col = |names: &[&str]| {
        names
            .iter()
            .find_map(|name| header.iter().position(|h| h == name))
    };
    let step_col = col(&["step"])?;
    let train_loss_col = col(&["train_loss"]);
    let train_acc_col = col(&["train_accuracy", "train_mean_token_accuracy"]);
    let valid_loss_col = col(&["valid_loss"]);
    let full_valid_loss_col = col(&["full_valid_loss"]);
    let valid_acc_col = col(&["valid_accuracy", "valid_mean_token_accuracy"]);
    let full_valid_acc_col = col(&["full_valid_accuracy", "full_valid_mean_token_accuracy"]);

    let mut rows = 0usize;
    let mut train_loss = Vec::new();
    let mut train_accuracy = Vec::new();
    let mut valid_loss = Vec::new();
    let mut full_valid_loss = Vec::new();
    let mut valid_accuracy = Vec::new();
    let mut full_valid_accuracy = Vec::new();
    for line in lines {
        let cells: Vec<&str> = split_row(line).collect();
        let Some(step) = cells.get(step_col).and_then(|c| parse_step(c)) else {
            continue;
        };
        rows += 1;
        let take = |col: Option<usize>, out: &mut Vec<(u64, f64)>| {
            if let Some(v) = col.and_then(|c| cells.get(c)).and_then(|c| parse_value(c)) {
                out.push((step, v));
            }
        };
        take(train_loss_col, &mut train_loss);
        take(train_acc_col, &mut train_accuracy);
        take(valid_loss_col, &mut valid_loss);
        take(full_valid_loss_col, &mut full_valid_loss);
        take(valid_acc_col, &mut valid_accuracy);
        take(full_valid_acc_col, &mut full_valid_accuracy);
    }
    if rows == 0 {
        return None;
    }
    if valid_loss.is_empty() {
        valid_loss = full_valid_loss;
    }
    if valid_accuracy.is_empty() {
        valid_accuracy = full_valid_accuracy;
    }
    let mut series = Series {
        train_loss,
        valid_loss,
        train_accuracy,
        valid_accuracy,
    };
    for s in [
        &mut series.train_loss,
        &mut series.valid_loss,
        &mut series.train_accuracy,
        &mut series.valid_accuracy,
    ] {
        // Stable: rows with the same step keep their order.
        s.sort_by_key(|p| p.0);
    }
    Some(series)
}

/// The cells of a row, trimmed and without surrounding double quotes.
fn split_row(line: &str) -> impl Iterator<Item = &str> {
    line.split(',').map(|cell| {
        let cell = cell.trim();
        cell.strip_prefix('"')
            .and_then(|c| c.strip_suffix('"'))
            .unwrap_or(cell)
            .trim()
    })
}

/// A step: a non-negative integer, also written as `12.0`.
fn parse_step(cell: &str) -> Option<u64> {
    if let Ok(n) = cell.parse::<u64>() {
        return Some(n);
    }
    let f = cell.parse::<f64>().ok()?;
    (f.is_finite() && f >= 0.0 && f.fract() == 0.0 && f < u64::MAX as f64).then_some(f as u64)
}

/// A metric value: a finite number; empty, `nan`, `inf` and anything else give `None`.
fn parse_value(cell: &str) -> Option<f64> {
    cell.parse::<f64>().ok().filter(|v| v.is_finite())
}

/// Decodes base64 (standard or URL-safe alphabet, padding optional, whitespace ignored).
fn decode_base64(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() / 4 * 3);
    let mut acc: u32 = 0;
    let mut bits = 0u32;
    let mut count = 0usize;
    let mut padding = false;
    for c in s.bytes() {
        if c.is_ascii_whitespace() {
            continue;
        }
        if c == b'=' {
            padding = true;
            continue;
        }
        if padding {
            // Data after padding.
            return None;
        }
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        count += 1;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    if count % 4 == 1 || count == 0 {
        return None;
    }
    Some(out)
}

fn finite(points: &[(u64, f64)]) -> Vec<(u64, f64)> {
    points.iter().copied().filter(|p| p.1.is_finite()).collect()
}

fn last(points: &[(u64, f64)]) -> Option<f64> {
    points.iter().rev().map(|p| p.1).find(|v| v.is_finite())
}

fn min(points: &[(u64, f64)]) -> Option<f64> {
    points
        .iter()
        .map(|p| p.1)
        .filter(|v| v.is_finite())
        .reduce(f64::min)
}

#[cfg(test)]
mod tests {
    use super::*;

    // --- A tiny XML parser, enough to check that the SVG is well-formed -------------------

    #[derive(Debug)]
    struct El {
        name: String,
        attrs: Vec<(String, String)>,
        children: Vec<El>,
        text: String,
    }

    impl El {
        fn attr(&self, name: &str) -> Option<&str> {
            self.attrs
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
        }

        fn all<'a>(&'a self, name: &str, out: &mut Vec<&'a El>) {
            if self.name == name {
                out.push(self);
            }
            for c in &self.children {
                c.all(name, out);
            }
        }

        fn find_all(&self, name: &str) -> Vec<&El> {
            let mut out = Vec::new();
            self.all(name, &mut out);
            out
        }
    }

    fn unescape(s: &str) -> Result<String, String> {
        let mut out = String::new();
        let mut rest = s;
        while let Some(i) = rest.find('&') {
            out.push_str(&rest[..i]);
            let end = rest[i..].find(';').ok_or("unterminated entity")? + i;
            let ent = &rest[i + 1..end];
            let c = match ent {
                "amp" => '&',
                "lt" => '<',
                "gt" => '>',
                "quot" => '"',
                "apos" => '\'',
                _ if ent.starts_with("#x") => u32::from_str_radix(&ent[2..], 16)
                    .ok()
                    .and_then(char::from_u32)
                    .ok_or("bad char ref")?,
                _ if ent.starts_with('#') => ent[1..]
                    .parse::<u32>()
                    .ok()
                    .and_then(char::from_u32)
                    .ok_or("bad char ref")?,
                _ => return Err(format!("unknown entity &{ent};")),
            };
            out.push(c);
            rest = &rest[end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }

    fn is_name(s: &str) -> bool {
        let mut chars = s.chars();
        chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
            && chars.all(|c| c.is_ascii_alphanumeric() || "_:-.".contains(c))
    }

    /// Parses a whole document: optional prolog and comments, exactly one root element.
    fn parse_xml(doc: &str) -> Result<El, String> {
        let mut s = doc.trim_start();
        if s.starts_with("<?xml") {
            s = &s[s.find("?>").ok_or("unterminated prolog")? + 2..];
        }
        let mut stack: Vec<El> = Vec::new();
        let mut root: Option<El> = None;
        while !s.is_empty() {
            if let Some(rest) = s.strip_prefix("<!--") {
                s = &rest[rest.find("-->").ok_or("unterminated comment")? + 3..];
            } else if let Some(rest) = s.strip_prefix("</") {
                let end = rest.find('>').ok_or("unterminated end tag")?;
                let name = rest[..end].trim_end();
                let el = stack.pop().ok_or(format!("stray </{name}>"))?;
                if el.name != name {
                    return Err(format!("<{}> closed by </{name}>", el.name));
                }
                s = &rest[end + 1..];
                match stack.last_mut() {
                    Some(parent) => parent.children.push(el),
                    None => root = Some(el),
                }
            } else if let Some(rest) = s.strip_prefix('<') {
                if root.is_some() {
                    return Err("content after the root element".into());
                }
                let name_end = rest
                    .find(|c: char| c.is_whitespace() || c == '/' || c == '>')
                    .ok_or("unterminated start tag")?;
                let name = &rest[..name_end];
                if !is_name(name) {
                    return Err(format!("bad element name {name:?}"));
                }
                let mut el = El {
                    name: name.to_string(),
                    attrs: Vec::new(),
                    children: Vec::new(),
                    text: String::new(),
                };
                let mut r = &rest[name_end..];
                let self_closing;
                loop {
                    let had_space = r.starts_with(char::is_whitespace);
                    r = r.trim_start();
                    if let Some(after) = r.strip_prefix("/>") {
                        self_closing = true;
                        r = after;
                        break;
                    }
                    if let Some(after) = r.strip_prefix('>') {
                        self_closing = false;
                        r = after;
                        break;
                    }
                    if !had_space {
                        return Err(format!("missing space before attribute in <{name}>"));
                    }
                    let eq = r.find('=').ok_or("attribute without =")?;
                    let attr = r[..eq].trim();
                    if !is_name(attr) {
                        return Err(format!("bad attribute name {attr:?}"));
                    }
                    if el.attrs.iter().any(|(n, _)| n == attr) {
                        return Err(format!("duplicate attribute {attr}"));
                    }
                    let after = r[eq + 1..].trim_start();
                    let quote = after.chars().next().ok_or("missing attribute value")?;
                    if quote != '"' && quote != '\'' {
                        return Err(format!("unquoted attribute {attr}"));
                    }
                    let close = after[1..].find(quote).ok_or("unterminated attribute")? + 1;
                    let raw = &after[1..close];
                    if raw.contains('<') {
                        return Err(format!("'<' in attribute {attr}"));
                    }
                    el.attrs.push((attr.to_string(), unescape(raw)?));
                    r = &after[close + 1..];
                }
                s = r;
                if self_closing {
                    match stack.last_mut() {
                        Some(parent) => parent.children.push(el),
                        None => root = Some(el),
                    }
                } else {
                    stack.push(el);
                }
            } else {
                let end = s.find('<').unwrap_or(s.len());
                let text = &s[..end];
                match stack.last_mut() {
                    Some(el) => el.text.push_str(&unescape(text)?),
                    None if text.trim().is_empty() => {}
                    None => return Err(format!("text outside the root: {text:?}")),
                }
                s = &s[end..];
            }
        }
        if let Some(el) = stack.last() {
            return Err(format!("<{}> not closed", el.name));
        }
        root.ok_or_else(|| "no root element".to_string())
    }

    #[test]
    fn xml_checker_rejects_malformed_documents() {
        assert!(parse_xml(r#"<svg a="1"><g><line/></g><text>a &amp; b</text></svg>"#).is_ok());
        for bad in [
            "<svg><g></svg>",
            "<svg></g></svg>",
            "<svg>",
            "<svg/><svg/>",
            "text<svg/>",
            r#"<svg a=1/>"#,
            r#"<svg a="1" a="2"/>"#,
            r#"<svg a="x<y"/>"#,
            r#"<svg a="1"b="2"/>"#,
            "<svg>a & b</svg>",
            "<svg>&bogus;</svg>",
            "",
        ] {
            assert!(parse_xml(bad).is_err(), "accepted {bad:?}");
        }
    }

    fn parse_points(attr: &str) -> Vec<(f64, f64)> {
        attr.split_whitespace()
            .map(|pair| {
                let (x, y) = pair.split_once(',').expect("x,y pair");
                (x.parse().expect("x"), y.parse().expect("y"))
            })
            .collect()
    }

    fn polyline<'a>(svg: &'a El, class: &str) -> Option<&'a El> {
        svg.find_all("polyline")
            .into_iter()
            .find(|p| p.attr("class") == Some(class))
    }

    /// The texts of an SVG's `<text>` elements.
    fn texts_of(root: &El) -> Vec<&str> {
        root.find_all("text")
            .iter()
            .map(|t| t.text.as_str())
            .collect()
    }

    fn checked_svg(series: &Series, title: &str) -> (String, El) {
        let text = render_svg(series, title);
        let root = parse_xml(&text).unwrap_or_else(|e| panic!("ill-formed SVG: {e}\n{text}"));
        assert_eq!(root.name, "svg");
        assert_eq!(root.attr("xmlns"), Some("http://www.w3.org/2000/svg"));
        assert!(root.attr("viewBox").is_some());
        assert!(root.attr("width").is_some() && root.attr("height").is_some());
        assert!(!text.contains("NaN") && !text.contains("inf"), "{text}");
        // Every coordinate stays inside the 800x450 canvas.
        for p in root.find_all("polyline") {
            for (x, y) in parse_points(p.attr("points").unwrap()) {
                assert!(
                    (0.0..=WIDTH).contains(&x) && (0.0..=HEIGHT).contains(&y),
                    "{x},{y}"
                );
            }
        }
        (text, root)
    }

    fn series(train: &[(u64, f64)], valid: &[(u64, f64)]) -> Series {
        Series {
            train_loss: train.to_vec(),
            valid_loss: valid.to_vec(),
            train_accuracy: Vec::new(),
            valid_accuracy: Vec::new(),
        }
    }

    const OLD_LAYOUT: &str = "step,train_loss,train_accuracy,valid_loss,valid_accuracy\n\
        1,2.1034,0.51,,\n\
        2,1.9821,0.55,2.01,0.53\n\
        3,1.7,0.6,,\n\
        4,1.8,0.62,1.75,0.58\n";

    const NEW_LAYOUT: &str = "step,train_loss,train_mean_token_accuracy,valid_loss,valid_mean_token_accuracy,full_valid_loss,full_valid_mean_token_accuracy\r\n\
        1,1.5,0.6,1.6,0.58,,\r\n\
        2,1.2,0.7,,,,\r\n\
        3,0.9,0.8,1.1,0.75,1.05,0.77\r\n";

    // --- Parsing ----------------------------------------------------------------------------

    #[test]
    fn parses_the_old_layout_with_empty_cells() {
        let s = parse_results(OLD_LAYOUT).unwrap();
        assert_eq!(
            s.train_loss,
            vec![(1, 2.1034), (2, 1.9821), (3, 1.7), (4, 1.8)]
        );
        assert_eq!(
            s.train_accuracy,
            vec![(1, 0.51), (2, 0.55), (3, 0.6), (4, 0.62)]
        );
        assert_eq!(s.valid_loss, vec![(2, 2.01), (4, 1.75)]);
        assert_eq!(s.valid_accuracy, vec![(2, 0.53), (4, 0.58)]);
    }

    #[test]
    fn parses_the_new_layout_and_prefers_valid_loss_over_full_valid_loss() {
        let s = parse_results(NEW_LAYOUT).unwrap();
        assert_eq!(s.train_loss, vec![(1, 1.5), (2, 1.2), (3, 0.9)]);
        assert_eq!(s.train_accuracy, vec![(1, 0.6), (2, 0.7), (3, 0.8)]);
        assert_eq!(s.valid_loss, vec![(1, 1.6), (3, 1.1)]);
        assert_eq!(s.valid_accuracy, vec![(1, 0.58), (3, 0.75)]);
    }

    #[test]
    fn falls_back_to_full_valid_columns_when_valid_ones_are_empty() {
        let csv = "step,train_loss,valid_loss,full_valid_loss,full_valid_mean_token_accuracy\n\
            1,1.0,,,\n\
            2,0.8,,0.95,0.7\n";
        let s = parse_results(csv).unwrap();
        assert_eq!(s.valid_loss, vec![(2, 0.95)]);
        assert_eq!(s.valid_accuracy, vec![(2, 0.7)]);
        // Without the column at all, too.
        let s = parse_results("step,full_valid_loss\n5,0.4\n").unwrap();
        assert_eq!(s.valid_loss, vec![(5, 0.4)]);
        assert!(s.train_loss.is_empty());
    }

    #[test]
    fn ignores_unknown_columns_and_reordered_headers() {
        let csv = "step,elapsed,valid_loss,train_loss,note\n10,3.5,0.9,1.1,x\n20,7.0,,0.7,\n";
        let s = parse_results(csv).unwrap();
        assert_eq!(s.train_loss, vec![(10, 1.1), (20, 0.7)]);
        assert_eq!(s.valid_loss, vec![(10, 0.9)]);
        assert!(s.train_accuracy.is_empty() && s.valid_accuracy.is_empty());
    }

    #[test]
    fn skips_non_finite_and_malformed_cells_and_bad_steps() {
        let csv = "step,train_loss,valid_loss\n\
            1,NaN,inf\n\
            2,abc,-infinity\n\
            x,1.0,1.0\n\
            -3,1.0,1.0\n\
            4.0,0.5,0.6\n\
            5,0.4\n\
            \n";
        let s = parse_results(csv).unwrap();
        assert_eq!(s.train_loss, vec![(4, 0.5), (5, 0.4)]);
        assert_eq!(s.valid_loss, vec![(4, 0.6)]);
    }

    #[test]
    fn sorts_rows_by_step() {
        let s = parse_results("step,train_loss\n3,0.3\n1,0.1\n2,0.2\n").unwrap();
        assert_eq!(s.train_loss, vec![(1, 0.1), (2, 0.2), (3, 0.3)]);
    }

    #[test]
    fn rejects_content_without_a_step_column_or_rows() {
        assert_eq!(parse_results(""), None);
        assert_eq!(parse_results("   \n "), None);
        assert_eq!(parse_results("step,train_loss\n"), None);
        assert_eq!(parse_results("steps,train_loss\n1,0.5\n"), None);
        assert_eq!(parse_results("epoch,train_loss\n1,0.5\n"), None);
        assert_eq!(parse_results("hello world, this is not csv"), None);
        assert_eq!(parse_results("!!!!"), None);
        // Base64 of something that is not a results file.
        assert_eq!(parse_results("aGVsbG8gd29ybGQ="), None);
    }

    #[test]
    fn tolerates_a_bom_and_surrounding_whitespace() {
        let s = parse_results("\u{feff}\n  step,train_loss\n1,0.5\n\n").unwrap();
        assert_eq!(s.train_loss, vec![(1, 0.5)]);
    }

    /// Reference base64 encoder, written independently of the decoder under test.
    fn encode_base64(data: &[u8]) -> String {
        const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut out = String::new();
        for chunk in data.chunks(3) {
            let b = [
                chunk[0],
                *chunk.get(1).unwrap_or(&0),
                *chunk.get(2).unwrap_or(&0),
            ];
            let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
            for i in 0..4 {
                if i <= chunk.len() {
                    out.push(A[(n >> (18 - 6 * i)) as usize & 63] as char);
                } else {
                    out.push('=');
                }
            }
        }
        out
    }

    #[test]
    fn decodes_base64_content() {
        // A known vector, to check the reference encoder too.
        assert_eq!(encode_base64(b"step,"), "c3RlcCw=");
        assert_eq!(decode_base64("c3RlcCw=").unwrap(), b"step,");
        assert_eq!(decode_base64("c3RlcCw").unwrap(), b"step,");

        let plain = parse_results(NEW_LAYOUT).unwrap();
        let encoded = encode_base64(NEW_LAYOUT.as_bytes());
        assert!(!encoded.starts_with("step"));
        assert_eq!(parse_results(&encoded), Some(plain.clone()));

        // Wrapped at 76 columns with a trailing newline, as MIME encoders do.
        let wrapped: String = encoded
            .as_bytes()
            .chunks(76)
            .map(|c| format!("{}\n", std::str::from_utf8(c).unwrap()))
            .collect();
        assert_eq!(parse_results(&wrapped), Some(plain));

        // Every length modulo 3, padding or not.
        for len in 0..=9 {
            let data: Vec<u8> = (0..len).map(|i| (i * 37 + 200) as u8).collect();
            let enc = encode_base64(&data);
            if len == 0 {
                assert_eq!(decode_base64(&enc), None);
            } else {
                assert_eq!(decode_base64(&enc).unwrap(), data);
                assert_eq!(decode_base64(enc.trim_end_matches('=')).unwrap(), data);
            }
        }
        assert_eq!(decode_base64("abcde"), None, "impossible length");
        assert_eq!(decode_base64("ab=c"), None, "data after padding");
        assert_eq!(decode_base64("ab*c"), None, "bad character");
    }

    // --- Summary ----------------------------------------------------------------------------

    #[test]
    fn summarizes_final_and_best_values() {
        let s = parse_results(OLD_LAYOUT).unwrap();
        let m = summarize(&s, Some(12_345));
        assert_eq!(
            m,
            MetricsSummary {
                steps: 4,
                final_train_loss: Some(1.8),
                best_train_loss: Some(1.7),
                final_valid_loss: Some(1.75),
                best_valid_loss: Some(1.75),
                final_train_accuracy: Some(0.62),
                final_valid_accuracy: Some(0.58),
                trained_tokens: Some(12_345),
            }
        );

        let m = summarize(&parse_results(NEW_LAYOUT).unwrap(), None);
        assert_eq!(m.steps, 3);
        assert_eq!(m.final_valid_loss, Some(1.1));
        assert_eq!(m.best_valid_loss, Some(1.1));
        assert_eq!(m.best_train_loss, Some(0.9));
        assert_eq!(m.final_valid_accuracy, Some(0.75));
        assert_eq!(m.trained_tokens, None);
    }

    #[test]
    fn summary_of_empty_series_and_of_hand_built_non_finite_values() {
        let empty = series(&[], &[]);
        let m = summarize(&empty, None);
        assert_eq!(m.steps, 0);
        assert_eq!(m.final_train_loss, None);
        assert_eq!(m.best_valid_loss, None);

        let s = series(
            &[(1, 0.5), (2, f64::NAN), (3, 0.7), (9, f64::INFINITY)],
            &[],
        );
        let m = summarize(&s, None);
        assert_eq!(m.steps, 3, "a non-finite value does not count as a step");
        assert_eq!(m.final_train_loss, Some(0.7));
        assert_eq!(m.best_train_loss, Some(0.5));
    }

    #[test]
    fn summary_serializes_in_camel_case() {
        let m = summarize(&parse_results(OLD_LAYOUT).unwrap(), Some(7));
        let v = serde_json::to_value(&m).unwrap();
        assert_eq!(v["steps"], 4);
        assert_eq!(v["finalTrainLoss"], 1.8);
        assert_eq!(v["bestValidLoss"], 1.75);
        assert_eq!(v["finalValidAccuracy"], 0.58);
        assert_eq!(v["trainedTokens"], 7);
        assert_eq!(v.as_object().unwrap().len(), 8);
    }

    // --- SVG --------------------------------------------------------------------------------

    #[test]
    fn svg_is_well_formed_with_one_point_per_row() {
        let s = parse_results(OLD_LAYOUT).unwrap();
        let (text, root) = checked_svg(&s, "ft:gpt-4o-mini:acme::abc123");
        assert!(text.starts_with("<?xml"));
        assert_eq!(root.find_all("rect")[0].attr("fill"), Some("white"));

        let train = polyline(&root, "train-loss").unwrap();
        let valid = polyline(&root, "valid-loss").unwrap();
        assert_eq!(parse_points(train.attr("points").unwrap()).len(), 4);
        assert_eq!(parse_points(valid.attr("points").unwrap()).len(), 2);
        assert_ne!(train.attr("stroke"), valid.attr("stroke"));
        assert_eq!(train.attr("stroke-dasharray"), None);
        assert!(valid.attr("stroke-dasharray").is_some());

        let texts: Vec<&str> = texts_of(&root);
        assert!(texts.contains(&"Train loss") && texts.contains(&"Validation loss"));
        assert!(texts.contains(&"Step") && texts.contains(&"Loss"));
        assert!(texts.contains(&"ft:gpt-4o-mini:acme::abc123"));
    }

    #[test]
    fn svg_points_follow_the_data() {
        // Train loss falls: y grows downward in SVG, so y must increase with the step index.
        let s = series(&[(1, 3.0), (50, 2.0), (100, 1.0)], &[]);
        let (_, root) = checked_svg(&s, "t");
        let pts = parse_points(
            polyline(&root, "train-loss")
                .unwrap()
                .attr("points")
                .unwrap(),
        );
        assert!(pts[0].0 < pts[1].0 && pts[1].0 < pts[2].0, "{pts:?}");
        assert!(pts[0].1 < pts[1].1 && pts[1].1 < pts[2].1, "{pts:?}");
        // Equal loss steps map to equal pixel steps.
        assert!(((pts[1].1 - pts[0].1) - (pts[2].1 - pts[1].1)).abs() < 0.02);
        assert!(polyline(&root, "valid-loss").is_none());
        let legend: Vec<String> = root
            .find_all("text")
            .iter()
            .map(|t| t.text.clone())
            .collect();
        assert!(!legend.iter().any(|t| t == "Validation loss"));
    }

    #[test]
    fn svg_ticks_are_rounded() {
        let s = series(&[(1, 2.1034), (250, 0.3712)], &[(125, 1.4)]);
        let (_, root) = checked_svg(&s, "t");
        let labels: Vec<String> = root
            .find_all("text")
            .iter()
            .map(|t| t.text.clone())
            .collect();
        // x: 0..250 by 50; y: 0.0..2.5 by 0.5 (around 0.37..2.10).
        for l in ["0", "50", "100", "150", "200", "250"] {
            assert!(
                labels.iter().any(|t| t == l),
                "missing x tick {l}: {labels:?}"
            );
        }
        for l in ["0.5", "1.0", "1.5", "2.0", "2.5"] {
            assert!(
                labels.iter().any(|t| t == l),
                "missing y tick {l}: {labels:?}"
            );
        }
    }

    #[test]
    fn svg_escapes_the_title() {
        let title = r#"<script>&"model's"</script>"#;
        let (text, root) = checked_svg(&series(&[(1, 1.0), (2, 0.5)], &[]), title);
        assert!(!text.contains("<script>"));
        assert!(text.contains("&lt;script&gt;&amp;&quot;model&apos;s&quot;&lt;/script&gt;"));
        let texts: Vec<&str> = texts_of(&root);
        assert!(texts.contains(&title), "{texts:?}");
        assert!(root.find_all("script").is_empty());

        // Control characters XML forbids are replaced, keeping the document well-formed.
        let (_, root) = checked_svg(&series(&[(1, 1.0)], &[]), "a\u{1}b");
        let texts: Vec<&str> = texts_of(&root);
        assert!(texts.contains(&"a\u{fffd}b"));
    }

    #[test]
    fn svg_of_a_single_point() {
        let (_, root) = checked_svg(&series(&[(1, 0.42)], &[(1, 0.5)]), "one");
        for class in ["train-loss", "valid-loss"] {
            let pts = parse_points(polyline(&root, class).unwrap().attr("points").unwrap());
            assert_eq!(pts.len(), 1, "{class}");
        }
        // Dots make single points visible.
        assert_eq!(root.find_all("circle").len(), 2);
    }

    #[test]
    fn svg_of_a_constant_series() {
        let train: Vec<(u64, f64)> = (1..=20).map(|s| (s, 0.75)).collect();
        let (_, root) = checked_svg(&series(&train, &[]), "flat");
        let pts = parse_points(
            polyline(&root, "train-loss")
                .unwrap()
                .attr("points")
                .unwrap(),
        );
        assert_eq!(pts.len(), 20);
        assert!(pts.iter().all(|p| p.1 == pts[0].1), "flat line");
        assert!(
            pts[0].1 > PLOT_TOP && pts[0].1 < PLOT_BOTTOM,
            "inside the plot"
        );
        // Constant zero as well.
        let zeros: Vec<(u64, f64)> = (0..5).map(|s| (s, 0.0)).collect();
        let (_, root) = checked_svg(&series(&zeros, &zeros), "zero");
        assert_eq!(
            parse_points(
                polyline(&root, "valid-loss")
                    .unwrap()
                    .attr("points")
                    .unwrap()
            )
            .len(),
            5
        );
    }

    #[test]
    fn svg_skips_non_finite_values() {
        let s = series(
            &[(1, 1.0), (2, f64::NAN), (3, 0.5), (4, f64::INFINITY)],
            &[(2, f64::NEG_INFINITY)],
        );
        let (_, root) = checked_svg(&s, "nan");
        let pts = parse_points(
            polyline(&root, "train-loss")
                .unwrap()
                .attr("points")
                .unwrap(),
        );
        assert_eq!(pts.len(), 2);
        assert!(polyline(&root, "valid-loss").is_none());
    }

    #[test]
    fn svg_without_data_is_still_a_document() {
        let (_, root) = checked_svg(&series(&[], &[]), "empty");
        assert!(root.find_all("polyline").is_empty());
        let texts: Vec<&str> = texts_of(&root);
        assert!(texts.contains(&"No loss data"));
    }

    #[test]
    fn svg_downsamples_long_series() {
        let train: Vec<(u64, f64)> = (1..=2500).map(|s| (s, 3.0 / s as f64)).collect();
        let valid: Vec<(u64, f64)> = (1..=2500).step_by(2).map(|s| (s, 3.5 / s as f64)).collect();
        assert_eq!(valid.len(), 1250);
        let (_, root) = checked_svg(&series(&train, &valid), "long");
        let t = parse_points(
            polyline(&root, "train-loss")
                .unwrap()
                .attr("points")
                .unwrap(),
        );
        let v = parse_points(
            polyline(&root, "valid-loss")
                .unwrap()
                .attr("points")
                .unwrap(),
        );
        assert_eq!(t.len(), MAX_POINTS_PER_SERIES);
        assert_eq!(v.len(), MAX_POINTS_PER_SERIES);
        // Exactly at the limit: untouched.
        let (_, root) = checked_svg(&series(&train[..1000], &[]), "limit");
        let t = parse_points(
            polyline(&root, "train-loss")
                .unwrap()
                .attr("points")
                .unwrap(),
        );
        assert_eq!(t.len(), 1000);
    }

    #[test]
    fn downsample_keeps_first_and_last_in_order() {
        let pts: Vec<(u64, f64)> = (0..2500).map(|s| (s, s as f64)).collect();
        let d = downsample(&pts, 1000);
        assert_eq!(d.len(), 1000);
        assert_eq!(d[0], (0, 0.0));
        assert_eq!(d[999], (2499, 2499.0));
        assert!(d.windows(2).all(|w| w[0].0 < w[1].0), "strictly increasing");
        // Evenly spread: no gap much larger than the average (2499 / 999 = 2.5).
        assert!(d.windows(2).all(|w| w[1].0 - w[0].0 <= 3));
        assert_eq!(downsample(&pts[..10], 1000), pts[..10].to_vec());
        assert_eq!(downsample(&pts[..1001], 1000).len(), 1000);
    }

    #[test]
    fn nice_axis_bounds() {
        let a = Axis::nice(0.3712, 2.1034, 6, false);
        assert_eq!((a.min, a.max, a.step, a.decimals), (0.0, 2.5, 0.5, 1));
        let a = Axis::nice(1.0, 1.0, 6, true);
        assert_eq!((a.min, a.max, a.step), (0.0, 2.0, 1.0));
        let a = Axis::nice(0.0, 0.0, 6, true);
        assert!(a.min >= 0.0 && a.max > a.min);
        let a = Axis::nice(1.0, 3.0, 6, true);
        assert!(a.step >= 1.0 && a.step.fract() == 0.0);
        let a = Axis::nice(0.75, 0.75, 6, false);
        assert!(a.min < 0.75 && a.max > 0.75);
        let a = Axis::nice(1.0, 250.0, 6, true);
        assert_eq!((a.min, a.max, a.step), (0.0, 250.0, 50.0));
        assert_eq!(a.ticks(), vec![0.0, 50.0, 100.0, 150.0, 200.0, 250.0]);
        let a = Axis::nice(0.0012, 0.0187, 6, false);
        assert_eq!((a.step, a.decimals), (0.005, 3));
        assert_eq!(a.label(0.015), "0.015");
        // No "-0.00" labels.
        let a = Axis::nice(-0.5, 2.0, 6, false);
        assert_eq!(a.label(-0.0001), "0.0");
        assert_eq!(a.label(-0.5), "-0.5");
    }
}
