//! OpenAI's wire types for the Files, Uploads and fine-tuning jobs APIs, serde only. Responses
//! are read leniently (unknown fields and statuses parse); the one request with a body of its
//! own, [`CreateJobRequest`], is a typed `Serialize` so that the job body and the run's options
//! digest come from the same value.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A hyperparameter that is either chosen by OpenAI (`"auto"`) or set. Reads a number or the
/// string `"auto"`, and writes them back the same way.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Auto<T> {
    /// OpenAI chooses.
    Auto,
    /// This value.
    Value(T),
}

impl<T: Serialize> Serialize for Auto<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        match self {
            Auto::Auto => s.serialize_str("auto"),
            Auto::Value(v) => v.serialize(s),
        }
    }
}

impl<'de, T: serde::de::DeserializeOwned> Deserialize<'de> for Auto<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        use serde::de::Error as _;
        match Value::deserialize(d)? {
            Value::String(s) if s == "auto" => Ok(Auto::Auto),
            Value::String(s) => Err(D::Error::custom(format!(
                "{s:?} is not allowed; use a number or \"auto\""
            ))),
            v => T::deserialize(v)
                .map(Auto::Value)
                .map_err(|e| D::Error::custom(format!("{e}; use a number or \"auto\""))),
        }
    }
}

/// Training hyperparameters; unset ones are left to OpenAI.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hyperparameters {
    /// Epochs, 1..=50.
    #[serde(
        rename(deserialize = "nEpochs"),
        skip_serializing_if = "Option::is_none"
    )]
    pub n_epochs: Option<Auto<u32>>,
    /// Batch size, 1..=256.
    #[serde(
        rename(deserialize = "batchSize"),
        skip_serializing_if = "Option::is_none"
    )]
    pub batch_size: Option<Auto<u32>>,
    /// Learning-rate multiplier, > 0 and <= 10.
    #[serde(
        rename(deserialize = "learningRateMultiplier"),
        skip_serializing_if = "Option::is_none"
    )]
    pub learning_rate_multiplier: Option<Auto<f64>>,
    /// DPO only: beta, > 0 and <= 2.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub beta: Option<Auto<f64>>,
}

/// The fine-tuning method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// Supervised fine-tuning on chat (or completion) examples.
    #[default]
    Supervised,
    /// Direct preference optimisation on preference pairs.
    Dpo,
}

impl Method {
    /// The API's name for it.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Supervised => "supervised",
            Method::Dpo => "dpo",
        }
    }
}

/// A Weights & Biases integration: training metrics are logged to this project.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WandbIntegration {
    pub project: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entity: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
}

/// An entry of the job's `integrations` (OpenAI offers Weights & Biases only).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum Integration {
    /// `{ "type": "wandb", "wandb": { project, name?, entity?, tags? } }`.
    Wandb { wandb: WandbIntegration },
}

/// The hyperparameters of one method, as the API nests them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MethodParams {
    pub hyperparameters: Hyperparameters,
}

/// `method` of a create-job request: `{ "type": "supervised", "supervised": { … } }`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum JobMethod {
    Supervised { supervised: MethodParams },
    Dpo { dpo: MethodParams },
}

impl JobMethod {
    /// The method with its hyperparameters (beta is sent for DPO only).
    pub fn new(method: Method, mut hyperparameters: Hyperparameters) -> JobMethod {
        match method {
            Method::Supervised => {
                hyperparameters.beta = None;
                JobMethod::Supervised {
                    supervised: MethodParams { hyperparameters },
                }
            }
            Method::Dpo => JobMethod::Dpo {
                dpo: MethodParams { hyperparameters },
            },
        }
    }
}

/// The body of `POST /fine_tuning/jobs` (OpenAPI `CreateFineTuningJobRequest`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CreateJobRequest {
    pub model: String,
    pub training_file: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub validation_file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suffix: Option<String>,
    pub method: JobMethod,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<i64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub integrations: Vec<Integration>,
    pub metadata: BTreeMap<String, String>,
}

/// An OpenAI File object (the fields we read; others are ignored).
#[derive(Debug, Clone, Deserialize)]
pub struct FileObject {
    pub id: String,
    #[serde(default)]
    pub bytes: Option<i64>,
    #[serde(default)]
    pub filename: Option<String>,
    #[serde(default)]
    pub purpose: Option<String>,
    /// Deprecated by OpenAI, but still sent: `uploaded`, `processed`, `error` (Azure: `pending`, `running`).
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub status_details: Option<String>,
}

/// The body of `POST /uploads`.
#[derive(Debug, Clone, Serialize)]
pub struct CreateUploadRequest<'a> {
    pub filename: &'a str,
    pub purpose: &'a str,
    pub bytes: u64,
    pub mime_type: &'a str,
}

/// An Upload of the Uploads API (large files in parts).
#[derive(Debug, Clone, Deserialize)]
pub struct Upload {
    pub id: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub expires_at: Option<i64>,
    #[serde(default)]
    pub file: Option<FileObject>,
}

/// A part of an Upload.
#[derive(Debug, Clone, Deserialize)]
pub struct UploadPart {
    pub id: String,
}

/// A fine-tuning job (lenient: `error: {}`, missing `hyperparameters`, extra fields and unknown
/// statuses all parse).
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Job {
    pub id: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub fine_tuned_model: Option<String>,
    #[serde(default)]
    pub error: Option<Value>,
    #[serde(default)]
    /// Signed: the spec does not bound it (a negative count is read, and dropped where used).
    pub trained_tokens: Option<i64>,
    #[serde(default)]
    pub created_at: Option<i64>,
    #[serde(default)]
    pub finished_at: Option<i64>,
    #[serde(default)]
    pub estimated_finish: Option<i64>,
    #[serde(default)]
    pub result_files: Vec<String>,
    #[serde(default)]
    pub training_file: Option<String>,
    #[serde(default)]
    pub validation_file: Option<String>,
    #[serde(default)]
    pub metadata: Option<Value>,
    #[serde(default)]
    pub hyperparameters: Option<Value>,
    #[serde(default)]
    pub method: Option<Value>,
}

impl Job {
    /// `succeeded`, `failed` and `cancelled` are final; anything else (including statuses we
    /// do not know, such as `paused`) is not.
    pub fn is_final(&self) -> bool {
        matches!(self.status.as_str(), "succeeded" | "failed" | "cancelled")
    }

    /// OpenAI's `error.code`, `error.message` and `error.param`, when the error object is not
    /// empty.
    pub fn error_parts(&self) -> Option<(Option<String>, Option<String>, Option<String>)> {
        let e = self.error.as_ref()?.as_object()?;
        let s = |k: &str| e.get(k).and_then(Value::as_str).map(str::to_string);
        let parts = (s("code"), s("message"), s("param"));
        if parts.0.is_none() && parts.1.is_none() {
            None
        } else {
            Some(parts)
        }
    }

    /// The job's `metadata[key]`.
    pub fn metadata_value(&self, key: &str) -> Option<&str> {
        self.metadata.as_ref()?.get(key)?.as_str()
    }

    /// The method the job ran (its `method.type`; `supervised` when the API does not say).
    pub fn method_name(&self) -> &str {
        self.method
            .as_ref()
            .and_then(|m| m.get("type"))
            .and_then(Value::as_str)
            .unwrap_or("supervised")
    }

    /// The hyperparameters the job ran with (under its method, named as the API names it,
    /// else the deprecated top-level field).
    pub fn hyperparameters_used(&self, method: &str) -> Option<Value> {
        self.method
            .as_ref()
            .and_then(|m| m.get(method))
            .and_then(|m| m.get("hyperparameters"))
            .cloned()
            .or_else(|| self.hyperparameters.clone())
    }
}

/// A job event.
#[derive(Debug, Clone, Deserialize)]
pub struct JobEvent {
    pub id: String,
    #[serde(default)]
    pub created_at: Option<i64>,
    #[serde(default)]
    pub level: Option<String>,
    #[serde(default)]
    pub message: String,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub data: Option<Value>,
}

/// A page of a list endpoint.
#[derive(Debug, Deserialize)]
pub struct List<T> {
    pub data: Vec<T>,
    #[serde(default)]
    pub has_more: bool,
}

/// A job request with every field set (suffix `w`, seed 7, a W&B integration), for the tests
/// of its body here and of each Azure version's body (`calc::azure_api`).
#[cfg(test)]
pub(crate) fn sample_job_request(method: Method) -> CreateJobRequest {
    CreateJobRequest {
        model: "gpt-4o-mini-2024-07-18".into(),
        training_file: "file-1".into(),
        validation_file: None,
        suffix: Some("w".into()),
        method: JobMethod::new(method, Hyperparameters::default()),
        seed: Some(7),
        integrations: vec![Integration::Wandb {
            wandb: WandbIntegration {
                project: "p".into(),
                ..Default::default()
            },
        }],
        metadata: BTreeMap::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lenient_job_parsing() {
        let j: Job = serde_json::from_value(json!({
            "id": "ftjob-1", "status": "paused", "error": {}, "extra": [1, 2]
        }))
        .unwrap();
        assert!(!j.is_final());
        assert!(j.error_parts().is_none());
        let j: Job = serde_json::from_value(json!({
            "id": "ftjob-1", "status": "failed", "error": null
        }))
        .unwrap();
        assert!(j.is_final());
    }

    #[test]
    fn create_job_body_has_the_api_shape() {
        let mut body = sample_job_request(Method::Dpo);
        body.method = JobMethod::new(
            Method::Dpo,
            Hyperparameters {
                n_epochs: Some(Auto::Value(2)),
                beta: Some(Auto::Auto),
                ..Default::default()
            },
        );
        body.metadata = BTreeMap::from([("run_id".to_string(), "r".to_string())]);
        assert_eq!(
            serde_json::to_value(&body).unwrap(),
            json!({
                "model": "gpt-4o-mini-2024-07-18",
                "training_file": "file-1",
                "suffix": "w",
                "method": {"type": "dpo", "dpo": {"hyperparameters": {"n_epochs": 2, "beta": "auto"}}},
                "seed": 7,
                "integrations": [{"type": "wandb", "wandb": {"project": "p"}}],
                "metadata": {"run_id": "r"}
            })
        );
        // Supervised never sends beta.
        let m = JobMethod::new(
            Method::Supervised,
            Hyperparameters {
                beta: Some(Auto::Value(0.1)),
                ..Default::default()
            },
        );
        assert_eq!(
            serde_json::to_value(m).unwrap(),
            json!({"type": "supervised", "supervised": {"hyperparameters": {}}})
        );
    }

    #[test]
    fn auto_reads_numbers_and_auto_only() {
        let h: Hyperparameters =
            serde_json::from_value(json!({"nEpochs": "auto", "batchSize": 4})).unwrap();
        assert_eq!(h.n_epochs, Some(Auto::Auto));
        assert_eq!(h.batch_size, Some(Auto::Value(4)));
        assert!(serde_json::from_value::<Hyperparameters>(json!({"nEpochs": "many"})).is_err());
        assert!(serde_json::from_value::<Hyperparameters>(json!({"nEpochs": 1.5})).is_err());
        assert!(serde_json::from_value::<Hyperparameters>(json!({"epochs": 1})).is_err());
    }
}
