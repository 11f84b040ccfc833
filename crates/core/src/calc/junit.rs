//! An evaluation report as JUnit XML, the format CI systems show as test results: one
//! `<testsuite>` for the evaluation, one `<testcase>` per grader. A grader's testcase fails
//! when its candidate mean is below its `minScores` threshold, and the primary grader's also
//! when the report is not `better` (with the reason); answers a grader could not score are an
//! `<error>`. The scores are in each testcase's `<system-out>` and the suite's properties.
//!
//! The XML is written by hand (a few elements; every text and attribute value escaped, and
//! characters XML 1.0 forbids dropped).

use crate::calc::xml;
use crate::types::results::{EvaluationReport, GraderScore};

/// Text or an attribute value, escaped; characters XML 1.0 does not allow are left out.
fn esc(s: &str) -> String {
    xml::escape(s, "")
}

/// Why a grader's testcase fails, if it does.
fn failures(r: &EvaluationReport, g: &GraderScore) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    if g.name == r.primary_grader && !r.better {
        let why = r.reason.clone().unwrap_or_else(|| "not better".into());
        out.push((
            "NotBetter",
            format!("not better than {}: {why}", r.baseline),
        ));
    }
    if let Some(min) = g.min_score {
        if g.examples == 0 {
            out.push((
                "BelowMinScore",
                format!(
                    "{} applied to none of the examples (minScore {min})",
                    g.name
                ),
            ));
        } else if g.candidate_mean < min {
            out.push((
                "BelowMinScore",
                format!("{} {:.3} is below minScore {min}", g.name, g.candidate_mean),
            ));
        }
    }
    out
}

fn testcase(r: &EvaluationReport, g: &GraderScore, class: &str) -> (String, bool, bool) {
    let fails = failures(r, g);
    let mut x = format!(
        "    <testcase classname=\"{}\" name=\"{}\" time=\"0\">\n",
        esc(class),
        esc(&g.name)
    );
    if !fails.is_empty() {
        let message = fails
            .iter()
            .map(|(_, m)| m.as_str())
            .collect::<Vec<_>>()
            .join("; ");
        x += &format!(
            "      <failure type=\"{}\" message=\"{}\">{}</failure>\n",
            fails[0].0,
            esc(&message),
            esc(&message)
        );
    }
    if g.errors > 0 {
        let errors: Vec<String> = r
            .grader_errors
            .iter()
            .filter(|e| e.grader == g.name)
            .map(|e| format!("line {} ({}): {}", e.line, e.model, e.message))
            .collect();
        x += &format!(
            "      <error type=\"GraderError\" message=\"{}\">{}</error>\n",
            esc(&format!("{} answers could not be graded", g.errors)),
            esc(&errors.join("\n"))
        );
    }
    x += &format!(
        "      <system-out>{}</system-out>\n    </testcase>\n",
        esc(&format!(
            "{} examples: candidate {:.4}, baseline {:.4}, difference {:+.4}, 95% CI [{:.4}, {:.4}], wins/ties/losses {}/{}/{}, sign test p = {:.4}",
            g.examples, g.candidate_mean, g.baseline_mean, g.difference, g.ci_low, g.ci_high,
            g.wins, g.ties, g.losses, g.p_value
        ))
    );
    (x, !fails.is_empty(), g.errors > 0)
}

/// The report as a JUnit XML document.
pub fn junit_xml(r: &EvaluationReport) -> String {
    let class = format!(
        "fine-tune.eval.{}",
        r.model_key.as_deref().unwrap_or(&r.candidate)
    );
    let cases: Vec<(String, bool, bool)> =
        r.graders.iter().map(|g| testcase(r, g, &class)).collect();
    let failed = cases.iter().filter(|c| c.1).count();
    let errored = cases.iter().filter(|c| c.2).count();
    let secs = r.duration_ms as f64 / 1000.0;
    let props = [
        ("candidate", r.candidate.clone()),
        ("baseline", r.baseline.clone()),
        ("data", r.data.clone()),
        ("examples", r.examples.to_string()),
        ("answered", r.answered.to_string()),
        ("primaryGrader", r.primary_grader.clone()),
        ("better", r.better.to_string()),
        ("partial", r.partial.to_string()),
        ("verdictMethod", r.verdict_method.clone()),
    ];
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    x += &format!(
        "<testsuites name=\"fine-tune eval\" tests=\"{}\" failures=\"{failed}\" errors=\"{errored}\" time=\"{secs:.3}\">\n",
        cases.len()
    );
    x += &format!(
        "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failed}\" errors=\"{errored}\" skipped=\"0\" time=\"{secs:.3}\" timestamp=\"{}\">\n    <properties>\n",
        esc(&format!("{} vs {}", r.candidate, r.baseline)),
        cases.len(),
        esc(&r.evaluated_at)
    );
    for (name, value) in props {
        x += &format!(
            "      <property name=\"{name}\" value=\"{}\"/>\n",
            esc(&value)
        );
    }
    x += "    </properties>\n";
    for (c, _, _) in cases {
        x += &c;
    }
    x += "  </testsuite>\n</testsuites>\n";
    x
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::evaluation::GraderError;
    use crate::types::results::EvalUsage;

    fn score(name: &str, mean: f64, min: Option<f64>, errors: u64) -> GraderScore {
        GraderScore {
            name: name.into(),
            examples: 12,
            candidate_mean: mean,
            baseline_mean: 0.5,
            difference: mean - 0.5,
            ci_low: -0.1,
            ci_high: 0.2,
            wins: 5,
            ties: 4,
            losses: 3,
            p_value: 0.7265625,
            min_score: min,
            errors,
        }
    }

    fn report() -> EvaluationReport {
        EvaluationReport {
            candidate: "ft:gpt-4o-mini:org::<x>&\"y\"".into(),
            baseline: "gpt-4o-mini".into(),
            model_key: Some("router".into()),
            data: "held\u{1}out.jsonl".into(),
            examples: 12,
            primary_grader: "exact".into(),
            better: false,
            reason: Some("exact difference +0.1, 95% CI [-0.1, 0.2] does not lie above 0".into()),
            verdict_method: "sign test".into(),
            partial: false,
            answered: 12,
            reused_answers: 0,
            new_answers: 24,
            graders: vec![
                score("exact", 0.6, None, 0),
                score("mine", 0.9, Some(0.8), 1),
                score("similarity", 0.7, Some(0.8), 0),
            ],
            grader_errors: vec![GraderError {
                grader: "mine".into(),
                line: 3,
                model: "candidate".into(),
                message: "TypeError: <boom>".into(),
            }],
            usage: EvalUsage::default(),
            estimated_cost_usd: None,
            cost_usd: None,
            price_date: "2025-06-01".into(),
            output_path: "a.jsonl".into(),
            cache_dir: None,
            junit_path: None,
            seed: 0,
            duration_ms: 1234,
            evaluated_at: "2025-01-01T00:00:00.000Z".into(),
        }
    }

    #[test]
    fn one_testcase_per_grader_with_its_failures() {
        let xml = junit_xml(&report());
        let doc = roxmltree::Document::parse(&xml).unwrap();
        let root = doc.root_element();
        assert_eq!(root.tag_name().name(), "testsuites");
        assert_eq!(root.attribute("tests"), Some("3"));
        assert_eq!(root.attribute("failures"), Some("2"));
        assert_eq!(root.attribute("errors"), Some("1"));
        let suite = root.first_element_child().unwrap();
        assert_eq!(
            suite.attribute("name"),
            Some("ft:gpt-4o-mini:org::<x>&\"y\" vs gpt-4o-mini")
        );
        let prop = |n: &str| {
            suite
                .descendants()
                .find(|e| e.has_tag_name("property") && e.attribute("name") == Some(n))
                .and_then(|e| e.attribute("value"))
        };
        assert_eq!(prop("data"), Some("heldout.jsonl"));
        assert_eq!(prop("better"), Some("false"));
        let cases: Vec<_> = suite
            .children()
            .filter(|e| e.has_tag_name("testcase"))
            .collect();
        assert_eq!(
            cases
                .iter()
                .map(|c| c.attribute("name").unwrap())
                .collect::<Vec<_>>(),
            ["exact", "mine", "similarity"]
        );
        let failure = |i: usize| {
            cases[i]
                .children()
                .find(|e| e.has_tag_name("failure"))
                .and_then(|e| e.attribute("message"))
        };
        assert_eq!(
            failure(0),
            Some("not better than gpt-4o-mini: exact difference +0.1, 95% CI [-0.1, 0.2] does not lie above 0")
        );
        assert_eq!(failure(1), None);
        assert_eq!(failure(2), Some("similarity 0.700 is below minScore 0.8"));
        let error = cases[1]
            .children()
            .find(|e| e.has_tag_name("error"))
            .unwrap();
        assert_eq!(error.text(), Some("line 3 (candidate): TypeError: <boom>"));
    }
}
