//! Before anything is uploaded: the base model's dates, read from the API rather than guessed
//! (`shutdown_date` of `GET /models/{model}`; on Azure's dated API, `deprecation` in its
//! models list, else Azure's published retirement table), and OpenAI's fine-tuning wind-down
//! (a refused job creation).

use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::calc::lifecycle::{
    azure_retirement, base_of, date_of_unix, days_until, parse_date, today, WARN_WITHIN_DAYS,
    WIND_DOWN_RULE,
};
use crate::infra::client::Client;
use crate::infra::connection::Flavour;
use crate::infra::journal::RunRecord;
use crate::types::error::{Error, ErrorCode, Result};
use crate::types::progress::ProgressEvent;
use crate::types::results::BaseModelCheck;

use super::Run;

/// What the API says about a model's end of life.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ModelFacts {
    /// The API knows the model.
    pub found: bool,
    /// When it stops answering (`YYYY-MM-DD`), if announced.
    pub shutdown_date: Option<String>,
    /// Azure: the last day it can be fine-tuned, if announced.
    pub fine_tune_until: Option<String>,
}

/// Azure's dates of a base model from its published retirement table (facts §6), when the
/// API gives none.
pub fn azure_table_facts(model: &str) -> ModelFacts {
    match azure_retirement(base_of(model)) {
        Some((train, deploy)) => ModelFacts {
            found: true,
            shutdown_date: Some(deploy.to_string()),
            fine_tune_until: Some(train.to_string()),
        },
        None => ModelFacts::default(),
    }
}

/// Reads a model's dates: OpenAI's `GET /models/{model}` (`shutdown_date`); on Azure's dated
/// API its models list (A1021 `GET /models`: `deprecation.inference` /
/// `deprecation.fine_tune`, Unix seconds), each date Azure's retirement table gives where the
/// API gives none; on Azure's v1 API (whose models list facts.md does not confirm) the table.
/// A fine-tuned model ends with its base, so the base is read. A model the API does not know
/// is `found: false`.
pub async fn model_facts(
    client: &Client,
    model: &str,
    cancel: &CancellationToken,
) -> Result<ModelFacts> {
    let model = base_of(model);
    match client.flavour() {
        Flavour::AzureV1 => return Ok(azure_table_facts(model)),
        Flavour::AzureDated { .. } => {
            let table = azure_table_facts(model);
            let list = client.list_models(cancel).await?;
            let Some(m) = list
                .data
                .iter()
                .find(|m| m.get("id").and_then(Value::as_str) == Some(model))
            else {
                return Ok(table);
            };
            let dep = |k: &str| {
                m.get("deprecation")
                    .and_then(|d| d.get(k))
                    .and_then(Value::as_i64)
                    .and_then(date_of_unix)
            };
            return Ok(ModelFacts {
                found: true,
                shutdown_date: dep("inference").or(table.shutdown_date),
                fine_tune_until: dep("fine_tune").or(table.fine_tune_until),
            });
        }
        Flavour::OpenAi => {}
    }
    match client.retrieve_model(model, cancel).await {
        Ok(m) => Ok(ModelFacts {
            found: true,
            shutdown_date: m
                .get("shutdown_date")
                .and_then(Value::as_str)
                .filter(|d| parse_date(d).is_some())
                .map(str::to_string),
            fine_tune_until: None,
        }),
        Err(e) if e.status == Some(404) => Ok(ModelFacts::default()),
        Err(e) => Err(e),
    }
}

/// Before anything is uploaded: reads the base model's dates, refuses one already shut down
/// (or past Azure's fine-tuning date) with `ERR_UNSUPPORTED_BASE_MODEL`, and warns (progress
/// event and result) when it shuts down within 90 days. With `refuse` false (a journaled job
/// being resumed) it only reads. A key the API refuses (401) or an API out of reach fails the
/// run now, before any upload; any other trouble reading the model (a key without the models
/// permission, an unknown model) leaves the date unknown.
pub async fn check_base_model(run: &Run<'_>, refuse: bool) -> Result<BaseModelCheck> {
    let model = &run.r.opts.base_model;
    let facts = match model_facts(run.client, model, &run.ctx.cancel).await {
        Ok(f) => f,
        Err(e) if e.is_abort() || matches!(e.code, ErrorCode::Network) || e.status == Some(401) => {
            return Err(e)
        }
        Err(_) if run.client.is_azure() => azure_table_facts(model),
        Err(_) => ModelFacts::default(),
    };
    let today = today();
    let base = base_of(model);
    if refuse {
        if let Some(until) = &facts.fine_tune_until {
            if days_until(until, today).is_some_and(|d| d < 0) {
                return Err(Error::new(
                    ErrorCode::UnsupportedBaseModel,
                    format!("baseModel {model:?} can no longer be fine-tuned: Azure OpenAI retired its fine-tuning on {until}"),
                )
                .with_param("baseModel"));
            }
        }
    }
    let Some(date) = facts.shutdown_date.clone() else {
        return Ok(BaseModelCheck::default());
    };
    let days = days_until(&date, today).unwrap_or(i64::MAX);
    if days <= 0 && refuse {
        return Err(Error::new(
            ErrorCode::UnsupportedBaseModel,
            format!(
                "baseModel {model:?} shut down on {date} (its shutdown_date at the API): a model fine-tuned from {base} would answer nothing; choose a newer base model"
            ),
        )
        .with_param("baseModel"));
    }
    let warning = (days <= WARN_WITHIN_DAYS).then(|| {
        format!(
            "the base model {base} shuts down on {date} ({days} day(s) from now): the fine-tuned model stops answering then"
        )
    });
    if warning.is_some() {
        run.ctx.emit(ProgressEvent::ModelShutdownWarning {
            model: base.to_string(),
            shutdown_date: date.clone(),
            days_left: days,
        });
    }
    Ok(BaseModelCheck {
        shutdown_date: Some(date),
        warning,
    })
}

/// Whether an error answered to `POST /fine_tuning/jobs` is the wind-down's refusal: a 403,
/// or a permission-denied code or type (OpenAI has not published its exact code). Azure's
/// 403s are its own access rules, never this.
pub fn is_wind_down_refusal(client: &Client, e: &Error) -> bool {
    if client.is_azure() {
        return false;
    }
    let denied = |v: &Option<String>| {
        v.as_deref().is_some_and(|s| {
            let s = s.to_ascii_lowercase();
            s.contains("permission_denied") || s.contains("permissiondenied")
        })
    };
    e.status == Some(403) || denied(&e.api_code) || denied(&e.api_type)
}

/// After job creation failed: the wind-down's refusal becomes `ERR_FINE_TUNING_UNAVAILABLE`,
/// with the run's uploaded files deleted and its journal cleared (nothing is left behind,
/// and nothing is retried). Any other error is returned as it is.
pub async fn on_job_refused(run: &Run<'_>, rec: &RunRecord, e: Error) -> Error {
    if !is_wind_down_refusal(run.client, &e) {
        return e;
    }
    // A token of its own: the files go even if the caller aborts now.
    let fresh = CancellationToken::new();
    let mut left = Vec::new();
    for id in [&rec.training_file_id, &rec.validation_file_id]
        .into_iter()
        .flatten()
    {
        // (A file the API no longer has counts as deleted.)
        if run.client.delete_file(id, &fresh).await.is_err() {
            left.push(id.clone());
        }
    }
    let key = &rec.model_key;
    let cleanup = if left.is_empty() {
        let _ = run.journal.remove(key);
        "The files uploaded for it were deleted.".to_string()
    } else {
        // The run stays journaled, holding only the files still to delete, until they are.
        let mut kept = rec.clone();
        kept.job_requested = false;
        kept.files_requested.clear();
        kept.uploaded_files = left.clone();
        let _ = run.journal.save(&kept);
        format!(
            "The uploaded files {} could not be deleted; they stay in the run's journal: cancelFineTune({key:?}) (`fine-tune cancel {key}`) deletes them.",
            left.join(", ")
        )
    };
    Error::new(
        ErrorCode::FineTuningUnavailable,
        format!(
            "OpenAI refused to create the fine-tuning job ({}): fine-tuning is no longer available to this organization. {cleanup} {WIND_DOWN_RULE}.",
            e.message
        ),
    )
    .with_answer_of(&e)
}
