//! Blocking work off the async threads.

use crate::types::error::{Error, ErrorCode, Result};

/// Runs blocking work (file I/O, the CPU-bound checker) off the async threads.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::new(ErrorCode::Internal, format!("worker thread failed: {e}")))?
}
