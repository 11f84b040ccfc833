//! The registry's entry, in TaskForce's shape: what `models.json` holds for one modelKey.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// One entry of `models.json`, keyed by its modelKey: `model` is what TaskForce's loader reads,
/// `fineTune` how this library trained it. Fields this type does not know (TaskForce's own, a
/// user's hand edits) are kept in `extra` at every level and written back as they were.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegistryEntry {
    #[serde(default)]
    pub model: ModelRef,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fine_tune: Option<FineTuneRecord>,
    /// Every version of the key once it has more than one (see `infra::versions`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub versions: Vec<ModelVersion>,
    /// The models that were current before this one, most recent last (what
    /// `rollbackModel` goes back to).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub previous: Vec<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A model as TaskForce's loader reads it (`models.json[modelKey].model`): the one shape a
/// model has wherever this package returns one.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(rename = "RegistryModel"))]
#[serde(rename_all = "camelCase")]
pub struct ModelRef {
    /// The model an agent's client sends: the fine-tuned model's id (`ft:…`), or an Azure
    /// deployment's name.
    #[serde(default)]
    pub name: String,
    /// `openai` (Azure OpenAI speaks OpenAI's API).
    #[serde(default)]
    pub provider: String,
    /// Whether the model takes tools.
    #[serde(default)]
    pub supports_tools: bool,
    /// The model's context window, in tokens.
    #[serde(default)]
    pub max_context_tokens: u64,
    /// Where the model answers, when not at OpenAI: Azure OpenAI's v1 base URL (never a
    /// secret; the key comes from the environment).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    /// The environment variable that holds the key for `baseUrl` (Azure:
    /// `AZURE_OPENAI_API_KEY`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_env: Option<String>,
    /// Fields this library does not know (TaskForce's own, hand edits), kept as they were.
    #[serde(flatten)]
    #[cfg_attr(feature = "ts", ts(skip))]
    pub extra: Map<String, Value>,
}

/// How a registered model was fine-tuned (`models.json[modelKey].fineTune`). Empty fields are
/// left out when written, so an entry read from the file is written back as it was; the
/// declared types are what this library writes (a hand-edited file may hold anything).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct FineTuneRecord {
    /// The agent it was fine-tuned for.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub agent_name: String,
    /// The model it was fine-tuned from.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub base_model: String,
    /// Its fine-tuning job.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub job_id: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub training_file_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation_file_id: Option<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub suffix: String,
    /// `supervised` or `dpo`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub method: String,
    /// The hyperparameters the job ran with, as OpenAI reported them (snake_case, as the
    /// API names them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "ts",
        ts(
            type = "{ n_epochs?: number | 'auto', batch_size?: number | 'auto', learning_rate_multiplier?: number | 'auto', beta?: number | 'auto' }"
        )
    )]
    pub hyperparameters: Option<Value>,
    /// Tokens billed for training.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trained_tokens: Option<u64>,
    /// The training metrics' summary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(as = "Option<super::results::MetricsSummary>"))]
    pub metrics: Option<Value>,
    /// The loss curve's file name, beside the registry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loss_curve: Option<String>,
    /// When its job was created (ISO 8601).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub created_at: String,
    /// When its job finished (ISO 8601).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub finished_at: String,
    /// The base model's shutdown date (`YYYY-MM-DD`) as the API announced it at training
    /// time: the fine-tuned model stops answering then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_shutdown_date: Option<String>,
    /// Azure OpenAI: the deployment that makes the model answer, or `null` when it was not
    /// deployed (then `deployCommand` says how). Absent for OpenAI.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "keep_null"
    )]
    #[cfg_attr(
        feature = "ts",
        ts(optional = nullable, as = "Option<super::results::Deployment>")
    )]
    pub deployment: Option<Value>,
    /// Azure OpenAI, not deployed: the `az` command that deploys the model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deploy_command: Option<String>,
    /// The model's evaluation against its baseline, when one ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(as = "Option<super::results::EvaluationReport>"))]
    pub evaluation: Option<Value>,
    /// Fields this library does not know, kept as they were.
    #[serde(flatten)]
    #[cfg_attr(feature = "ts", ts(skip))]
    pub extra: Map<String, Value>,
}

/// Reads a field that may be `null` as `Some(Value::Null)` (absent stays `None`).
fn keep_null<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

impl RegistryEntry {
    /// Reads an entry leniently: missing fields take their defaults; a value that is not an
    /// entry at all (not an object, a `model` that is not an object…) gives `None`.
    pub fn from_value(v: &Value) -> Option<RegistryEntry> {
        if let Ok(e) = serde_json::from_value(v.clone()) {
            return Some(e);
        }
        // A `fineTune` (or another field) edited into a shape of its own: keep the model
        // TaskForce reads, and everything else as it is.
        let model = serde_json::from_value(v.get("model")?.clone()).ok()?;
        let mut extra = v.as_object()?.clone();
        extra.remove("model");
        Some(RegistryEntry {
            model,
            extra,
            ..Default::default()
        })
    }
}

/// One model a modelKey has had.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ModelVersion {
    /// The model as TaskForce reads it (what `model` becomes when this version is promoted).
    #[serde(default)]
    pub model: ModelRef,
    /// How it was trained, when this library trained or imported it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fine_tune: Option<FineTuneRecord>,
    /// When it was registered under the key (ISO 8601).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub registered_at: String,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}
