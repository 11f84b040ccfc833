//! Conversions between JavaScript values and the core's types, and the one place where core
//! errors become JavaScript errors.

use std::collections::BTreeMap;

use napi::bindgen_prelude::*;

use crate::HyperparameterOptions;
use fine_tune_core as core;
use fine_tune_core::{Auto, ErrorCode};

/// An option as JavaScript passed it: missing (`undefined`/`null`), a value, or a value of the
/// wrong type. Lets the core report `ERR_MISSING_OPTION`/`ERR_INVALID_OPTION` itself instead of
/// napi's generic conversion errors.
pub enum Field<T> {
    Missing,
    Value(T),
    WrongType(String),
}

/// The JavaScript type an option must have (`None`: any).
pub trait Expected {
    const TYPE: Option<ValueType>;
}
impl Expected for String {
    const TYPE: Option<ValueType> = Some(ValueType::String);
}
impl Expected for f64 {
    const TYPE: Option<ValueType> = Some(ValueType::Number);
}
impl Expected for bool {
    const TYPE: Option<ValueType> = Some(ValueType::Boolean);
}
impl Expected for serde_json::Value {
    const TYPE: Option<ValueType> = None;
}

impl<T: Expected> TypeName for Field<T> {
    fn type_name() -> &'static str {
        "Field"
    }
    fn value_type() -> ValueType {
        T::TYPE.unwrap_or(ValueType::Unknown)
    }
}

impl<T: Expected> ValidateNapiValue for Field<T> {}

impl<T: FromNapiValue + Expected> FromNapiValue for Field<T> {
    unsafe fn from_napi_value(env: sys::napi_env, v: sys::napi_value) -> Result<Self> {
        let mut t = 0;
        unsafe { sys::napi_typeof(env, v, &mut t) };
        if t == sys::ValueType::napi_undefined || t == sys::ValueType::napi_null {
            return Ok(Field::Missing);
        }
        let got = ValueType::from(t);
        if let Some(want) = T::TYPE {
            if got != want {
                return Ok(Field::WrongType(format!("expected a {want}, got a {got}")));
            }
        }
        match unsafe { T::from_napi_value(env, v) } {
            Ok(v) => Ok(Field::Value(v)),
            Err(e) => Ok(Field::WrongType(e.reason.clone())),
        }
    }
}

fn wrong(name: &str, why: &str) -> core::Error {
    core::Error::new(ErrorCode::InvalidOption, format!("option {name}: {why}")).with_param(name)
}

/// A required string: missing ones become "" (the core names every missing field at once).
pub fn required(name: &str, f: Field<String>) -> core::Result<String> {
    match f {
        Field::Missing => Ok(String::new()),
        Field::Value(v) => Ok(v),
        Field::WrongType(w) => Err(wrong(name, &w)),
    }
}

/// An optional value.
pub fn optional<T>(name: &str, f: Option<Field<T>>) -> core::Result<Option<T>> {
    match f {
        None | Some(Field::Missing) => Ok(None),
        Some(Field::Value(v)) => Ok(Some(v)),
        Some(Field::WrongType(w)) => Err(wrong(name, &w)),
    }
}

/// An optional whole number of at least 0 (JS numbers are doubles).
pub fn whole(name: &str, f: Option<Field<f64>>) -> core::Result<Option<u64>> {
    match optional(name, f)? {
        None => Ok(None),
        Some(x) if x.is_finite() && x >= 0.0 && x.fract() == 0.0 && x <= 9.007e15 => {
            Ok(Some(x as u64))
        }
        Some(x) => Err(wrong(
            name,
            &format!("{x} is not a whole number of 0 or more"),
        )),
    }
}

fn auto_u32(name: &str, f: Option<Field<serde_json::Value>>) -> core::Result<Option<Auto<u32>>> {
    match optional(name, f)? {
        None => Ok(None),
        Some(serde_json::Value::String(s)) if s == "auto" => Ok(Some(Auto::Auto)),
        Some(serde_json::Value::Number(n)) => match n.as_f64() {
            Some(x) if x.fract() == 0.0 && x >= 0.0 && x <= u32::MAX as f64 => {
                Ok(Some(Auto::Value(x as u32)))
            }
            _ => Err(wrong(
                name,
                &format!("{n} is not an allowed value; use a whole number or \"auto\""),
            )),
        },
        Some(v) => Err(wrong(name, &format!("{v} is not a number or \"auto\""))),
    }
}

fn auto_f64(name: &str, f: Option<Field<serde_json::Value>>) -> core::Result<Option<Auto<f64>>> {
    match optional(name, f)? {
        None => Ok(None),
        Some(serde_json::Value::String(s)) if s == "auto" => Ok(Some(Auto::Auto)),
        Some(serde_json::Value::Number(n)) => Ok(n.as_f64().map(Auto::Value)),
        Some(v) => Err(wrong(name, &format!("{v} is not a number or \"auto\""))),
    }
}

/// The optional fields of the pipeline's options.
#[derive(Default)]
pub struct Optional {
    pub validation: Option<Field<String>>,
    pub suffix: Option<Field<String>>,
    pub api_key: Option<Field<String>>,
    pub base_url: Option<Field<String>>,
    pub organization: Option<Field<String>>,
    pub project: Option<Field<String>>,
    pub azure_endpoint: Option<Field<String>>,
    pub api_version: Option<Field<String>>,
    pub registry_path: Option<Field<String>>,
    pub poll_interval_ms: Option<Field<f64>>,
    pub timeout_ms: Option<Field<f64>>,
    pub max_retries: Option<Field<f64>>,
    pub max_download_bytes: Option<Field<f64>>,
    pub upload_threshold_bytes: Option<Field<f64>>,
    pub upload_part_bytes: Option<Field<f64>>,
    pub cancel_on_abort: Option<Field<bool>>,
    pub hyperparameters: Option<HyperparameterOptions>,
    pub method: Option<Field<String>>,
    pub seed: Option<Field<f64>>,
    pub metadata: Option<Field<serde_json::Value>>,
    pub integrations: Option<Field<serde_json::Value>>,
}

/// Builds the core's options; type errors become `ERR_INVALID_OPTION` naming the option.
pub fn train_options(
    agent_name: Field<String>,
    model_key: Field<String>,
    base_model: Field<String>,
    source: Field<String>,
    o: Optional,
) -> core::Result<core::TrainOptions> {
    let hp = o
        .hyperparameters
        .map(|h| -> core::Result<core::Hyperparameters> {
            Ok(core::Hyperparameters {
                n_epochs: auto_u32("hyperparameters.nEpochs", h.n_epochs)?,
                batch_size: auto_u32("hyperparameters.batchSize", h.batch_size)?,
                learning_rate_multiplier: auto_f64(
                    "hyperparameters.learningRateMultiplier",
                    h.learning_rate_multiplier,
                )?,
                beta: auto_f64("hyperparameters.beta", h.beta)?,
            })
        });
    let method = match optional("method", o.method)?.as_deref() {
        None | Some("supervised") => core::Method::Supervised,
        Some("dpo") => core::Method::Dpo,
        Some(other) => {
            return Err(wrong(
                "method",
                &format!("{other:?} is not supported; use \"supervised\" or \"dpo\""),
            ))
        }
    };
    let seed = match optional("seed", o.seed)? {
        None => None,
        Some(x) if x.fract() == 0.0 && x.is_finite() => Some(x as i64),
        Some(x) => return Err(wrong("seed", &format!("{x} is not a whole number"))),
    };
    let mut metadata = BTreeMap::new();
    match optional("metadata", o.metadata)? {
        None => {}
        Some(serde_json::Value::Object(m)) => {
            for (k, v) in m {
                match v {
                    serde_json::Value::String(s) => {
                        metadata.insert(k, s);
                    }
                    other => {
                        return Err(wrong(
                            "metadata",
                            &format!("the value of {k:?} must be a string, got {other}"),
                        ))
                    }
                }
            }
        }
        Some(_) => return Err(wrong("metadata", "expected an object of strings")),
    }
    let integrations = match optional("integrations", o.integrations)? {
        None => Vec::new(),
        Some(v) => wandb_integrations(v)?,
    };
    Ok(core::TrainOptions {
        agent_name: required("agentName", agent_name)?,
        model_key: required("modelKey", model_key)?,
        base_model: required("baseModel", base_model)?,
        source: required("source", source)?,
        validation: optional("validation", o.validation)?,
        suffix: optional("suffix", o.suffix)?,
        api_key: optional("apiKey", o.api_key)?,
        base_url: optional("baseUrl", o.base_url)?,
        organization: optional("organization", o.organization)?,
        project: optional("project", o.project)?,
        azure_endpoint: optional("azureEndpoint", o.azure_endpoint)?,
        api_version: optional("apiVersion", o.api_version)?,
        registry_path: optional("registryPath", o.registry_path)?,
        poll_interval_ms: whole("pollIntervalMs", o.poll_interval_ms)?,
        timeout_ms: whole("timeoutMs", o.timeout_ms)?,
        max_retries: whole("maxRetries", o.max_retries)?.map(|n| n.min(u32::MAX as u64) as u32),
        max_download_bytes: whole("maxDownloadBytes", o.max_download_bytes)?,
        upload_threshold_bytes: whole("uploadThresholdBytes", o.upload_threshold_bytes)?,
        upload_part_bytes: whole("uploadPartBytes", o.upload_part_bytes)?,
        cancel_on_abort: optional("cancelOnAbort", o.cancel_on_abort)?.unwrap_or(false),
        hyperparameters: hp.transpose()?.unwrap_or_default(),
        method,
        seed,
        metadata,
        integrations,
    })
}

fn wandb_integrations(v: serde_json::Value) -> core::Result<Vec<core::options::WandbIntegration>> {
    let serde_json::Value::Array(items) = v else {
        return Err(wrong("integrations", "expected an array"));
    };
    items
        .into_iter()
        .enumerate()
        .map(|(i, item)| {
            if item.get("type").and_then(|t| t.as_str()) != Some("wandb") {
                return Err(wrong(
                    "integrations",
                    &format!("integrations[{i}].type must be \"wandb\" (the only integration OpenAI offers)"),
                ));
            }
            let w = item.get("wandb").cloned().unwrap_or_default();
            let s = |k: &str| w.get(k).and_then(|x| x.as_str()).map(str::to_string);
            let tags = match w.get("tags") {
                None | Some(serde_json::Value::Null) => Vec::new(),
                Some(serde_json::Value::Array(t)) => t
                    .iter()
                    .map(|x| {
                        x.as_str().map(str::to_string).ok_or_else(|| {
                            wrong("integrations", &format!("integrations[{i}].wandb.tags must be strings"))
                        })
                    })
                    .collect::<core::Result<_>>()?,
                Some(_) => {
                    return Err(wrong(
                        "integrations",
                        &format!("integrations[{i}].wandb.tags must be an array of strings"),
                    ))
                }
            };
            Ok(core::options::WandbIntegration {
                project: s("project").unwrap_or_default(),
                name: s("name"),
                entity: s("entity"),
                tags,
            })
        })
        .collect()
}

/// The one place a core error becomes a JavaScript `Error`: `code`, `message`, and where they
/// apply `status`, `requestId`, `jobId`, `apiCode`, `apiType`, `param` and `report`. An abort
/// becomes an `AbortError` with `code: "ABORT_ERR"`, like Node's own.
pub fn core_error_to_js(env: &Env, e: core::Error) -> Error {
    let build = || -> Result<Error> {
        let mut obj = env.create_error(Error::new(Status::GenericFailure, e.message.clone()))?;
        obj.set_named_property("code", e.code.as_str())?;
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
            obj.set_named_property("report", env.to_js_value(r)?)?;
        }
        Ok(Error::from(obj.into_unknown(env)?))
    };
    build().unwrap_or_else(|_| Error::new(Status::GenericFailure, e.to_string()))
}
