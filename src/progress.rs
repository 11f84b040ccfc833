//! The typed progress events handed to `onProgress`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use napi::threadsafe_function::ThreadsafeFunctionCallMode;
use napi_derive::napi;
use tokio::sync::oneshot;

use crate::dataset::DatasetReport;
use crate::ProgressCallback;
use fine_tune_core as core;

/// Hands progress events to the JS callback in order, and tells when the last one has run, so
/// that a call's promise settles only after its every event was delivered.
pub struct Delivery {
    tsfn: Arc<ProgressCallback>,
    /// Signalled when the most recently queued event has been handled on the JS thread.
    last: Arc<Mutex<Option<oneshot::Receiver<()>>>>,
}

impl Delivery {
    pub fn new(tsfn: ProgressCallback) -> Self {
        Delivery {
            tsfn: Arc::new(tsfn),
            last: Arc::new(Mutex::new(None)),
        }
    }

    /// The core's progress function. Events are queued under one lock, so the queue's order
    /// is the order of the calls and the stored receiver is always the last event's.
    pub fn callback(&self) -> core::ProgressFn {
        let (tsfn, last) = (self.tsfn.clone(), self.last.clone());
        Arc::new(move |ev: core::ProgressEvent| {
            let (tx, rx) = oneshot::channel();
            let mut last = last.lock().unwrap_or_else(|p| p.into_inner());
            // The callback's result, and any exception it throws, are ignored.
            tsfn.call_with_return_value(
                ProgressEvent::from(ev),
                ThreadsafeFunctionCallMode::NonBlocking,
                move |_, _| {
                    let _ = tx.send(());
                    Ok(())
                },
            );
            *last = Some(rx);
        })
    }

    /// Waits until every queued event has been handled (events are handled in queue order),
    /// or a few seconds if the JS thread is gone.
    pub async fn delivered(self) {
        let rx = self.last.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(rx) = rx {
            let _ = tokio::time::timeout(Duration::from_secs(5), rx).await;
        }
    }
}

/// One step of a run, passed to `onProgress`; `type` tells which.
// Each event is built and handed to JavaScript at once, never stored, and napi cannot convert a
// `Box`ed report: the size difference between variants costs nothing here.
#[allow(clippy::large_enum_variant)]
#[napi(
    discriminant = "type",
    discriminant_case = "camelCase",
    object_from_js = false
)]
pub enum ProgressEvent {
    /// A data file (`file`: `"source"` or `"validation"`) was checked; `report` is what
    /// `validateTrainingData` returns.
    DataChecked { file: String, report: DatasetReport },
    /// An upload is starting.
    UploadStarted { file: String, bytes: f64 },
    /// Bytes sent so far of a file going up in parts.
    UploadProgress { file: String, sent: f64, total: f64 },
    /// An upload finished.
    FileUploaded {
        file: String,
        file_id: String,
        bytes: f64,
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
        /// Unix seconds.
        created_at: Option<f64>,
        step: Option<f64>,
        total_steps: Option<f64>,
        train_loss: Option<f64>,
        valid_loss: Option<f64>,
        train_accuracy: Option<f64>,
    },
    /// The base model shuts down within 90 days (its `shutdown_date` at the API): the
    /// fine-tuned model stops answering then.
    ModelShutdownWarning {
        model: String,
        /// `YYYY-MM-DD`.
        shutdown_date: String,
        days_left: f64,
    },
    /// The Azure deployment changed state (`Creating`, `Succeeded`…).
    Deployment {
        deployment: String,
        provisioning_state: String,
    },
    /// An evaluation is about to send its first request: its size and estimated cost
    /// (`null` when a model's price is unknown).
    EvaluationStarted {
        candidate: String,
        baseline: String,
        examples: f64,
        requests: f64,
        estimated_tokens: f64,
        estimated_cost_usd: Option<f64>,
    },
    /// Requests of an evaluation answered so far.
    EvaluationProgress { done: f64, total: f64 },
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

impl From<core::ProgressEvent> for ProgressEvent {
    fn from(e: core::ProgressEvent) -> Self {
        use core::ProgressEvent as E;
        let n = |x: u64| x as f64;
        match e {
            E::DataChecked { file, report } => ProgressEvent::DataChecked {
                file,
                report: (*report).into(),
            },
            E::UploadStarted { file, bytes } => ProgressEvent::UploadStarted {
                file,
                bytes: n(bytes),
            },
            E::UploadProgress { file, sent, total } => ProgressEvent::UploadProgress {
                file,
                sent: n(sent),
                total: n(total),
            },
            E::FileUploaded {
                file,
                file_id,
                bytes,
            } => ProgressEvent::FileUploaded {
                file,
                file_id,
                bytes: n(bytes),
            },
            E::FileProcessed { file, file_id } => ProgressEvent::FileProcessed { file, file_id },
            E::JobCreated { job_id, resumed } => ProgressEvent::JobCreated { job_id, resumed },
            E::Status { job_id, status } => ProgressEvent::Status { job_id, status },
            E::JobEvent {
                job_id,
                event_id,
                level,
                message,
                created_at,
                step,
                total_steps,
                train_loss,
                valid_loss,
                train_accuracy,
            } => ProgressEvent::JobEvent {
                job_id,
                event_id,
                level,
                message,
                created_at: created_at.map(|t| t as f64),
                step: step.map(n),
                total_steps: total_steps.map(n),
                train_loss,
                valid_loss,
                train_accuracy,
            },
            E::ModelShutdownWarning {
                model,
                shutdown_date,
                days_left,
            } => ProgressEvent::ModelShutdownWarning {
                model,
                shutdown_date,
                days_left: days_left as f64,
            },
            E::Deployment {
                deployment,
                provisioning_state,
            } => ProgressEvent::Deployment {
                deployment,
                provisioning_state,
            },
            E::EvaluationStarted {
                candidate,
                baseline,
                examples,
                requests,
                estimated_tokens,
                estimated_cost_usd,
            } => ProgressEvent::EvaluationStarted {
                candidate,
                baseline,
                examples: n(examples),
                requests: n(requests),
                estimated_tokens: n(estimated_tokens),
                estimated_cost_usd,
            },
            E::EvaluationProgress { done, total } => ProgressEvent::EvaluationProgress {
                done: n(done),
                total: n(total),
            },
            E::EvaluationFinished {
                better,
                primary_grader,
                difference,
            } => ProgressEvent::EvaluationFinished {
                better,
                primary_grader,
                difference,
            },
            E::Registered {
                model_key,
                fine_tuned_model,
                registry_path,
            } => ProgressEvent::Registered {
                model_key,
                fine_tuned_model,
                registry_path,
            },
        }
    }
}
