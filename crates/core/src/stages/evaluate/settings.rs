//! The settings of an evaluation, checked and resolved before anything is sent: which graders
//! run (built-in by name, or the caller's), which one decides `better`, how many requests at
//! once, the answer cap, the cost limit, the thresholds and where the reports go.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::calc::graders::{self, Grader};
use crate::calc::prices;
use crate::types::error::{Error, ErrorCode, Result};
use crate::types::evaluation::CustomGrader;
use crate::types::options::EvalSettings;

use super::data::Example;

/// Retries per request of an evaluation, unless `maxRetries` is given: more patience than one
/// call, since an evaluation is many calls.
pub const EVAL_MAX_RETRIES: u32 = 8;
/// The cap of a judge's answer, in tokens.
pub const JUDGE_ANSWER_TOKENS: u32 = 512;

/// One grader of an evaluation.
#[derive(Debug, Clone)]
pub enum GraderRef {
    Builtin(Grader),
    /// A caller's grader.
    Custom(CustomGrader),
}

impl GraderRef {
    pub fn name(&self) -> &str {
        match self {
            GraderRef::Builtin(g) => g.name(),
            GraderRef::Custom(c) => &c.name,
        }
    }

    pub fn is_judge(&self) -> bool {
        matches!(self, GraderRef::Builtin(Grader::Judge))
    }
}

/// The settings, resolved.
#[derive(Debug, Clone)]
pub struct Setup {
    pub graders: Vec<GraderRef>,
    /// Index of the primary grader in `graders`.
    pub primary: usize,
    pub judge_model: String,
    pub rubric: String,
    pub seed: u64,
    pub concurrency: usize,
    pub temperature: f64,
    pub bootstrap_samples: u32,
    pub cache: bool,
    pub answer_cap: u32,
    pub max_cost_usd: Option<f64>,
    pub min_scores: BTreeMap<String, f64>,
    pub junit_path: Option<PathBuf>,
}

impl Setup {
    pub fn judge(&self) -> bool {
        self.graders.iter().any(GraderRef::is_judge)
    }
}

fn invalid(param: &str, msg: String) -> Error {
    Error::new(ErrorCode::InvalidOption, msg).with_param(param)
}

/// The default graders of a data set: `exact`, `toolCalls` when a reference has tool calls,
/// `similarity` when a reference has text. The primary one is `toolCalls` when most
/// references have tool calls, else `similarity`.
pub fn default_graders(examples: &[Example]) -> (Vec<Grader>, Grader) {
    let calls = examples
        .iter()
        .filter(|e| !e.reference.tool_calls.is_empty())
        .count();
    let texts = examples
        .iter()
        .filter(|e| !e.reference.content.is_empty())
        .count();
    let mut g = vec![Grader::Exact];
    if calls > 0 {
        g.push(Grader::ToolCalls);
    }
    if texts > 0 || calls == 0 {
        g.push(Grader::Similarity);
    }
    let primary = if calls * 2 > examples.len() {
        Grader::ToolCalls
    } else {
        Grader::Similarity
    };
    (g, primary)
}

/// The caller's graders, checked: a name of its own, not a built-in one, each once.
fn check_custom(custom: &[CustomGrader]) -> Result<()> {
    for (i, c) in custom.iter().enumerate() {
        if c.name.trim().is_empty() {
            return Err(invalid("graders", "a grader object needs a name".into()));
        }
        if Grader::parse(&c.name).is_some() {
            return Err(invalid(
                "graders",
                format!(
                    "grader {:?} is a built-in grader's name; give yours another",
                    c.name
                ),
            ));
        }
        if custom[..i].iter().any(|d| d.name == c.name) {
            return Err(invalid(
                "graders",
                format!("two graders are named {:?}", c.name),
            ));
        }
    }
    Ok(())
}

/// The graders the settings name (built-in or the caller's), default ones when none.
fn graders_of(s: &EvalSettings, examples: &[Example]) -> Result<(Vec<GraderRef>, Grader)> {
    check_custom(&s.custom_graders)?;
    let (defaults, default_primary) = default_graders(examples);
    let names = s.graders.clone().unwrap_or_default();
    if names.is_empty() {
        return Ok((
            defaults.into_iter().map(GraderRef::Builtin).collect(),
            default_primary,
        ));
    }
    let one = |n: &String| {
        if let Some(g) = Grader::parse(n) {
            return Ok(GraderRef::Builtin(g));
        }
        s.custom_graders
            .iter()
            .find(|c| &c.name == n)
            .map(|c| GraderRef::Custom(c.clone()))
            .ok_or_else(|| {
                invalid(
                    "graders",
                    format!(
                        "unknown grader {n:?}; graders are {}, or an object {{ name, grade }}",
                        Grader::ALL.map(Grader::name).join(", ")
                    ),
                )
            })
    };
    let mut out: Vec<GraderRef> = Vec::new();
    for n in &names {
        if out.iter().any(|g| g.name() == n) {
            return Err(invalid("graders", format!("grader {n:?} is named twice")));
        }
        out.push(one(n)?);
    }
    Ok((out, default_primary))
}

/// The index of the primary grader.
fn primary_of(s: &EvalSettings, graders: &[GraderRef], default: Grader) -> Result<usize> {
    match &s.primary_grader {
        Some(n) => graders.iter().position(|g| g.name() == n).ok_or_else(|| {
            invalid(
                "primaryGrader",
                format!("primaryGrader {n:?} is not one of the graders"),
            )
        }),
        None => Ok(graders
            .iter()
            .position(|g| g.name() == default.name())
            .unwrap_or(0)),
    }
}

/// `minScores`: each a grader of the evaluation, each from 0 to 1.
fn min_scores_of(s: &EvalSettings, graders: &[GraderRef]) -> Result<BTreeMap<String, f64>> {
    let mins = s.min_scores.clone().unwrap_or_default();
    for (name, x) in &mins {
        if !graders.iter().any(|g| g.name() == name) {
            return Err(invalid(
                "minScores",
                format!("minScores names {name:?}, which is not one of the graders"),
            ));
        }
        if !(0.0..=1.0).contains(x) {
            return Err(invalid(
                "minScores",
                format!("minScores.{name} is {x}; a score is from 0 to 1"),
            ));
        }
    }
    Ok(mins)
}

/// Checks the numbers that need no data (before the data is read).
pub fn check_numbers(s: &EvalSettings) -> Result<()> {
    if let Some(c) = s.concurrency {
        if c == 0 || c > 256 {
            return Err(invalid(
                "concurrency",
                format!("concurrency is {c}; allowed: 1 to 256"),
            ));
        }
    }
    if s.max_answer_tokens == Some(0) {
        return Err(invalid(
            "maxAnswerTokens",
            "maxAnswerTokens is 0; an answer needs at least 1 token".into(),
        ));
    }
    if let Some(m) = s.max_cost_usd {
        if m.is_nan() || m < 0.0 {
            return Err(invalid(
                "maxCostUsd",
                format!("maxCostUsd is {m}; it is 0 or more"),
            ));
        }
    }
    Ok(())
}

/// Resolves the settings against the examples.
pub fn setup(s: &EvalSettings, examples: &[Example], candidate: &str) -> Result<Setup> {
    check_numbers(s)?;
    let (graders, default_primary) = graders_of(s, examples)?;
    let primary = primary_of(s, &graders, default_primary)?;
    let min_scores = min_scores_of(s, &graders)?;
    let references: Vec<&serde_json::Value> =
        examples.iter().map(|e| &e.reference_message).collect();
    Ok(Setup {
        primary,
        min_scores,
        graders,
        judge_model: s
            .judge_model
            .clone()
            .unwrap_or_else(|| "gpt-4o-mini".into()),
        rubric: s
            .judge_rubric
            .clone()
            .unwrap_or_else(|| graders::DEFAULT_RUBRIC.to_string()),
        seed: s.seed.unwrap_or(0),
        concurrency: s.concurrency.unwrap_or(8) as usize,
        temperature: s.temperature.unwrap_or(0.0),
        bootstrap_samples: s.bootstrap_samples.unwrap_or(2000),
        cache: s.cache.unwrap_or(true),
        answer_cap: s
            .max_answer_tokens
            .unwrap_or_else(|| prices::default_answer_cap(candidate, &references)),
        max_cost_usd: s.max_cost_usd,
        junit_path: s.junit_path.clone().map(PathBuf::from),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stages::evaluate::data::parse_examples;

    const TEXT: &str = concat!(
        r#"{"messages":[{"role":"user","content":"a"},{"role":"assistant","content":"b"}]}"#,
        "\n",
        r#"{"messages":[{"role":"user","content":"c"},{"role":"assistant","tool_calls":[{"id":"1","type":"function","function":{"name":"f","arguments":"{}"}}]}],"tools":[]}"#,
        "\n",
        r#"{"messages":[{"role":"user","content":"no answer"}]}"#,
        "\n",
    );

    #[test]
    fn examples_and_default_graders() {
        let ex = parse_examples(TEXT).unwrap();
        assert_eq!(ex.len(), 2);
        assert_eq!(ex[1].reference.tool_calls[0].0, "f");
        let (g, p) = default_graders(&ex);
        assert_eq!(g, [Grader::Exact, Grader::ToolCalls, Grader::Similarity]);
        assert_eq!(p, Grader::Similarity);
        assert_eq!(
            parse_examples("nope").unwrap_err().code,
            ErrorCode::InvalidTrainingData
        );
    }

    fn custom(name: &str) -> CustomGrader {
        CustomGrader {
            name: name.into(),
            grade: std::sync::Arc::new(|_, _| Box::pin(async { Ok(1.0) })),
        }
    }

    #[test]
    fn graders_by_name_or_the_callers() {
        let ex = parse_examples(TEXT).unwrap();
        let mut s = EvalSettings {
            graders: Some(vec!["exact".into(), "mine".into()]),
            custom_graders: vec![custom("mine")],
            primary_grader: Some("mine".into()),
            min_scores: Some([("mine".to_string(), 0.5)].into()),
            ..Default::default()
        };
        let st = setup(&s, &ex, "gpt-4o-mini").unwrap();
        assert_eq!(
            st.graders.iter().map(|g| g.name()).collect::<Vec<_>>(),
            ["exact", "mine"]
        );
        assert_eq!(st.primary, 1);
        assert_eq!(st.answer_cap, 256);
        let param = |s: &EvalSettings| setup(s, &ex, "m").unwrap_err().param.clone();
        s.min_scores = Some([("similarity".to_string(), 0.5)].into());
        assert_eq!(param(&s).as_deref(), Some("minScores"));
        s.min_scores = None;
        s.custom_graders = vec![custom("exact")];
        assert_eq!(param(&s).as_deref(), Some("graders"));
        s.custom_graders = vec![custom("mine"), custom("mine")];
        assert_eq!(param(&s).as_deref(), Some("graders"));
        s.custom_graders = vec![];
        assert_eq!(param(&s).as_deref(), Some("graders"));
    }
}
