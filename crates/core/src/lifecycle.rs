//! Lifecycle facts, read from the API rather than guessed: when a model stops answering
//! (`shutdown_date` of `GET /models/{model}`; on Azure, `deprecation` in its models list),
//! OpenAI's fine-tuning wind-down (a refused job creation), pausing and resuming jobs, and
//! the registry's health check (`doctor`).

use std::collections::BTreeMap;

use chrono::{NaiveDate, Utc};
use serde::Serialize;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::api::Job;
use crate::client::Client;
use crate::error::{Error, ErrorCode, Result};
use crate::journal::RunRecord;
use crate::options::{self, ConnectionOptions};
use crate::progress::ProgressEvent;
use crate::registry::{Registry, RegistryEntry};
use crate::stages::Run;

/// A base model that shuts down within this many days is warned about.
pub const WARN_WITHIN_DAYS: i64 = 90;

/// How long Azure keeps a Developer-tier deployment (hours).
pub const DEVELOPER_DEPLOYMENT_HOURS: i64 = 24;

/// Azure's rule for idle deployments of fine-tuned models, as Microsoft documents it.
pub const AZURE_INACTIVITY_RULE: &str = "Azure deletes a deployment of a fine-tuned model that has been inactive (no completions or responses calls) for 15 days in a row; the model itself is kept and can be deployed again";

/// The dates of OpenAI's fine-tuning wind-down, and the way out.
pub const WIND_DOWN_RULE: &str = "OpenAI is winding down self-serve fine-tuning (API deprecations page, notice of 2026-05-07): organizations that never ran a fine-tuning job lost job creation on 2026-05-07, organizations without fine-tuned-model inference in the previous 60 days on 2026-07-02, and every other organization loses it on 2027-01-06. Existing fine-tuned models keep answering until their base model shuts down. The same models can still be fine-tuned on Azure OpenAI: pass azureEndpoint (and azureDeployment, to deploy the result) with the same call; see the README, \"After 2027-01-06\"";

/// Today, in UTC.
pub fn today() -> NaiveDate {
    Utc::now().date_naive()
}

/// A `YYYY-MM-DD` date (the API's `shutdown_date`), or `None`.
pub fn parse_date(s: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s.trim().get(..10).unwrap_or(s.trim()), "%Y-%m-%d").ok()
}

fn date_of_unix(secs: i64) -> Option<String> {
    chrono::DateTime::from_timestamp(secs, 0).map(|d| d.date_naive().format("%Y-%m-%d").to_string())
}

/// Days from `today` to `date` (negative once passed).
pub fn days_until(date: &str, today: NaiveDate) -> Option<i64> {
    parse_date(date).map(|d| (d - today).num_days())
}

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

/// The base of an `ft:` model (`ft:<base>:<org>:<suffix>:<id>`), else the name itself.
pub fn base_of(model: &str) -> &str {
    model
        .strip_prefix("ft:")
        .and_then(|r| r.split(':').next())
        .filter(|b| !b.is_empty())
        .unwrap_or(model)
}

/// Reads a model's dates: OpenAI's `GET /models/{model}` (`shutdown_date`), or Azure's
/// models list (`deprecation.inference` / `deprecation.fine_tune`, Unix seconds). An `ft:`
/// model ends with its base, so the base is read. A model the API does not know is
/// `found: false`.
pub async fn model_facts(
    client: &Client,
    model: &str,
    cancel: &CancellationToken,
) -> Result<ModelFacts> {
    let model = base_of(model);
    if client.is_azure() {
        let list = client.list_models(cancel).await?;
        let Some(m) = list
            .data
            .iter()
            .find(|m| m.get("id").and_then(Value::as_str) == Some(model))
        else {
            return Ok(ModelFacts::default());
        };
        let dep = |k: &str| {
            m.get("deprecation")
                .and_then(|d| d.get(k))
                .and_then(Value::as_i64)
                .and_then(date_of_unix)
        };
        return Ok(ModelFacts {
            found: true,
            shutdown_date: dep("inference"),
            fine_tune_until: dep("fine_tune"),
        });
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

/// What the base-model check found, for the registry entry and the result.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BaseModelCheck {
    /// The base model's shutdown date, when the API announces one.
    pub shutdown_date: Option<String>,
    /// A warning for the result (the base shuts down within 90 days).
    pub warning: Option<String>,
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
    let _ = run.journal.remove(&rec.model_key);
    let cleanup = if left.is_empty() {
        "The files uploaded for it were deleted.".to_string()
    } else {
        format!(
            "The uploaded files {} could not be deleted; delete them by hand.",
            left.join(", ")
        )
    };
    let mut out = Error::new(
        ErrorCode::FineTuningUnavailable,
        format!(
            "OpenAI refused to create the fine-tuning job ({}): fine-tuning is no longer available to this organization. {cleanup} {WIND_DOWN_RULE}.",
            e.message
        ),
    );
    out.status = e.status;
    out.request_id = e.request_id.clone();
    out.api_code = e.api_code.clone();
    out.api_type = e.api_type.clone();
    out
}

/// Pauses the job of a modelKey (its run in flight, else its registered entry) or of a job
/// id. The run waiting for it keeps waiting (a paused job is not final).
pub async fn pause_fine_tune(
    model_key_or_job_id: &str,
    registry_path: Option<String>,
    conn: ConnectionOptions,
) -> Result<Job> {
    job_action(model_key_or_job_id, registry_path, conn, "pause").await
}

/// Resumes a paused job (see [`pause_fine_tune`]).
pub async fn resume_fine_tune(
    model_key_or_job_id: &str,
    registry_path: Option<String>,
    conn: ConnectionOptions,
) -> Result<Job> {
    job_action(model_key_or_job_id, registry_path, conn, "resume").await
}

/// Sends `action` (`pause`, `resume`) to the job of a modelKey or job id, found as
/// [`crate::stages::job::job_target`] finds it.
async fn job_action(
    model_key_or_job_id: &str,
    registry_path: Option<String>,
    conn: ConnectionOptions,
    action: &str,
) -> Result<Job> {
    let (job_id, client) =
        crate::stages::job::job_target(model_key_or_job_id, registry_path, conn)?;
    client
        .job_action(&job_id, action, &CancellationToken::new())
        .await
}

/// When and why a registered model stops answering, from what its entry records.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StopsAnswering {
    /// The date (`YYYY-MM-DD`) or instant (ISO 8601) it stops answering, if known.
    pub at: Option<String>,
    /// Whole days from today (negative: already passed).
    pub days_left: Option<i64>,
    /// `shutDown` (passed), `soon` (within the window), `scheduled`, `undeployed`
    /// (Azure, not deployed: it answers nothing) or `unknown` (no date announced).
    pub status: String,
    /// Why, in words.
    pub reason: String,
}

/// The model an entry's agents call: its base for the shutdown date.
fn base_model_of(e: &RegistryEntry) -> String {
    e.fine_tune
        .as_ref()
        .map(|f| f.base_model.clone())
        .filter(|b| !b.is_empty())
        .unwrap_or_else(|| base_of(&e.model.name).to_string())
}

/// When an entry stops answering, from its recorded facts (`baseShutdownDate`, an Azure
/// deployment's Developer-tier expiry, or no deployment at all), as of `today`, with
/// `within_days` the warning window.
pub fn stops_answering(
    e: &RegistryEntry,
    base_shutdown_date: Option<&str>,
    today: NaiveDate,
    within_days: i64,
) -> StopsAnswering {
    let ft = e.fine_tune.as_ref();
    let deployment = ft.and_then(|f| f.deployment.as_ref());
    if matches!(deployment, Some(Value::Null)) {
        return StopsAnswering {
            at: None,
            days_left: None,
            status: "undeployed".into(),
            reason: "the Azure fine-tuned model is not deployed, so it answers nothing: deploy it (fineTune.deployCommand)".into(),
        };
    }
    let mut candidates: Vec<(String, i64, String)> = Vec::new();
    if let Some(date) = base_shutdown_date {
        if let Some(days) = days_until(date, today) {
            candidates.push((
                date.to_string(),
                days,
                format!("its base model {} shuts down on {date}", base_model_of(e)),
            ));
        }
    }
    if let Some(expires) = deployment
        .and_then(|d| d.get("expiresAt"))
        .and_then(Value::as_str)
    {
        if let Some(days) = days_until(expires, today) {
            candidates.push((
                expires.to_string(),
                days,
                format!(
                    "its Developer-tier Azure deployment expires at {expires} (Azure keeps them {DEVELOPER_DEPLOYMENT_HOURS} hours)"
                ),
            ));
        }
    }
    let Some((at, days, reason)) = candidates.into_iter().min_by_key(|c| c.1) else {
        return StopsAnswering {
            status: "unknown".into(),
            reason: "no shutdown date is announced".into(),
            ..Default::default()
        };
    };
    let status = if days <= 0 {
        "shutDown"
    } else if days <= within_days {
        "soon"
    } else {
        "scheduled"
    };
    StopsAnswering {
        at: Some(at),
        days_left: Some(days),
        status: status.into(),
        reason,
    }
}

/// The recorded `baseShutdownDate` of an entry.
pub fn recorded_shutdown(e: &RegistryEntry) -> Option<String> {
    e.fine_tune
        .as_ref()
        .and_then(|f| f.base_shutdown_date.clone())
}

/// One registered model, checked by [`check_registered_models`].
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ModelCheck {
    pub model_key: String,
    /// The agent it was fine-tuned for, when recorded.
    pub agent_name: Option<String>,
    /// The model the agent's client sends.
    pub model: String,
    /// The model whose shutdown date applies.
    pub base_model: String,
    /// The base model's shutdown date as the API gives it now (else as recorded).
    pub base_shutdown_date: Option<String>,
    /// Whether the date was read from the API now (`false`: recorded, or unknown).
    pub refreshed: bool,
    pub stops_answering: StopsAnswering,
    /// The model is past its date or within the window (or undeployed): `doctor` fails.
    pub failing: bool,
    /// Other facts to know (Azure's idle-deployment rule…).
    pub notes: Vec<String>,
}

/// Re-reads, from the API, the shutdown date of every registered model's base, and says for
/// each when it stops answering; `failing` when that is past or within `within_days` days.
/// A base the API cannot tell about keeps its recorded date.
pub async fn check_registered_models(
    registry_path: Option<String>,
    conn: ConnectionOptions,
    within_days: i64,
) -> Result<Vec<ModelCheck>> {
    let registry = Registry::new(options::registry_path(registry_path));
    let entries = {
        let reg = registry.clone();
        crate::blocking(move || reg.entries()).await?
    };
    let client = match options::connection(conn) {
        Ok(c) => Some(Client::new(c)?),
        // No key: the recorded dates only.
        Err(e) if e.code == ErrorCode::MissingApiKey => None,
        Err(e) => return Err(e),
    };
    let cancel = CancellationToken::new();
    let mut cache: BTreeMap<String, Option<Option<String>>> = BTreeMap::new();
    let today = today();
    let mut out = Vec::new();
    for (key, e) in entries {
        let base = base_model_of(&e);
        if !cache.contains_key(&base) {
            let fresh = match &client {
                Some(c) => match model_facts(c, &base, &cancel).await {
                    Ok(f) if f.found => Some(f.shutdown_date),
                    Ok(_) => None,
                    Err(err) if err.status == Some(401) || err.is_abort() => return Err(err),
                    Err(_) => None,
                },
                None => None,
            };
            cache.insert(base.clone(), fresh);
        }
        let fresh = cache.get(&base).cloned().flatten();
        let refreshed = fresh.is_some();
        let date = fresh.unwrap_or_else(|| recorded_shutdown(&e));
        let stop = stops_answering(&e, date.as_deref(), today, within_days);
        let mut notes = Vec::new();
        if e.fine_tune
            .as_ref()
            .and_then(|f| f.deployment.as_ref())
            .is_some_and(|d| d.is_object())
        {
            notes.push(AZURE_INACTIVITY_RULE.to_string());
        }
        out.push(ModelCheck {
            failing: matches!(stop.status.as_str(), "shutDown" | "soon" | "undeployed"),
            model_key: key,
            agent_name: e
                .fine_tune
                .as_ref()
                .map(|f| f.agent_name.clone())
                .filter(|a| !a.is_empty()),
            model: e.model.name.clone(),
            base_model: base,
            base_shutdown_date: date,
            refreshed,
            stops_answering: stop,
            notes,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::{FineTuneRecord, ModelRef};

    fn d(s: &str) -> NaiveDate {
        parse_date(s).unwrap()
    }

    fn entry(deployment: Option<Value>) -> RegistryEntry {
        RegistryEntry {
            model: ModelRef {
                name: "ft:gpt-4.1-nano-2025-04-14:org:x:abc".into(),
                ..Default::default()
            },
            fine_tune: Some(FineTuneRecord {
                base_model: "gpt-4.1-nano-2025-04-14".into(),
                deployment,
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn dates() {
        assert_eq!(days_until("2026-10-23", d("2026-10-20")), Some(3));
        assert_eq!(
            days_until("2026-10-23T00:00:00Z", d("2026-10-24")),
            Some(-1)
        );
        assert_eq!(days_until("soon", d("2026-10-24")), None);
        assert_eq!(
            base_of("ft:gpt-4o-mini-2024-07-18:org:s:id"),
            "gpt-4o-mini-2024-07-18"
        );
        assert_eq!(base_of("gpt-4o"), "gpt-4o");
        assert_eq!(date_of_unix(1_798_761_600).as_deref(), Some("2027-01-01"));
    }

    #[test]
    fn says_when_an_entry_stops_answering() {
        let today = d("2026-11-26");
        let s = stops_answering(&entry(None), Some("2026-10-23"), today, 30);
        assert_eq!((s.status.as_str(), s.days_left), ("shutDown", Some(-34)));
        let s = stops_answering(&entry(None), Some("2026-12-11"), today, 30);
        assert_eq!(s.status, "soon");
        let s = stops_answering(&entry(None), Some("2027-12-11"), today, 30);
        assert_eq!(s.status, "scheduled");
        assert_eq!(
            stops_answering(&entry(None), None, today, 30).status,
            "unknown"
        );
        let s = stops_answering(&entry(Some(Value::Null)), None, today, 30);
        assert_eq!(s.status, "undeployed");
        let dev = serde_json::json!({"name": "x", "sku": "Developer", "expiresAt": "2026-11-27T10:00:00Z"});
        let s = stops_answering(&entry(Some(dev)), Some("2027-12-11"), today, 0);
        assert_eq!((s.status.as_str(), s.days_left), ("scheduled", Some(1)));
        assert!(s.reason.contains("Developer"), "{}", s.reason);
    }
}
