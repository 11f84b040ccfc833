//! "Is the candidate better?", decided so that the answer holds at any sample size.
//!
//! The rule (see `docs/evaluation.md`): on the primary grader, `better` is true only when
//!
//! 1. at least [`MIN_PAIRED_EXAMPLES`] examples were scored for both models;
//! 2. the exact two-sided sign test on the paired differences (wins against losses, ties
//!    dropped) gives p < [`ALPHA`], with more wins than losses: under "neither model is
//!    better", wins ~ Binomial(wins + losses, 1/2), so its error rate is at most `ALPHA` at
//!    every n (Conover, *Practical Nonparametric Statistics*, 3rd ed., 1999, §3.4, the sign
//!    test); and
//! 3. the paired-bootstrap 95 % percentile interval of the mean difference lies above 0 (the
//!    size of the gain agrees with its direction: many small wins cannot hide large losses).
//!
//! Five wins out of five give p = 2 / 2⁵ = 0.0625, so they are not enough; six out of six give
//! 0.03125.

use rand::{Rng, SeedableRng};

/// Fewer paired examples than this give no verdict.
pub const MIN_PAIRED_EXAMPLES: u64 = 10;
/// The sign test's level.
pub const ALPHA: f64 = 0.05;
/// Differences at most this far from 0 are ties.
pub const TIE: f64 = 1e-12;

/// How `better` is decided, as the report names it.
pub fn method() -> String {
    format!(
        "exact two-sided sign test on paired wins/losses (ties dropped), p < {ALPHA}, at least {MIN_PAIRED_EXAMPLES} paired examples, and a paired-bootstrap 95% interval of the difference above 0"
    )
}

/// The exact two-sided p-value of the sign test: `2 · P(X ≤ min(wins, losses))` for
/// X ~ Binomial(wins + losses, 1/2), at most 1; 1 when there are no wins nor losses.
/// Summed in log space, so it is exact to f64 precision for any n.
pub fn sign_test(wins: u64, losses: u64) -> f64 {
    let n = wins + losses;
    if n == 0 {
        return 1.0;
    }
    let k = wins.min(losses);
    // log C(n, i) · 2⁻ⁿ for i = 0..=k, from C(n, 0) = 1 by C(n, i+1) = C(n, i)·(n−i)/(i+1).
    let mut log_terms = Vec::with_capacity(k as usize + 1);
    let mut log_c = 0.0f64;
    for i in 0..=k {
        log_terms.push(log_c - n as f64 * std::f64::consts::LN_2);
        log_c += ((n - i) as f64).ln() - ((i + 1) as f64).ln();
    }
    let max = log_terms.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let tail = max.exp() * log_terms.iter().map(|t| (t - max).exp()).sum::<f64>();
    (2.0 * tail).min(1.0)
}

/// The seeded paired bootstrap: the 2.5th and 97.5th percentiles of the mean of `diffs`
/// resampled with replacement `samples` times (`rand`'s seeded `StdRng`).
pub fn bootstrap_ci(diffs: &[f64], samples: u32, seed: u64) -> (f64, f64) {
    if diffs.is_empty() {
        return (0.0, 0.0);
    }
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let n = diffs.len();
    let mut means: Vec<f64> = (0..samples.max(1))
        .map(|_| (0..n).map(|_| diffs[rng.random_range(0..n)]).sum::<f64>() / n as f64)
        .collect();
    means.sort_by(|a, b| a.total_cmp(b));
    let at = |q: f64| means[((q * (means.len() - 1) as f64).round() as usize).min(means.len() - 1)];
    (at(0.025), at(0.975))
}

/// One grader's paired comparison, as the verdict reads it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Paired {
    pub examples: u64,
    pub wins: u64,
    pub ties: u64,
    pub losses: u64,
    pub difference: f64,
    pub ci_low: f64,
    pub ci_high: f64,
    pub p_value: f64,
}

impl Paired {
    /// The comparison of paired `[candidate, baseline]` scores.
    pub fn of(pairs: &[[f64; 2]], bootstrap_samples: u32, seed: u64) -> Paired {
        let diffs: Vec<f64> = pairs.iter().map(|p| p[0] - p[1]).collect();
        let (ci_low, ci_high) = bootstrap_ci(&diffs, bootstrap_samples, seed);
        let count = |f: &dyn Fn(f64) -> bool| diffs.iter().filter(|d| f(**d)).count() as u64;
        let wins = count(&|d| d > TIE);
        let losses = count(&|d| d < -TIE);
        let m = pairs.len().max(1) as f64;
        Paired {
            examples: pairs.len() as u64,
            wins,
            ties: count(&|d| d.abs() <= TIE),
            losses,
            difference: diffs.iter().sum::<f64>() / m,
            ci_low,
            ci_high,
            p_value: sign_test(wins, losses),
        }
    }
}

/// The verdict on the primary grader `name`: `Ok(())` when better, else why not (the first
/// condition of the rule that fails, in words).
pub fn verdict(name: &str, p: &Paired) -> Result<(), String> {
    if p.examples < MIN_PAIRED_EXAMPLES {
        return Err(format!(
            "only {} paired example{} for {name}; a verdict needs at least {MIN_PAIRED_EXAMPLES}",
            p.examples,
            if p.examples == 1 { "" } else { "s" }
        ));
    }
    if p.ci_low <= 0.0 {
        return Err(format!(
            "{name} difference {}, 95% CI [{}, {}] does not lie above 0",
            signed(p.difference),
            short(p.ci_low),
            short(p.ci_high)
        ));
    }
    if p.wins <= p.losses || p.p_value >= ALPHA {
        return Err(format!(
            "{name}: {} wins, {} losses ({} ties): sign test p = {}, not below {ALPHA}",
            p.wins,
            p.losses,
            p.ties,
            short(p.p_value)
        ));
    }
    Ok(())
}

/// A number as the CLI prints scores: at most 3 decimals, no trailing zeros.
fn short(x: f64) -> String {
    let s = format!("{x:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".into()
    } else {
        s.into()
    }
}

fn signed(x: f64) -> String {
    let s = short(x);
    if s.starts_with('-') {
        s
    } else {
        format!("+{s}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sign_test_is_exact() {
        let close = |a: f64, b: f64| (a - b).abs() < 1e-12;
        assert!(close(sign_test(5, 0), 0.0625));
        assert!(close(sign_test(0, 5), 0.0625));
        assert!(close(sign_test(6, 0), 0.03125));
        assert_eq!(sign_test(1, 0), 1.0);
        assert_eq!(sign_test(0, 0), 1.0);
        // 8 of 10: 2 · (1 + 10 + 45) / 1024.
        assert!(close(sign_test(8, 2), 0.109375));
        // 9 of 10: 2 · (1 + 10) / 1024.
        assert!(close(sign_test(9, 1), 0.021484375));
        // Large n: symmetric, in (0, 1], and no underflow.
        assert_eq!(sign_test(1000, 1000), 1.0);
        let p = sign_test(1060, 940);
        assert!(p > 0.005 && p < 0.01, "{p}");
        assert!(sign_test(2000, 0) >= 0.0);
    }

    #[test]
    fn the_bootstrap_is_seeded_and_brackets_the_mean() {
        let d: Vec<f64> = (0..100)
            .map(|i| if i % 4 == 0 { 0.0 } else { 1.0 })
            .collect();
        let (lo, hi) = bootstrap_ci(&d, 1000, 7);
        assert_eq!((lo, hi), bootstrap_ci(&d, 1000, 7));
        assert!(lo > 0.6 && hi < 0.9 && lo < 0.75 && hi > 0.75, "{lo} {hi}");
        assert_eq!(bootstrap_ci(&[0.0; 10], 100, 1), (0.0, 0.0));
    }

    fn all_won(n: usize) -> Paired {
        Paired::of(&vec![[1.0, 0.0]; n], 2000, 0)
    }

    #[test]
    fn small_samples_give_no_verdict() {
        // One example: its interval is [1, 1], and still no verdict.
        let one = all_won(1);
        assert_eq!((one.ci_low, one.ci_high), (1.0, 1.0));
        assert_eq!(
            verdict("exact", &one).unwrap_err(),
            "only 1 paired example for exact; a verdict needs at least 10"
        );
        // Five of five: p = 0.0625.
        let five = all_won(5);
        assert!((five.p_value - 0.0625).abs() < 1e-12);
        assert!(verdict("exact", &five).is_err());
        // Ten of ten: p ≈ 0.002.
        assert_eq!(verdict("exact", &all_won(10)), Ok(()));
    }

    #[test]
    fn the_sign_test_and_the_interval_must_both_agree() {
        // 7 wins, 3 losses, 2 ties: the mean is positive, but p = 0.34.
        let mut pairs = vec![[1.0, 0.0]; 7];
        pairs.extend(vec![[0.0, 1.0]; 3]);
        pairs.extend(vec![[1.0, 1.0]; 2]);
        let p = Paired::of(&pairs, 2000, 3);
        assert_eq!((p.wins, p.losses, p.ties), (7, 3, 2));
        let why = verdict("exact", &p).unwrap_err();
        assert!(
            why.contains("does not lie above 0") || why.contains("sign test p = 0.344"),
            "{why}"
        );
        // 12 small wins and 3 large losses: the sign test says p ≈ 0.035, the mean is negative.
        let mut pairs = vec![[0.55, 0.5]; 12];
        pairs.extend(vec![[0.0, 1.0]; 3]);
        let p = Paired::of(&pairs, 2000, 3);
        assert!(p.p_value < ALPHA && p.difference < 0.0);
        assert!(verdict("similarity", &p)
            .unwrap_err()
            .starts_with("similarity difference -0.16, 95% CI ["));
    }
}
