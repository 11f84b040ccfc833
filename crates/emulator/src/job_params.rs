//! Parsing and checking of `POST /fine_tuning/jobs` bodies: strings, metadata, integrations,
//! `method` and hyperparameters (ranges from the spec).

use crate::errors::{ApiError, ApiResult};
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

/// Parses `method` (or the deprecated top-level `hyperparameters`).
pub(crate) fn parse_method(
    method: Option<Value>,
    legacy: Option<Value>,
) -> ApiResult<ParsedMethod> {
    let legacy = match legacy {
        None | Some(Value::Null) => None,
        Some(Value::Object(m)) => Some(m),
        Some(_) => {
            return Err(ApiError::invalid(
                "Invalid type for 'hyperparameters': expected an object.",
                Some("hyperparameters"),
            ))
        }
    };
    let Some(method) = method.filter(|m| !m.is_null()) else {
        let hp = legacy.unwrap_or_default();
        check_hps("supervised", &hp, "hyperparameters")?;
        return Ok(("supervised".into(), hp, Map::new()));
    };
    let Value::Object(mut method) = method else {
        return Err(ApiError::invalid(
            "Invalid type for 'method': expected an object.",
            Some("method"),
        ));
    };
    let ty = match method.get("type") {
        Some(Value::String(t)) if ["supervised", "dpo", "reinforcement"].contains(&t.as_str()) => t.clone(),
        Some(t) => {
            return Err(ApiError::invalid(
                format!("Invalid 'method.type': expected one of 'supervised', 'dpo', 'reinforcement', got {t}."),
                Some("method.type"),
            ))
        }
        None => return Err(ApiError::invalid("Missing required parameter: 'method.type'.", Some("method.type"))),
    };
    let mut body = match method.remove(&ty) {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(m)) => m,
        Some(_) => {
            return Err(ApiError::invalid(
                format!("Invalid type for 'method.{ty}': expected an object."),
                Some(&format!("method.{ty}")),
            ))
        }
    };
    let hp = match body.remove("hyperparameters") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(m)) => m,
        Some(_) => {
            return Err(ApiError::invalid(
                format!("Invalid type for 'method.{ty}.hyperparameters': expected an object."),
                Some(&format!("method.{ty}.hyperparameters")),
            ))
        }
    };
    if legacy.as_ref().is_some_and(|l| !l.is_empty()) && !hp.is_empty() {
        return Err(ApiError::invalid(
            "Hyperparameters cannot be specified both in 'hyperparameters' and in 'method'; use 'method'.",
            Some("hyperparameters"),
        ));
    }
    let hp = if hp.is_empty() {
        legacy.unwrap_or_default()
    } else {
        hp
    };
    check_hps(&ty, &hp, &format!("method.{ty}.hyperparameters"))?;
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
    Ok((ty, hp, extra))
}
