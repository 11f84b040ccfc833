//! Versions of a modelKey: list, promote, roll back, remove, import.

use napi::bindgen_prelude::*;
use napi_derive::napi;
use serde_json::Value;

use crate::convert::{core_error_to_js, options_json};
use crate::read;
use crate::registry::registry_args;
use fine_tune_core as core;

/// One model a modelKey has had.
#[napi(object, object_from_js = false)]
pub struct ModelVersion {
    /// The model's name (`ft:…`).
    pub model: String,
    /// Whether the modelKey resolves to it now.
    pub current: bool,
    pub job_id: Option<String>,
    pub base_model: Option<String>,
    /// When its job was created (ISO 8601).
    pub created_at: Option<String>,
    /// When its job finished (ISO 8601).
    pub finished_at: Option<String>,
    /// When it was registered under the key (ISO 8601).
    pub registered_at: Option<String>,
    /// Its training metrics' summary.
    #[napi(ts_type = "Record<string, unknown> | null")]
    pub metrics: Option<Value>,
    /// Its evaluation report, when one ran.
    #[napi(ts_type = "EvaluationReport | null")]
    pub evaluation: Option<Value>,
}

impl From<core::versions::VersionInfo> for ModelVersion {
    fn from(v: core::versions::VersionInfo) -> Self {
        let core::versions::VersionInfo {
            model,
            current,
            job_id,
            base_model,
            created_at,
            finished_at,
            registered_at,
            metrics,
            evaluation,
        } = v;
        ModelVersion {
            model,
            current,
            job_id,
            base_model,
            created_at,
            finished_at,
            registered_at,
            metrics,
            evaluation,
        }
    }
}

/// Every model `modelKey` has had, oldest first, with the one it resolves to marked
/// `current`. Rejects with `ERR_NOT_FOUND` when the key is not registered.
#[napi(
    ts_args_type = "modelKey: string, options?: RegistryOptions | undefined | null",
    ts_return_type = "Array<ModelVersion>"
)]
pub fn list_model_versions(
    env: Env,
    model_key: Unknown,
    options: Option<Object>,
) -> Result<Vec<ModelVersion>> {
    read::string_arg(&env, model_key.raw(), "modelKey")
        .and_then(|k| core::versions::list(&k, registry_args(&env, options)?.registry_path))
        .map(|v| v.into_iter().map(Into::into).collect())
        .map_err(|e| core_error_to_js(&env, e))
}

/// Makes the version `modelName` of `modelKey` the model agents get (locked, atomic write);
/// returns the model it resolved to before. `ERR_NOT_FOUND` when the key or the version does
/// not exist.
#[napi(
    ts_args_type = "modelKey: string, modelName: string, options?: RegistryOptions | undefined | null",
    ts_return_type = "string"
)]
pub fn promote_model_version(
    env: Env,
    model_key: Unknown,
    model_name: Unknown,
    options: Option<Object>,
) -> Result<String> {
    let promoted = || -> core::Result<String> {
        let key = read::string_arg(&env, model_key.raw(), "modelKey")?;
        let name = read::string_arg(&env, model_name.raw(), "modelName")?;
        core::versions::promote(&key, &name, registry_args(&env, options)?.registry_path)
    };
    promoted().map_err(|e| core_error_to_js(&env, e))
}

/// Goes back to the model `modelKey` resolved to before its last promotion (each call goes
/// one further back); returns the model it resolves to now. `ERR_NOT_FOUND` when there is no
/// earlier model.
#[napi(
    ts_args_type = "modelKey: string, options?: RegistryOptions | undefined | null",
    ts_return_type = "string"
)]
pub fn rollback_model(env: Env, model_key: Unknown, options: Option<Object>) -> Result<String> {
    read::string_arg(&env, model_key.raw(), "modelKey")
        .and_then(|k| core::versions::rollback(&k, registry_args(&env, options)?.registry_path))
        .map_err(|e| core_error_to_js(&env, e))
}

/// Options of `removeRegisteredModel`.
#[napi(object, object_to_js = false)]
pub struct RemoveModelOptions {
    /// Also delete each of the key's fine-tuned models at the API (`DELETE /v1/models/{model}`)
    /// before the entry is removed; a model the API no longer has counts as deleted.
    pub delete_remote: Option<bool>,
    /// Path of `models.json`; default `FINE_TUNED_MODELS_PATH`, else `fine-tuned/models.json`.
    pub registry_path: Option<String>,
    /// API key (only used with `deleteRemote`); default `OPENAI_API_KEY`.
    pub api_key: Option<String>,
    pub base_url: Option<String>,
    pub organization: Option<String>,
    pub project: Option<String>,
    pub azure_endpoint: Option<String>,
    pub api_version: Option<String>,
    pub max_retries: Option<f64>,
}

/// What `removeRegisteredModel` did.
#[napi(object, object_from_js = false)]
pub struct RemovedModel {
    pub model_key: String,
    /// Every model the key had.
    pub models: Vec<String>,
    /// The fine-tuned models deleted at the API.
    pub deleted_remote: Vec<String>,
}

/// Removes `modelKey` from the registry (locked, atomic write), with `deleteRemote` after
/// deleting its fine-tuned models at the API. `ERR_NOT_FOUND` when it is not registered.
#[napi(
    ts_args_type = "modelKey: string, options?: RemoveModelOptions | null",
    ts_return_type = "Promise<RemovedModel>"
)]
pub fn remove_registered_model(
    env: Env,
    model_key: Unknown,
    options: Option<Object>,
) -> Result<AsyncBlock<RemovedModel>> {
    let args = read::string_arg(&env, model_key.raw(), "modelKey").and_then(|k| {
        let o = read::options_object(&env, options)?;
        let j = options_json(&env, o.as_ref(), &[])?;
        Ok((
            k,
            core::options::from_json_object::<core::versions::RemoveOptions>(j, "options")?,
        ))
    });
    crate::settle(&env, async move {
        let (model_key, o) = args?;
        let r = core::versions::remove(&model_key, o).await?;
        let core::versions::Removed {
            model_key,
            models,
            deleted_remote,
        } = r;
        Ok(RemovedModel {
            model_key,
            models,
            deleted_remote,
        })
    })
}

/// Options of `importFineTuneJob`.
#[napi(object, object_to_js = false)]
pub struct ImportJobOptions {
    pub agent_name: String,
    pub model_key: String,
    /// When `modelKey` is registered: `"error"` (default) or `"newVersion"`.
    #[napi(ts_type = "'error' | 'newVersion' | null")]
    pub on_existing: Option<String>,
    pub registry_path: Option<String>,
    pub api_key: Option<String>,
    pub base_url: Option<String>,
    pub organization: Option<String>,
    pub project: Option<String>,
    pub azure_endpoint: Option<String>,
    pub api_version: Option<String>,
    pub max_retries: Option<f64>,
}

/// Registers a fine-tuning job started elsewhere (`ftjob-…`) under `modelKey`, as
/// `trainAndRegisterFineTunedModel` would have. A job that has not succeeded is refused with
/// its status: `ERR_JOB_FAILED`, `ERR_JOB_CANCELLED`, or `ERR_JOB_NOT_FINISHED`.
#[napi(
    ts_args_type = "jobId: string, options: ImportJobOptions",
    ts_return_type = "Promise<RegisteredModel>"
)]
pub fn import_fine_tune_job(
    env: Env,
    job_id: Unknown,
    options: Option<Object>,
) -> Result<AsyncBlock<crate::RegisteredModel>> {
    let args = read::string_arg(&env, job_id.raw(), "jobId").and_then(|id| {
        core::ids::job_id("jobId", &id)?;
        let o = read::options_object(&env, options)?;
        let j = options_json(&env, o.as_ref(), &[])?;
        Ok((
            id,
            core::options::from_json_object::<core::versions::ImportOptions>(j, "options")?,
        ))
    });
    crate::settle(&env, async move {
        let (job_id, o) = args?;
        core::versions::import_job(&job_id, o).await
    })
}
