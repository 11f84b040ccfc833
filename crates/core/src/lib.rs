//! The fine-tuning pipeline, free of any Node.js types. The public surface is here; the napi
//! binding at the repository root is a thin layer over it.
//!
//! The modules are layers, and a module imports only from its own layer and those below (a
//! test, `tests/layers.rs`, fails on any import cycle and on any import of a higher layer):
//!
//! - [`types`]: data only (the API's wire types, the options schema and every option enum, the
//!   registry entry, errors, progress events, results). Imports nothing else.
//! - [`calc`]: pure computations over the types (option checks, the Azure deployment plan,
//!   lifecycle dates, graders, training metrics and the loss chart).
//! - [`infra`]: the outside world (the API client and its one connection, the registry store,
//!   the journal, data sources, the run's resolved options).
//! - [`stages`]: one step of a run each; a stage never imports another.
//! - [`ops`]: the exported calls other than a run (a job's get/cancel/pause/resume, versions,
//!   doctor, evaluateModel, validateTrainingData).
//! - [`pipeline`]: `trainAndRegisterFineTunedModel` as the list of stages.
//!
//! This file only re-exports, under the module names the binding uses.

pub mod calc;
pub mod infra;
pub mod ops;
pub mod pipeline;
pub mod stages;
pub mod types;

pub use calc::ids;
pub use infra::task::bounded;
pub use ops::doctor::check_registered_models;
pub use ops::job::{cancel_fine_tune, get_job, pause_fine_tune, resume_fine_tune};
pub use pipeline::train_and_register;
pub use tokio_util::sync::CancellationToken;
pub use types::api::{Auto, Hyperparameters, Method};
pub use types::error::{Error, ErrorCode, Result};
pub use types::options::TrainOptions;
pub use types::progress::{ProgressEvent, ProgressFn, RunContext};
pub use types::results::RegisteredModel;

/// The options: their schema, checks and resolution.
pub mod options {
    pub use crate::calc::checks::*;
    pub use crate::infra::connection::*;
    pub use crate::infra::registry::registry_path;
    pub use crate::infra::resolve::*;
    pub use crate::types::options::*;
}

/// OpenAI's wire types, and the job as the calls return it.
pub mod api {
    pub use crate::types::api::*;
    pub use crate::types::results::{FineTuneJob, JobError};
}

/// Errors as data.
pub mod error {
    pub use crate::types::error::*;
}

/// Progress events of a run.
pub mod progress {
    pub use crate::types::progress::*;
}

/// `models.json`: the store and its entry.
pub mod registry {
    pub use crate::infra::registry::*;
    pub use crate::ops::registry::{entry_info, in_flight_run, in_flight_runs};
    pub use crate::types::entry::*;
    pub use crate::types::results::{EntryInfo, InFlightRun};
}

/// The runs in flight.
pub mod journal {
    pub use crate::infra::journal::*;
}

/// Versions of a modelKey.
pub mod versions {
    pub use crate::infra::versions::*;
    pub use crate::ops::versions::*;
    pub use crate::types::entry::ModelVersion;
    pub use crate::types::options::{ImportOptions, OnExisting, Promote, RemoveOptions};
    pub use crate::types::results::{Removed, VersionInfo, VersionOutcome};
}

/// Lifecycle facts and the registry's health check.
pub mod lifecycle {
    pub use crate::calc::lifecycle::*;
    pub use crate::ops::doctor::*;
    pub use crate::types::results::{ModelCheck, StopsAnswering};
}

/// Evaluation of a model against its baseline.
pub mod evaluate {
    pub use crate::calc::prices::{price, INFERENCE_PRICE_DATE};
    pub use crate::calc::verdict::{sign_test, MIN_PAIRED_EXAMPLES};
    pub use crate::infra::answers::AnswerStore;
    pub use crate::ops::evaluate::*;
    pub use crate::stages::evaluate::*;
    pub use crate::types::evaluation::{CustomGrader, GradeFn, GradeResult, GraderError};
    pub use crate::types::options::{EvalSettings, EvaluateOptions, EvaluateSetting};
    pub use crate::types::results::{EvalUsage, Evaluated, EvaluationReport, GraderScore};
}

/// Training metrics.
pub mod metrics {
    pub use crate::calc::metrics::*;
    pub use crate::types::results::MetricsSummary;
}

/// The dataset checker's bridge.
pub mod checks {
    pub use crate::ops::validate::*;
    pub use crate::stages::check::{check_file, validate_options, Checked};
    pub use crate::types::options::ValidateDataOptions;
}
