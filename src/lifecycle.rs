//! Lifecycle exports: `pauseFineTune`, `resumeFineTune`, `checkRegisteredModels`.

use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::convert::Json;
use crate::registry::on_job;
use fine_tune_core as core;

/// Pauses the fine-tuning job of a modelKey (its run in flight, else its registered entry) or
/// of a job id (`POST /fine_tuning/jobs/{id}/pause`). A call waiting for the job keeps
/// waiting (a paused job is not final). Resolves to the job (status `paused`).
#[napi(
    ts_args_type = "modelKeyOrJobId: string, options?: JobOptions | null",
    ts_return_type = "Promise<FineTuneJob>"
)]
pub fn pause_fine_tune(
    env: Env,
    model_key_or_job_id: Unknown,
    options: Option<Object>,
) -> Result<AsyncBlock<Json<core::api::FineTuneJob>>> {
    on_job(
        &env,
        "pauseFineTune",
        model_key_or_job_id,
        options,
        |k, path, conn| async move { core::pause_fine_tune(&k, path, conn).await },
    )
}

/// Resumes a paused fine-tuning job (see `pauseFineTune`).
#[napi(
    ts_args_type = "modelKeyOrJobId: string, options?: JobOptions | null",
    ts_return_type = "Promise<FineTuneJob>"
)]
pub fn resume_fine_tune(
    env: Env,
    model_key_or_job_id: Unknown,
    options: Option<Object>,
) -> Result<AsyncBlock<Json<core::api::FineTuneJob>>> {
    on_job(
        &env,
        "resumeFineTune",
        model_key_or_job_id,
        options,
        |k, path, conn| async move { core::resume_fine_tune(&k, path, conn).await },
    )
}

/// Options of `checkRegisteredModels`. An unknown option is refused (`ERR_INVALID_OPTION`).
/// Without an API key (`ConnectionOptions`), the dates recorded in the registry are used.
/// (Declares the TypeScript type; the core's `CheckOptions` reads the values.)
#[napi(object, object_to_js = false)]
pub struct CheckOptions {
    /// A model within this many days of its shutdown is `failing` (default 90).
    pub within_days: Option<f64>,
    /// Path of `models.json`; default `FINE_TUNED_MODELS_PATH`, else `fine-tuned/models.json`.
    pub registry_path: Option<String>,
    /// The whole call (one request per base model) gives up after this many ms with
    /// `ERR_TIMEOUT`. Default: no bound but the requests' own.
    pub timeout_ms: Option<f64>,
    /// Aborting rejects at once with an `AbortError` (`code: "ABORT_ERR"`). Anything but a
    /// real `AbortSignal` is `ERR_INVALID_OPTION`.
    #[napi(ts_type = "AbortSignal | null")]
    pub signal: Option<AbortSignal>,
}

/// Re-reads from the API (`GET /models/{model}`'s `shutdown_date`) the shutdown date of every
/// registered model's base, and says for each whether and when it stops answering. An Azure
/// model gets Azure's dates (a dated API's models list, else Microsoft's retirement table),
/// its Developer-tier deployment's 24 hours, and, with `AZURE_ACCESS_TOKEN`, whether its
/// deployment still exists (Azure deletes one idle for 15 days): see docs/azure.md. `failing`
/// marks a model past its date or within `withinDays` (default 90) of it, or an Azure model
/// undeployed or deleted: `fine-tune doctor` exits non-zero on any. `notes` say what else to
/// know (a registry TaskForce cannot reach from one process…). Connection options as
/// `getFineTuneJob`; without an API key, the recorded dates are used.
#[napi(
    ts_args_type = "options?: CheckOptions | null",
    ts_return_type = "Promise<Array<ModelCheck>>"
)]
pub fn check_registered_models(
    env: Env,
    options: Option<Object>,
) -> Result<AsyncBlock<Json<Vec<core::lifecycle::ModelCheck>>>> {
    let cancel = core::CancellationToken::new();
    let o = crate::remote_options::<core::options::CheckOptions>(&env, options, &cancel);
    crate::settle(&env, async move {
        let o = o?;
        let timeout = o.timeout_ms;
        let call = core::lifecycle::check(o);
        core::bounded("checkRegisteredModels", timeout, &cancel, call).await
    })
}
