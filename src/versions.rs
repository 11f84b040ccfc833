//! Versions of a modelKey: list, promote, roll back, remove, import.

use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::convert::{core_error_to_js, Json};
use crate::read;
use fine_tune_core as core;

/// Every model `modelKey` has had, oldest first, with the one it resolves to marked
/// `current`. Rejects with `ERR_NOT_FOUND` when the key is not registered. It never waits for
/// the registry's lock.
#[napi(
    ts_args_type = "modelKey: string, options?: RegistryOptions | undefined | null",
    ts_return_type = "Array<ModelVersion>"
)]
pub fn list_model_versions(
    env: Env,
    model_key: Unknown,
    options: Option<Object>,
) -> Result<Json<Vec<core::versions::VersionInfo>>> {
    read::string_arg(&env, model_key.raw(), "modelKey")
        .and_then(|k| {
            let o: core::options::RegistryOptions = crate::local_options(&env, options)?;
            core::versions::list(&k, o.registry_path)
        })
        .map(Json)
        .map_err(|e| core_error_to_js(&env, e))
}

/// Reads the arguments of a registry write on the JavaScript thread, then runs `write` off it
/// (it takes the registry's lock, which may wait for another process).
fn registry_write<A, T, F>(env: &Env, args: core::Result<A>, write: F) -> Result<AsyncBlock<T>>
where
    A: Send + 'static,
    T: ToNapiValue + Send + 'static,
    F: FnOnce(A) -> core::Result<T> + Send + 'static,
{
    crate::settle(env, async move {
        let args = args?;
        core::infra::task::blocking(move || write(args)).await
    })
}

/// Makes the version `modelName` of `modelKey` the model agents get (locked, atomic write);
/// resolves to the model it resolved to before. `ERR_NOT_FOUND` when the key or the version
/// does not exist. The registry's lock is waited for off the JavaScript thread.
#[napi(
    ts_args_type = "modelKey: string, modelName: string, options?: RegistryOptions | undefined | null",
    ts_return_type = "Promise<string>"
)]
pub fn promote_model_version(
    env: Env,
    model_key: Unknown,
    model_name: Unknown,
    options: Option<Object>,
) -> Result<AsyncBlock<String>> {
    let args = (|| -> core::Result<_> {
        let key = read::string_arg(&env, model_key.raw(), "modelKey")?;
        let name = read::string_arg(&env, model_name.raw(), "modelName")?;
        let o: core::options::RegistryOptions = crate::local_options(&env, options)?;
        Ok((key, name, o.registry_path))
    })();
    registry_write(&env, args, |(key, name, path)| {
        core::versions::promote(&key, &name, path)
    })
}

/// Goes back to the model `modelKey` resolved to before its last promotion (each call goes
/// one further back); resolves to the model it resolves to now. `ERR_NOT_FOUND` when there is
/// no earlier model. The registry's lock is waited for off the JavaScript thread.
#[napi(
    ts_args_type = "modelKey: string, options?: RegistryOptions | undefined | null",
    ts_return_type = "Promise<string>"
)]
pub fn rollback_model(
    env: Env,
    model_key: Unknown,
    options: Option<Object>,
) -> Result<AsyncBlock<String>> {
    let args = read::string_arg(&env, model_key.raw(), "modelKey").and_then(|k| {
        let o: core::options::RegistryOptions = crate::local_options(&env, options)?;
        Ok((k, o.registry_path))
    });
    registry_write(&env, args, |(key, path)| {
        core::versions::rollback(&key, path)
    })
}

/// Options of `removeRegisteredModel`. An unknown option is refused (`ERR_INVALID_OPTION`).
/// The connection (`ConnectionOptions`) is used only with `deleteRemote`.
/// (Declares the TypeScript type; the core's `RemoveOptions` reads the values.)
#[napi(object, object_to_js = false)]
pub struct RemoveModelOptions {
    /// Also delete each of the key's fine-tuned models at the API (`DELETE /v1/models/{model}`)
    /// before the entry is removed; a model the API no longer has counts as deleted.
    pub delete_remote: Option<bool>,
    /// Path of `models.json`; default `FINE_TUNED_MODELS_PATH`, else `fine-tuned/models.json`.
    pub registry_path: Option<String>,
    /// The whole call (the deletions and the registry write) gives up after this many ms with
    /// `ERR_TIMEOUT`; the entry stays until a call finishes. Default: no bound but the
    /// requests' own.
    pub timeout_ms: Option<f64>,
    /// Aborting rejects at once with an `AbortError` (`code: "ABORT_ERR"`); the entry stays
    /// until a call finishes. Anything but a real `AbortSignal` is `ERR_INVALID_OPTION`.
    #[napi(ts_type = "AbortSignal | null")]
    pub signal: Option<AbortSignal>,
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
) -> Result<AsyncBlock<Json<core::versions::Removed>>> {
    let cancel = core::CancellationToken::new();
    let args = read::string_arg(&env, model_key.raw(), "modelKey").and_then(|k| {
        let o: core::versions::RemoveOptions = crate::remote_options(&env, options, &cancel)?;
        Ok((k, o))
    });
    crate::settle(&env, async move {
        let (model_key, o) = args?;
        let timeout = o.timeout_ms;
        let call = core::versions::remove(&model_key, o);
        core::bounded("removeRegisteredModel", timeout, &cancel, call).await
    })
}

/// Options of `importFineTuneJob`. An unknown option is refused (`ERR_INVALID_OPTION`).
/// (Declares the TypeScript type; the core's `ImportOptions` reads the values.)
#[napi(object, object_to_js = false)]
pub struct ImportJobOptions {
    /// The agent the model was fine-tuned for.
    pub agent_name: String,
    /// The key to register the model under.
    pub model_key: String,
    /// When `modelKey` is registered: `"error"` (default) or `"newVersion"`.
    #[napi(ts_type = "'error' | 'newVersion' | null")]
    pub on_existing: Option<String>,
    /// Path of `models.json`; default `FINE_TUNED_MODELS_PATH`, else `fine-tuned/models.json`.
    pub registry_path: Option<String>,
    /// The whole call gives up after this many ms with `ERR_TIMEOUT`. Default: no bound but
    /// the requests' own.
    pub timeout_ms: Option<f64>,
    /// Aborting rejects at once with an `AbortError` (`code: "ABORT_ERR"`). Anything but a
    /// real `AbortSignal` is `ERR_INVALID_OPTION`.
    #[napi(ts_type = "AbortSignal | null")]
    pub signal: Option<AbortSignal>,
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
) -> Result<AsyncBlock<Json<core::RegisteredModel>>> {
    let cancel = core::CancellationToken::new();
    let args = read::string_arg(&env, job_id.raw(), "jobId").and_then(|id| {
        core::ids::job_id("jobId", &id)?;
        let o: core::versions::ImportOptions = crate::remote_options(&env, options, &cancel)?;
        Ok((id, o))
    });
    crate::settle(&env, async move {
        let (job_id, o) = args?;
        let timeout = o.timeout_ms;
        let call = core::versions::import_job(&job_id, o);
        core::bounded("importFineTuneJob", timeout, &cancel, call).await
    })
}
