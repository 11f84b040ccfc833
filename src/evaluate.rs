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
    #[napi(
        ts_type = "Array<'exact' | 'contains' | 'json' | 'toolCalls' | 'similarity' | 'judge'> | null"
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
    /// Path of `models.json`; default `FINE_TUNED_MODELS_PATH`, else `fine-tuned/models.json`.
    pub registry_path: Option<String>,
    /// API key; default `OPENAI_API_KEY`. Never logged, returned or stored.
    pub api_key: Option<String>,
    pub base_url: Option<String>,
    pub organization: Option<String>,
    pub project: Option<String>,
    pub azure_endpoint: Option<String>,
    pub api_version: Option<String>,
    /// Retries per request (default 2); 429s honour `retry-after`.
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
}

/// Tokens used, as the API's `usage` reported them.
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
    /// The 95 % confidence interval of the primary grader's difference lies above 0.
    pub better: bool,
    pub graders: Vec<GraderScore>,
    pub usage: EvaluationUsage,
    /// Estimated before the first request; `null` when a model's price is unknown.
    pub estimated_cost_usd: Option<f64>,
    /// From the tokens used.
    pub cost_usd: Option<f64>,
    /// When the prices were taken.
    pub price_date: String,
    /// JSONL: every example's reference, both answers and their scores.
    pub output_path: String,
    pub seed: f64,
    pub duration_ms: f64,
    /// ISO 8601.
    pub evaluated_at: String,
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
            graders,
            usage,
            estimated_cost_usd,
            cost_usd,
            price_date,
            output_path,
            seed,
            duration_ms,
            evaluated_at,
        } = r;
        let n = |x: u64| x as f64;
        let core::evaluate::EvalUsage {
            candidate_prompt_tokens,
            candidate_completion_tokens,
            baseline_prompt_tokens,
            baseline_completion_tokens,
            judge_prompt_tokens,
            judge_completion_tokens,
            total_tokens,
        } = usage;
        EvaluationReport {
            candidate,
            baseline,
            model_key,
            data,
            examples: n(examples),
            primary_grader,
            better,
            graders: graders
                .into_iter()
                .map(|g| {
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
                    }
                })
                .collect(),
            usage: EvaluationUsage {
                candidate_prompt_tokens: n(candidate_prompt_tokens),
                candidate_completion_tokens: n(candidate_completion_tokens),
                baseline_prompt_tokens: n(baseline_prompt_tokens),
                baseline_completion_tokens: n(baseline_completion_tokens),
                judge_prompt_tokens: n(judge_prompt_tokens),
                judge_completion_tokens: n(judge_completion_tokens),
                total_tokens: n(total_tokens),
            },
            estimated_cost_usd,
            cost_usd,
            price_date,
            output_path,
            seed: n(seed),
            duration_ms: n(duration_ms),
            evaluated_at,
        }
    }
}

/// Runs a chat-format data set through a candidate (`modelKey` or `model`) and a baseline,
/// grades both answers of every example against its reference, and reports per grader the
/// means, the difference with a seeded paired-bootstrap 95 % confidence interval, wins, ties
/// and losses, `better`, the tokens used and their cost, and a JSONL of every answer. The cost
/// is estimated before the first request (`evaluationStarted`); `maxCostUsd` refuses to
/// start beyond it (`ERR_COST_LIMIT`). Requests run `concurrency` at a time with the usual
/// retries, and `signal` aborts them.
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
        let json = convert::options_json(&env, o, &["signal", "onProgress"])?;
        let opts: core::evaluate::EvaluateOptions =
            core::options::from_json_object(json, "options")?;
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
