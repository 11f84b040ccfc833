//! The report of an evaluation: per grader the means, the paired comparison and the sign
//! test; the verdict and its reason; the tokens and cost this call paid for; the answers file
//! (one JSON line per answered example) and, when asked, the JUnit XML report.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::json;

use crate::calc::junit::junit_xml;
use crate::calc::prices;
use crate::calc::verdict::{self, Paired};
use crate::infra::task::blocking;
use crate::types::error::{Error, ErrorCode, Result};
use crate::types::results::{EvalUsage, EvaluationReport, GraderScore};

use super::ask::Got;
use super::grade::{Answered, Graded};
use super::settings::Setup;

/// Each grader's scores over the examples it scored.
pub fn grader_scores(setup: &Setup, graded: &Graded) -> Vec<GraderScore> {
    setup
        .graders
        .iter()
        .zip(&graded.scores)
        .zip(&graded.errors)
        .map(|((g, sc), errors)| {
            let pairs: Vec<[f64; 2]> = sc.iter().flatten().copied().collect();
            let p = Paired::of(&pairs, setup.bootstrap_samples, setup.seed);
            let m = pairs.len().max(1) as f64;
            GraderScore {
                name: g.name().to_string(),
                examples: p.examples,
                candidate_mean: pairs.iter().map(|x| x[0]).sum::<f64>() / m,
                baseline_mean: pairs.iter().map(|x| x[1]).sum::<f64>() / m,
                difference: p.difference,
                ci_low: p.ci_low,
                ci_high: p.ci_high,
                wins: p.wins,
                ties: p.ties,
                losses: p.losses,
                p_value: p.p_value,
                min_score: setup.min_scores.get(g.name()).copied(),
                errors: *errors,
            }
        })
        .collect()
}

/// `better`, and why not: a partial run is never better; else the rule of
/// [`crate::calc::verdict`] on the primary grader.
pub fn verdict_of(primary: &GraderScore, partial: Option<&str>) -> (bool, Option<String>) {
    if let Some(why) = partial {
        return (false, Some(format!("partial evaluation: {why}")));
    }
    let p = Paired {
        examples: primary.examples,
        wins: primary.wins,
        ties: primary.ties,
        losses: primary.losses,
        difference: primary.difference,
        ci_low: primary.ci_low,
        ci_high: primary.ci_high,
        p_value: primary.p_value,
    };
    match verdict::verdict(&primary.name, &p) {
        Ok(()) => (true, None),
        Err(why) => (false, Some(why)),
    }
}

/// Tokens and cost of the answers this call paid for; answers reused and new.
pub struct Paid {
    pub usage: EvalUsage,
    pub cost_usd: Option<f64>,
    pub reused: u64,
    pub new: u64,
}

/// What the answers (`2 × example + side`) and the judge's replies cost this call.
pub fn paid(models: [&str; 3], answers: &[Option<Got>], judged: &[Option<Got>]) -> Paid {
    let mut u = EvalUsage::default();
    let (mut reused, mut new, mut cost) = (0, 0, Some(0.0));
    let all = answers
        .iter()
        .enumerate()
        .map(|(i, g)| (i % 2, g))
        .chain(judged.iter().map(|g| (2, g)));
    for (who, g) in all {
        let Some(g) = g else { continue };
        if !g.new {
            reused += 1;
            continue;
        }
        new += 1;
        let (p, c) = (g.answer.prompt_tokens, g.answer.completion_tokens);
        let slot = match who {
            0 => (
                &mut u.candidate_prompt_tokens,
                &mut u.candidate_completion_tokens,
            ),
            1 => (
                &mut u.baseline_prompt_tokens,
                &mut u.baseline_completion_tokens,
            ),
            _ => (&mut u.judge_prompt_tokens, &mut u.judge_completion_tokens),
        };
        *slot.0 += p;
        *slot.1 += c;
        cost = cost
            .zip(prices::cost(models[who], p, c))
            .map(|(a, b)| a + b);
    }
    u.total_tokens = u.candidate_prompt_tokens
        + u.candidate_completion_tokens
        + u.baseline_prompt_tokens
        + u.baseline_completion_tokens
        + u.judge_prompt_tokens
        + u.judge_completion_tokens;
    Paid {
        usage: u,
        cost_usd: cost,
        reused,
        new,
    }
}

/// The answers file's lines: each answered example's prompt, reference, answers and scores.
pub fn answer_lines(setup: &Setup, answered: &[Answered], graded: &Graded) -> String {
    let mut text = String::new();
    for (i, a) in answered.iter().enumerate() {
        let mut sc = BTreeMap::new();
        for (g, s) in setup.graders.iter().zip(&graded.scores) {
            if let Some([c, b]) = s[i] {
                sc.insert(g.name(), json!({"candidate": c, "baseline": b}));
            }
        }
        let e = a.example;
        text += &json!({
            "line": e.line,
            "prompt": e.prompt,
            "reference": e.reference.to_json(),
            "candidate": a.answers[0].to_json(),
            "baseline": a.answers[1].to_json(),
            "scores": sc,
        })
        .to_string();
        text.push('\n');
    }
    text
}

/// Writes `text` to `path`, creating its folder.
pub async fn write(path: &Path, text: String) -> Result<()> {
    let out = path.to_path_buf();
    blocking(move || {
        let fail = |e: std::io::Error, p: &Path| {
            Error::new(
                ErrorCode::RegistryIo,
                format!("cannot write {}: {e}", p.display()),
            )
        };
        if let Some(d) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(d).map_err(|e| fail(e, d))?;
        }
        std::fs::write(&out, text).map_err(|e| fail(e, &out))
    })
    .await
}

/// Writes the JUnit report, when asked for.
pub async fn write_junit(setup: &Setup, report: &EvaluationReport) -> Result<()> {
    match &setup.junit_path {
        Some(p) => write(p, junit_xml(report)).await,
        None => Ok(()),
    }
}
