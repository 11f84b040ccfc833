//! The bridge to the dataset checker (`fine-tune-dataset`): the pipeline runs it on every data
//! file before anything is uploaded.

use std::path::Path;

use crate::error::{Error, ErrorCode, Result};
use crate::options::Method;

/// What the pipeline needs of a dataset report.
pub struct Checked {
    pub valid: bool,
    /// A one-line summary of the first errors.
    pub summary: String,
    /// The whole report.
    pub report: fine_tune_dataset::DatasetReport,
}

/// The checker's options for a base model and method.
pub fn validate_options(
    base_model: Option<&str>,
    method: Method,
) -> fine_tune_dataset::ValidateOptions {
    fine_tune_dataset::ValidateOptions {
        base_model: base_model.map(str::to_string),
        method: match method {
            Method::Supervised => fine_tune_dataset::Method::Supervised,
            Method::Dpo => fine_tune_dataset::Method::Dpo,
        },
        ..Default::default()
    }
}

/// Checks one data file. Blocking (CPU bound, uses every core).
pub fn check_file(path: &Path, base_model: &str, method: Method) -> Result<Checked> {
    let report =
        fine_tune_dataset::validate_path(path, &validate_options(Some(base_model), method))
            .map_err(|e| {
                Error::new(
                    ErrorCode::SourceNotFound,
                    format!("cannot read the data: {e}"),
                )
            })?;
    let summary = report
        .errors
        .iter()
        .take(3)
        .map(|i| {
            let lines: Vec<String> = i.lines.iter().take(5).map(u64::to_string).collect();
            format!("{} on line {} ({})", i.kind, lines.join(", "), i.message)
        })
        .collect::<Vec<_>>()
        .join("; ");
    Ok(Checked {
        valid: report.valid,
        summary,
        report,
    })
}

/// Options of [`validate_training_data`], as JavaScript passes them (camelCase; `null` is
/// absent; unknown keys are refused).
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ValidateDataOptions {
    pub base_model: Option<String>,
    #[serde(default)]
    pub method: Method,
    pub price_per_million_tokens: Option<f64>,
    pub n_epochs: Option<u32>,
    pub max_download_bytes: Option<u64>,
    /// A URL source is cut off after this long without a byte (default 60000).
    pub download_idle_timeout_ms: Option<u64>,
    /// …or below this rate over 30 s (default 1024; 0: no minimum).
    pub download_min_bytes_per_second: Option<u64>,
}

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
    crate::source::check_source("source", source)?;
    let data = if crate::source::is_url(source) {
        let limits = crate::options::download_limits(
            options.max_download_bytes,
            options.download_idle_timeout_ms,
            options.download_min_bytes_per_second,
        )?;
        crate::source::download("source", source, &std::env::temp_dir(), &limits, cancel)
            .await
            .map_err(|mut e| {
                e.message = crate::source::redact_text(&e.message);
                e
            })?
    } else {
        crate::source::open_local("source", source)?
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
