//! Blocking work off the async threads, and the bound of a whole exported call.

use std::future::Future;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::calc::checks::invalid;
use crate::types::error::{Error, ErrorCode, Result};

/// Runs blocking work (file I/O, the CPU-bound checker) off the async threads.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::new(ErrorCode::Internal, format!("worker thread failed: {e}")))?
}

/// Runs `fut`, the whole of the exported call `call`, bounded by `timeout_ms` (then
/// `ERR_TIMEOUT`) and by `cancel` (then `ABORT_ERR`, also when it is cancelled already).
/// Either drops `fut`, which stops its requests; what it wrote to disk stays consistent (every
/// write is atomic), and a blocking task it started finishes on its own.
pub async fn bounded<T>(
    call: &str,
    timeout_ms: Option<u64>,
    cancel: &CancellationToken,
    fut: impl Future<Output = Result<T>>,
) -> Result<T> {
    if timeout_ms == Some(0) {
        return Err(invalid("timeoutMs", "timeoutMs must be above 0".into()));
    }
    if cancel.is_cancelled() {
        return Err(Error::aborted());
    }
    let deadline = async {
        match timeout_ms {
            Some(ms) => tokio::time::sleep(Duration::from_millis(ms)).await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        biased;
        _ = cancel.cancelled() => Err(Error::aborted()),
        _ = deadline => Err(Error::new(
            ErrorCode::Timeout,
            format!(
                "{call} did not finish within {} ms (timeoutMs)",
                timeout_ms.unwrap_or_default()
            ),
        )
        .with_param("timeoutMs")),
        r = fut => r,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_call_is_bounded_by_its_timeout_and_its_signal() {
        let never = || std::future::pending::<Result<()>>();
        let token = CancellationToken::new();
        let e = bounded("get", Some(20), &token, never()).await.unwrap_err();
        assert_eq!(
            (e.code, e.param.as_deref()),
            (ErrorCode::Timeout, Some("timeoutMs"))
        );
        assert!(
            e.message.contains("get did not finish within 20 ms"),
            "{}",
            e.message
        );
        let e = bounded("get", Some(0), &token, never()).await.unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidOption);
        let t = token.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(10)).await;
            t.cancel();
        });
        let e = bounded("get", None, &token, never()).await.unwrap_err();
        assert!(e.is_abort());
        // Already aborted: refused before the call runs.
        let e = bounded("get", None, &token, async { Ok(1) })
            .await
            .unwrap_err();
        assert!(e.is_abort());
        let ok = bounded("get", Some(1000), &CancellationToken::new(), async {
            Ok(1)
        })
        .await;
        assert_eq!(ok.unwrap(), 1);
    }
}
