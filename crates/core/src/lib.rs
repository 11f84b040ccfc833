//! The fine-tuning pipeline, free of any Node.js types: options and their checks, data
//! sources, the OpenAI client, the registry of fine-tuned models, the journal of in-flight runs.
//! The napi binding at the repository root is a thin layer over this crate.

pub mod checks;
pub mod client;
pub mod error;
pub mod journal;
pub mod metrics;
pub mod models;
pub mod options;
pub mod pipeline;
pub mod progress;
pub mod registry;
pub mod source;

pub use error::{Error, ErrorCode, Result};
pub use options::{Auto, Hyperparameters, Method, TrainOptions};
pub use pipeline::{cancel_fine_tune, train_and_register, RegisteredModel, RunContext};
pub use progress::ProgressEvent;
pub use tokio_util::sync::CancellationToken;
