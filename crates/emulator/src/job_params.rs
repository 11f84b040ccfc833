//! Parsing and checking of `POST /fine_tuning/jobs` bodies: strings, suffix, seed, metadata,
//! integrations, `method` and hyperparameters (ranges from the spec), and what an Azure
//! flavour declares of them.

use crate::azure::Caps;
use crate::errors::{ApiError, ApiResult};
use rand::Rng;
use serde::Deserialize;
use serde_json::{json, Map, Value};

/// Keys of the hyperparameters per method.
pub(crate) fn hp_keys(method: &str) -> &'static [&'static str] {
    match method {
        "dpo" => &["batch_size", "beta", "learning_rate_multiplier", "n_epochs"],
        "reinforcement" => &[
            "batch_size",
            "compute_multiplier",
            "eval_interval",
            "eval_samples",
            "learning_rate_multiplier",
            "n_epochs",
            "reasoning_effort",
        ],
        _ => &["batch_size", "learning_rate_multiplier", "n_epochs"],
    }
}

/// Checks one hyperparameter value against the spec's ranges.
fn check_hp(key: &str, v: &Value, param: &str) -> ApiResult<()> {
    let bad = |what: &str| {
        Err(ApiError::invalid(
            format!("Invalid value for '{param}': expected {what}, got {v}."),
            Some(param),
        ))
    };
    if key == "reasoning_effort" {
        return match v.as_str() {
            Some("default" | "low" | "medium" | "high") => Ok(()),
            _ => bad("one of 'default', 'low', 'medium', 'high'"),
        };
    }
    if v == "auto" {
        return Ok(());
    }
    match key {
        "batch_size" => match v.as_u64() {
            Some(1..=256) => Ok(()),
            _ => bad("'auto' or an integer between 1 and 256"),
        },
        "n_epochs" => match v.as_u64() {
            Some(1..=50) => Ok(()),
            _ => bad("'auto' or an integer between 1 and 50"),
        },
        "eval_interval" | "eval_samples" => match v.as_u64() {
            Some(1..) => Ok(()),
            _ => bad("'auto' or a positive integer"),
        },
        "learning_rate_multiplier" => match v.as_f64() {
            Some(x) if x > 0.0 => Ok(()),
            _ => bad("'auto' or a number greater than 0"),
        },
        "beta" => match v.as_f64() {
            Some(x) if x > 0.0 && x <= 2.0 => Ok(()),
            _ => bad("'auto' or a number in (0, 2]"),
        },
        "compute_multiplier" => match v.as_f64() {
            Some(x) if x > 0.0 && x <= 10.0 => Ok(()),
            _ => bad("'auto' or a number in (0, 10]"),
        },
        _ => Err(ApiError::invalid(
            format!("Unrecognized hyperparameter: '{param}'."),
            Some(param),
        )),
    }
}

fn check_hps(method: &str, hp: &Map<String, Value>, prefix: &str) -> ApiResult<()> {
    for (k, v) in hp {
        let param = format!("{prefix}.{k}");
        if !hp_keys(method).contains(&k.as_str()) {
            return Err(ApiError::invalid(
                format!("Unrecognized hyperparameter: '{param}'."),
                Some(&param),
            ));
        }
        check_hp(k, v, &param)?;
    }
    Ok(())
}

#[derive(Deserialize)]
pub(crate) struct CreateJob {
    pub model: Option<Value>,
    pub training_file: Option<Value>,
    pub hyperparameters: Option<Value>,
    pub suffix: Option<Value>,
    pub validation_file: Option<Value>,
    pub integrations: Option<Value>,
    pub seed: Option<Value>,
    pub method: Option<Value>,
    pub metadata: Option<Value>,
}

/// A checked `POST /fine_tuning/jobs` body: the model not yet resolved, the files not yet read.
pub(crate) struct JobParams {
    pub model: String,
    pub training_file: String,
    pub validation_file: Option<String>,
    pub suffix: Option<String>,
    /// The given seed, else a random one.
    pub seed: i64,
    pub metadata: Option<Map<String, Value>>,
    pub integrations: Value,
    pub method_type: String,
    /// Hyperparameters as sent (`"auto"` allowed).
    pub user_hp: Map<String, Value>,
    /// Extra method fields (the reinforcement grader).
    pub method_extra: Map<String, Value>,
}

impl JobParams {
    /// Checks the body's fields one by one, as the Azure flavour `caps` (`None`: OpenAI) sees
    /// them; the first bad one is the error.
    pub(crate) fn check(mut req: CreateJob, caps: Option<&Caps>) -> ApiResult<Self> {
        if let Some(caps) = caps {
            drop_undeclared(&mut req, caps);
        }
        let model = required_string(req.model, "model")?;
        let training_file = required_string(req.training_file, "training_file")?;
        let validation_file = opt_string(req.validation_file, "validation_file")?;
        let suffix = opt_string(req.suffix, "suffix")?;
        if let Some(s) = &suffix {
            if let Some(caps) = caps {
                caps.check_suffix(s)?;
            }
            check_suffix(s)?;
        }
        let seed = check_seed(req.seed)?;
        let metadata = check_metadata(req.metadata)?;
        let integrations = check_integrations(req.integrations)?;
        let (method_type, user_hp, method_extra) = parse_method(req.method, req.hyperparameters)?;
        if let Some(caps) = caps {
            check_method_offered(caps, &method_type)?;
        }
        Ok(JobParams {
            model,
            training_file,
            validation_file,
            suffix,
            seed,
            metadata,
            integrations,
            method_type,
            user_hp,
            method_extra,
        })
    }
}

/// Drops the fields the Azure flavour does not declare (facts §2: A1021's
/// `FineTuningJobCreation` has no method/metadata/integrations; A25P no metadata). Whether
/// Azure refuses or drops them is not in facts.md: the emulator drops them, so the job has
/// none of them.
fn drop_undeclared(req: &mut CreateJob, caps: &Caps) {
    if !caps.metadata {
        req.metadata = None;
    }
    if !caps.integrations {
        req.integrations = None;
    }
    if caps.methods.is_empty() {
        req.method = None;
    }
}

/// A required string parameter.
fn required_string(v: Option<Value>, param: &str) -> ApiResult<String> {
    opt_string(v, param)?.ok_or_else(|| {
        ApiError::invalid(
            format!("Missing required parameter: '{param}'."),
            Some(param),
        )
    })
}

/// `suffix`: 1 to 64 letters, digits, `-`, `_` or `.`.
fn check_suffix(s: &str) -> ApiResult<()> {
    if s.is_empty() || s.chars().count() > 64 {
        return Err(ApiError::invalid(
            "Invalid 'suffix': string must be between 1 and 64 characters long.",
            Some("suffix"),
        ));
    }
    if !s
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    {
        return Err(ApiError::invalid(
            "Invalid 'suffix': only letters, digits, '-', '_' and '.' are allowed.",
            Some("suffix"),
        ));
    }
    Ok(())
}

/// `seed`: an integer in [0, 2147483647], random when absent.
fn check_seed(v: Option<Value>) -> ApiResult<i64> {
    match v {
        None | Some(Value::Null) => Ok(rand::rng().random_range(0..2_147_483_647i64)),
        Some(v) => v
            .as_i64()
            .filter(|s| (0..=2_147_483_647).contains(s))
            .ok_or_else(|| {
                ApiError::invalid(
                    "Invalid 'seed': expected an integer between 0 and 2147483647.",
                    Some("seed"),
                )
            }),
    }
}

/// Whether the Azure flavour offers the method (facts §2: A25P's `method.type` is
/// "dpo|supervised only").
fn check_method_offered(caps: &Caps, method_type: &str) -> ApiResult<()> {
    if caps.methods.is_empty() || caps.methods.contains(&method_type) {
        return Ok(());
    }
    Err(ApiError::invalid(
        format!(
            "Invalid 'method.type' on api-version {}: expected one of {:?}, got '{method_type}'.",
            caps.version, caps.methods
        ),
        Some("method.type"),
    ))
}

pub(crate) fn opt_string(v: Option<Value>, param: &str) -> ApiResult<Option<String>> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(ApiError::invalid(
            format!("Invalid type for '{param}': expected a string, but got {other} instead."),
            Some(param),
        )),
    }
}

pub(crate) fn check_metadata(v: Option<Value>) -> ApiResult<Option<Map<String, Value>>> {
    let m = match v {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Object(m)) => m,
        Some(_) => {
            return Err(ApiError::invalid(
                "Invalid type for 'metadata': expected an object.",
                Some("metadata"),
            ))
        }
    };
    if m.len() > 16 {
        return Err(ApiError::invalid(
            format!("Invalid 'metadata': too many properties. Expected an object with at most 16 properties, but got an object with {} properties instead.", m.len()),
            Some("metadata"),
        ));
    }
    for (k, v) in &m {
        if k.chars().count() > 64 {
            return Err(ApiError::invalid(
                format!("Invalid 'metadata': key '{k}' is longer than 64 characters."),
                Some("metadata"),
            ));
        }
        match v {
            Value::String(s) if s.chars().count() <= 512 => {}
            Value::String(_) => {
                return Err(ApiError::invalid(
                    format!("Invalid 'metadata[{k}]': string too long. Expected a string with maximum length 512."),
                    Some(&format!("metadata.{k}")),
                ))
            }
            _ => {
                return Err(ApiError::invalid(
                    format!("Invalid type for 'metadata[{k}]': expected a string."),
                    Some(&format!("metadata.{k}")),
                ))
            }
        }
    }
    Ok(Some(m))
}

pub(crate) fn check_integrations(v: Option<Value>) -> ApiResult<Value> {
    match v {
        None | Some(Value::Null) => Ok(json!([])),
        Some(Value::Array(items)) => {
            if items.len() > 5 {
                return Err(ApiError::invalid(
                    "Invalid 'integrations': at most 5 integrations.",
                    Some("integrations"),
                ));
            }
            for (i, it) in items.iter().enumerate() {
                let ok = it.get("type") == Some(&json!("wandb"))
                    && it
                        .get("wandb")
                        .and_then(|w| w.get("project"))
                        .is_some_and(Value::is_string);
                if !ok {
                    return Err(ApiError::invalid(
                        format!("Invalid 'integrations[{i}]': expected {{\"type\": \"wandb\", \"wandb\": {{\"project\": …}}}}."),
                        Some("integrations"),
                    ));
                }
            }
            Ok(Value::Array(items))
        }
        Some(_) => Err(ApiError::invalid(
            "Invalid type for 'integrations': expected an array.",
            Some("integrations"),
        )),
    }
}

/// Parsed `method` and hyperparameters: (type, user hyperparameters, extra method fields).
pub(crate) type ParsedMethod = (String, Map<String, Value>, Map<String, Value>);

/// An object parameter, empty when absent or `null`.
fn object_or_empty(v: Option<Value>, param: &str) -> ApiResult<Map<String, Value>> {
    match v {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Object(m)) => Ok(m),
        Some(_) => Err(ApiError::invalid(
            format!("Invalid type for '{param}': expected an object."),
            Some(param),
        )),
    }
}

/// `method.type`: one of the three methods.
fn method_type(method: &Map<String, Value>) -> ApiResult<String> {
    match method.get("type") {
        Some(Value::String(t)) if ["supervised", "dpo", "reinforcement"].contains(&t.as_str()) => Ok(t.clone()),
        Some(t) => Err(ApiError::invalid(
            format!("Invalid 'method.type': expected one of 'supervised', 'dpo', 'reinforcement', got {t}."),
            Some("method.type"),
        )),
        None => Err(ApiError::invalid("Missing required parameter: 'method.type'.", Some("method.type"))),
    }
}

/// The method's fields besides its hyperparameters: the grader of `reinforcement` (required).
fn method_extra(ty: &str, body: &mut Map<String, Value>) -> ApiResult<Map<String, Value>> {
    let mut extra = Map::new();
    if ty == "reinforcement" {
        match body.remove("grader") {
            Some(g @ Value::Object(_)) => {
                extra.insert("grader".into(), g);
            }
            _ => {
                return Err(ApiError::invalid(
                    "Missing required parameter: 'method.reinforcement.grader'.",
                    Some("method.reinforcement.grader"),
                ))
            }
        }
    }
    Ok(extra)
}

/// Parses `method` (or the deprecated top-level `hyperparameters`, which may not be given
/// with the method's own).
pub(crate) fn parse_method(
    method: Option<Value>,
    legacy: Option<Value>,
) -> ApiResult<ParsedMethod> {
    let legacy = object_or_empty(legacy, "hyperparameters")?;
    let Some(method) = method.filter(|m| !m.is_null()) else {
        check_hps("supervised", &legacy, "hyperparameters")?;
        return Ok(("supervised".into(), legacy, Map::new()));
    };
    let Value::Object(mut method) = method else {
        return Err(ApiError::invalid(
            "Invalid type for 'method': expected an object.",
            Some("method"),
        ));
    };
    let ty = method_type(&method)?;
    let mut body = object_or_empty(method.remove(&ty), &format!("method.{ty}"))?;
    let hp = object_or_empty(
        body.remove("hyperparameters"),
        &format!("method.{ty}.hyperparameters"),
    )?;
    if !legacy.is_empty() && !hp.is_empty() {
        return Err(ApiError::invalid(
            "Hyperparameters cannot be specified both in 'hyperparameters' and in 'method'; use 'method'.",
            Some("hyperparameters"),
        ));
    }
    let hp = if hp.is_empty() { legacy } else { hp };
    check_hps(&ty, &hp, &format!("method.{ty}.hyperparameters"))?;
    let extra = method_extra(&ty, &mut body)?;
    Ok((ty, hp, extra))
}
