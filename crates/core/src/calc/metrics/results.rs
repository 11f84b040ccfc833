//! The results CSV the API attaches to a succeeded job (`result_files[0]`), and its summary.
//!
//! The CSV has a `step` column and some of `train_loss`, `train_accuracy` /
//! `train_mean_token_accuracy`, `valid_loss`, `valid_accuracy` / `valid_mean_token_accuracy`,
//! `full_valid_loss`, `full_valid_mean_token_accuracy`; cells may be empty, and older API
//! versions returned the whole file base64-encoded. Unknown columns are ignored. Pure: no I/O.

use crate::types::results::MetricsSummary;

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

pub(super) fn finite(points: &[(u64, f64)]) -> Vec<(u64, f64)> {
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

/// A series of train and validation losses (for tests).
#[cfg(test)]
pub(crate) fn series(train: &[(u64, f64)], valid: &[(u64, f64)]) -> Series {
    Series {
        train_loss: train.to_vec(),
        valid_loss: valid.to_vec(),
        train_accuracy: Vec::new(),
        valid_accuracy: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
