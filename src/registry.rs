//! The registry API and `cancelFineTune`.

use napi::bindgen_prelude::*;
use napi_derive::napi;
use serde_json::Value;

use crate::convert::{core_error_to_js, options_json};
use crate::read;
use fine_tune_core as core;

/// Where the registry is.
#[napi(object, object_to_js = false)]
pub struct RegistryOptions {
    /// Path of `models.json`; default `FINE_TUNED_MODELS_PATH`, else `fine-tuned/models.json`.
    pub registry_path: Option<String>,
}

/// Which registered models to list.
#[napi(object, object_to_js = false)]
pub struct ListModelsOptions {
    /// Only the models fine-tuned for this agent.
    pub agent_name: Option<String>,
    /// Path of `models.json`; default `FINE_TUNED_MODELS_PATH`, else `fine-tuned/models.json`.
    pub registry_path: Option<String>,
}

/// The `model` part of a registry entry: what TaskForce's loader reads.
#[napi(object, object_from_js = false)]
pub struct RegistryModel {
    /// The OpenAI model id (`ft:…`).
    pub name: String,
    pub provider: String,
    pub supports_tools: bool,
    pub max_context_tokens: f64,
    /// Where the model answers when not at OpenAI (Azure OpenAI's v1 base URL).
    pub base_url: Option<String>,
}

/// Whether and when a registered model stops answering.
#[napi(object, object_from_js = false)]
pub struct StopsAnswering {
    /// The date (`YYYY-MM-DD`) or instant (ISO 8601) it stops answering, when known.
    pub at: Option<String>,
    /// Whole days from today (negative: already passed).
    pub days_left: Option<f64>,
    /// `shutDown` (passed), `soon` (within the window: 90 days, or `withinDays`),
    /// `scheduled`, `undeployed` (Azure, not deployed: it answers nothing), `deleted` (Azure,
    /// the deployment is gone: `checkRegisteredModels` with `AZURE_ACCESS_TOKEN` asked the
    /// control plane) or `unknown` (no date announced).
    #[napi(ts_type = "'shutDown' | 'soon' | 'scheduled' | 'undeployed' | 'deleted' | 'unknown'")]
    pub status: String,
    /// Why, in words.
    pub reason: String,
}

impl From<core::lifecycle::StopsAnswering> for StopsAnswering {
    fn from(s: core::lifecycle::StopsAnswering) -> Self {
        let core::lifecycle::StopsAnswering {
            at,
            days_left,
            status,
            reason,
        } = s;
        StopsAnswering {
            at,
            days_left: days_left.map(|d| d as f64),
            status,
            reason,
        }
    }
}

/// One registered model.
#[napi(object, object_from_js = false)]
pub struct RegistryEntry {
    pub model_key: String,
    pub model: RegistryModel,
    /// How it was trained (agentName, baseModel, jobId, file ids, suffix, trainedTokens,
    /// createdAt, finishedAt…); absent on entries this library did not write.
    #[napi(ts_type = "Record<string, unknown> | undefined")]
    pub fine_tune: Option<Value>,
    /// Whether and when the model stops answering, from what the entry records (the base
    /// model's `baseShutdownDate`, an Azure deployment's expiry, or no deployment at all).
    pub stops_answering: StopsAnswering,
}

fn entry(model_key: String, e: core::registry::RegistryEntry) -> RegistryEntry {
    let stops = core::lifecycle::stops_answering(
        &e,
        core::lifecycle::recorded_shutdown(&e).as_deref(),
        core::lifecycle::today(),
        core::lifecycle::WARN_WITHIN_DAYS,
    );
    let core::registry::RegistryEntry {
        model,
        fine_tune,
        versions: _,
        previous: _,
        extra: _,
    } = e;
    let core::registry::ModelRef {
        name,
        provider,
        supports_tools,
        max_context_tokens,
        base_url,
        extra: _,
    } = model;
    RegistryEntry {
        model_key,
        model: RegistryModel {
            name,
            provider,
            supports_tools,
            max_context_tokens: max_context_tokens as f64,
            base_url,
        },
        fine_tune: fine_tune.and_then(|f| serde_json::to_value(f).ok()),
        stops_answering: stops.into(),
    }
}

/// The options of the registry's synchronous calls (`RegistryOptions`, `ListModelsOptions`),
/// read like every options object; other keys are ignored.
#[derive(Default, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RegistryArgs {
    pub registry_path: Option<String>,
    pub agent_name: Option<String>,
}

pub(crate) fn registry_args(env: &Env, options: Option<Object>) -> core::Result<RegistryArgs> {
    let o = read::options_object(env, options)?;
    core::options::from_json_object(options_json(env, o.as_ref(), &[])?, "options")
}

/// The registered model of `modelKey`, or `null`. The registry is parsed once per change of
/// the file, so a model registered a moment ago is seen at once and a lookup costs a `stat`.
#[napi(
    ts_args_type = "modelKey: string, options?: RegistryOptions | undefined | null",
    ts_return_type = "RegistryEntry | null"
)]
pub fn get_registered_model(
    env: Env,
    model_key: Unknown,
    options: Option<Object>,
) -> Result<Option<RegistryEntry>> {
    let found = || -> core::Result<_> {
        let model_key = read::string_arg(&env, model_key.raw(), "modelKey")?;
        let path = registry_args(&env, options)?.registry_path;
        Ok(core::registry::get(path, &model_key)?.map(|v| entry(model_key, v)))
    };
    found().map_err(|e| core_error_to_js(&env, e))
}

/// Every registered model, in registry order, optionally only those of one agent.
#[napi(
    ts_args_type = "options?: ListModelsOptions | undefined | null",
    ts_return_type = "Array<RegistryEntry>"
)]
pub fn list_registered_models(env: Env, options: Option<Object>) -> Result<Vec<RegistryEntry>> {
    let all = registry_args(&env, options)
        .and_then(|a| core::registry::list(a.registry_path, a.agent_name.as_deref()));
    let all = all.map_err(|e| core_error_to_js(&env, e))?;
    Ok(all.into_iter().map(|(k, v)| entry(k, v)).collect())
}

/// A registered modelKey gives its `ft:` model id; anything else (a plain OpenAI model name)
/// comes back as it is.
#[napi(
    ts_args_type = "modelOrKey: string, options?: RegistryOptions | undefined | null",
    ts_return_type = "string"
)]
pub fn resolve_model(env: Env, model_or_key: Unknown, options: Option<Object>) -> Result<String> {
    read::string_arg(&env, model_or_key.raw(), "modelOrKey")
        .and_then(|m| {
            core::registry::resolve_model(&m, registry_args(&env, options)?.registry_path)
        })
        .map_err(|e| core_error_to_js(&env, e))
}

/// Options of `cancelFineTune` and `getFineTuneJob`. (Declares the TypeScript type; the
/// core's `RemoteOptions` reads the values.)
#[napi(object, object_to_js = false)]
pub struct CancelOptions {
    /// Path of `models.json` (the journal is beside it).
    pub registry_path: Option<String>,
    /// API key; default `OPENAI_API_KEY` (`AZURE_OPENAI_API_KEY` for Azure).
    pub api_key: Option<String>,
    /// API base URL; default `OPENAI_BASE_URL`, else the run's own API, else OpenAI's.
    pub base_url: Option<String>,
    pub organization: Option<String>,
    pub project: Option<String>,
    /// Azure OpenAI endpoint; default `AZURE_OPENAI_ENDPOINT`.
    pub azure_endpoint: Option<String>,
    /// Azure `api-version`; default `OPENAI_API_VERSION`.
    pub api_version: Option<String>,
    /// Retries per request (default 2).
    pub max_retries: Option<f64>,
}

pub(crate) fn remote_options(
    env: &Env,
    o: Option<Object>,
) -> core::Result<core::options::RemoteOptions> {
    let o = read::options_object(env, o)?;
    core::options::from_json_object(options_json(env, o.as_ref(), &[])?, "options")
}

/// Cancels the in-flight run of `modelKey` (one that was interrupted, aborted or timed out):
/// cancels its OpenAI job, if one was created, and clears its journal entry. Resolves to the
/// job id (or `null` when no job had been created yet). Rejects with `ERR_NOT_FOUND` when no
/// run of that key is in flight.
#[napi(
    ts_args_type = "modelKey: string, options?: CancelOptions | null",
    ts_return_type = "Promise<string | null>"
)]
pub fn cancel_fine_tune(
    env: Env,
    model_key: Unknown,
    options: Option<Object>,
) -> Result<AsyncBlock<Option<String>>> {
    let args = read::string_arg(&env, model_key.raw(), "modelKey").and_then(|k| {
        core::options::check_model_key(&k)?;
        Ok((k, remote_options(&env, options)?))
    });
    crate::settle(&env, async move {
        let (model_key, o) = args?;
        let (registry_path, conn) = o.split();
        core::cancel_fine_tune(&model_key, registry_path, conn).await
    })
}

/// A fine-tuning job as the API reports it now.
#[napi(object, object_from_js = false)]
pub struct FineTuneJob {
    pub id: String,
    /// `validating_files`, `queued`, `running`, `succeeded`, `failed`, `cancelled` (or a status
    /// this library does not know yet, such as `paused`).
    pub status: String,
    /// The base model.
    pub model: Option<String>,
    /// The fine-tuned model, once the job succeeded.
    pub fine_tuned_model: Option<String>,
    pub trained_tokens: Option<f64>,
    /// Unix seconds.
    pub created_at: Option<f64>,
    /// Unix seconds.
    pub finished_at: Option<f64>,
    /// Unix seconds, when OpenAI estimates one.
    pub estimated_finish: Option<f64>,
    /// `{ code, message, param }` of a failed job.
    #[napi(ts_type = "{ code?: string; message?: string; param?: string | null } | null")]
    pub error: Option<Value>,
    pub training_file: Option<String>,
    pub validation_file: Option<String>,
    pub result_files: Vec<String>,
    #[napi(ts_type = "Record<string, string> | null")]
    pub metadata: Option<Value>,
}

impl From<core::api::Job> for FineTuneJob {
    fn from(j: core::api::Job) -> Self {
        let core::api::Job {
            id,
            status,
            model,
            fine_tuned_model,
            error,
            trained_tokens,
            created_at,
            finished_at,
            estimated_finish,
            result_files,
            training_file,
            validation_file,
            metadata,
            hyperparameters: _,
            method: _,
        } = j;
        let t = |x: Option<i64>| x.map(|v| v as f64);
        FineTuneJob {
            id,
            status,
            model,
            fine_tuned_model,
            trained_tokens: trained_tokens.map(|v| v as f64),
            created_at: t(created_at),
            finished_at: t(finished_at),
            estimated_finish: t(estimated_finish),
            error: error.filter(|e| e.as_object().is_some_and(|o| !o.is_empty())),
            training_file,
            validation_file,
            result_files,
            metadata,
        }
    }
}

/// The live fine-tuning job of a modelKey (its run in flight, else its registered entry) or
/// of a job id (`ftjob-…`), read from the API. Without a base URL in the options or the
/// environment, the run's own API (journaled, Azure included) is asked. Rejects with
/// `ERR_NOT_FOUND` when the key has no job.
#[napi(
    ts_args_type = "modelKeyOrJobId: string, options?: CancelOptions | null",
    ts_return_type = "Promise<FineTuneJob>"
)]
pub fn get_fine_tune_job(
    env: Env,
    model_key_or_job_id: Unknown,
    options: Option<Object>,
) -> Result<AsyncBlock<FineTuneJob>> {
    on_job(
        &env,
        model_key_or_job_id,
        options,
        |k, path, conn| async move { core::get_job(&k, path, conn).await },
    )
}

/// Runs a core call on the job of a modelKey or job id with `CancelOptions` (the one path of
/// `getFineTuneJob`, `pauseFineTune` and `resumeFineTune`), resolving to the job.
pub(crate) fn on_job<F, Fut>(
    env: &Env,
    model_key_or_job_id: Unknown,
    options: Option<Object>,
    call: F,
) -> Result<AsyncBlock<FineTuneJob>>
where
    F: FnOnce(String, Option<String>, core::options::ConnectionOptions) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = core::Result<core::api::Job>> + Send + 'static,
{
    let args = read::string_arg(env, model_key_or_job_id.raw(), "modelKeyOrJobId").and_then(|k| {
        job_or_key("modelKeyOrJobId", &k)?;
        Ok((k, remote_options(env, options)?))
    });
    crate::settle(env, async move {
        let (key, o) = args?;
        let (registry_path, conn) = o.split();
        call(key, registry_path, conn).await
    })
}

/// A `modelKeyOrJobId` is a job id (`ftjob-…`, safe as a URL path segment) or a modelKey;
/// anything else is `ERR_INVALID_OPTION` before any request.
fn job_or_key(param: &str, s: &str) -> core::Result<()> {
    if core::ids::is_job_id(s) {
        return core::ids::job_id(param, s);
    }
    core::options::check_model_key(s).map_err(|e| {
        core::Error::new(
            core::ErrorCode::InvalidOption,
            format!(
                "{param}: neither a job id (ftjob-…) nor a modelKey: {}",
                e.message
            ),
        )
        .with_param(param)
    })
}

/// A run in flight, as journaled beside the registry (`<registry dir>/.runs/`): interrupted,
/// aborted or timed out runs that a call with the same options resumes.
#[napi(object, object_from_js = false)]
pub struct InFlightRun {
    pub model_key: String,
    /// This library's id of the run, sent as the job's `metadata.run_id`.
    pub run_id: String,
    pub agent_name: String,
    pub base_model: String,
    pub suffix: String,
    /// The API the run talks to.
    pub base_url: String,
    pub training_file_id: Option<String>,
    pub validation_file_id: Option<String>,
    /// The create-job request was sent (its answer may not have arrived).
    pub job_requested: bool,
    pub job_id: Option<String>,
    /// When the run started (ISO 8601).
    pub started_at: String,
}

impl From<core::journal::RunRecord> for InFlightRun {
    fn from(r: core::journal::RunRecord) -> Self {
        let core::journal::RunRecord {
            model_key,
            run_id,
            options_digest: _,
            data_digest: _,
            idempotency_key: _,
            uploaded_files: _,
            files_requested: _,
            stale_uploads: _,
            agent_name,
            base_model,
            suffix,
            base_url,
            api_version: _,
            training_file_id,
            validation_file_id,
            uploads: _,
            job_requested,
            job_id,
            started_at,
        } = r;
        InFlightRun {
            model_key,
            run_id,
            agent_name,
            base_model,
            suffix,
            base_url,
            training_file_id,
            validation_file_id,
            job_requested,
            job_id,
            started_at,
        }
    }
}

/// The runs in flight beside the registry, oldest first.
#[napi(
    ts_args_type = "options?: RegistryOptions | undefined | null",
    ts_return_type = "Array<InFlightRun>"
)]
pub fn list_in_flight_runs(env: Env, options: Option<Object>) -> Result<Vec<InFlightRun>> {
    let runs = registry_args(&env, options).and_then(|a| {
        let path = core::options::registry_path(a.registry_path);
        let registry = core::registry::Registry::new(path);
        core::journal::Journal::new(&registry.dir()).list()
    });
    let runs = runs.map_err(|e| core_error_to_js(&env, e))?;
    Ok(runs.into_iter().map(InFlightRun::from).collect())
}
