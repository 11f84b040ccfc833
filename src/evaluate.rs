//! `evaluateModel`: a candidate model against a baseline on a chat data set.

use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::{convert, progress, settle, Json, ProgressCallback};
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
    /// Aborts the evaluation (`ABORT_ERR`); an already aborted signal stops it before any
    /// request. Anything but a real `AbortSignal` is `ERR_INVALID_OPTION`.
    #[napi(ts_type = "AbortSignal | null")]
    pub signal: Option<AbortSignal>,
    /// `evaluationStarted` (with the estimated cost), `evaluationProgress`,
    /// `evaluationFinished`.
    #[napi(ts_type = "((event: ProgressEvent) => void) | null")]
    pub on_progress: Option<ProgressCallback>,
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
pub fn evaluate_model(
    env: Env,
    options: Option<Object>,
) -> Result<AsyncBlock<Json<core::evaluate::EvaluationReport>>> {
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
        let token = crate::azure_token(&env, o)?;
        let mut json =
            convert::options_json(&env, o, &["signal", "onProgress", "graders", "azureToken"])?;
        let mut custom = Vec::new();
        if let (Some((names, c)), Some(map)) = (graders, json.as_object_mut()) {
            map.insert("graders".into(), names.into());
            custom = c;
        }
        let mut opts: core::evaluate::EvaluateOptions =
            core::options::from_json_object(json, "options")?;
        opts.settings.custom_graders = custom;
        opts.connection.token = token;
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
    };
    settle(&env, async move {
        let result = core::evaluate::evaluate_model(opts, ctx).await;
        if let Some(p) = progress {
            p.delivered().await;
        }
        result
    })
}
