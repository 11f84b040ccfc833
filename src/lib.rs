//! The Node.js binding: a thin napi-rs layer over the pure crates in `crates/`. It converts
//! options in, results and errors out (every rejection is an `Error` with a stable `code`), and
//! owns nothing else.
#![deny(clippy::all)]

mod convert;
mod dataset;
mod emulator;
mod progress;
mod registry;

use std::sync::Arc;

use napi::bindgen_prelude::*;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi_derive::napi;

use convert::{core_error_to_js, Field};
use fine_tune_core as core;

pub use dataset::*;
pub use emulator::*;
pub use progress::*;
pub use registry::*;

const REQUIRED: [&str; 4] = ["agentName", "modelKey", "baseModel", "source"];

/// Options of `trainAndRegisterFineTunedModel`. The first four are required; every other one
/// is optional. Connection options left unset fall back to the environment variables that
/// openai-node reads.
#[napi(object, object_to_js = false)]
pub struct FineTuneOptions {
    /// Name of the agent the model is fine-tuned for. Without `suffix`, the model's suffix is
    /// derived from it (lower case, spaces to `-`).
    #[napi(ts_type = "string")]
    pub agent_name: Field<String>,
    /// The key under which the model is registered in `fine-tuned/models.json`; agents use it
    /// as their `model`. Must not be registered yet.
    #[napi(ts_type = "string")]
    pub model_key: Field<String>,
    /// The OpenAI model to fine-tune, e.g. `gpt-4o-mini-2024-07-18`, `gpt-4.1-mini-2025-04-14`,
    /// `gpt-3.5-turbo`, or an `ft:` model to continue training.
    #[napi(ts_type = "string")]
    pub base_model: Field<String>,
    /// The training data: a local `.jsonl` path or an http(s) URL.
    #[napi(ts_type = "string")]
    pub source: Field<String>,
    /// Validation data: a local `.jsonl` path or an http(s) URL.
    #[napi(ts_type = "string | null")]
    pub validation: Option<Field<String>>,
    /// Suffix of the fine-tuned model's name: at most 64 of `A-Z a-z 0-9 - _ .`.
    #[napi(ts_type = "string | null")]
    pub suffix: Option<Field<String>>,
    /// API key; default `OPENAI_API_KEY`. Never logged, returned or stored.
    #[napi(ts_type = "string | null")]
    pub api_key: Option<Field<String>>,
    /// API base URL; default `OPENAI_BASE_URL`, else `https://api.openai.com/v1`.
    #[napi(ts_type = "string | null")]
    pub base_url: Option<Field<String>>,
    /// Organization id; default `OPENAI_ORG_ID`.
    #[napi(ts_type = "string | null")]
    pub organization: Option<Field<String>>,
    /// Project id; default `OPENAI_PROJECT_ID`.
    #[napi(ts_type = "string | null")]
    pub project: Option<Field<String>>,
    /// Azure OpenAI endpoint (`https://<resource>.openai.azure.com`); default
    /// `AZURE_OPENAI_ENDPOINT`. With it, requests use Azure's `/openai/...` paths, the
    /// `api-key` header and the `api-version` query, and the key defaults to
    /// `AZURE_OPENAI_API_KEY`. An explicit `baseUrl` wins over it (Azure's v1 endpoint works as
    /// a plain `baseUrl`).
    #[napi(ts_type = "string | null")]
    pub azure_endpoint: Option<Field<String>>,
    /// Azure `api-version`; default `OPENAI_API_VERSION`, else `2024-10-21`.
    #[napi(ts_type = "string | null")]
    pub api_version: Option<Field<String>>,
    /// Path of the registry; default `FINE_TUNED_MODELS_PATH`, else `fine-tuned/models.json`
    /// relative to the current directory.
    #[napi(ts_type = "string | null")]
    pub registry_path: Option<Field<String>>,
    /// How often the job is polled, in ms (default 5000).
    #[napi(ts_type = "number | null")]
    pub poll_interval_ms: Option<Field<f64>>,
    /// Give up waiting after this many ms with `ERR_TIMEOUT` (the job keeps running and a
    /// later call with the same options resumes it). Default: wait as long as it takes.
    #[napi(ts_type = "number | null")]
    pub timeout_ms: Option<Field<f64>>,
    /// Retries per request on connection errors, timeouts, 408, 409, 429 and 5xx (default 2).
    #[napi(ts_type = "number | null")]
    pub max_retries: Option<Field<f64>>,
    /// URL sources larger than this many bytes are refused (default 1 GiB).
    #[napi(ts_type = "number | null")]
    pub max_download_bytes: Option<Field<f64>>,
    /// Files larger than this go up through the Uploads API in parts (default 100 MiB).
    #[napi(ts_type = "number | null")]
    pub upload_threshold_bytes: Option<Field<f64>>,
    /// Size of each part of such an upload (default and maximum 64 MiB).
    #[napi(ts_type = "number | null")]
    pub upload_part_bytes: Option<Field<f64>>,
    /// Aborting rejects at once with an `AbortError` (`code: "ABORT_ERR"`) and leaves the job
    /// running and journaled, so that a later call resumes it (see `cancelOnAbort`).
    #[napi(ts_type = "AbortSignal | null")]
    pub signal: Option<AbortSignal>,
    /// On abort, cancel the OpenAI job too (default false).
    #[napi(ts_type = "boolean | null")]
    pub cancel_on_abort: Option<Field<bool>>,
    /// Called with each progress event, on the JS thread; it never blocks the run, and an
    /// exception it throws is ignored.
    #[napi(ts_type = "((event: ProgressEvent) => void) | null")]
    pub on_progress: Option<ThreadsafeFunction<ProgressEvent, (), ProgressEvent, Status, false>>,
    /// Training hyperparameters; each is a number or `"auto"` (the default).
    pub hyperparameters: Option<HyperparameterOptions>,
    /// `"supervised"` (default) or `"dpo"` (preference data).
    #[napi(ts_type = "'supervised' | 'dpo' | null")]
    pub method: Option<Field<String>>,
    /// Seed for reproducible training (0 to 2147483647).
    #[napi(ts_type = "number | null")]
    pub seed: Option<Field<f64>>,
    /// Extra job metadata (at most 13 keys of 64 chars, values of 512), merged with the
    /// `model_key`, `agent_name` and `run_id` this library sets.
    #[napi(ts_type = "Record<string, string> | null")]
    pub metadata: Option<Field<serde_json::Value>>,
    /// Weights & Biases integrations, as in OpenAI's API:
    /// `[{ type: "wandb", wandb: { project, name?, entity?, tags? } }]`.
    #[napi(
        ts_type = "Array<{ type: 'wandb'; wandb: { project: string; name?: string; entity?: string; tags?: string[] } }> | null"
    )]
    pub integrations: Option<Field<serde_json::Value>>,
}

/// Hyperparameters: a number, or `"auto"` to let OpenAI choose.
#[napi(object, object_to_js = false)]
pub struct HyperparameterOptions {
    /// Epochs, 1 to 50.
    #[napi(ts_type = "number | 'auto' | null")]
    pub n_epochs: Option<Field<serde_json::Value>>,
    /// Batch size, 1 to 256.
    #[napi(ts_type = "number | 'auto' | null")]
    pub batch_size: Option<Field<serde_json::Value>>,
    /// Learning-rate multiplier, above 0 and at most 10.
    #[napi(ts_type = "number | 'auto' | null")]
    pub learning_rate_multiplier: Option<Field<serde_json::Value>>,
    /// DPO only: beta, above 0 and at most 2.
    #[napi(ts_type = "number | 'auto' | null")]
    pub beta: Option<Field<serde_json::Value>>,
}

/// What `trainAndRegisterFineTunedModel` registered.
#[napi(object, object_from_js = false)]
pub struct RegisteredModel {
    /// The key agents use as their `model`.
    pub model_key: String,
    pub agent_name: String,
    pub base_model: String,
    /// The fine-tuned model's OpenAI id, `ft:<base>:<org>:<suffix>:<id>`.
    pub fine_tuned_model: String,
    /// The fine-tuning job's id.
    pub job_id: String,
    pub training_file_id: String,
    pub validation_file_id: Option<String>,
    pub suffix: String,
    /// Tokens billed for training, as reported by OpenAI.
    pub trained_tokens: Option<f64>,
    /// When the job was created (ISO 8601).
    pub created_at: String,
    /// When the job finished (ISO 8601).
    pub finished_at: String,
    /// The absolute path of the registry the model was written to.
    pub registry_path: String,
    /// Summary of OpenAI's training metrics (losses, accuracy, steps), when available.
    pub metrics: Option<TrainingMetrics>,
    /// The loss curve, an SVG file beside the registry (`<modelKey>.svg`), when drawn.
    pub curve_path: Option<String>,
}

/// Summary of a job's result file.
#[napi(object, object_from_js = false)]
pub struct TrainingMetrics {
    /// The last training step.
    pub steps: f64,
    pub final_train_loss: Option<f64>,
    pub best_train_loss: Option<f64>,
    pub final_valid_loss: Option<f64>,
    pub best_valid_loss: Option<f64>,
    pub final_train_accuracy: Option<f64>,
    pub final_valid_accuracy: Option<f64>,
    pub trained_tokens: Option<f64>,
}

impl From<core::RegisteredModel> for RegisteredModel {
    fn from(m: core::RegisteredModel) -> Self {
        RegisteredModel {
            model_key: m.model_key,
            agent_name: m.agent_name,
            base_model: m.base_model,
            fine_tuned_model: m.fine_tuned_model,
            job_id: m.job_id,
            training_file_id: m.training_file_id,
            validation_file_id: m.validation_file_id,
            suffix: m.suffix,
            trained_tokens: m.trained_tokens.map(|t| t as f64),
            created_at: m.created_at,
            finished_at: m.finished_at,
            registry_path: m.registry_path,
            metrics: m.metrics.map(|x| TrainingMetrics {
                steps: x.steps as f64,
                final_train_loss: x.final_train_loss,
                best_train_loss: x.best_train_loss,
                final_valid_loss: x.final_valid_loss,
                best_valid_loss: x.best_valid_loss,
                final_train_accuracy: x.final_train_accuracy,
                final_valid_accuracy: x.final_valid_accuracy,
                trained_tokens: x.trained_tokens.map(|t| t as f64),
            }),
            curve_path: m.curve_path,
        }
    }
}

/// Runs a future on the addon's runtime and settles the promise on the JS thread, turning a
/// core error into a JS `Error` with its `code`.
pub(crate) fn settle<T, V, F>(env: &Env, fut: F) -> Result<AsyncBlock<V>>
where
    T: Send + 'static,
    V: ToNapiValue + From<T> + 'static,
    F: std::future::Future<Output = core::Result<T>> + Send + 'static,
{
    AsyncBlockBuilder::build_with_map(env, async move { Ok(fut.await) }, |env, r| match r {
        Ok(v) => Ok(V::from(v)),
        Err(e) => Err(core_error_to_js(&env, e)),
    })
}

/// Fine-tunes `baseModel` on `source` and registers the result under `modelKey` in
/// `fine-tuned/models.json`, in the shape TaskForce's loader reads. Every check that needs no
/// network (options, duplicate key, base model, API key, data files and their contents) runs
/// before anything is uploaded. Rejects with an `Error` whose `code` is one of the codes in the
/// README (e.g. `ERR_DUPLICATE_MODEL_KEY`, `ERR_INVALID_TRAINING_DATA`, `ERR_JOB_FAILED`), with
/// `status`, `requestId` and `jobId` where they apply.
#[napi(
    ts_args_type = "options: FineTuneOptions",
    ts_return_type = "Promise<RegisteredModel>"
)]
pub fn train_and_register_fine_tuned_model(
    env: Env,
    options: Object,
) -> Result<AsyncBlock<RegisteredModel>> {
    // napi refuses an object that lacks a required field before our code sees it; read those
    // four ourselves so that the core names every missing one (`ERR_MISSING_OPTION`).
    let absent = REQUIRED
        .iter()
        .any(|k| !matches!(options.get::<Field<String>>(k), Ok(Some(_))));
    if absent {
        let get = |k: &str| {
            options
                .get::<Field<String>>(k)
                .ok()
                .flatten()
                .unwrap_or(Field::Missing)
        };
        let converted = convert::train_options(
            get(REQUIRED[0]),
            get(REQUIRED[1]),
            get(REQUIRED[2]),
            get(REQUIRED[3]),
            convert::Optional::default(),
        );
        return settle(&env, async move {
            core::train_and_register(converted?, core::RunContext::default()).await
        });
    }
    let options = match unsafe { FineTuneOptions::from_napi_value(env.raw(), options.raw()) } {
        Ok(o) => o,
        Err(e) => {
            let err = core::Error::new(core::ErrorCode::InvalidOption, e.reason.clone());
            return settle(&env, async move { Err::<core::RegisteredModel, _>(err) });
        }
    };
    let cancel = core::CancellationToken::new();
    if let Some(signal) = &options.signal {
        let c = cancel.clone();
        signal.on_abort(move || c.cancel());
    }
    let progress: Option<core::pipeline::ProgressFn> = options.on_progress.map(|tsfn| {
        let tsfn = Arc::new(tsfn);
        let f: core::pipeline::ProgressFn = Arc::new(move |ev: core::ProgressEvent| {
            // The callback's result and any exception it throws are ignored.
            tsfn.call_with_return_value(
                ProgressEvent::from(ev),
                ThreadsafeFunctionCallMode::NonBlocking,
                |_, _| Ok(()),
            );
        });
        f
    });
    let converted = convert::train_options(
        options.agent_name,
        options.model_key,
        options.base_model,
        options.source,
        convert::Optional {
            validation: options.validation,
            suffix: options.suffix,
            api_key: options.api_key,
            base_url: options.base_url,
            organization: options.organization,
            project: options.project,
            azure_endpoint: options.azure_endpoint,
            api_version: options.api_version,
            registry_path: options.registry_path,
            poll_interval_ms: options.poll_interval_ms,
            timeout_ms: options.timeout_ms,
            max_retries: options.max_retries,
            max_download_bytes: options.max_download_bytes,
            upload_threshold_bytes: options.upload_threshold_bytes,
            upload_part_bytes: options.upload_part_bytes,
            cancel_on_abort: options.cancel_on_abort,
            hyperparameters: options.hyperparameters,
            method: options.method,
            seed: options.seed,
            metadata: options.metadata,
            integrations: options.integrations,
        },
    );
    let ctx = core::RunContext { cancel, progress };
    settle(&env, async move {
        let opts = converted?;
        core::train_and_register(opts, ctx).await
    })
}
