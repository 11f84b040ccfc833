//! `evaluateModel`: a candidate model against a baseline on a chat data set.

use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::{convert, progress, settle, ProgressCallback};
use fine_tune_core as core;

/// How an evaluation runs: the settings of `evaluateModel`, and of the pipeline's `evaluate`.
/// (Declares the TypeScript type; the core reads the values.)
#[napi(object, object_to_js = false)]
pub struct EvaluationSettings {
    /// Chat-format JSONL, a path or an http(s) URL. Default: the entry's validation file
    /// (read back from the API), or the run's validation data in the pipeline.
    pub data: Option<String>,
    /// The model to compare against (a model name or a modelKey). Default: the entry's base
    /// model, else the model the key resolved to before (in the pipeline: the model the key
    /// resolves to before the new one, else the base model).
    pub baseline: Option<String>,
    /// Graders: `exact`, `contains`, `json`, `toolCalls`, `similarity`, `judge` (see the
    /// README for their definitions). Default: `exact`, `toolCalls` when references have tool
    /// calls, `similarity` when they have text.
    #[napi(
        ts_type = "Array<'exact' | 'contains' | 'json' | 'toolCalls' | 'similarity' | 'judge'> | null"
    )]
    pub graders: Option<Vec<String>>,
    /// The grader `better` is decided on. Default: `toolCalls` when most references have
    /// tool calls, else `similarity`.
    pub primary_grader: Option<String>,
    /// The model the `judge` grader asks (default `gpt-4o-mini`).
    pub judge_model: Option<String>,
    /// The rubric the `judge` grader scores with.
    pub judge_rubric: Option<String>,
    /// Requests in flight at once (default 8, at most 256).
    pub concurrency: Option<f64>,
    /// Refuse to start (`ERR_COST_LIMIT`, nothing sent) when the estimated cost in USD is
    /// above this.
    pub max_cost_usd: Option<f64>,
    /// Only the first N examples.
    pub max_examples: Option<f64>,
    /// Seed of the paired bootstrap and of the requests (default 0).
    pub seed: Option<f64>,
    /// Bootstrap resamples (default 2000).
    pub bootstrap_samples: Option<f64>,
    /// Where the JSONL of every example's answers and scores goes. Default:
    /// `evaluations/<modelKey>-<time>.jsonl` beside the registry.
    pub output_path: Option<String>,
    /// Sampling temperature of both models (default 0).
    pub temperature: Option<f64>,
    /// Reuse the answers kept from earlier evaluations (`.eval-cache/` beside the registry)
    /// for the same model, request and settings, and ask only for what is missing (default
    /// `true`). `false` asks every request again (the new answers are kept).
    pub cache: Option<bool>,
    /// Write a JUnit XML report here: one testcase per grader, failed when below its
    /// `minScores` threshold, and the primary grader's when the report is not `better`.
    pub junit_path: Option<String>,
    /// Per-grader minimum of the candidate's mean score, from 0 to 1 (for the JUnit report
    /// and `GraderScore.minScore`), e.g. `{ exact: 0.8 }`.
    #[napi(ts_type = "Record<string, number> | null")]
    pub min_scores: Option<std::collections::HashMap<String, f64>>,
    /// The most tokens an answer may have (`max_completion_tokens` of each request, and the
    /// worst case `maxCostUsd` is held to). Default: twice the longest reference, at least
    /// 256.
    pub max_answer_tokens: Option<f64>,
}

/// Options of `evaluateModel`: the candidate (`modelKey` or `model`), the settings of
/// `EvaluationSettings`, the registry, the connection, `signal` and `onProgress`.
#[napi(object, object_to_js = false)]
pub struct EvaluateOptions {
    /// The registered modelKey whose current model is the candidate.
    pub model_key: Option<String>,
    /// A model name (or modelKey) as the candidate.
    pub model: Option<String>,
    pub data: Option<String>,
    pub baseline: Option<String>,
    /// Built-in graders by name, and graders of your own (`{ name, grade }`).
    #[napi(
        ts_type = "Array<'exact' | 'contains' | 'json' | 'toolCalls' | 'similarity' | 'judge' | Grader> | null"
    )]
    pub graders: Option<Vec<String>>,
    pub primary_grader: Option<String>,
    pub judge_model: Option<String>,
    pub judge_rubric: Option<String>,
    pub concurrency: Option<f64>,
    pub max_cost_usd: Option<f64>,
    pub max_examples: Option<f64>,
    pub seed: Option<f64>,
    pub bootstrap_samples: Option<f64>,
    pub output_path: Option<String>,
    pub temperature: Option<f64>,
    pub cache: Option<bool>,
    pub junit_path: Option<String>,
    #[napi(ts_type = "Record<string, number> | null")]
    pub min_scores: Option<std::collections::HashMap<String, f64>>,
    pub max_answer_tokens: Option<f64>,
    /// Path of `models.json`; default `FINE_TUNED_MODELS_PATH`, else `fine-tuned/models.json`.
    pub registry_path: Option<String>,
    /// API key; default `OPENAI_API_KEY`. Never logged, returned or stored.
    pub api_key: Option<String>,
    pub base_url: Option<String>,
    pub organization: Option<String>,
    pub project: Option<String>,
    pub azure_endpoint: Option<String>,
    pub api_version: Option<String>,
    /// Retries per request (default 8 in an evaluation: it sends many); 429s honour
    /// `retry-after`.
    pub max_retries: Option<f64>,
    /// Aborts the evaluation (`ABORT_ERR`); an already aborted signal stops it before any
    /// request. Anything but a real `AbortSignal` is `ERR_INVALID_OPTION`.
    #[napi(ts_type = "AbortSignal | null")]
    pub signal: Option<AbortSignal>,
    /// `evaluationStarted` (with the estimated cost), `evaluationProgress`,
    /// `evaluationFinished`.
    #[napi(ts_type = "((event: ProgressEvent) => void) | null")]
    pub on_progress: Option<ProgressCallback>,
}

/// One grader's scores: each model's mean over the examples it applies to, the difference,
/// its paired-bootstrap 95 % confidence interval, and wins/ties/losses of the candidate.
#[napi(object, object_from_js = false)]
pub struct GraderScore {
    pub name: String,
    pub examples: f64,
    pub candidate_mean: f64,
    pub baseline_mean: f64,
    /// `candidateMean - baselineMean`.
    pub difference: f64,
    /// 2.5th percentile of the bootstrapped difference.
    pub ci_low: f64,
    /// 97.5th percentile of the bootstrapped difference.
    pub ci_high: f64,
    pub wins: f64,
    pub ties: f64,
    pub losses: f64,
    /// Two-sided p-value of the exact sign test on wins against losses (ties dropped).
    pub p_value: f64,
    /// The `minScores` threshold of this grader, if any.
    pub min_score: Option<f64>,
    /// Answers this grader could not score (see `graderErrors`).
    pub errors: f64,
}

/// An answer a grader could not score: its grader threw, rejected, or returned no number
/// from 0 to 1.
#[napi(object, object_from_js = false)]
pub struct GraderError {
    pub grader: String,
    /// The example's line in the data.
    pub line: f64,
    /// `candidate` or `baseline`.
    pub model: String,
    pub message: String,
}

/// Tokens of the answers this call paid for, as the API's `usage` reported them.
#[napi(object, object_from_js = false)]
pub struct EvaluationUsage {
    pub candidate_prompt_tokens: f64,
    pub candidate_completion_tokens: f64,
    pub baseline_prompt_tokens: f64,
    pub baseline_completion_tokens: f64,
    pub judge_prompt_tokens: f64,
    pub judge_completion_tokens: f64,
    pub total_tokens: f64,
}

/// What `evaluateModel` found.
#[napi(object, object_from_js = false)]
pub struct EvaluationReport {
    pub candidate: String,
    pub baseline: String,
    pub model_key: Option<String>,
    /// The data set: a path, a URL without its secrets, or the validation file's id.
    pub data: String,
    pub examples: f64,
    pub primary_grader: String,
    /// The data support "the candidate is better" on the primary grader: at least 10 paired
    /// examples, the exact two-sided sign test below 0.05 with more wins than losses, and the
    /// paired-bootstrap 95 % interval of the difference above 0. Never on a partial run.
    pub better: bool,
    /// Why `better` is false.
    pub reason: Option<String>,
    /// How `better` was decided, in words.
    pub verdict_method: String,
    /// Some answers are missing (a request failed after its retries, or `maxCostUsd` stopped
    /// the run): scores are over `answered` examples. Calling again with the same settings
    /// resumes: only the missing answers are asked for.
    pub partial: bool,
    /// Examples with both answers.
    pub answered: f64,
    /// Answers reused from the answer store (not paid for again).
    pub reused_answers: f64,
    /// Answers asked for, and paid for, by this call.
    pub new_answers: f64,
    pub graders: Vec<GraderScore>,
    /// The first answers a grader could not score (each grader's `errors` counts them all).
    pub grader_errors: Vec<GraderError>,
    pub usage: EvaluationUsage,
    /// Estimated before the first request, for the answers not in the store; `null` when a
    /// model's price is unknown.
    pub estimated_cost_usd: Option<f64>,
    /// What this call paid (reused answers cost nothing).
    pub cost_usd: Option<f64>,
    /// When the prices were taken.
    pub price_date: String,
    /// JSONL: every answered example's reference, both answers and their scores.
    pub output_path: String,
    /// The answer store this call read and added to.
    pub cache_dir: Option<String>,
    /// The JUnit XML report, when `junitPath` was given.
    pub junit_path: Option<String>,
    pub seed: f64,
    pub duration_ms: f64,
    /// ISO 8601.
    pub evaluated_at: String,
}

fn n(x: u64) -> f64 {
    x as f64
}

impl From<core::evaluate::GraderScore> for GraderScore {
    fn from(g: core::evaluate::GraderScore) -> Self {
        let core::evaluate::GraderScore {
            name,
            examples,
            candidate_mean,
            baseline_mean,
            difference,
            ci_low,
            ci_high,
            wins,
            ties,
            losses,
            p_value,
            min_score,
            errors,
        } = g;
        GraderScore {
            name,
            examples: n(examples),
            candidate_mean,
            baseline_mean,
            difference,
            ci_low,
            ci_high,
            wins: n(wins),
            ties: n(ties),
            losses: n(losses),
            p_value,
            min_score,
            errors: n(errors),
        }
    }
}

impl From<core::evaluate::EvalUsage> for EvaluationUsage {
    fn from(u: core::evaluate::EvalUsage) -> Self {
        let core::evaluate::EvalUsage {
            candidate_prompt_tokens,
            candidate_completion_tokens,
            baseline_prompt_tokens,
            baseline_completion_tokens,
            judge_prompt_tokens,
            judge_completion_tokens,
            total_tokens,
        } = u;
        EvaluationUsage {
            candidate_prompt_tokens: n(candidate_prompt_tokens),
            candidate_completion_tokens: n(candidate_completion_tokens),
            baseline_prompt_tokens: n(baseline_prompt_tokens),
            baseline_completion_tokens: n(baseline_completion_tokens),
            judge_prompt_tokens: n(judge_prompt_tokens),
            judge_completion_tokens: n(judge_completion_tokens),
            total_tokens: n(total_tokens),
        }
    }
}

impl From<core::evaluate::GraderError> for GraderError {
    fn from(e: core::evaluate::GraderError) -> Self {
        GraderError {
            grader: e.grader,
            line: n(e.line),
            model: e.model,
            message: e.message,
        }
    }
}

impl From<core::evaluate::EvaluationReport> for EvaluationReport {
    fn from(r: core::evaluate::EvaluationReport) -> Self {
        let core::evaluate::EvaluationReport {
            candidate,
            baseline,
            model_key,
            data,
            examples,
            primary_grader,
            better,
            reason,
            verdict_method,
            partial,
            answered,
            reused_answers,
            new_answers,
            graders,
            grader_errors,
            usage,
            estimated_cost_usd,
            cost_usd,
            price_date,
            output_path,
            cache_dir,
            junit_path,
            seed,
            duration_ms,
            evaluated_at,
        } = r;
        EvaluationReport {
            candidate,
            baseline,
            model_key,
            data,
            examples: n(examples),
            primary_grader,
            better,
            reason,
            verdict_method,
            partial,
            answered: n(answered),
            reused_answers: n(reused_answers),
            new_answers: n(new_answers),
            graders: graders.into_iter().map(Into::into).collect(),
            grader_errors: grader_errors.into_iter().map(Into::into).collect(),
            usage: usage.into(),
            estimated_cost_usd,
            cost_usd,
            price_date,
            output_path,
            cache_dir,
            junit_path,
            seed: n(seed),
            duration_ms: n(duration_ms),
            evaluated_at,
        }
    }
}

/// Runs a chat-format data set through a candidate (`modelKey` or `model`) and a baseline,
/// grades both answers of every example against its reference (built-in graders, and yours),
/// and reports per grader the means, the difference with a seeded paired-bootstrap 95 %
/// confidence interval, wins, ties, losses and the sign test's p-value, `better` (see its
/// rule), the tokens used and their cost, and a JSONL of every answer.
///
/// Every answer is kept (`.eval-cache/` beside the registry): a rerun with the same settings
/// asks only for what is missing (`cache: false` asks again). The cost is estimated before
/// the first request (`evaluationStarted`): `maxCostUsd` refuses to start beyond it
/// (`ERR_COST_LIMIT`), and no request is sent that could take the spending past it. Requests
/// run `concurrency` at a time, each retried with `retry-after` honoured; a run that cannot
/// finish resolves with what it has (`partial: true`), and `signal` aborts it.
#[napi(
    ts_args_type = "options: EvaluateOptions",
    ts_return_type = "Promise<EvaluationReport>"
)]
pub fn evaluate_model(env: Env, options: Option<Object>) -> Result<AsyncBlock<EvaluationReport>> {
    let cancel = core::CancellationToken::new();
    let read = || -> core::Result<_> {
        let o = crate::read::options_object(&env, options)?;
        let o = o.as_ref();
        crate::read::signal(&env, o, &cancel)?;
        let on_progress = convert::optional_property::<ProgressCallback>(
            &env,
            o,
            "onProgress",
            ValueType::Function,
        )?;
        let graders = crate::graders::read_graders(o)?;
        let mut json = convert::options_json(&env, o, &["signal", "onProgress", "graders"])?;
        let mut custom = Vec::new();
        if let (Some((names, c)), Some(map)) = (graders, json.as_object_mut()) {
            map.insert("graders".into(), names.into());
            custom = c;
        }
        let mut opts: core::evaluate::EvaluateOptions =
            core::options::from_json_object(json, "options")?;
        opts.custom_graders = custom;
        Ok((opts, on_progress))
    };
    let (opts, on_progress) = match read() {
        Ok(v) => v,
        Err(e) => {
            return settle(&env, async move {
                Err::<core::evaluate::EvaluationReport, _>(e)
            })
        }
    };
    let progress = on_progress.map(progress::Delivery::new);
    let ctx = core::RunContext {
        cancel,
        progress: progress.as_ref().map(progress::Delivery::callback),
        azure_token: None,
    };
    settle(&env, async move {
        let result = core::evaluate::evaluate_model(opts, ctx).await;
        if let Some(p) = progress {
            p.delivered().await;
        }
        result
    })
}
