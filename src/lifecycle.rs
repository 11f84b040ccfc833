//! Lifecycle exports: `pauseFineTune`, `resumeFineTune`, `checkRegisteredModels`.

use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::registry::{on_job, FineTuneJob, StopsAnswering};
use fine_tune_core as core;

/// One registered model, as `checkRegisteredModels` found it.
#[napi(object, object_from_js = false)]
pub struct ModelCheck {
    pub model_key: String,
    pub agent_name: Option<String>,
    /// The model the agent's client sends.
    pub model: String,
    /// The model whose shutdown date applies (the fine-tuned model's base).
    pub base_model: String,
    /// The base model's shutdown date as the API gives it now (else as recorded).
    pub base_shutdown_date: Option<String>,
    /// The date was read from the API now (`false`: the recorded one, or none).
    pub refreshed: bool,
    pub stops_answering: StopsAnswering,
    /// Past its date, within the window, or undeployed: `fine-tune doctor` exits non-zero.
    pub failing: bool,
    /// Other facts (Azure's rule for idle deployments…).
    pub notes: Vec<String>,
}

impl From<core::lifecycle::ModelCheck> for ModelCheck {
    fn from(c: core::lifecycle::ModelCheck) -> Self {
        let core::lifecycle::ModelCheck {
            model_key,
            agent_name,
            model,
            base_model,
            base_shutdown_date,
            refreshed,
            stops_answering,
            failing,
            notes,
        } = c;
        ModelCheck {
            model_key,
            agent_name,
            model,
            base_model,
            base_shutdown_date,
            refreshed,
            stops_answering: stops_answering.into(),
            failing,
            notes,
        }
    }
}

/// A list of checks, for `settle`.
pub struct ModelChecks(Vec<ModelCheck>);

impl From<Vec<core::lifecycle::ModelCheck>> for ModelChecks {
    fn from(v: Vec<core::lifecycle::ModelCheck>) -> Self {
        ModelChecks(v.into_iter().map(Into::into).collect())
    }
}

impl ToNapiValue for ModelChecks {
    unsafe fn to_napi_value(env: napi::sys::napi_env, val: Self) -> Result<napi::sys::napi_value> {
        Vec::<ModelCheck>::to_napi_value(env, val.0)
    }
}

/// Pauses the fine-tuning job of a modelKey (its run in flight, else its registered entry) or
/// of a job id (`POST /fine_tuning/jobs/{id}/pause`). A call waiting for the job keeps
/// waiting (a paused job is not final). Resolves to the job (status `paused`).
#[napi(
    ts_args_type = "modelKeyOrJobId: string, options?: CancelOptions | null",
    ts_return_type = "Promise<FineTuneJob>"
)]
pub fn pause_fine_tune(
    env: Env,
    model_key_or_job_id: Unknown,
    options: Option<Object>,
) -> Result<AsyncBlock<FineTuneJob>> {
    on_job(
        &env,
        model_key_or_job_id,
        options,
        |k, path, conn| async move { core::pause_fine_tune(&k, path, conn).await },
    )
}

/// Resumes a paused fine-tuning job (see `pauseFineTune`).
#[napi(
    ts_args_type = "modelKeyOrJobId: string, options?: CancelOptions | null",
    ts_return_type = "Promise<FineTuneJob>"
)]
pub fn resume_fine_tune(
    env: Env,
    model_key_or_job_id: Unknown,
    options: Option<Object>,
) -> Result<AsyncBlock<FineTuneJob>> {
    on_job(
        &env,
        model_key_or_job_id,
        options,
        |k, path, conn| async move { core::resume_fine_tune(&k, path, conn).await },
    )
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
    ts_args_type = "options?: (CancelOptions & { withinDays?: number | null }) | null",
    ts_return_type = "Promise<ModelCheck[]>"
)]
pub fn check_registered_models(
    env: Env,
    options: Option<Object>,
) -> Result<AsyncBlock<ModelChecks>> {
    let o = crate::read::options_object(&env, options).and_then(|o| {
        let mut json = crate::convert::options_json(&env, o.as_ref(), &[])?;
        let within = json.as_object_mut().and_then(|m| m.remove("withinDays"));
        let remote =
            core::options::from_json_object::<core::options::RemoteOptions>(json, "options")?;
        Ok((remote, within))
    });
    crate::settle(&env, async move {
        let (remote, within) = o?;
        let (registry_path, conn) = remote.split();
        let within = match within {
            None => None,
            Some(d) => Some(d.as_f64().ok_or_else(|| {
                core::Error::new(
                    core::ErrorCode::InvalidOption,
                    format!("withinDays must be a number of days from 0, got {d}"),
                )
                .with_param("withinDays")
            })?),
        };
        let within = match within {
            Some(d) if d >= 0.0 => d as i64,
            Some(d) => {
                return Err(core::Error::new(
                    core::ErrorCode::InvalidOption,
                    format!("withinDays must be a number of days from 0, got {d}"),
                )
                .with_param("withinDays"))
            }
            None => core::lifecycle::WARN_WITHIN_DAYS,
        };
        core::check_registered_models(registry_path, conn, within).await
    })
}
