//! Conversions between JavaScript values and the core's types: outputs cross as the core's own
//! serde types ([`Json`]), and this is the one place where core errors become JavaScript errors.

use napi::bindgen_prelude::*;
use napi_derive::napi;
use serde::Serialize;
use serde_json::Value;

use fine_tune_core as core;
use fine_tune_core::ErrorCode;

/// A core value handed to JavaScript as it serializes (`env.to_js_value`): camelCase keys,
/// `null` for `None`. Its TypeScript type is generated from the same Rust type
/// (`tests/typescript.rs`), so the two cannot drift apart.
pub struct Json<T>(pub T);

impl<T: Serialize> ToNapiValue for Json<T> {
    unsafe fn to_napi_value(env: napi::sys::napi_env, val: Self) -> Result<napi::sys::napi_value> {
        let env = Env::from_raw(env);
        Ok(to_js(&env, &val.0)?.raw())
    }
}

impl<T> From<T> for Json<T> {
    fn from(v: T) -> Self {
        Json(v)
    }
}

/// `value` as a JavaScript value. Every number is a JavaScript number: napi's serializer makes a
/// `BigInt` of an integer above `u32::MAX` (a byte count of a 5 GB file), so such integers go
/// through JSON as floats first.
pub fn to_js<'e, T: Serialize>(env: &'e Env, value: &T) -> Result<Unknown<'e>> {
    let mut v = serde_json::to_value(value)
        .map_err(|e| Error::new(Status::GenericFailure, e.to_string()))?;
    as_numbers(&mut v);
    env.to_js_value(&v)
}

fn as_numbers(v: &mut Value) {
    match v {
        Value::Number(n) if n.as_u64().is_some_and(|u| u > u32::MAX.into()) => {
            if let Some(f) = n.as_f64().and_then(serde_json::Number::from_f64) {
                *n = f;
            }
        }
        Value::Array(a) => a.iter_mut().for_each(as_numbers),
        Value::Object(o) => o.values_mut().for_each(as_numbers),
        _ => {}
    }
}

/// Reads a JavaScript options object as JSON for the core to deserialize, leaving out `skip`
/// (callbacks and signals, read apart); see [`crate::read`] for what is refused.
pub fn options_json(env: &Env, obj: Option<&Object>, skip: &[&str]) -> core::Result<Value> {
    crate::read::options_json(env, obj, skip)
}

/// Reads an optional property of JavaScript type `want` as `T` (`undefined`/`null`: absent);
/// a getter that throws or a value of another type is `ERR_INVALID_OPTION` naming `key`.
pub fn optional_property<T: FromNapiValue>(
    env: &Env,
    obj: Option<&Object>,
    key: &str,
    want: ValueType,
) -> core::Result<Option<T>> {
    let Some(obj) = obj else {
        return Ok(None);
    };
    let v = crate::read::property(env, obj, key)?;
    let wrong = |why: String| {
        core::Error::new(ErrorCode::InvalidOption, format!("option {key}: {why}")).with_param(key)
    };
    match crate::read::type_of(env, v, key)? {
        ValueType::Undefined | ValueType::Null => Ok(None),
        t if t != want => Err(wrong(format!(
            "expected a {}, got a {}",
            want.to_string().to_lowercase(),
            t.to_string().to_lowercase()
        ))),
        _ => unsafe { T::from_napi_value(env.raw(), v) }
            .map(Some)
            .map_err(|e| wrong(e.reason.clone())),
    }
}

/// The stable codes of `FineTuneError.code`, as the README's error table lists them.
#[napi(string_enum)]
pub enum FineTuneErrorCode {
    /// A required option is missing or empty.
    #[napi(value = "ERR_MISSING_OPTION")]
    MissingOption,
    /// An option has a value that is not allowed.
    #[napi(value = "ERR_INVALID_OPTION")]
    InvalidOption,
    /// The modelKey is already registered.
    #[napi(value = "ERR_DUPLICATE_MODEL_KEY")]
    DuplicateModelKey,
    /// The base model is not an OpenAI model.
    #[napi(value = "ERR_UNSUPPORTED_BASE_MODEL")]
    UnsupportedBaseModel,
    /// No API key was given and none is in the environment.
    #[napi(value = "ERR_MISSING_API_KEY")]
    MissingApiKey,
    /// A local training or validation file does not exist or cannot be read.
    #[napi(value = "ERR_SOURCE_NOT_FOUND")]
    SourceNotFound,
    /// A URL source could not be downloaded (bad status, HTML page, network, too large).
    #[napi(value = "ERR_SOURCE_FETCH")]
    SourceFetch,
    /// The training data breaks OpenAI's rules.
    #[napi(value = "ERR_INVALID_TRAINING_DATA")]
    InvalidTrainingData,
    /// The registry file exists but is not a JSON object.
    #[napi(value = "ERR_REGISTRY_CORRUPT")]
    RegistryCorrupt,
    /// The registry could not be read or written.
    #[napi(value = "ERR_REGISTRY_IO")]
    RegistryIo,
    /// The API refused the key (401/403).
    #[napi(value = "ERR_AUTHENTICATION")]
    Authentication,
    /// Rate limited, and retries did not help.
    #[napi(value = "ERR_RATE_LIMITED")]
    RateLimited,
    /// The account is out of quota, or a daily limit is reached (not retried).
    #[napi(value = "ERR_QUOTA")]
    Quota,
    /// Any other error answer of the API.
    #[napi(value = "ERR_API")]
    Api,
    /// The API could not be reached.
    #[napi(value = "ERR_NETWORK")]
    Network,
    /// The fine-tuning job failed.
    #[napi(value = "ERR_JOB_FAILED")]
    JobFailed,
    /// The fine-tuning job was cancelled.
    #[napi(value = "ERR_JOB_CANCELLED")]
    JobCancelled,
    /// The job did not finish within `timeoutMs`; it keeps running.
    #[napi(value = "ERR_TIMEOUT")]
    Timeout,
    /// Another run for this modelKey is in flight (another process, or different options).
    #[napi(value = "ERR_MODEL_KEY_IN_PROGRESS")]
    ModelKeyInProgress,
    /// Nothing is known about the modelKey (e.g. `cancelFineTune` of a key with no run).
    #[napi(value = "ERR_NOT_FOUND")]
    NotFound,
    /// A job to import has not finished yet.
    #[napi(value = "ERR_JOB_NOT_FINISHED")]
    JobNotFinished,
    /// An evaluation's estimated cost is above `maxCostUsd` (or cannot be estimated).
    #[napi(value = "ERR_COST_LIMIT")]
    CostLimit,
    /// The call was aborted through its `AbortSignal`.
    #[napi(value = "ABORT_ERR")]
    Aborted,
    /// OpenAI refused to create the job: self-serve fine-tuning is no longer available to the
    /// organization (OpenAI's fine-tuning wind-down). Not retried; the run's uploads are deleted.
    #[napi(value = "ERR_FINE_TUNING_UNAVAILABLE")]
    FineTuningUnavailable,
    /// The Azure deployment of the fine-tuned model failed (calling again retries it).
    #[napi(value = "ERR_DEPLOYMENT_FAILED")]
    DeploymentFailed,
    /// A bug or an unexpected local failure.
    #[napi(value = "ERR_INTERNAL")]
    Internal,
}

impl From<ErrorCode> for FineTuneErrorCode {
    /// Exhaustive, so a new core code fails to compile until it has its JavaScript name.
    fn from(c: ErrorCode) -> Self {
        use ErrorCode as E;
        use FineTuneErrorCode as C;
        match c {
            E::MissingOption => C::MissingOption,
            E::InvalidOption => C::InvalidOption,
            E::DuplicateModelKey => C::DuplicateModelKey,
            E::UnsupportedBaseModel => C::UnsupportedBaseModel,
            E::MissingApiKey => C::MissingApiKey,
            E::SourceNotFound => C::SourceNotFound,
            E::SourceFetch => C::SourceFetch,
            E::InvalidTrainingData => C::InvalidTrainingData,
            E::RegistryCorrupt => C::RegistryCorrupt,
            E::RegistryIo => C::RegistryIo,
            E::Authentication => C::Authentication,
            E::RateLimited => C::RateLimited,
            E::Quota => C::Quota,
            E::Api => C::Api,
            E::Network => C::Network,
            E::JobFailed => C::JobFailed,
            E::JobCancelled => C::JobCancelled,
            E::Timeout => C::Timeout,
            E::ModelKeyInProgress => C::ModelKeyInProgress,
            E::NotFound => C::NotFound,
            E::JobNotFinished => C::JobNotFinished,
            E::CostLimit => C::CostLimit,
            E::Aborted => C::Aborted,
            E::FineTuningUnavailable => C::FineTuningUnavailable,
            E::DeploymentFailed => C::DeploymentFailed,
            E::Internal => C::Internal,
        }
    }
}

/// Whether `e` is an error of this package (a `FineTuneError`): an `Error` whose `code` is one
/// of `FineTuneErrorCode`. Narrows the type in TypeScript.
#[napi(ts_args_type = "e: unknown", ts_return_type = "e is FineTuneError")]
pub fn is_fine_tune_error(env: Env, e: Unknown) -> bool {
    let Ok(obj) = Object::from_unknown(e) else {
        return false;
    };
    let is_error = obj.is_error().unwrap_or(false);
    // Read like any caller's value: a `code` getter that throws means "no" (its exception is
    // cleared), it does not throw out of this function.
    let code = crate::read::property(&env, &obj, "code")
        .ok()
        .and_then(|v| crate::read::string_arg(&env, v, "code").ok());
    is_error && code.is_some_and(|c| ErrorCode::parse(&c).is_some())
}

/// The one place a core error becomes a JavaScript `Error`: `code`, `message`, and where they
/// apply `status`, `requestId`, `jobId`, `apiCode`, `apiType`, `param` and `report`. An abort
/// becomes an `AbortError` with `code: "ABORT_ERR"`, like Node's own.
pub fn core_error_to_js(env: &Env, e: core::Error) -> Error {
    let build = || -> Result<Error> {
        let mut obj = env.create_error(Error::new(Status::GenericFailure, e.message.clone()))?;
        obj.set_named_property("code", FineTuneErrorCode::from(e.code))?;
        if e.is_abort() {
            obj.set_named_property("name", "AbortError")?;
        }
        if let Some(s) = e.status {
            obj.set_named_property("status", s as u32)?;
        }
        if let Some(v) = &e.request_id {
            obj.set_named_property("requestId", v.as_str())?;
        }
        if let Some(v) = &e.job_id {
            obj.set_named_property("jobId", v.as_str())?;
        }
        if let Some(v) = &e.api_code {
            obj.set_named_property("apiCode", v.as_str())?;
        }
        if let Some(v) = &e.api_type {
            obj.set_named_property("apiType", v.as_str())?;
        }
        if let Some(v) = &e.param {
            obj.set_named_property("param", v.as_str())?;
        }
        if let Some(r) = &e.report {
            obj.set_named_property("report", to_js(env, r)?)?;
        }
        Ok(Error::from(obj.into_unknown(env)?))
    };
    build().unwrap_or_else(|_| Error::new(Status::GenericFailure, e.to_string()))
}
