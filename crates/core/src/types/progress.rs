//! Progress events of a run, in the order they happen.

use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::api::JobEvent;

/// Receives progress events; must not block.
pub type ProgressFn = Arc<dyn Fn(ProgressEvent) + Send + Sync>;

/// What a run can be steered with besides its options.
#[derive(Clone, Default)]
pub struct RunContext {
    /// Cancelled when the caller aborts.
    pub cancel: CancellationToken,
    /// Receives progress events.
    pub progress: Option<ProgressFn>,
}

pub use super::options::TokenFn;

impl RunContext {
    /// Hands `ev` to the progress callback, if there is one.
    pub fn emit(&self, ev: ProgressEvent) {
        if let Some(p) = &self.progress {
            p(ev);
        }
    }
}

/// One step of a run, passed to `onProgress`; `type` tells which.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(
    tag = "type",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum ProgressEvent {
    /// A data file (`file`: `"source"` or `"validation"`) was checked; `report` is what
    /// `validateTrainingData` returns.
    DataChecked {
        file: String,
        report: Box<fine_tune_dataset::DatasetReport>,
    },
    /// An upload is starting.
    UploadStarted { file: String, bytes: u64 },
    /// Bytes sent so far of a file going up in parts.
    UploadProgress { file: String, sent: u64, total: u64 },
    /// An upload finished.
    FileUploaded {
        file: String,
        file_id: String,
        bytes: u64,
    },
    /// OpenAI finished processing an uploaded file.
    FileProcessed { file: String, file_id: String },
    /// The job exists; `resumed` when an earlier call created it.
    JobCreated { job_id: String, resumed: bool },
    /// The job's status changed (`validating_files`, `queued`, `running`, `succeeded`…).
    Status { job_id: String, status: String },
    /// One of OpenAI's job events, oldest first; metrics events carry the step and losses.
    JobEvent {
        job_id: String,
        event_id: String,
        level: String,
        message: String,
        /// When the API created the event (ISO 8601).
        created_at: Option<String>,
        step: Option<u64>,
        total_steps: Option<u64>,
        train_loss: Option<f64>,
        valid_loss: Option<f64>,
        train_accuracy: Option<f64>,
    },
    /// The base model shuts down within 90 days (its `shutdown_date` at the API): the
    /// fine-tuned model will stop answering then.
    ModelShutdownWarning {
        model: String,
        /// `YYYY-MM-DD`.
        shutdown_date: String,
        days_left: i64,
    },
    /// The Azure deployment of the fine-tuned model changed state (`Creating`, `Succeeded`…).
    Deployment {
        deployment: String,
        provisioning_state: String,
    },
    /// An evaluation is about to send its first request: its size and estimated cost
    /// (`null` when a model's price is unknown).
    EvaluationStarted {
        candidate: String,
        baseline: String,
        examples: u64,
        requests: u64,
        estimated_tokens: u64,
        estimated_cost_usd: Option<f64>,
    },
    /// Requests of an evaluation answered so far.
    EvaluationProgress { done: u64, total: u64 },
    /// An evaluation finished; `difference` is the primary grader's.
    EvaluationFinished {
        better: bool,
        primary_grader: String,
        difference: f64,
    },
    /// The model is in the registry.
    Registered {
        model_key: String,
        fine_tuned_model: String,
        registry_path: String,
    },
}

impl ProgressEvent {
    /// Converts an API job event.
    pub fn from_job_event(job_id: &str, ev: JobEvent) -> ProgressEvent {
        let d = ev.data.as_ref();
        let num = |k: &str| d.and_then(|d| d.get(k)).and_then(Value::as_f64);
        let int = |k: &str| d.and_then(|d| d.get(k)).and_then(Value::as_u64);
        ProgressEvent::JobEvent {
            job_id: job_id.to_string(),
            event_id: ev.id,
            level: ev.level.unwrap_or_else(|| "info".into()),
            message: ev.message,
            created_at: ev.created_at.and_then(super::results::unix_to_iso),
            step: int("step"),
            total_steps: int("total_steps"),
            train_loss: num("train_loss"),
            valid_loss: num("valid_loss").or_else(|| num("full_valid_loss")),
            train_accuracy: num("train_mean_token_accuracy"),
        }
    }
}
