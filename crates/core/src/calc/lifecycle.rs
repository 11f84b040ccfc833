//! Lifecycle facts as dates: when a model or a deployment stops answering, from what a registry
//! entry records, and OpenAI's and Azure's rules about it. Pure: the API is read by
//! `stages::base_model` and `ops::doctor`.

use chrono::{NaiveDate, Utc};
use serde_json::Value;

use crate::types::entry::RegistryEntry;
use crate::types::results::StopsAnswering;

/// A base model that shuts down within this many days is warned about.
pub const WARN_WITHIN_DAYS: i64 = 90;

/// How long Azure keeps a Developer-tier deployment (hours).
pub const DEVELOPER_DEPLOYMENT_HOURS: i64 = 24;

/// Azure's rule for idle deployments of fine-tuned models, as Microsoft documents it (facts
/// §6, D-INACT; whether it still applies on the new Foundry experience is not confirmed).
pub const AZURE_INACTIVITY_RULE: &str = "Azure deletes a deployment of a fine-tuned model that has been inactive (no completions or responses calls) for 15 days in a row; the model itself is kept and can be deployed again";

/// Days without a call after which Azure deletes a fine-tuned deployment (facts §6).
pub const AZURE_INACTIVITY_DAYS: i64 = 15;

/// Azure OpenAI's retirement dates of fine-tunable base models, `(base, training no earlier
/// than, deployments until)` (facts §6, D-RET): used where the API does not give them
/// (`deprecation.fine_tune` / `deprecation.inference`). A fine-tuned model's deployments end
/// with its base's.
pub const AZURE_RETIREMENTS: &[(&str, &str, &str)] = &[
    ("gpt-4o-2024-08-06", "2027-04-01", "2027-10-01"),
    ("gpt-4o-mini-2024-07-18", "2027-04-01", "2027-10-01"),
    ("gpt-4.1-2025-04-14", "2027-04-14", "2027-10-14"),
    ("gpt-4.1-mini-2025-04-14", "2027-04-14", "2027-10-14"),
    ("gpt-4.1-nano-2025-04-14", "2027-04-14", "2027-10-14"),
];

/// Azure's `(training, deployment)` retirement dates of a base model from
/// [`AZURE_RETIREMENTS`].
pub fn azure_retirement(base: &str) -> Option<(&'static str, &'static str)> {
    AZURE_RETIREMENTS
        .iter()
        .find(|(m, _, _)| *m == base)
        .map(|(_, t, d)| (*t, *d))
}

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

pub fn date_of_unix(secs: i64) -> Option<String> {
    chrono::DateTime::from_timestamp(secs, 0).map(|d| d.date_naive().format("%Y-%m-%d").to_string())
}

/// Days from `today` to `date` (negative once passed).
pub fn days_until(date: &str, today: NaiveDate) -> Option<i64> {
    parse_date(date).map(|d| (d - today).num_days())
}

/// The base of a fine-tuned model (OpenAI's `ft:<base>:<org>:<suffix>:<id>`, Azure's
/// `<base>.ft-<32 hex>`, facts §3), else the name itself.
pub fn base_of(model: &str) -> &str {
    if let Some(b) = model
        .strip_prefix("ft:")
        .and_then(|r| r.split(':').next())
        .filter(|b| !b.is_empty())
    {
        return b;
    }
    match model.split_once(".ft-") {
        Some((b, _)) if !b.is_empty() => b,
        _ => model,
    }
}

/// The model an entry's agents call: its base for the shutdown date.
pub fn base_model_of(e: &RegistryEntry) -> String {
    e.fine_tune
        .as_ref()
        .map(|f| f.base_model.clone())
        .filter(|b| !b.is_empty())
        .unwrap_or_else(|| base_of(&e.model.name).to_string())
}

/// Whether an entry's model is on Azure OpenAI: it records a deployment (or `deployment:
/// null`), an Azure v1 `baseUrl`, or an Azure fine-tuned id (`<base>.ft-<hex>`).
pub fn is_azure_entry(e: &RegistryEntry) -> bool {
    e.fine_tune
        .as_ref()
        .is_some_and(|f| f.deployment.is_some() || f.job_id.starts_with("ft-"))
        || e.model.base_url.is_some()
        || e.model.name.contains(".ft-")
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
                if is_azure_entry(e) {
                    format!(
                        "Azure OpenAI retires deployments of models fine-tuned from {} on {date}",
                        base_model_of(e)
                    )
                } else {
                    format!("its base model {} shuts down on {date}", base_model_of(e))
                },
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
                    "its Developer-tier Azure deployment is deleted at {expires} (Azure keeps them {DEVELOPER_DEPLOYMENT_HOURS} hours, whatever their use)"
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

/// Unix seconds (or now) as ISO 8601.
pub fn iso(ts: Option<i64>) -> String {
    let ts = ts.unwrap_or_else(|| chrono::Utc::now().timestamp());
    chrono::DateTime::from_timestamp(ts, 0)
        .unwrap_or_else(chrono::Utc::now)
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::entry::{FineTuneRecord, ModelRef};

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
        assert_eq!(
            base_of("gpt-4.1-mini-2025-04-14.ft-b044a9d3cf9c4228b5d393567f693b83"),
            "gpt-4.1-mini-2025-04-14"
        );
        assert_eq!(
            azure_retirement("gpt-4o-mini-2024-07-18"),
            Some(("2027-04-01", "2027-10-01"))
        );
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
