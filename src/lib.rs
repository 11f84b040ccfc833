//! The Node.js binding: a thin napi-rs layer over the pure crates in `crates/`. Options come in
//! through the safe reader (`read.rs`) and the core's serde types; results go out as the core's
//! own serde types ([`Json`], their TypeScript types generated from the same Rust types by
//! `tests/typescript.rs`); every rejection is an `Error` with a stable `code`. It owns only
//! what is napi's: callbacks, `AbortSignal`, the `Emulator` class and the options' declarations.
#![deny(clippy::all)]

mod convert;
mod dataset;
mod emulator;
mod evaluate;
mod graders;
mod lifecycle;
mod progress;
mod read;
mod registry;
mod versions;

use napi::bindgen_prelude::*;
use napi::threadsafe_function::ThreadsafeFunction;
use napi_derive::napi;

use convert::core_error_to_js;
pub use convert::{is_fine_tune_error, FineTuneErrorCode, Json};
use fine_tune_core as core;

pub use dataset::*;
pub use emulator::*;
pub use evaluate::*;
pub use graders::*;
pub use lifecycle::*;
pub use progress::*;
pub use registry::*;
pub use versions::*;

/// Options of `trainAndRegisterFineTunedModel`. The first four are required; every other one
/// is optional, and `null` is the same as leaving it out. Connection options left unset fall
/// back to the environment variables that openai-node reads. An unknown option is refused
/// (`ERR_INVALID_OPTION`), so a typo never passes silently.
///
/// This declares the TypeScript type; the values are read by the core's `TrainOptions`
/// (the same names), and a test keeps the two lists equal.
#[napi(object, object_to_js = false)]
pub struct FineTuneOptions {
    /// Name of the agent the model is fine-tuned for. Without `suffix`, the model's suffix is
    /// derived from it (lower case, spaces to `-`).
    pub agent_name: String,
    /// The key under which the model is registered in `fine-tuned/models.json`; agents use it
    /// as their `model`. Must not be registered yet.
    pub model_key: String,
    /// The OpenAI model to fine-tune, e.g. `gpt-4o-mini-2024-07-18`, `gpt-4.1-mini-2025-04-14`,
    /// `gpt-3.5-turbo`, or an `ft:` model to continue training.
    pub base_model: String,
    /// The training data: a local `.jsonl` path or an http(s) URL.
    pub source: String,
    /// Validation data: a local `.jsonl` path or an http(s) URL.
    #[napi(ts_type = "string | null")]
    pub validation: Option<String>,
    /// Suffix of the fine-tuned model's name: at most 64 of `A-Z a-z 0-9 - _ .`.
    #[napi(ts_type = "string | null")]
    pub suffix: Option<String>,
    /// Path of the registry; default `FINE_TUNED_MODELS_PATH`, else `fine-tuned/models.json`
    /// relative to the current directory.
    #[napi(ts_type = "string | null")]
    pub registry_path: Option<String>,
    /// How often the job is polled, in ms (default 5000, at least 50: each poll is a request).
    #[napi(ts_type = "number | null")]
    pub poll_interval_ms: Option<f64>,
    /// The whole call (download, checks, upload and the wait for the job) gives up after this
    /// many ms with `ERR_TIMEOUT`; a job keeps running and a later call with the same options
    /// resumes it. Default: wait as long as it takes.
    #[napi(ts_type = "number | null")]
    pub timeout_ms: Option<f64>,
    /// Give up waiting for an uploaded file to be processed after this many ms with
    /// `ERR_TIMEOUT` naming the file and its status (default 30 minutes; `timeoutMs` bounds it
    /// too). The file stays journaled: a later call waits for it again, never uploads again.
    #[napi(ts_type = "number | null")]
    pub file_processing_timeout_ms: Option<f64>,
    /// URL sources larger than this many bytes are refused (default 1 GiB).
    #[napi(ts_type = "number | null")]
    pub max_download_bytes: Option<f64>,
    /// A URL source is cut off (`ERR_SOURCE_FETCH`) after this many ms without a byte
    /// (default 60000).
    #[napi(ts_type = "number | null")]
    pub download_idle_timeout_ms: Option<f64>,
    /// A URL source is cut off (`ERR_SOURCE_FETCH`) when it brings fewer bytes per second
    /// than this over any 30 s (default 1024, at least 1).
    #[napi(ts_type = "number | null")]
    pub download_min_bytes_per_second: Option<f64>,
    /// Files larger than this go up through the Uploads API in parts (default 100 MiB).
    #[napi(ts_type = "number | null")]
    pub upload_threshold_bytes: Option<f64>,
    /// Size of each part of such an upload (default and maximum 64 MiB).
    #[napi(ts_type = "number | null")]
    pub upload_part_bytes: Option<f64>,
    /// Aborting rejects at once with an `AbortError` (`code: "ABORT_ERR"`) and leaves the job
    /// running and journaled, so that a later call resumes it (see `cancelOnAbort`). A signal
    /// that is already aborted stops the call before anything is sent; anything but a real
    /// `AbortSignal` is `ERR_INVALID_OPTION`.
    #[napi(ts_type = "AbortSignal | null")]
    pub signal: Option<AbortSignal>,
    /// On abort, cancel the OpenAI job too (default false).
    #[napi(ts_type = "boolean | null")]
    pub cancel_on_abort: Option<bool>,
    /// Called with each progress event, on the JS thread, in order; it never blocks the run,
    /// an exception it throws is ignored, and every event has been delivered before the
    /// promise settles.
    #[napi(ts_type = "((event: ProgressEvent) => void) | null")]
    pub on_progress: Option<ProgressCallback>,
    /// Training hyperparameters; each is a number or `"auto"` (the default).
    #[napi(ts_type = "HyperparameterOptions | null")]
    pub hyperparameters: Option<HyperparameterOptions>,
    /// `"supervised"` (default) or `"dpo"` (preference data).
    #[napi(ts_type = "'supervised' | 'dpo' | null")]
    pub method: Option<String>,
    /// Seed for reproducible training (0 to 2147483647).
    #[napi(ts_type = "number | null")]
    pub seed: Option<f64>,
    /// Extra job metadata (at most 12 keys of 64 chars, values of 512), merged with the
    /// `model_key`, `agent_name`, `run_id` and `idempotency_key` this library sets.
    #[napi(ts_type = "Record<string, string> | null")]
    pub metadata: Option<serde_json::Value>,
    /// Weights & Biases integrations, as in OpenAI's API:
    /// `[{ type: "wandb", wandb: { project, name?, entity?, tags? } }]`.
    #[napi(
        ts_type = "Array<{ type: 'wandb'; wandb: { project: string; name?: string; entity?: string; tags?: string[] } }> | null"
    )]
    pub integrations: Option<serde_json::Value>,
    /// Azure OpenAI: deploy the fine-tuned model so that it answers, through Azure's control
    /// plane (`PUT …/Microsoft.CognitiveServices/accounts/{resourceName}/deployments/
    /// {deploymentName}`, api-version `apiVersion`, default 2026-03-01), following its
    /// long-running operation until the deployment has `Succeeded`. Needs a
    /// Microsoft Entra ID token: `azureToken`, else `AZURE_ACCESS_TOKEN`. The entry then names
    /// the deployment (the model an agent's client sends) and Azure's v1 `baseUrl`. Without
    /// this option or a token, an Azure run registers the model id with `deployment: null`
    /// and the `az` command that deploys it. `sku`: `Standard` (default), `GlobalStandard`
    /// or `DeveloperTier` (`Developer` is taken for it; its deployments live 24 hours);
    /// `capacity` default 1; `deploymentName` default: from the modelKey; `managementUrl`
    /// default `https://management.azure.com`; `apiVersion`: the control plane's, default
    /// `2026-03-01`.
    #[napi(
        ts_type = "{ subscriptionId: string; resourceGroup: string; resourceName: string; deploymentName?: string | null; sku?: 'Standard' | 'GlobalStandard' | 'DeveloperTier' | 'Developer' | null; capacity?: number | null; managementUrl?: string | null; apiVersion?: string | null } | null"
    )]
    pub azure_deployment: Option<serde_json::Value>,
    /// When `modelKey` is registered: `"error"` (default) refuses with
    /// `ERR_DUPLICATE_MODEL_KEY`; `"newVersion"` trains a new version of it (the previous
    /// models stay in the entry's `versions`).
    #[napi(ts_type = "'error' | 'newVersion' | null")]
    pub on_existing: Option<String>,
    /// After the job succeeds, evaluate the new model against its baseline (the model the key
    /// resolved to before, else the base model) on `evaluate.data`, else the validation data:
    /// `true`, or the settings of `evaluateModel`. The report's summary is stored in the entry.
    #[napi(ts_type = "boolean | EvaluationSettings | null")]
    pub evaluate: Option<serde_json::Value>,
    /// `"always"` (default): the new model becomes the key's model. `"ifBetter"` (needs
    /// `evaluate`): it is registered as a version, and becomes current only when the
    /// evaluation says `better`.
    #[napi(ts_type = "'always' | 'ifBetter' | null")]
    pub promote: Option<String>,
    /// Without `validation`: hold out this fraction (above 0, at most 0.5) of the training
    /// file as validation data, seeded by `seed` and stable (a line's side depends only on the
    /// line). Both files are checked and uploaded.
    #[napi(ts_type = "number | null")]
    pub validation_split: Option<f64>,
}

/// How to reach the API: OpenAI, an OpenAI-compatible server, or Azure OpenAI. Every call that
/// talks to the API takes these (`FineTuneOptions`, `JobOptions`, `CheckOptions`,
/// `EvaluateOptions`, `ImportJobOptions`, `RemoveModelOptions` extend it). Options left unset
/// fall back to the environment variables openai-node reads.
#[napi(object, object_to_js = false)]
pub struct ConnectionOptions {
    /// API key; default `OPENAI_API_KEY` (`AZURE_OPENAI_API_KEY` on Azure). Never logged,
    /// returned or stored.
    #[napi(ts_type = "string | null")]
    pub api_key: Option<String>,

    /// API base URL; default `OPENAI_BASE_URL`, else (for a job's calls) the API its run was
    /// journaled with, else `https://api.openai.com/v1`.
    #[napi(ts_type = "string | null")]
    pub base_url: Option<String>,

    /// Organization id; default `OPENAI_ORG_ID`.
    #[napi(ts_type = "string | null")]
    pub organization: Option<String>,

    /// Project id; default `OPENAI_PROJECT_ID`.
    #[napi(ts_type = "string | null")]
    pub project: Option<String>,

    /// Azure OpenAI endpoint (`https://<resource>.openai.azure.com`); default
    /// `AZURE_OPENAI_ENDPOINT`. Without `apiVersion`, requests go to Azure's v1 API
    /// (`{endpoint}/openai/v1/...`, no api-version); the key (default `AZURE_OPENAI_API_KEY`)
    /// goes in the `api-key` header; without a key, `azureToken` gives a Microsoft Entra ID
    /// token. An explicit `baseUrl` wins over it (`https://<resource>.openai.azure.com/openai/v1`
    /// as `baseUrl` is the v1 API too). See docs/azure.md.
    #[napi(ts_type = "string | null")]
    pub azure_endpoint: Option<String>,

    /// Azure OpenAI `api-version`: `"v1"` (the default: Azure's v1 API), or a dated version,
    /// `"2025-04-01-preview"` or `"2024-10-21"` (`{endpoint}/openai/...?api-version=`), which
    /// refuse what they cannot do before anything is sent (`ERR_INVALID_OPTION`: DPO, W&B,
    /// metadata and pause on 2024-10-21; metadata on 2025-04-01-preview; a suffix over 40
    /// characters or outside `a-z A-Z 0-9 - _` on both). Default `OPENAI_API_VERSION`, else v1.
    #[napi(ts_type = "'v1' | '2025-04-01-preview' | '2024-10-21' | (string & {}) | null")]
    pub api_version: Option<String>,

    /// Retries per request on connection errors, timeouts, 408, 409, 429 and 5xx (default 2).
    #[napi(ts_type = "number | null")]
    pub max_retries: Option<f64>,

    /// Gives a Microsoft Entra ID access token for the scope it is called with: Azure's
    /// control plane for `azureDeployment` and `checkRegisteredModels`
    /// (`"https://management.azure.com/.default"`; default `AZURE_ACCESS_TOKEN`) and, when no API key is given, Azure OpenAI's data plane
    /// (`"https://cognitiveservices.azure.com/.default"`, sent as `Authorization: Bearer`).
    /// E.g. `(scope) => credential.getToken(scope).then((t) => t.token)` with
    /// `@azure/identity`. Asked before each request, so it may refresh. Never logged or stored.
    #[napi(ts_type = "((scope: string) => Promise<string>) | null")]
    pub azure_token: Option<TokenCallback>,
}

/// The `azureToken` callback, called with the token's scope.
pub type TokenCallback = ThreadsafeFunction<String, Promise<String>, String, Status, false>;

/// The `onProgress` callback: each event is the core's, as it serializes.
pub type ProgressCallback =
    ThreadsafeFunction<Json<core::ProgressEvent>, (), Json<core::ProgressEvent>, Status, false>;

/// Hyperparameters: a number, or `"auto"` to let OpenAI choose.
#[napi(object, object_to_js = false)]
pub struct HyperparameterOptions {
    /// Epochs, 1 to 50.
    #[napi(ts_type = "number | 'auto' | null")]
    pub n_epochs: Option<serde_json::Value>,
    /// Batch size, 1 to 256.
    #[napi(ts_type = "number | 'auto' | null")]
    pub batch_size: Option<serde_json::Value>,
    /// Learning-rate multiplier, above 0 and at most 10.
    #[napi(ts_type = "number | 'auto' | null")]
    pub learning_rate_multiplier: Option<serde_json::Value>,
    /// DPO only: beta, above 0 and at most 2.
    #[napi(ts_type = "number | 'auto' | null")]
    pub beta: Option<serde_json::Value>,
}

/// Every option of `trainAndRegisterFineTunedModel` but `signal` and `onProgress`, from the
/// one list the core reads them by.
#[napi(ts_return_type = "Array<FineTuneOptionSpec>")]
pub fn fine_tune_options() -> Json<&'static [core::options::OptionSpec]> {
    Json(core::options::OPTIONS)
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
/// before anything is uploaded. Rejects with a `FineTuneError`: its `code` is one of
/// `FineTuneErrorCode` (e.g. `ERR_DUPLICATE_MODEL_KEY`, `ERR_INVALID_TRAINING_DATA`,
/// `ERR_JOB_FAILED`), with `status`, `requestId` and `jobId` where they apply.
#[napi(
    ts_args_type = "options: FineTuneOptions",
    ts_return_type = "Promise<RegisteredModel>"
)]
pub fn train_and_register_fine_tuned_model(
    env: Env,
    options: Option<Object>,
) -> Result<AsyncBlock<Json<core::RegisteredModel>>> {
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
        let token = azure_token(&env, o)?;
        let json = convert::options_json(&env, o, &["signal", "onProgress", "azureToken"])?;
        let mut opts = core::TrainOptions::from_json(json)?;
        opts.connection.token = token;
        Ok((opts, on_progress))
    };
    let (opts, on_progress) = match read() {
        Ok(v) => v,
        Err(e) => return settle(&env, async move { Err::<core::RegisteredModel, _>(e) }),
    };
    let progress = on_progress.map(progress::Delivery::new);
    let ctx = core::RunContext {
        cancel,
        progress: progress.as_ref().map(progress::Delivery::callback),
    };
    settle(&env, async move {
        let result = core::train_and_register(opts, ctx).await;
        if let Some(p) = progress {
            p.delivered().await;
        }
        result
    })
}

/// The core's token function over the `azureToken` callback.
fn token_fn(tsfn: TokenCallback) -> core::progress::TokenFn {
    let tsfn = std::sync::Arc::new(tsfn);
    std::sync::Arc::new(move |scope: &str| {
        let (tsfn, scope) = (tsfn.clone(), scope.to_string());
        Box::pin(async move {
            // A control-plane token that fails fails the deployment; a data-plane one, the
            // authentication.
            let code = if scope.starts_with("https://management.azure.com") {
                core::ErrorCode::DeploymentFailed
            } else {
                core::ErrorCode::Authentication
            };
            let failed = |e: Error| {
                core::Error::new(
                    code,
                    format!("the azureToken callback failed: {}", e.reason),
                )
                .with_param("azureToken")
            };
            let promise = tsfn.call_async(scope).await.map_err(failed)?;
            promise.await.map_err(failed)
        })
    })
}

/// Reads the options object of a call: `signal` (a real `AbortSignal`, whose abort cancels
/// `cancel`), then every other key as the core's `O`, which refuses an unknown one
/// (`ERR_INVALID_OPTION`).
pub(crate) fn call_options<O: serde::de::DeserializeOwned>(
    env: &Env,
    options: Option<Object>,
    cancel: &core::CancellationToken,
) -> core::Result<O> {
    let o = read::options_object(env, options)?;
    with_signal(env, o.as_ref(), cancel, &[])
}

/// Reads the options object of a call that talks to the API: as [`call_options`], and
/// `azureToken` (a function) becomes the connection's Microsoft Entra ID token provider.
pub(crate) fn remote_options<O: serde::de::DeserializeOwned + core::options::Connected>(
    env: &Env,
    options: Option<Object>,
    cancel: &core::CancellationToken,
) -> core::Result<O> {
    let o = read::options_object(env, options)?;
    let token = azure_token(env, o.as_ref())?;
    let mut opts: O = with_signal(env, o.as_ref(), cancel, &["azureToken"])?;
    opts.connection_mut().token = token;
    Ok(opts)
}

/// `signal` of `o`, then its other keys but `skip` as the core's `O`.
fn with_signal<O: serde::de::DeserializeOwned>(
    env: &Env,
    o: Option<&Object>,
    cancel: &core::CancellationToken,
    skip: &[&str],
) -> core::Result<O> {
    read::signal(env, o, cancel)?;
    let skip: Vec<&str> = ["signal"].iter().chain(skip).copied().collect();
    let json = convert::options_json(env, o, &skip)?;
    core::options::from_json_object(json, "options")
}

/// The `azureToken` option of `o`, as the core's token provider.
pub(crate) fn azure_token(
    env: &Env,
    o: Option<&Object>,
) -> core::Result<Option<core::progress::TokenFn>> {
    let cb =
        convert::optional_property::<TokenCallback>(env, o, "azureToken", ValueType::Function)?;
    Ok(cb.map(token_fn))
}

/// Reads the options object of a call that takes no `signal` (the registry's local calls):
/// every key as the core's `O`, which refuses an unknown one (`ERR_INVALID_OPTION`).
pub(crate) fn local_options<O: serde::de::DeserializeOwned>(
    env: &Env,
    options: Option<Object>,
) -> core::Result<O> {
    let o = read::options_object(env, options)?;
    let json = convert::options_json(env, o.as_ref(), &[])?;
    core::options::from_json_object(json, "options")
}
