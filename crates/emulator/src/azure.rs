//! Azure OpenAI's data-plane flavours, one capability table each, from Microsoft's specs as
//! recorded (with sources) in `/work/shared/azure/facts.md`. Comments cite its sections as
//! `facts §N` and its source tags (V1, A1021, A25P, D-…).
//!
//! How a request picks its flavour (URL shape):
//! - `/openai/v1/...` (no `api-version`, or `v1` / `preview`): [`V1`].
//! - `/openai/...?api-version=2024-10-21`: [`DATED_2024_10_21`].
//! - `/openai/...?api-version=2025-04-01-preview`: [`DATED_2025_04_01_PREVIEW`].
//! - `/v1/...`: OpenAI, no Azure table.
//!
//! With [`crate::EmulatorOptions::azure_lenient`] no table applies: every `/openai` path takes
//! OpenAI's behaviour and any `api-version`, as the emulator did before it followed Azure.

use crate::errors::{ApiError, ApiResult};
use crate::state::AppState;
use axum::http::StatusCode;
use serde_json::{json, Map, Value};

/// What one Azure flavour declares.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Caps {
    /// The flavour's name: `v1`, or the dated `api-version`.
    pub version: &'static str,
    /// `POST /fine_tuning/jobs` answers 201 with `Location` (dated) rather than 200 (v1).
    pub create_201: bool,
    /// The create body's `metadata` is kept (and shown on the job).
    pub metadata: bool,
    /// The create body's `integrations` is kept.
    pub integrations: bool,
    /// The `method.type`s declared; empty: no `method` at all.
    pub methods: &'static [&'static str],
    /// `POST /fine_tuning/jobs/{id}/pause` and `/resume` exist.
    pub pause_resume: bool,
    /// `/uploads` exists.
    pub uploads: bool,
    /// `/deployments/{deployment}/chat/completions` exists.
    pub deployment_chat: bool,
    /// Job statuses are the dated ones (`pending`, `running`, …), not OpenAI's.
    pub dated_statuses: bool,
    /// The dated suffix rule: at most 40 of `a-z A-Z 0-9 - _`.
    pub dated_suffix: bool,
    /// `purpose`s accepted by `POST /files` (`None`: the emulator's OpenAI list).
    pub file_purposes: Option<&'static [&'static str]>,
}

/// Azure's v1 API, `{endpoint}/openai/v1` (facts §1, §2, source V1).
pub(crate) const V1: Caps = Caps {
    version: "v1",
    // facts §2: "Jobs: `POST /fine_tuning/jobs` → **200**".
    create_201: false,
    // facts §2: create body has `metadata`, `integrations`, `method` {supervised|dpo|reinforcement}.
    metadata: true,
    integrations: true,
    methods: &["supervised", "dpo", "reinforcement"],
    // facts §2: "`POST .../pause`; `POST .../resume` (both return the job)".
    pause_resume: true,
    // facts §2: "**No `/uploads` and no `/files/import` in V1**".
    uploads: false,
    // facts §5: v1 chat is `POST {endpoint}/openai/v1/chat/completions` with `model` = the
    // deployment; V1's paths have no `/deployments/...` (facts §2: the path list).
    deployment_chat: false,
    // facts §2: "status enum: validating_files|queued|running|succeeded|failed|cancelled".
    dated_statuses: false,
    // facts §3: "Suffix: V1 schema 1–64 chars (OpenAI text)".
    dated_suffix: false,
    // facts §2: "`purpose` ∈ assistants|batch|fine-tune|evals".
    file_purposes: Some(&["assistants", "batch", "fine-tune", "evals"]),
};

/// The dated authoring API 2024-10-21 (facts §2 "Dated A1021").
pub(crate) const DATED_2024_10_21: Caps = Caps {
    version: "2024-10-21",
    // facts §2: "create → **201** + Location".
    create_201: true,
    // facts §2: "`FineTuningJobCreation` = model, training_file, validation_file,
    // hyperparameters (numbers), suffix, seed — **no method/metadata/integrations**".
    metadata: false,
    integrations: false,
    methods: &[],
    // facts §2: "paths have **no pause/resume**".
    pause_resume: false,
    // facts §2: "They exist in A1021: `POST /uploads`, `/uploads/{id}/parts`, …".
    uploads: true,
    // facts §5: "Dated: `POST {endpoint}/openai/deployments/{deployment}/chat/completions`".
    deployment_chat: true,
    // facts §2: "status created|pending|running|succeeded|cancelled|failed".
    dated_statuses: true,
    // facts §3: "A1021/A25P schema and D-FT: up to 40 characters (a-z, A-Z, 0-9, - and _)".
    dated_suffix: true,
    // Not in facts.md: the emulator's list is kept (lenient).
    file_purposes: None,
};

/// The dated preview 2025-04-01-preview (facts §2 "A25P").
pub(crate) const DATED_2025_04_01_PREVIEW: Caps = Caps {
    version: "2025-04-01-preview",
    // facts §2: "create → 201".
    create_201: true,
    // facts §2: "adds `integrations` and `method` (type dpo|supervised only); **no metadata**".
    metadata: false,
    integrations: true,
    methods: &["supervised", "dpo"],
    // facts §2: "has pause/resume (example returns `"status":"paused"`)".
    pause_resume: true,
    // Not in facts.md for A25P: kept as on 2024-10-21 (lenient).
    uploads: true,
    deployment_chat: true,
    // facts §2: "status adds pausing|paused|resuming" (to A1021's).
    dated_statuses: true,
    dated_suffix: true,
    file_purposes: None,
};

/// The flavours served, for messages.
const DATED: [&Caps; 2] = [&DATED_2024_10_21, &DATED_2025_04_01_PREVIEW];

/// The Azure flavour of a request, inserted by the route guard: `None` for OpenAI (`/v1`)
/// and, with `azure_lenient`, for every path.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AzureApi(pub Option<&'static Caps>);

/// The `api-version` query value, if any (empty counts as absent).
fn api_version(query: Option<&str>) -> Option<String> {
    crate::util::query_pairs(query)
        .into_iter()
        .find(|(k, _)| k == "api-version")
        .map(|(_, v)| v)
        .filter(|v| !v.is_empty())
}

/// The flavour of a request on an `/openai` route `pattern`.
pub(crate) fn select(pattern: &str, query: Option<&str>) -> ApiResult<&'static Caps> {
    let version = api_version(query);
    if pattern.starts_with("/openai/v1/") {
        // facts §1: "`api-version` query: optional on every op; enum … = `v1` | `preview`,
        // default `v1`"; dated values "are not in the enum". The service's exact answer to
        // another value is not in facts.md; the emulator refuses it as the spec's enum does.
        return match version.as_deref() {
            None | Some("v1") | Some("preview") => Ok(&V1),
            Some(v) => Err(ApiError::invalid(
                format!("Invalid 'api-version' {v:?} on the v1 API: use 'v1' or 'preview', or leave it out."),
                Some("api-version"),
            )
            .code("BadRequest")),
        };
    }
    // facts §2: on the dated API "`api-version` required".
    let Some(version) = version else {
        return Err(ApiError::invalid(
            "Missing required query parameter 'api-version'.",
            Some("api-version"),
        )
        .code("MissingApiVersionParameter"));
    };
    DATED
        .into_iter()
        .find(|c| c.version == version)
        .ok_or_else(|| {
            // An emulator limit, not a claim about Azure: facts.md has no table for other
            // dated versions.
            ApiError::invalid(
                format!(
                    "api-version {version:?} is not emulated: use {}, or the v1 API at /openai/v1 (or start the emulator with azureLenient to accept any api-version).",
                    DATED.map(|c| c.version).join(" or ")
                ),
                Some("api-version"),
            )
            .code("unsupported_api_version")
        })
}

impl Caps {
    /// Whether the flavour has the route of `endpoint` (`pattern`: the matched route).
    pub fn serves(&self, endpoint: &str, pattern: &str) -> bool {
        match endpoint {
            e if e.starts_with("uploads.") => self.uploads,
            "jobs.pause" | "jobs.resume" => self.pause_resume,
            "chat.completions" if pattern.contains("/deployments/") => self.deployment_chat,
            _ => true,
        }
    }

    /// The job status this flavour shows for the emulator's (OpenAI's) status.
    pub fn job_status(&self, status: &'static str) -> &'static str {
        if !self.dated_statuses {
            return status;
        }
        match status {
            // facts §2: A1021 has no `validating_files` / `queued`: its inactive state before
            // running is `pending`.
            "validating_files" | "queued" => "pending",
            // facts §2: only A25P adds `paused`; A1021 shows a job paused elsewhere as pending.
            "paused" if !self.pause_resume => "pending",
            other => other,
        }
    }

    /// Removes from a job the fields this flavour does not declare.
    pub fn trim_job(&self, job: &mut Map<String, Value>) {
        if !self.metadata {
            job.remove("metadata");
        }
        if !self.integrations {
            job.remove("integrations");
        }
        if self.methods.is_empty() {
            job.remove("method");
        }
    }

    /// Checks a suffix against the flavour's rule (the v1 rule is checked by the jobs API).
    pub fn check_suffix(&self, suffix: &str) -> ApiResult<()> {
        if !self.dated_suffix {
            return Ok(());
        }
        let ok = !suffix.is_empty()
            && suffix.chars().count() <= 40
            && suffix
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if ok {
            return Ok(());
        }
        Err(ApiError::invalid(
            format!(
                "Invalid 'suffix' on api-version {}: up to 40 characters (a-z, A-Z, 0-9, - and _).",
                self.version
            ),
            Some("suffix"),
        ))
    }
}

/// How long an uploaded file stays `pending` then `running` on Azure before `processed`
/// (facts §2: file `status` ∈ uploaded|pending|running|processed|error|…; how long Azure takes
/// is not in facts.md: a tenth of the job duration, at most 2 s).
pub(crate) fn file_processing_ms(state: &AppState) -> i64 {
    (state.0.job_duration_ms / 10).clamp(1, 2000) as i64
}

/// A fine-tuned model id as Azure makes them: `<base>.ft-<32 hex>` (facts §3, D-DEP, D-FT).
/// Where Azure puts the suffix is not confirmed (facts.md "Could not confirm"): it is not in
/// the id; the job shows it.
pub(crate) fn fine_tuned_name(base: &str) -> String {
    format!("{base}.ft-{}", random_hex(32))
}

/// A checkpoint id as Azure makes them: `ftchkpt-<32 hex>` (facts §3).
pub(crate) fn checkpoint_id() -> String {
    format!("ftchkpt-{}", random_hex(32))
}

/// `n` random lowercase hex digits.
fn random_hex(n: usize) -> String {
    use rand::Rng;
    let mut rng = rand::rng();
    (0..n)
        .map(|_| char::from_digit(rng.random_range(0..16), 16).unwrap_or('0'))
        .collect()
}

/// Azure's retirement dates of base models, `(model, training ends, deployments end)`, from
/// facts §6 (D-RET): "gpt-4o 2024-08-06 & gpt-4o-mini 2024-07-18: training no earlier than
/// 2027-04-01 (existing customers), deployment 2027-10-01. gpt-4.1 / -mini / -nano
/// 2025-04-14: training ≥2027-04-14, deployment 2027-10-14."
const RETIREMENTS: &[(&str, &str, &str)] = &[
    ("gpt-4o-2024-08-06", "2027-04-01", "2027-10-01"),
    ("gpt-4o-mini-2024-07-18", "2027-04-01", "2027-10-01"),
    ("gpt-4.1-2025-04-14", "2027-04-14", "2027-10-14"),
    ("gpt-4.1-mini-2025-04-14", "2027-04-14", "2027-10-14"),
    ("gpt-4.1-nano-2025-04-14", "2027-04-14", "2027-10-14"),
];

/// A model's Azure retirement: `(fine_tune, inference)` dates (`YYYY-MM-DD`). A fine-tuned
/// model takes its base's (facts §6: "training retires no earlier than base model; at
/// deployment retirement inference/deploy error"). A date of
/// [`crate::EmulatorOptions::model_shutdown_dates`] comes first when earlier.
pub(crate) fn retirement(state: &AppState, model: &str) -> (Option<String>, Option<String>) {
    let base = crate::models::base_of(model).unwrap_or_else(|| model.to_string());
    let configured = state
        .0
        .model_shutdown_dates
        .get(model)
        .or_else(|| state.0.model_shutdown_dates.get(&base))
        .cloned();
    let table = RETIREMENTS.iter().find(|(m, _, _)| *m == base);
    let earliest = |a: Option<String>, b: Option<&str>| match (a, b) {
        (Some(a), Some(b)) => Some(if a.as_str() <= b { a } else { b.to_string() }),
        (a, b) => a.or_else(|| b.map(str::to_string)),
    };
    (
        earliest(configured.clone(), table.map(|t| t.1)),
        earliest(configured, table.map(|t| t.2)),
    )
}

/// A `YYYY-MM-DD` date as Unix seconds (midnight UTC).
fn unix(date: &str) -> Option<i64> {
    chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc().timestamp())
}

/// A model object on Azure: `deprecation.fine_tune` / `deprecation.inference` (Unix seconds),
/// `capabilities`, `lifecycle_status`. facts.md does not describe Azure's model object: this
/// shape is the emulator's earlier one (A1021's `Model`), kept leniently; the dates are
/// facts §6's (see [`retirement`]).
pub(crate) fn model_json(state: &AppState, id: &str, created: i64) -> Value {
    let (fine_tune, inference) = if state.0.azure_lenient {
        // As before: only the configured shutdown date, for both.
        let date = crate::chat::shutdown_date(state, id);
        (date.clone(), date)
    } else {
        retirement(state, id)
    };
    let mut deprecation = Map::new();
    if let Some(t) = fine_tune.as_deref().and_then(unix) {
        deprecation.insert("fine_tune".into(), json!(t));
    }
    if let Some(t) = inference.as_deref().and_then(unix) {
        deprecation.insert("inference".into(), json!(t));
    }
    let fine_tuned = crate::models::is_fine_tuned(id);
    let tunable = crate::models::resolve(id).is_some();
    let mut v = json!({
        "id": id, "object": "model", "created_at": created, "status": "succeeded",
        "lifecycle_status": "generally-available",
        "capabilities": {"fine_tune": tunable, "inference": true, "chat_completion": true, "completion": false, "embeddings": false},
        "deprecation": deprecation,
    });
    if fine_tuned {
        v["model"] = json!(crate::models::base_of(id));
    }
    v
}

/// The model that an Azure `model` (a deployment's name) answers with, for chat completions:
/// facts §5: "`model` = The model deployment identifier"; an undeployed name is refused. A
/// model past its inference retirement answers nothing (facts §6: "at deployment retirement
/// inference/deploy error"; Azure's exact answer is not in facts.md).
pub(crate) fn chat_model(state: &AppState, deployment: &str) -> ApiResult<String> {
    let model = crate::deployments::deployed_model(state, deployment)
        .ok_or_else(|| crate::deployments::deployment_not_found(deployment))?;
    if !state.0.azure_lenient {
        if let (_, Some(date)) = retirement(state, &model) {
            if crate::chat::is_past(&date) {
                return Err(ApiError::new(
                    StatusCode::NOT_FOUND,
                    "invalid_request_error",
                    format!("The model {model} of deployment {deployment} was retired on {date}."),
                )
                .code("model_not_found"));
            }
        }
    }
    Ok(model)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flavours_by_url() {
        assert_eq!(select("/openai/v1/files", None).unwrap().version, "v1");
        assert_eq!(
            select("/openai/v1/files", Some("api-version=preview"))
                .unwrap()
                .version,
            "v1"
        );
        assert!(select("/openai/v1/files", Some("api-version=2024-10-21")).is_err());
        assert_eq!(
            select("/openai/files", Some("api-version=2024-10-21"))
                .unwrap()
                .version,
            "2024-10-21"
        );
        assert_eq!(
            select("/openai/files", Some("a=1&api-version=2025-04-01-preview"))
                .unwrap()
                .version,
            "2025-04-01-preview"
        );
        assert!(select("/openai/files", None).is_err());
        assert!(select("/openai/files", Some("api-version=")).is_err());
        assert!(select("/openai/files", Some("api-version=2024-02-01")).is_err());
    }

    #[test]
    fn dated_statuses_and_suffix() {
        let d = &DATED_2024_10_21;
        assert_eq!(d.job_status("validating_files"), "pending");
        assert_eq!(d.job_status("queued"), "pending");
        assert_eq!(d.job_status("running"), "running");
        assert_eq!(d.job_status("paused"), "pending");
        assert_eq!(DATED_2025_04_01_PREVIEW.job_status("paused"), "paused");
        assert_eq!(V1.job_status("queued"), "queued");
        assert!(d.check_suffix(&"a".repeat(40)).is_ok());
        assert!(d.check_suffix(&"a".repeat(41)).is_err());
        assert!(d.check_suffix("with.dot").is_err());
        assert!(V1.check_suffix("with.dot").is_ok());
    }

    #[test]
    fn azure_ids() {
        let m = fine_tuned_name("gpt-4o-mini-2024-07-18");
        let (base, hex) = m.split_once(".ft-").unwrap();
        assert_eq!(base, "gpt-4o-mini-2024-07-18");
        assert_eq!(hex.len(), 32);
        assert!(hex
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_uppercase()));
        assert!(checkpoint_id().starts_with("ftchkpt-"));
        assert_eq!(checkpoint_id().len(), 8 + 32);
    }
}
