//! The registry API and `cancelFineTune`.

use napi::bindgen_prelude::*;
use napi_derive::napi;
use serde_json::Value;

use crate::convert::core_error_to_js;
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
}

fn entry(model_key: String, v: Value) -> RegistryEntry {
    let m = v.get("model").cloned().unwrap_or(Value::Null);
    let s = |k: &str| m.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    RegistryEntry {
        model_key,
        model: RegistryModel {
            name: s("name"),
            provider: s("provider"),
            supports_tools: m
                .get("supportsTools")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            max_context_tokens: m
                .get("maxContextTokens")
                .and_then(Value::as_f64)
                .unwrap_or(0.0),
        },
        fine_tune: v.get("fineTune").cloned(),
    }
}

/// The registered model of `modelKey`, or `null`. Reads the registry fresh.
#[napi]
pub fn get_registered_model(
    env: Env,
    model_key: String,
    options: Option<RegistryOptions>,
) -> Result<Option<RegistryEntry>> {
    let path = options.and_then(|o| o.registry_path);
    let all = core::registry::list(path, None).map_err(|e| core_error_to_js(&env, e))?;
    Ok(all
        .into_iter()
        .find(|(k, _)| *k == model_key)
        .map(|(k, v)| entry(k, v)))
}

/// Every registered model, in registry order, optionally only those of one agent.
#[napi]
pub fn list_registered_models(
    env: Env,
    options: Option<ListModelsOptions>,
) -> Result<Vec<RegistryEntry>> {
    let (agent, path) = options
        .map(|o| (o.agent_name, o.registry_path))
        .unwrap_or((None, None));
    let all =
        core::registry::list(path, agent.as_deref()).map_err(|e| core_error_to_js(&env, e))?;
    Ok(all.into_iter().map(|(k, v)| entry(k, v)).collect())
}

/// A registered modelKey gives its `ft:` model id; anything else (a plain OpenAI model name)
/// comes back as it is.
#[napi]
pub fn resolve_model(
    env: Env,
    model_or_key: String,
    options: Option<RegistryOptions>,
) -> Result<String> {
    core::registry::resolve_model(&model_or_key, options.and_then(|o| o.registry_path))
        .map_err(|e| core_error_to_js(&env, e))
}

/// Options of `cancelFineTune`.
#[napi(object, object_to_js = false)]
pub struct CancelOptions {
    /// Path of `models.json` (the journal is beside it).
    pub registry_path: Option<String>,
    /// API key; default `OPENAI_API_KEY`.
    pub api_key: Option<String>,
    /// API base URL; default `OPENAI_BASE_URL`, else OpenAI's.
    pub base_url: Option<String>,
    pub organization: Option<String>,
    pub project: Option<String>,
    /// Azure OpenAI endpoint; default `AZURE_OPENAI_ENDPOINT`.
    pub azure_endpoint: Option<String>,
    /// Azure `api-version`; default `OPENAI_API_VERSION`.
    pub api_version: Option<String>,
}

/// Cancels the in-flight run of `modelKey` (one that was interrupted, aborted or timed out):
/// cancels its OpenAI job, if one was created, and clears its journal entry. Resolves to the
/// job id (or `null` when no job had been created yet). Rejects with `ERR_NOT_FOUND` when no
/// run of that key is in flight.
#[napi(ts_return_type = "Promise<string | null>")]
pub fn cancel_fine_tune(
    env: Env,
    model_key: String,
    options: Option<CancelOptions>,
) -> Result<AsyncBlock<Option<String>>> {
    let o = options.unwrap_or(CancelOptions {
        registry_path: None,
        api_key: None,
        base_url: None,
        organization: None,
        project: None,
        azure_endpoint: None,
        api_version: None,
    });
    let registry_path = o.registry_path;
    let conn = core::options::ConnectionOptions {
        api_key: o.api_key,
        base_url: o.base_url,
        organization: o.organization,
        project: o.project,
        azure_endpoint: o.azure_endpoint,
        api_version: o.api_version,
        max_retries: None,
    };
    crate::settle(&env, async move {
        core::cancel_fine_tune(&model_key, registry_path, conn).await
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

/// The runs in flight beside the registry, oldest first.
#[napi]
pub fn list_in_flight_runs(env: Env, options: Option<RegistryOptions>) -> Result<Vec<InFlightRun>> {
    let path = core::options::registry_path(options.and_then(|o| o.registry_path));
    let registry = core::registry::Registry::new(path);
    let runs = core::journal::Journal::new(&registry.dir())
        .list()
        .map_err(|e| core_error_to_js(&env, e))?;
    Ok(runs
        .into_iter()
        .map(|r| InFlightRun {
            model_key: r.model_key,
            run_id: r.run_id,
            agent_name: r.agent_name,
            base_model: r.base_model,
            suffix: r.suffix,
            base_url: r.base_url,
            training_file_id: r.training_file_id,
            validation_file_id: r.validation_file_id,
            job_requested: r.job_requested,
            job_id: r.job_id,
            started_at: r.started_at,
        })
        .collect())
}
