//! "Did the fine-tune help?": runs a chat-format data set through a candidate model and a
//! baseline, grades both answers of each example against its reference (see
//! [`crate::calc::graders`]), and reports per grader each model's mean, the difference, a seeded
//! paired-bootstrap 95 % confidence interval of the difference and the win/tie/loss counts.
//! `better` is true when the interval of the primary grader lies above 0.
//!
//! Each example's messages up to its last assistant message are the prompt (its `tools` are
//! sent with it); that assistant message is the reference. Requests run concurrently through
//! the client's one request path (retries, `retry-after`), abortable, with progress events;
//! the cost is estimated before the first request and `maxCostUsd` refuses to start beyond it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use futures::StreamExt;
use rand::{Rng, SeedableRng};

use serde_json::{json, Value};

use crate::calc::graders::{self, Answer, Grader};
use crate::calc::lifecycle::iso;
use crate::infra::client::Client;
use crate::infra::journal::RunRecord;
use crate::infra::registry::{self, Registry};
use crate::infra::source;
use crate::infra::task::blocking;
use crate::types::api::Job;
use crate::types::error::{Error, ErrorCode, Result};
use crate::types::options::{DownloadLimits, EvalSettings, EvaluateSetting};
use crate::types::progress::{ProgressEvent, RunContext};
use crate::types::redact::redact_url;
use crate::types::results::{EvalUsage, Evaluated, EvaluationReport, GraderScore};

use super::Run;

/// USD per 1M input and output tokens of chat completions, base and fine-tuned, taken from
/// OpenAI's price page on [`INFERENCE_PRICE_DATE`]. (The dataset crate's table holds training
/// prices only; inference prices are used only here.)
const INFERENCE_PRICES: &[(&str, [f64; 2], [f64; 2])] = &[
    ("gpt-4o-mini", [0.15, 0.60], [0.30, 1.20]),
    ("gpt-4o", [2.50, 10.00], [3.75, 15.00]),
    ("gpt-4.1-nano", [0.10, 0.40], [0.20, 0.80]),
    ("gpt-4.1-mini", [0.40, 1.60], [0.80, 3.20]),
    ("gpt-4.1", [2.00, 8.00], [3.00, 12.00]),
    ("gpt-3.5-turbo", [0.50, 1.50], [3.00, 6.00]),
];
/// When [`INFERENCE_PRICES`] were taken.
pub const INFERENCE_PRICE_DATE: &str = "2025-06-01";

/// Input and output price per 1M tokens of `model`, if known.
pub fn price(model: &str) -> Option<[f64; 2]> {
    let (ft, base) = match model.strip_prefix("ft:") {
        Some(rest) => (true, rest.split(':').next().unwrap_or(rest)),
        None => (false, model),
    };
    INFERENCE_PRICES
        .iter()
        .find(|(p, _, _)| base.starts_with(p))
        .map(|(_, b, f)| if ft { *f } else { *b })
}

fn cost(model: &str, prompt: u64, completion: u64) -> Option<f64> {
    let [i, o] = price(model)?;
    Some((prompt as f64 * i + completion as f64 * o) / 1e6)
}

/// One example of the data set.
#[derive(Debug, Clone)]
pub struct Example {
    pub line: usize,
    pub prompt: Vec<Value>,
    pub tools: Option<Value>,
    pub reference: Answer,
    pub reference_message: Value,
}

/// Reads chat examples from JSONL text: each line's messages up to its last assistant message
/// are the prompt, that message the reference. Lines without an assistant message are
/// skipped; a line that is not a JSON object with `messages` is `ERR_INVALID_TRAINING_DATA`.
pub fn parse_examples(text: &str) -> Result<Vec<Example>> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let bad = |why: &str| {
            Error::new(
                ErrorCode::InvalidTrainingData,
                format!("evaluation data, line {}: {why}", i + 1),
            )
            .with_param("data")
        };
        let v: Value = serde_json::from_str(line).map_err(|e| bad(&format!("not JSON ({e})")))?;
        let messages = v
            .get("messages")
            .and_then(Value::as_array)
            .ok_or_else(|| bad("no \"messages\" array (chat format is required)"))?;
        let Some(last) = messages
            .iter()
            .rposition(|m| m.get("role").and_then(Value::as_str) == Some("assistant"))
        else {
            continue;
        };
        if last == 0 {
            continue;
        }
        let prompt: Vec<Value> = messages[..last]
            .iter()
            .map(|m| {
                let mut m = m.clone();
                if let Some(o) = m.as_object_mut() {
                    o.remove("weight");
                }
                m
            })
            .collect();
        out.push(Example {
            line: i + 1,
            prompt,
            tools: v.get("tools").filter(|t| t.is_array()).cloned(),
            reference: Answer::from_message(&messages[last]),
            reference_message: messages[last].clone(),
        });
    }
    Ok(out)
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

fn invalid(param: &str, msg: String) -> Error {
    Error::new(ErrorCode::InvalidOption, msg).with_param(param)
}

/// The graders and primary grader the settings ask for.
fn graders_of(s: &EvalSettings, examples: &[Example]) -> Result<(Vec<Grader>, Grader)> {
    let (defaults, default_primary) = default_graders(examples);
    let graders = match &s.graders {
        None => defaults,
        Some(names) if names.is_empty() => defaults,
        Some(names) => names
            .iter()
            .map(|n| {
                Grader::parse(n).ok_or_else(|| {
                    invalid(
                        "graders",
                        format!(
                            "unknown grader {n:?}; graders are {}",
                            Grader::ALL.map(Grader::name).join(", ")
                        ),
                    )
                })
            })
            .collect::<Result<Vec<_>>>()?,
    };
    let primary = match &s.primary_grader {
        Some(n) => Grader::parse(n)
            .filter(|g| graders.contains(g))
            .ok_or_else(|| {
                invalid(
                    "primaryGrader",
                    format!("primaryGrader {n:?} is not one of the graders"),
                )
            })?,
        None if graders.contains(&default_primary) => default_primary,
        None => graders[0],
    };
    Ok((graders, primary))
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

/// Everything one evaluation needs, resolved.
pub struct Plan {
    pub candidate: String,
    pub baseline: String,
    pub model_key: Option<String>,
    pub data_shown: String,
    pub examples: Vec<Example>,
    pub settings: EvalSettings,
    pub output_path: PathBuf,
}

/// Loads the data: a path, a URL, or a file id of the API (`file-…`).
pub async fn load_data(
    client: &Client,
    data: &str,
    dir: &Path,
    ctx: &RunContext,
) -> Result<(String, String)> {
    if data.starts_with("file-") && !Path::new(data).exists() {
        let text = client.file_content(data, &ctx.cancel).await?;
        return Ok((text, data.to_string()));
    }
    let local = if source::is_url(data) {
        std::fs::create_dir_all(dir).ok();
        source::download("data", data, dir, &DownloadLimits::default(), &ctx.cancel).await?
    } else {
        source::open_local("data", data)?
    };
    let path = local.path.clone();
    let text = blocking(move || {
        std::fs::read_to_string(&path).map_err(|e| {
            Error::new(ErrorCode::SourceNotFound, format!("cannot read data: {e}"))
                .with_param("data")
        })
    })
    .await?;
    let shown = if source::is_url(data) {
        redact_url(data)
    } else {
        data.to_string()
    };
    Ok((text, shown))
}

fn default_output(registry: &Registry, name: &str) -> PathBuf {
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%3fZ");
    registry
        .dir()
        .join("evaluations")
        .join(format!("{safe}-{stamp}.jsonl"))
}

/// Loads the data and runs the evaluation of `candidate` against `baseline`.
#[allow(clippy::too_many_arguments)]
pub async fn run(
    client: &Client,
    registry: &Registry,
    candidate: String,
    baseline: String,
    model_key: Option<String>,
    data: &str,
    settings: EvalSettings,
    ctx: &RunContext,
) -> Result<EvaluationReport> {
    if let Some(c) = settings.concurrency {
        if c == 0 || c > 256 {
            return Err(invalid(
                "concurrency",
                format!("concurrency is {c}; allowed: 1 to 256"),
            ));
        }
    }
    let tmp = registry.dir().join(".runs");
    let (text, data_shown) = load_data(client, data, &tmp, ctx).await?;
    let mut examples = blocking(move || parse_examples(&text)).await?;
    if let Some(n) = settings.max_examples {
        examples.truncate(n as usize);
    }
    if examples.is_empty() {
        return Err(Error::new(
            ErrorCode::InvalidTrainingData,
            format!(
                "the evaluation data {data_shown:?} holds no chat example with an assistant answer"
            ),
        )
        .with_param("data"));
    }
    let output_path = settings
        .output_path
        .clone()
        .map(PathBuf::from)
        .unwrap_or_else(|| default_output(registry, model_key.as_deref().unwrap_or(&candidate)));
    let plan = Plan {
        candidate,
        baseline,
        model_key,
        data_shown,
        examples,
        settings,
        output_path,
    };
    execute(client, plan, ctx).await
}

/// The token estimate of a request: each message's content plus 3, plus 3.
fn prompt_tokens(model: &str, prompt: &[Value]) -> u64 {
    let enc = fine_tune_dataset::encoding_for_model(model);
    prompt
        .iter()
        .map(|m| {
            let t = Answer::from_message(m).shown();
            fine_tune_dataset::count_tokens(&t, enc) as u64 + 3
        })
        .sum::<u64>()
        + 3
}

/// One model's answer to one example.
#[derive(Debug, Clone, Default)]
struct Reply {
    answer: Answer,
    prompt_tokens: u64,
    completion_tokens: u64,
}

fn reply_of(v: &Value) -> Reply {
    let msg = &v["choices"][0]["message"];
    let u = |k: &str| v["usage"][k].as_u64().unwrap_or(0);
    Reply {
        answer: Answer::from_message(msg),
        prompt_tokens: u("prompt_tokens"),
        completion_tokens: u("completion_tokens"),
    }
}

/// Runs a resolved plan.
pub async fn execute(client: &Client, plan: Plan, ctx: &RunContext) -> Result<EvaluationReport> {
    let started = Instant::now();
    let s = &plan.settings;
    let (graders, primary) = graders_of(s, &plan.examples)?;
    let judge = graders.contains(&Grader::Judge);
    let judge_model = s
        .judge_model
        .clone()
        .unwrap_or_else(|| "gpt-4o-mini".into());
    let rubric = s
        .judge_rubric
        .clone()
        .unwrap_or_else(|| graders::DEFAULT_RUBRIC.to_string());
    let seed = s.seed.unwrap_or(0);
    let concurrency = s.concurrency.unwrap_or(8) as usize;
    let temperature = s.temperature.unwrap_or(0.0);
    let n = plan.examples.len();

    // The estimate: the prompts as sent, and answers as long as the references.
    let (est_tokens, est_cost) = {
        let mut tokens = 0u64;
        let mut cost_sum = Some(0.0);
        let enc = fine_tune_dataset::encoding_for_model(&plan.candidate);
        for e in &plan.examples {
            let completion = fine_tune_dataset::count_tokens(&e.reference.shown(), enc) as u64;
            for m in [&plan.candidate, &plan.baseline] {
                let p = prompt_tokens(m, &e.prompt)
                    + e.tools.as_ref().map_or(0, |t| {
                        fine_tune_dataset::count_tokens(&t.to_string(), enc) as u64
                    });
                tokens += p + completion;
                cost_sum = cost_sum.zip(cost(m, p, completion)).map(|(a, b)| a + b);
                if judge {
                    let jp = 2 * completion + 80;
                    tokens += jp + 20;
                    cost_sum = cost_sum.zip(cost(&judge_model, jp, 20)).map(|(a, b)| a + b);
                }
            }
        }
        (tokens, cost_sum)
    };
    ctx.emit(ProgressEvent::EvaluationStarted {
        candidate: plan.candidate.clone(),
        baseline: plan.baseline.clone(),
        examples: n as u64,
        requests: (n * if judge { 4 } else { 2 }) as u64,
        estimated_tokens: est_tokens,
        estimated_cost_usd: est_cost,
    });
    if let Some(max) = s.max_cost_usd {
        match est_cost {
            Some(c) if c <= max => {}
            Some(c) => {
                return Err(Error::new(
                    ErrorCode::CostLimit,
                    format!("the evaluation is estimated at ${c:.4} ({est_tokens} tokens), above maxCostUsd ${max}; nothing was sent"),
                )
                .with_param("maxCostUsd"))
            }
            None => {
                return Err(Error::new(
                    ErrorCode::CostLimit,
                    format!("the cost of {} or {} cannot be estimated (unknown price), so maxCostUsd cannot be honoured; nothing was sent", plan.candidate, plan.baseline),
                )
                .with_param("maxCostUsd"))
            }
        }
    }

    // Both models' answers, `concurrency` requests at a time.
    let total = (n * if judge { 4 } else { 2 }) as u64;
    let done = std::sync::atomic::AtomicU64::new(0);
    let step = (total / 100).max(1);
    let tick = || {
        let d = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        if d.is_multiple_of(step) || d == total {
            ctx.emit(ProgressEvent::EvaluationProgress { done: d, total });
        }
    };
    let models = [plan.candidate.as_str(), plan.baseline.as_str()];
    let jobs = (0..n).flat_map(|i| (0..2).map(move |w| (i, w)));
    let mut replies: Vec<[Reply; 2]> = vec![Default::default(); n];
    {
        let mut stream = futures::stream::iter(jobs)
            .map(|(i, w)| {
                let e = &plan.examples[i];
                let mut body = json!({
                    "model": models[w],
                    "messages": e.prompt,
                    "temperature": temperature,
                    "seed": seed,
                });
                if let Some(t) = &e.tools {
                    body["tools"] = t.clone();
                }
                async move {
                    let v = client.chat_completion(&body, &ctx.cancel).await;
                    (i, w, v)
                }
            })
            .buffer_unordered(concurrency);
        while let Some((i, w, v)) = stream.next().await {
            let v = v.map_err(|mut e| {
                e.message = format!(
                    "{} (evaluating {} on example at line {})",
                    e.message, models[w], plan.examples[i].line
                );
                e
            })?;
            replies[i][w] = reply_of(&v);
            tick();
        }
    }

    // Scores: scores[g][i] = Some([candidate, baseline]) where the grader applies.
    let mut scores: Vec<Vec<Option<[f64; 2]>>> = graders
        .iter()
        .map(|g| {
            plan.examples
                .iter()
                .zip(&replies)
                .map(|(e, r)| {
                    (*g != Grader::Judge && g.applies(&e.reference)).then(|| {
                        [
                            g.score(&e.reference, &r[0].answer),
                            g.score(&e.reference, &r[1].answer),
                        ]
                    })
                })
                .collect()
        })
        .collect();
    let mut judge_usage = (0u64, 0u64);
    if let Some(gi) = graders.iter().position(|g| *g == Grader::Judge) {
        let jobs = (0..n).flat_map(|i| (0..2).map(move |w| (i, w)));
        let mut stream = futures::stream::iter(jobs)
            .map(|(i, w)| {
                let e = &plan.examples[i];
                let question = e
                    .prompt
                    .iter()
                    .rev()
                    .find(|m| m.get("role").and_then(Value::as_str) == Some("user"))
                    .map(|m| Answer::from_message(m).content)
                    .unwrap_or_default();
                let body = json!({
                    "model": judge_model,
                    "messages": graders::judge_messages(&rubric, &question, &e.reference, &replies[i][w].answer),
                    "temperature": 0,
                    "seed": seed,
                });
                async move { (i, w, client.chat_completion(&body, &ctx.cancel).await) }
            })
            .buffer_unordered(concurrency);
        let mut judged = vec![[0.0f64; 2]; n];
        while let Some((i, w, v)) = stream.next().await {
            let v = v?;
            let r = reply_of(&v);
            judge_usage.0 += r.prompt_tokens;
            judge_usage.1 += r.completion_tokens;
            judged[i][w] = graders::parse_judge(&r.answer.content).unwrap_or(0.0);
            tick();
        }
        scores[gi] = judged.into_iter().map(Some).collect();
    }

    // The report.
    let bootstrap = s.bootstrap_samples.unwrap_or(2000);
    let results: Vec<GraderScore> = graders
        .iter()
        .zip(&scores)
        .map(|(g, sc)| {
            let pairs: Vec<[f64; 2]> = sc.iter().flatten().copied().collect();
            let m = pairs.len().max(1) as f64;
            let diffs: Vec<f64> = pairs.iter().map(|p| p[0] - p[1]).collect();
            let (ci_low, ci_high) = bootstrap_ci(&diffs, bootstrap, seed);
            let cm = pairs.iter().map(|p| p[0]).sum::<f64>() / m;
            let bm = pairs.iter().map(|p| p[1]).sum::<f64>() / m;
            GraderScore {
                name: g.name().to_string(),
                examples: pairs.len() as u64,
                candidate_mean: cm,
                baseline_mean: bm,
                difference: cm - bm,
                ci_low,
                ci_high,
                wins: diffs.iter().filter(|d| **d > 1e-12).count() as u64,
                ties: diffs.iter().filter(|d| d.abs() <= 1e-12).count() as u64,
                losses: diffs.iter().filter(|d| **d < -1e-12).count() as u64,
            }
        })
        .collect();
    let primary_score = &results[graders.iter().position(|g| *g == primary).unwrap_or(0)];
    let better = primary_score.examples > 0 && primary_score.ci_low > 0.0;
    let mut usage = EvalUsage {
        judge_prompt_tokens: judge_usage.0,
        judge_completion_tokens: judge_usage.1,
        ..Default::default()
    };
    for r in &replies {
        usage.candidate_prompt_tokens += r[0].prompt_tokens;
        usage.candidate_completion_tokens += r[0].completion_tokens;
        usage.baseline_prompt_tokens += r[1].prompt_tokens;
        usage.baseline_completion_tokens += r[1].completion_tokens;
    }
    usage.total_tokens = usage.candidate_prompt_tokens
        + usage.candidate_completion_tokens
        + usage.baseline_prompt_tokens
        + usage.baseline_completion_tokens
        + usage.judge_prompt_tokens
        + usage.judge_completion_tokens;
    let cost_usd = [
        cost(
            &plan.candidate,
            usage.candidate_prompt_tokens,
            usage.candidate_completion_tokens,
        ),
        cost(
            &plan.baseline,
            usage.baseline_prompt_tokens,
            usage.baseline_completion_tokens,
        ),
        if judge {
            cost(
                &judge_model,
                usage.judge_prompt_tokens,
                usage.judge_completion_tokens,
            )
        } else {
            Some(0.0)
        },
    ]
    .into_iter()
    .try_fold(0.0, |a, c| c.map(|c| a + c));

    // The answers file.
    let lines: Vec<String> = plan
        .examples
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let mut sc = BTreeMap::new();
            for (g, s) in graders.iter().zip(&scores) {
                if let Some([c, b]) = s[i] {
                    sc.insert(g.name(), json!({"candidate": c, "baseline": b}));
                }
            }
            json!({
                "line": e.line,
                "prompt": e.prompt,
                "reference": e.reference.to_json(),
                "candidate": replies[i][0].answer.to_json(),
                "baseline": replies[i][1].answer.to_json(),
                "scores": sc,
            })
            .to_string()
        })
        .collect();
    let out = plan.output_path.clone();
    blocking(move || {
        if let Some(d) = out.parent() {
            std::fs::create_dir_all(d).map_err(|e| {
                Error::new(
                    ErrorCode::RegistryIo,
                    format!("cannot create {}: {e}", d.display()),
                )
            })?;
        }
        let mut text = lines.join("\n");
        text.push('\n');
        std::fs::write(&out, text).map_err(|e| {
            Error::new(
                ErrorCode::RegistryIo,
                format!("cannot write {}: {e}", out.display()),
            )
        })
    })
    .await?;

    let report = EvaluationReport {
        candidate: plan.candidate,
        baseline: plan.baseline,
        model_key: plan.model_key,
        data: plan.data_shown,
        examples: n as u64,
        primary_grader: primary.name().to_string(),
        better,
        graders: results,
        usage,
        estimated_cost_usd: est_cost,
        cost_usd,
        price_date: INFERENCE_PRICE_DATE.to_string(),
        output_path: plan.output_path.display().to_string(),
        seed,
        duration_ms: started.elapsed().as_millis() as u64,
        evaluated_at: iso(None),
    };
    ctx.emit(ProgressEvent::EvaluationFinished {
        better: report.better,
        primary_grader: report.primary_grader.clone(),
        difference: primary_score_diff(&report),
    });
    Ok(report)
}

fn primary_score_diff(r: &EvaluationReport) -> f64 {
    r.graders
        .iter()
        .find(|g| g.name == r.primary_grader)
        .map_or(0.0, |g| g.difference)
}

/// The pipeline's `evaluate`, after the job succeeded: the new model against the model the
/// key resolves to now (when it is registered), else the base model, on `evaluate.data`, else
/// the run's validation file (given, or held out by `validationSplit`). An abort stops the
/// run (the job stays journaled); any other failure is reported in the result and the model
/// is registered anyway.
pub async fn after_job(st: &Run<'_>, rec: &RunRecord, job: &Job) -> Result<Evaluated> {
    let o = &st.r.opts;
    let Some(settings) = o.evaluate.as_ref().and_then(EvaluateSetting::settings) else {
        return Ok(Evaluated::default());
    };
    let Some(candidate) = job.fine_tuned_model.clone().filter(|m| !m.is_empty()) else {
        return Ok(Evaluated::default());
    };
    let current = {
        let (r, k) = (st.registry.clone(), o.model_key.clone());
        blocking(move || r.get(&k)).await?
    };
    let baseline = match &settings.baseline {
        Some(b) => registry::resolve_model(b, Some(st.registry.path().display().to_string()))?,
        None => current
            .map(|e| e.model.name)
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| o.base_model.clone()),
    };
    let data = settings.data.clone().or_else(|| {
        rec.validation_file_id
            .clone()
            .or_else(|| job.validation_file.clone())
    });
    let Some(data) = data else {
        return Ok(Evaluated {
            report: None,
            error: Some(
                "no evaluation data: pass validation, validationSplit or evaluate.data".into(),
            ),
        });
    };
    match run(
        st.client,
        st.registry,
        candidate,
        baseline,
        Some(o.model_key.clone()),
        &data,
        settings,
        st.ctx,
    )
    .await
    {
        Ok(r) => Ok(Evaluated {
            report: Some(r),
            error: None,
        }),
        Err(e) if e.is_abort() => Err(e),
        Err(e) => Ok(Evaluated {
            report: None,
            error: Some(format!("{}: {}", e.code, e.message)),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn examples_and_default_graders() {
        let text = concat!(
            r#"{"messages":[{"role":"user","content":"a"},{"role":"assistant","content":"b"}]}"#,
            "\n",
            r#"{"messages":[{"role":"user","content":"c"},{"role":"assistant","tool_calls":[{"id":"1","type":"function","function":{"name":"f","arguments":"{}"}}]}],"tools":[]}"#,
            "\n",
            r#"{"messages":[{"role":"user","content":"no answer"}]}"#,
            "\n",
        );
        let ex = parse_examples(text).unwrap();
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

    #[test]
    fn prices_know_fine_tuned_models() {
        assert_eq!(
            price("ft:gpt-4o-mini-2024-07-18:org::x"),
            Some([0.30, 1.20])
        );
        assert_eq!(price("gpt-4o-2024-08-06"), Some([2.50, 10.00]));
        assert_eq!(price("claude"), None);
    }
}
