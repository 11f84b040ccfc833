//! The fine-tuning pipeline, free of any Node.js types. The public surface is here; the napi
//! binding at the repository root is a thin layer over it.
//!
//! - [`options`]: the run's options (one typed, serde-read struct, one table of them for the
//!   CLI) and their checks and environment fallbacks.
//! - [`api`]: OpenAI's wire types; [`client`]: the one request path (auth flavour, retries,
//!   error mapping).
//! - [`stages`]: one file per stage of a run; [`pipeline`]: the run as the list of stages.
//! - [`registry`]: `models.json` and its typed entry; [`journal`]: the runs in flight.
//! - [`error`], [`progress`]: errors as data, progress events.

pub mod api;
pub mod azure;
pub mod checks;
pub mod client;
pub mod error;
pub mod evaluate;
pub mod graders;
pub mod ids;
pub mod journal;
pub mod lifecycle;
pub mod metrics;
pub mod models;
pub mod options;
pub mod pipeline;
pub mod progress;
pub mod registry;
pub mod source;
pub mod stages;
pub mod versions;

pub use api::{Auto, Hyperparameters, Method};
pub use error::{Error, ErrorCode, Result};
pub use lifecycle::{check_registered_models, pause_fine_tune, resume_fine_tune};
pub use options::TrainOptions;
pub use pipeline::train_and_register;
pub use progress::{ProgressEvent, ProgressFn, RunContext};
pub use stages::job::{cancel_fine_tune, get_job};
pub use stages::register::RegisteredModel;
pub use tokio_util::sync::CancellationToken;

/// Runs blocking work (file I/O, the CPU-bound checker) off the async threads.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::new(ErrorCode::Internal, format!("worker thread failed: {e}")))?
}
