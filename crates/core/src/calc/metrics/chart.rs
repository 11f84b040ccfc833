//! The loss curve of a job as a small SVG line chart.
//!
//! The SVG is written by hand on purpose: no SVG or plotting crate draws a simple line chart
//! without pulling in a large dependency tree, and the chart (axes, a few ticks, two polylines,
//! a legend and a title) is a few dozen lines of markup. Pure: no I/O.

use std::fmt::Write as _;

use super::results::{finite, Series};
use crate::calc::xml;

/// At most this many points of each series are drawn; longer series are downsampled evenly,
/// keeping the first and the last point.
pub const MAX_POINTS_PER_SERIES: usize = 1000;

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
        xml::escape(title, "\u{fffd}")
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calc::metrics::results::{parse_results, series};

    /// An element of a parsed document (parsed by roxmltree, which refuses ill-formed XML).
    #[derive(Debug)]
    struct El {
        name: String,
        attrs: Vec<(String, String)>,
        children: Vec<El>,
        text: String,
    }

    impl El {
        fn of(n: roxmltree::Node) -> El {
            El {
                name: n.tag_name().name().to_string(),
                attrs: n
                    .attributes()
                    .map(|a| (a.name().to_string(), a.value().to_string()))
                    .collect(),
                children: n
                    .children()
                    .filter(|c| c.is_element())
                    .map(El::of)
                    .collect(),
                text: n
                    .children()
                    .filter(|c| c.is_text())
                    .filter_map(|c| c.text())
                    .collect(),
            }
        }

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

    fn parse_xml(doc: &str) -> Result<El, String> {
        let d = roxmltree::Document::parse(doc).map_err(|e| e.to_string())?;
        let mut root = El::of(d.root_element());
        // roxmltree reads `xmlns` as the namespace, not as an attribute.
        if let Some(ns) = d.root_element().tag_name().namespace() {
            root.attrs.push(("xmlns".into(), ns.to_string()));
        }
        Ok(root)
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

    const OLD_LAYOUT: &str = "step,train_loss,train_accuracy,valid_loss,valid_accuracy\n\
        1,2.1034,0.51,,\n\
        2,1.9821,0.55,2.01,0.53\n\
        3,1.7,0.6,,\n\
        4,1.8,0.62,1.75,0.58\n";

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
