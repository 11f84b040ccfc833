//! The registry's reads, and the calls on a job: get, cancel (pause and resume are in
//! `lifecycle.rs`).

use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::convert::{core_error_to_js, Json};
use crate::read;
use fine_tune_core as core;

/// Options of the registry's local calls: `getRegisteredModel`, `resolveModel`,
/// `listInFlightRuns`, `listModelVersions`, `promoteModelVersion`, `rollbackModel`. An unknown
/// option is refused (`ERR_INVALID_OPTION`). (Declares the TypeScript type; the core's
/// `RegistryOptions` reads the values.)
#[napi(object, object_to_js = false)]
pub struct RegistryOptions {
    /// Path of `models.json`; default `FINE_TUNED_MODELS_PATH`, else `fine-tuned/models.json`.
    pub registry_path: Option<String>,
}

/// Options of `listRegisteredModels`. An unknown option is refused (`ERR_INVALID_OPTION`).
#[napi(object, object_to_js = false)]
pub struct ListModelsOptions {
    /// Only the models fine-tuned for this agent.
    pub agent_name: Option<String>,
    /// Path of `models.json`; default `FINE_TUNED_MODELS_PATH`, else `fine-tuned/models.json`.
    pub registry_path: Option<String>,
}

/// The registered model of `modelKey`, or `null`. The registry is parsed once per change of
/// the file, so a model registered a moment ago is seen at once and a lookup costs a `stat`;
/// it never waits for the registry's lock.
#[napi(
    ts_args_type = "modelKey: string, options?: RegistryOptions | undefined | null",
    ts_return_type = "RegistryEntry | null"
)]
pub fn get_registered_model(
    env: Env,
    model_key: Unknown,
    options: Option<Object>,
) -> Result<Json<Option<core::registry::EntryInfo>>> {
    let found = || -> core::Result<_> {
        let model_key = read::string_arg(&env, model_key.raw(), "modelKey")?;
        core::ops::registry::get(&model_key, crate::local_options(&env, options)?)
    };
    found().map(Json).map_err(|e| core_error_to_js(&env, e))
}

/// Every registered model, in registry order, optionally only those of one agent.
#[napi(
    ts_args_type = "options?: ListModelsOptions | undefined | null",
    ts_return_type = "Array<RegistryEntry>"
)]
pub fn list_registered_models(
    env: Env,
    options: Option<Object>,
) -> Result<Json<Vec<core::registry::EntryInfo>>> {
    crate::local_options(&env, options)
        .and_then(core::ops::registry::list)
        .map(Json)
        .map_err(|e| core_error_to_js(&env, e))
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
            let o: core::options::RegistryOptions = crate::local_options(&env, options)?;
            core::registry::resolve_model(&m, o.registry_path)
        })
        .map_err(|e| core_error_to_js(&env, e))
}

/// Options of the calls on a job: `getFineTuneJob`, `cancelFineTune`, `pauseFineTune`,
/// `resumeFineTune`. Connection options left unset fall back to the environment (and, for a
/// run in flight, to the API it was journaled with). An unknown option is refused
/// (`ERR_INVALID_OPTION`). (Declares the TypeScript type; the core's `RemoteOptions` reads
/// the values.)
#[napi(object, object_to_js = false)]
pub struct JobOptions {
    /// Path of `models.json` (the journal is beside it).
    pub registry_path: Option<String>,
    /// The whole call (every request and retry) gives up after this many ms with
    /// `ERR_TIMEOUT`. Default: no bound but the requests' own.
    pub timeout_ms: Option<f64>,
    /// Aborting rejects at once with an `AbortError` (`code: "ABORT_ERR"`); an already
    /// aborted signal stops the call before any request. Anything but a real `AbortSignal` is
    /// `ERR_INVALID_OPTION`.
    #[napi(ts_type = "AbortSignal | null")]
    pub signal: Option<AbortSignal>,
}

/// Cancels the in-flight run of `modelKey` (one that was interrupted, aborted or timed out):
/// cancels its OpenAI job, if one was created, and clears its journal entry. Resolves to the
/// job id (or `null` when no job had been created yet). Rejects with `ERR_NOT_FOUND` when no
/// run of that key is in flight. A call cut short by `timeoutMs` or `signal` leaves the run
/// journaled: calling again finishes the cancellation.
#[napi(
    ts_args_type = "modelKey: string, options?: JobOptions | null",
    ts_return_type = "Promise<string | null>"
)]
pub fn cancel_fine_tune(
    env: Env,
    model_key: Unknown,
    options: Option<Object>,
) -> Result<AsyncBlock<Option<String>>> {
    let cancel = core::CancellationToken::new();
    let args = read::string_arg(&env, model_key.raw(), "modelKey").and_then(|k| {
        core::options::check_model_key(&k)?;
        let o: core::options::RemoteOptions = crate::remote_options(&env, options, &cancel)?;
        Ok((k, o))
    });
    crate::settle(&env, async move {
        let (model_key, o) = args?;
        let timeout = o.timeout_ms;
        let (registry_path, conn) = o.split();
        let call = core::cancel_fine_tune(&model_key, registry_path, conn);
        core::bounded("cancelFineTune", timeout, &cancel, call).await
    })
}

/// The live fine-tuning job of a modelKey (its run in flight, else its registered entry) or
/// of a job id (`ftjob-…`), read from the API. Without a base URL in the options or the
/// environment, the run's own API (journaled, Azure included) is asked. Rejects with
/// `ERR_NOT_FOUND` when the key has no job.
#[napi(
    ts_args_type = "modelKeyOrJobId: string, options?: JobOptions | null",
    ts_return_type = "Promise<FineTuneJob>"
)]
pub fn get_fine_tune_job(
    env: Env,
    model_key_or_job_id: Unknown,
    options: Option<Object>,
) -> Result<AsyncBlock<Json<core::api::FineTuneJob>>> {
    on_job(
        &env,
        "getFineTuneJob",
        model_key_or_job_id,
        options,
        |k, path, conn| async move { core::get_job(&k, path, conn).await },
    )
}

/// Runs a core call on the job of a modelKey or job id with `JobOptions` (the one path of
/// `getFineTuneJob`, `pauseFineTune` and `resumeFineTune`), bounded by `timeoutMs` and
/// `signal`, resolving to the job.
pub(crate) fn on_job<F, Fut>(
    env: &Env,
    call: &'static str,
    model_key_or_job_id: Unknown,
    options: Option<Object>,
    run: F,
) -> Result<AsyncBlock<Json<core::api::FineTuneJob>>>
where
    F: FnOnce(String, Option<String>, core::options::ConnectionOptions) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = core::Result<core::api::Job>> + Send + 'static,
{
    let cancel = core::CancellationToken::new();
    let args = read::string_arg(env, model_key_or_job_id.raw(), "modelKeyOrJobId").and_then(|k| {
        job_or_key("modelKeyOrJobId", &k)?;
        let o: core::options::RemoteOptions = crate::remote_options(env, options, &cancel)?;
        Ok((k, o))
    });
    crate::settle(env, async move {
        let (key, o) = args?;
        let timeout = o.timeout_ms;
        let (registry_path, conn) = o.split();
        let job = core::bounded(call, timeout, &cancel, run(key, registry_path, conn)).await?;
        Ok(core::api::FineTuneJob::from(job))
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

/// The runs in flight beside the registry, oldest first.
#[napi(
    ts_args_type = "options?: RegistryOptions | undefined | null",
    ts_return_type = "Array<InFlightRun>"
)]
pub fn list_in_flight_runs(
    env: Env,
    options: Option<Object>,
) -> Result<Json<Vec<core::registry::InFlightRun>>> {
    crate::local_options(&env, options)
        .and_then(core::registry::in_flight_runs)
        .map(Json)
        .map_err(|e| core_error_to_js(&env, e))
}
