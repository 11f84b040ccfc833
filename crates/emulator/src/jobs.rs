//! The fine-tuning jobs API. A job's whole life (status changes, events, checkpoints, outcome)
//! is planned at creation from the options and the checks of its files; reads compute what is
//! visible at the current time, so jobs progress without a background task and deterministically.

mod create;
mod plan;

pub(crate) use create::create;

use crate::azure::{AzureApi, Caps};
use crate::errors::{ApiError, ApiResult};
use crate::files::{insert_file, NewFile};
use crate::job_params::hp_keys;
use crate::state::{AppState, Store};
use crate::training::JobError;
use crate::util::{now_ms, query_get, query_int, query_pairs, random_id, secs};
use axum::extract::{Extension, Path, RawQuery, State};
use axum::Json;
use plan::{train_metrics, valid_metrics};
use serde_json::{json, Map, Value};

/// One event of a job's planned timeline.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(crate) struct TimedEvent {
    id: String,
    at_ms: i64,
    seq: u64,
    #[serde(deserialize_with = "crate::persist::static_str")]
    level: crate::persist::Word,
    message: String,
    #[serde(deserialize_with = "crate::persist::static_str")]
    kind: crate::persist::Word,
    data: Value,
}

/// A checkpoint, visible once its time has come.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(crate) struct Checkpoint {
    id: String,
    at_ms: i64,
    step: u64,
    metrics: Value,
    name: String,
}

/// How a job ends.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub(crate) enum Outcome {
    Succeeded,
    Failed(JobError),
    Cancelled,
}

/// A fine-tuning job and its plan.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(crate) struct JobRecord {
    id: String,
    created_ms: i64,
    seq: u64,
    model: String,
    training_file: String,
    validation_file: Option<String>,
    suffix: Option<String>,
    seed: i64,
    metadata: Option<Map<String, Value>>,
    integrations: Value,
    method_type: String,
    /// User-given hyperparameters (as sent, `"auto"` allowed).
    user_hp: Map<String, Value>,
    /// Values that `"auto"` resolves to once the job runs.
    resolved_hp: Map<String, Value>,
    /// Extra method fields (the reinforcement grader).
    method_extra: Map<String, Value>,
    validating_until: i64,
    queued_until: i64,
    natural_end: i64,
    outcome: Outcome,
    outcome_at: i64,
    events: Vec<TimedEvent>,
    event_seq: u64,
    checkpoints: Vec<Checkpoint>,
    fine_tuned_model: String,
    trained_tokens: u64,
    result_file_id: String,
    result_materialized: bool,
    total_steps: u64,
    has_validation: bool,
    /// When the job was paused (`POST …/pause`), until resumed: its clock stands still.
    paused_at: Option<i64>,
    /// Created on an Azure flavour: its ids are Azure's (`ftchkpt-…` checkpoints).
    #[serde(default)]
    azure: bool,
}

impl JobRecord {
    /// The job's own clock: `now`, or the moment it was paused.
    fn clock(&self, now: i64) -> i64 {
        self.paused_at.map_or(now, |p| now.min(p))
    }

    /// Status at `now`.
    fn status_at(&self, now: i64) -> &'static str {
        let paused = self.paused_at.is_some_and(|p| now >= p);
        let now = self.clock(now);
        if paused && now < self.outcome_at {
            return "paused";
        }
        if now >= self.outcome_at {
            match self.outcome {
                Outcome::Succeeded => "succeeded",
                Outcome::Failed(_) => "failed",
                Outcome::Cancelled => "cancelled",
            }
        } else if now < self.validating_until {
            "validating_files"
        } else if now < self.queued_until {
            "queued"
        } else {
            "running"
        }
    }

    /// Whether the job has reached a final state at `now`.
    pub fn is_final(&self, now: i64) -> bool {
        self.clock(now) >= self.outcome_at
    }

    /// Hyperparameters as shown: user values, and `"auto"` or its resolved value once running.
    fn hp(&self, now: i64, keys: &[&str]) -> Map<String, Value> {
        let now = self.clock(now);
        let resolved = now >= self.queued_until && self.outcome_at >= self.queued_until;
        let mut m = Map::new();
        for k in keys {
            let user = self.user_hp.get(*k).filter(|v| *v != "auto");
            let v = match (user, resolved) {
                (Some(v), _) => v.clone(),
                (None, true) => self.resolved_hp.get(*k).cloned().unwrap_or(json!("auto")),
                (None, false) if *k == "reasoning_effort" => json!("default"),
                (None, false) => json!("auto"),
            };
            m.insert(k.to_string(), v);
        }
        m
    }

    /// The `FineTuningJob` object at `now`, as the Azure flavour `caps` shows it (`None`:
    /// OpenAI's).
    pub fn to_json(&self, org: &str, now: i64, caps: Option<&Caps>) -> Value {
        let mut v = self.openai_json(org, now);
        if let (Some(caps), Value::Object(job)) = (caps, &mut v) {
            let status = caps.job_status(self.status_at(now));
            job.insert("status".into(), json!(status));
            caps.trim_job(job);
        }
        v
    }

    /// The `FineTuningJob` object at `now`, as OpenAI shows it.
    fn openai_json(&self, org: &str, now: i64) -> Value {
        let status = self.status_at(now);
        let done = matches!(status, "succeeded" | "failed");
        let succeeded = status == "succeeded";
        let mut method_body = self.method_extra.clone();
        method_body.insert(
            "hyperparameters".into(),
            Value::Object(self.hp(now, hp_keys(&self.method_type))),
        );
        let error = match (&self.outcome, status) {
            (Outcome::Failed(e), "failed") => {
                json!({"code": e.code, "message": e.message, "param": e.param})
            }
            _ => Value::Null,
        };
        json!({
            "object": "fine_tuning.job",
            "id": self.id,
            "model": self.model,
            "created_at": secs(self.created_ms),
            "finished_at": if done { json!(secs(self.outcome_at)) } else { Value::Null },
            "fine_tuned_model": if succeeded { json!(self.fine_tuned_model) } else { Value::Null },
            "organization_id": org,
            "result_files": if succeeded { json!([self.result_file_id]) } else { json!([]) },
            "status": status,
            "validation_file": self.validation_file,
            "training_file": self.training_file,
            "hyperparameters": self.hp(now, &["batch_size", "learning_rate_multiplier", "n_epochs"]),
            "trained_tokens": if succeeded { json!(self.trained_tokens) } else { Value::Null },
            "error": error,
            "user_provided_suffix": self.suffix,
            "seed": self.seed,
            "estimated_finish": if matches!(status, "queued" | "running") { json!(secs(self.natural_end)) } else { Value::Null },
            "integrations": self.integrations,
            "metadata": self.metadata,
            "method": { "type": self.method_type, self.method_type.clone(): method_body },
        })
    }

    fn push_event(
        &mut self,
        at_ms: i64,
        level: &'static str,
        message: String,
        kind: &'static str,
        data: Value,
    ) {
        self.event_seq += 1;
        self.events.push(TimedEvent {
            id: random_id("ftevent-", 24),
            at_ms,
            seq: self.event_seq,
            level,
            message,
            kind,
            data,
        });
    }

    /// Ends the job at `at` (earlier than planned): later events and checkpoints vanish.
    fn end_at(&mut self, at: i64, outcome: Outcome) {
        self.events.retain(|e| e.at_ms <= at);
        self.checkpoints.retain(|c| c.at_ms <= at);
        let (level, message) = match &outcome {
            Outcome::Failed(e) => ("error", format!("Fine-tuning job failed: {}", e.message)),
            Outcome::Cancelled => ("info", "Fine-tuning job cancelled".to_string()),
            Outcome::Succeeded => ("info", "The job has successfully completed".to_string()),
        };
        self.push_event(at, level, message, "message", json!({}));
        self.outcome = outcome;
        self.outcome_at = at;
    }

    fn result_csv(&self) -> String {
        let mut csv =
            String::from("step,train_loss,train_accuracy,valid_loss,valid_mean_token_accuracy\n");
        let total = self.total_steps;
        let every = (total / 10).max(1);
        for step in 1..=total.min(200_000) {
            let (l, a) = train_metrics(self.seed, step, total);
            if self.has_validation && (step % every == 0 || step == total) {
                let (vl, va) = valid_metrics(self.seed, step, total);
                csv.push_str(&format!("{step},{l},{a},{vl},{va}\n"));
            } else {
                csv.push_str(&format!("{step},{l},{a},,\n"));
            }
        }
        csv
    }
}

/// Gives finished jobs their result files (called whenever the store is locked).
pub(crate) fn advance(state: &AppState, store: &mut Store, now: i64) {
    let due: Vec<String> = store
        .jobs
        .values()
        .filter(|j| j.outcome == Outcome::Succeeded && j.is_final(now) && !j.result_materialized)
        .map(|j| j.id.clone())
        .collect();
    for id in due {
        let Some(job) = store.jobs.get_mut(&id) else {
            continue;
        };
        job.result_materialized = true;
        let (file_id, csv, at) = (job.result_file_id.clone(), job.result_csv(), job.outcome_at);
        let path = state.0.dir.join(&file_id);
        if std::fs::write(&path, csv.as_bytes()).is_ok() {
            insert_file(
                state,
                store,
                NewFile {
                    id: file_id,
                    filename: "step_metrics.csv".into(),
                    purpose: "fine-tune-results".into(),
                    path,
                    bytes: csv.len() as u64,
                    created_ms: at,
                    expires_at: None,
                    processing_ms: 0,
                },
            );
        }
    }
}

fn no_such_job(id: &str) -> ApiError {
    ApiError::not_found(
        format!("Could not find fine tune: {id}"),
        Some("fine_tuning_job_id"),
    )
    .code("fine_tune_not_found")
}

/// `GET /fine_tuning/jobs`: newest first, `after`, `limit`, `metadata[k]=v` / `metadata=null`
/// (OpenAI only).
pub(crate) async fn list(
    State(state): State<AppState>,
    Extension(AzureApi(caps)): Extension<AzureApi>,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Value>> {
    let mut pairs = query_pairs(q.as_deref());
    if caps.is_some() {
        // facts §2: v1's list takes `after` and `limit`, "**no metadata filter**"; the dated
        // APIs keep no metadata at all. A metadata filter is ignored as an unknown parameter.
        pairs.retain(|(k, _)| k != "metadata" && !k.starts_with("metadata["));
    }
    let limit = query_int(&pairs, "limit", 20, 1, 10_000)?;
    let after = query_get(&pairs, "after").filter(|a| !a.is_empty());
    let want_no_metadata = query_get(&pairs, "metadata") == Some("null");
    let filters: Vec<(String, String)> = pairs
        .iter()
        .filter_map(|(k, v)| {
            k.strip_prefix("metadata[")
                .and_then(|r| r.strip_suffix(']'))
                .map(|key| (key.to_string(), v.clone()))
        })
        .collect();
    let now = now_ms();
    let store = state.store();
    let mut jobs: Vec<_> = store
        .jobs
        .values()
        .filter(|j| {
            let empty = j.metadata.as_ref().is_none_or(Map::is_empty);
            if want_no_metadata && !empty {
                return false;
            }
            filters.iter().all(|(k, v)| {
                j.metadata
                    .as_ref()
                    .and_then(|m| m.get(k))
                    .and_then(Value::as_str)
                    == Some(v.as_str())
            })
        })
        .collect();
    jobs.sort_by_key(|j| std::cmp::Reverse((j.created_ms, j.seq)));
    if let Some(after) = after {
        jobs = match jobs.iter().position(|j| j.id == after) {
            Some(i) => jobs.split_off(i + 1),
            None => Vec::new(),
        };
    }
    let has_more = jobs.len() > limit;
    jobs.truncate(limit);
    let org = &state.0.organization;
    let data: Vec<Value> = jobs.iter().map(|j| j.to_json(org, now, caps)).collect();
    Ok(Json(
        json!({"object": "list", "data": data, "has_more": has_more}),
    ))
}

/// `GET /fine_tuning/jobs/{id}`.
pub(crate) async fn retrieve(
    State(state): State<AppState>,
    Extension(AzureApi(caps)): Extension<AzureApi>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let store = state.store();
    let job = store.jobs.get(&id).ok_or_else(|| no_such_job(&id))?;
    Ok(Json(job.to_json(&state.0.organization, now_ms(), caps)))
}

/// `POST /fine_tuning/jobs/{id}/cancel`: 400 if the job is already final.
pub(crate) async fn cancel(
    State(state): State<AppState>,
    Extension(AzureApi(caps)): Extension<AzureApi>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let now = now_ms();
    let mut store = state.store();
    let job = store.jobs.get_mut(&id).ok_or_else(|| no_such_job(&id))?;
    if job.is_final(now) {
        return Err(ApiError::invalid(
            format!(
                "Job {id} has already {} and cannot be cancelled.",
                job.status_at(now)
            ),
            None,
        )
        .code("job_already_finished"));
    }
    // A paused job ends where its clock stopped.
    let at = job.clock(now);
    job.paused_at = None;
    job.end_at(at, Outcome::Cancelled);
    let v = job.to_json(&state.0.organization, now, caps);
    drop(store);
    state.count(|s| s.jobs_cancelled += 1);
    Ok(Json(v))
}

/// `GET /fine_tuning/jobs/{id}/events`: newest first, `after`, `limit` (default 20).
pub(crate) async fn events(
    State(state): State<AppState>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Value>> {
    let pairs = query_pairs(q.as_deref());
    let limit = query_int(&pairs, "limit", 20, 1, 10_000)?;
    let after = query_get(&pairs, "after").filter(|a| !a.is_empty());
    let now = now_ms();
    let store = state.store();
    let job = store.jobs.get(&id).ok_or_else(|| no_such_job(&id))?;
    let now = job.clock(now);
    let mut events: Vec<&TimedEvent> = job.events.iter().filter(|e| e.at_ms <= now).collect();
    events.sort_by_key(|e| std::cmp::Reverse((e.at_ms, e.seq)));
    if let Some(after) = after {
        events = match events.iter().position(|e| e.id == after) {
            Some(i) => events.split_off(i + 1),
            None => Vec::new(),
        };
    }
    let has_more = events.len() > limit;
    events.truncate(limit);
    let data: Vec<Value> = events
        .iter()
        .map(|e| {
            json!({
                "object": "fine_tuning.job.event",
                "id": e.id,
                "created_at": secs(e.at_ms),
                "level": e.level,
                "message": e.message,
                "data": e.data,
                "type": e.kind,
            })
        })
        .collect();
    Ok(Json(
        json!({"object": "list", "data": data, "has_more": has_more}),
    ))
}

/// `GET /fine_tuning/jobs/{id}/checkpoints`: newest first, `after`, `limit` (default 10).
pub(crate) async fn checkpoints(
    State(state): State<AppState>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Value>> {
    let pairs = query_pairs(q.as_deref());
    let limit = query_int(&pairs, "limit", 10, 1, 10_000)?;
    let after = query_get(&pairs, "after").filter(|a| !a.is_empty());
    let now = now_ms();
    let store = state.store();
    let job = store.jobs.get(&id).ok_or_else(|| no_such_job(&id))?;
    let now = job.clock(now);
    let mut cps: Vec<&Checkpoint> = job.checkpoints.iter().filter(|c| c.at_ms <= now).collect();
    cps.sort_by_key(|c| std::cmp::Reverse(c.step));
    if let Some(after) = after {
        cps = match cps.iter().position(|c| c.id == after) {
            Some(i) => cps.split_off(i + 1),
            None => Vec::new(),
        };
    }
    let has_more = cps.len() > limit;
    cps.truncate(limit);
    let data: Vec<Value> = cps
        .iter()
        .map(|c| {
            json!({
                "object": "fine_tuning.job.checkpoint",
                "id": c.id,
                "created_at": secs(c.at_ms),
                "fine_tuned_model_checkpoint": c.name,
                "step_number": c.step,
                "metrics": c.metrics,
                "fine_tuning_job_id": job.id,
            })
        })
        .collect();
    Ok(Json(json!({
        "object": "list",
        "data": data,
        "first_id": cps.first().map(|c| c.id.clone()),
        "last_id": cps.last().map(|c| c.id.clone()),
        "has_more": has_more,
    })))
}

/// `POST /fine_tuning/jobs/{id}/pause` (a running job: its clock stops, status `paused`) and
/// `…/resume` (a paused job: everything still to come moves later by the pause's length).
pub(crate) async fn pause_resume(
    State(state): State<AppState>,
    Extension(AzureApi(caps)): Extension<AzureApi>,
    Path(id): Path<String>,
    uri: axum::http::Uri,
) -> ApiResult<Json<Value>> {
    let pause = uri.path().ends_with("/pause");
    let now = now_ms();
    let mut store = state.store();
    let job = store.jobs.get_mut(&id).ok_or_else(|| no_such_job(&id))?;
    let status = job.status_at(now);
    if pause {
        if status != "running" {
            return Err(ApiError::invalid(
                format!("Job {id} is {status}; only a running job can be paused."),
                None,
            ));
        }
        job.paused_at = Some(now);
        job.push_event(
            now,
            "info",
            "Fine-tuning job paused".into(),
            "message",
            json!({}),
        );
    } else {
        let Some(p) = job.paused_at.filter(|_| status == "paused") else {
            return Err(ApiError::invalid(
                format!("Job {id} is {status}; only a paused job can be resumed."),
                None,
            ));
        };
        let shift = now - p;
        for t in [
            &mut job.validating_until,
            &mut job.queued_until,
            &mut job.natural_end,
            &mut job.outcome_at,
        ] {
            if *t > p {
                *t += shift;
            }
        }
        for e in job.events.iter_mut().filter(|e| e.at_ms > p) {
            e.at_ms += shift;
        }
        for c in job.checkpoints.iter_mut().filter(|c| c.at_ms > p) {
            c.at_ms += shift;
        }
        job.paused_at = None;
        job.push_event(
            now,
            "info",
            "Fine-tuning job resumed".into(),
            "message",
            json!({}),
        );
    }
    Ok(Json(job.to_json(&state.0.organization, now, caps)))
}

/// Fine-tuned models of succeeded jobs at `now` (for chat completions and models).
pub(crate) fn fine_tuned_models(store: &Store, now: i64) -> Vec<(String, i64)> {
    store
        .jobs
        .values()
        .filter(|j| j.status_at(now) == "succeeded")
        .filter(|j| !store.deleted_models.contains(&j.fine_tuned_model))
        .map(|j| (j.fine_tuned_model.clone(), secs(j.outcome_at)))
        .collect()
}

/// The training file id and the base model of the job that produced `model`.
pub(crate) fn job_of_model(store: &Store, model: &str) -> Option<(String, String)> {
    store
        .jobs
        .values()
        .find(|j| j.fine_tuned_model == model)
        .map(|j| (j.training_file.clone(), j.model.clone()))
}
