//! `validateTrainingData`: the dataset checker on a file or URL, without uploading anything.

use crate::calc::checks::download_limits;
use crate::infra::source;
use crate::stages::check::validate_options;
use crate::types::error::{Error, ErrorCode, Result};
use crate::types::options::ValidateDataOptions;
use crate::types::redact::redact_text;

/// Checks a training file (a local path or an http(s) URL, streamed to a temporary file that
/// is removed afterwards) without uploading anything.
pub async fn validate_training_data(
    source: &str,
    options: ValidateDataOptions,
    cancel: &tokio_util::sync::CancellationToken,
) -> Result<fine_tune_dataset::DatasetReport> {
    if source.trim().is_empty() {
        return Err(Error::new(
            ErrorCode::MissingOption,
            "missing required option(s): source",
        )
        .with_param("source"));
    }
    source::check_source("source", source)?;
    // Checked whatever the source, so that a bad limit is refused before it ever matters.
    let limits = download_limits(
        options.max_download_bytes,
        options.download_idle_timeout_ms,
        options.download_min_bytes_per_second,
    )?;
    let data = if source::is_url(source) {
        source::download("source", source, &std::env::temp_dir(), &limits, cancel)
            .await
            .map_err(|mut e| {
                e.message = redact_text(&e.message);
                e
            })?
    } else {
        source::open_local("source", source)?
    };
    let mut vopts = validate_options(options.base_model.as_deref(), options.method);
    vopts.price_per_million_tokens = options.price_per_million_tokens;
    vopts.n_epochs = options.n_epochs;
    let task = tokio::task::spawn_blocking(move || {
        let r = fine_tune_dataset::validate_path(&data.path, &vopts);
        drop(data);
        r
    });
    let report = tokio::select! {
        _ = cancel.cancelled() => return Err(Error::aborted()),
        r = task => r.map_err(|e| Error::new(ErrorCode::Internal, format!("worker thread failed: {e}")))?,
    };
    report.map_err(|e| {
        Error::new(
            ErrorCode::SourceNotFound,
            format!("cannot read the data: {e}"),
        )
    })
}
