//! Stage 2: every data file is checked with the dataset checker before anything is uploaded;
//! bad data is refused with the report attached.

use serde_json::Value;

use crate::error::{Error, ErrorCode, Result};
use crate::progress::ProgressEvent;
use crate::source::{self, LocalData};

use super::load::Loaded;
use super::Run;

/// Checks one file; refuses it (`ERR_INVALID_TRAINING_DATA`) with the report attached.
async fn check_one(run: &Run<'_>, param: &str, data: &LocalData) -> Result<()> {
    let path = data.path.clone();
    let base_model = run.r.opts.base_model.clone();
    let method = run.r.opts.method;
    let checked = tokio::select! {
        _ = run.ctx.cancel.cancelled() => return Err(Error::aborted()),
        r = crate::blocking(move || crate::checks::check_file(&path, &base_model, method)) => r?,
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
            "{param} {:?} is not valid fine-tuning data: {}",
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
    let s = if param == "validation" {
        o.validation.clone().unwrap_or_default()
    } else {
        o.source.clone()
    };
    if source::is_url(&s) {
        source::redact_url(&s)
    } else {
        s
    }
}
