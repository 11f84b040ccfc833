//! Stage 2: every data file is checked with the dataset checker before anything is uploaded;
//! bad data is refused with the report attached.

use std::path::Path;

use serde_json::Value;

use crate::infra::source::{self, Loaded, LocalData};
use crate::infra::task::blocking;
use crate::types::error::{Error, ErrorCode, Result};
use crate::types::options::Method;
use crate::types::progress::ProgressEvent;
use crate::types::redact::redact_url;

use super::Run;

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
            match lines.len() {
                // A whole-file issue (too few examples…) has no line.
                0 => format!("{} ({})", i.kind, i.message),
                1 => format!("{} on line {} ({})", i.kind, lines[0], i.message),
                _ => format!("{} on lines {} ({})", i.kind, lines.join(", "), i.message),
            }
        })
        .collect::<Vec<_>>()
        .join("; ");
    Ok(Checked {
        valid: report.valid,
        summary,
        report,
    })
}

/// Checks one file; refuses it (`ERR_INVALID_TRAINING_DATA`) with the report attached.
async fn check_one(run: &Run<'_>, param: &str, data: &LocalData) -> Result<()> {
    let path = data.path.clone();
    let base_model = run.r.opts.base_model.clone();
    let method = run.r.opts.method;
    let checked = tokio::select! {
        _ = run.ctx.cancel.cancelled() => return Err(Error::aborted()),
        r = blocking(move || check_file(&path, &base_model, method)) => r?,
    };
    run.ctx.emit(ProgressEvent::DataChecked {
        file: param.to_string(),
        report: Box::new(checked.report.clone()),
    });
    if checked.valid {
        return Ok(());
    }
    let mut e = Error::new(
        ErrorCode::InvalidTrainingData,
        format!(
            "{param} {} is not valid fine-tuning data: {}",
            shown(run, param),
            checked.summary
        ),
    )
    .with_param(param);
    e.report = Some(serde_json::to_value(&checked.report).unwrap_or(Value::Null));
    Err(e)
}

/// Checks the training file, then the validation file.
pub async fn check(run: &Run<'_>, data: &Loaded) -> Result<()> {
    check_one(run, "source", &data.training).await?;
    if let Some(v) = &data.validation {
        check_one(run, "validation", v).await?;
    }
    Ok(())
}

/// The source as it may be shown: a URL without its secrets.
fn shown(run: &Run<'_>, param: &str) -> String {
    let o = &run.r.opts;
    let s = match (param, &o.validation) {
        ("validation", Some(v)) => v.clone(),
        // validationSplit: the validation file is held out of the source.
        ("validation", None) => return format!("(validationSplit of {:?})", shown_url(&o.source)),
        _ => o.source.clone(),
    };
    format!("{:?}", shown_url(&s))
}

fn shown_url(s: &str) -> String {
    if source::is_url(s) {
        redact_url(s)
    } else {
        s.to_string()
    }
}
