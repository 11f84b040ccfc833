//! The fine-tuning jobs API. A job's whole life (status changes, events, checkpoints, outcome)
//! is planned at creation from the options and the checks of its files; reads compute what is
//! visible at the current time, so jobs progress without a background task and deterministically.

use crate::azure::{AzureApi, Caps};
use crate::errors::{ApiError, ApiResult};
use crate::files::{insert_file, NewFile};
use crate::job_params::{
    check_integrations, check_metadata, hp_keys, opt_string, parse_method, CreateJob,
};
use crate::models;
use crate::state::{AppState, Store};
use crate::training::{analyze, Analysis, DataFormat, JobError};
use crate::util::{
    now_ms, parse_json, query_get, query_int, query_pairs, random_id, random_lower, secs,
};
use axum::body::Bytes;
use axum::extract::{Extension, OriginalUri, Path, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use fine_tune_dataset::rules;
use rand::Rng;
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

/// Deterministic noise in [-0.5, 0.5) from a seed and a step (splitmix64).
fn noise(seed: i64, step: u64) -> f64 {
    let mut z = (seed as u64) ^ step.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z % 10_000) as f64 / 10_000.0 - 0.5
}

/// Plausible falling training loss and token accuracy at `step` of `total`.
fn train_metrics(seed: i64, step: u64, total: u64) -> (f64, f64) {
    let x = step as f64 / total.max(1) as f64;
    let loss = (0.15 + 1.85 * (-4.0 * x).exp() + 0.08 * noise(seed, step)).max(0.01);
    let acc = (1.0 - loss / 2.4).clamp(0.0, 1.0);
    (round4(loss), round4(acc))
}

/// Validation loss and accuracy at `step`.
fn valid_metrics(seed: i64, step: u64, total: u64) -> (f64, f64) {
    let (l, _) = train_metrics(seed ^ 0x5555, step, total);
    let loss = l * 1.08 + 0.03;
    (round4(loss), round4((1.0 - loss / 2.4).clamp(0.0, 1.0)))
}

fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
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

/// Checks that a file exists, has purpose `fine-tune` and is processed; returns its path.
fn usable_file(store: &Store, id: &str, param: &str) -> ApiResult<std::path::PathBuf> {
    let f = store
        .files
        .get(id)
        .ok_or_else(|| ApiError::invalid(format!("invalid {param}: {id}"), Some(param)))?;
    if f.purpose != "fine-tune" {
        return Err(ApiError::invalid(
            format!("File {id} has purpose '{}', but fine-tuning requires files with purpose 'fine-tune'.", f.purpose),
            Some(param),
        )
        .code("invalid_file_purpose"));
    }
    if !f.processed() {
        return Err(ApiError::invalid(
            format!("File {id} is still being processed and is not ready for fine-tuning yet."),
            Some(param),
        )
        .code("file_not_ready"));
    }
    Ok(f.path.clone())
}

/// `POST /fine_tuning/jobs`.
pub(crate) async fn create(
    State(state): State<AppState>,
    Extension(AzureApi(caps)): Extension<AzureApi>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    body: Bytes,
) -> ApiResult<Response> {
    if state.0.fine_tuning_unavailable {
        // As OpenAI's wind-down notice describes (its exact code is not published).
        return Err(ApiError::new(
            axum::http::StatusCode::FORBIDDEN,
            "invalid_request_error",
            "Fine-tuning is no longer available for your organization. Existing fine-tuned models remain available for inference until their base models are deprecated. See https://platform.openai.com/docs/deprecations.",
        ));
    }
    let mut req: CreateJob = parse_json(&body)?;
    if let Some(caps) = caps {
        // Fields the flavour does not declare (facts §2: A1021's `FineTuningJobCreation` has
        // no method/metadata/integrations; A25P no metadata). Whether Azure refuses or drops
        // them is not in facts.md: the emulator drops them, so the job has none of them.
        if !caps.metadata {
            req.metadata = None;
        }
        if !caps.integrations {
            req.integrations = None;
        }
        if caps.methods.is_empty() {
            req.method = None;
        }
    }
    let model = opt_string(req.model, "model")?
        .ok_or_else(|| ApiError::invalid("Missing required parameter: 'model'.", Some("model")))?;
    let training_file = opt_string(req.training_file, "training_file")?.ok_or_else(|| {
        ApiError::invalid(
            "Missing required parameter: 'training_file'.",
            Some("training_file"),
        )
    })?;
    let validation_file = opt_string(req.validation_file, "validation_file")?;
    let suffix = opt_string(req.suffix, "suffix")?;
    if let (Some(caps), Some(s)) = (caps, &suffix) {
        caps.check_suffix(s)?;
    }
    if let Some(s) = &suffix {
        if s.is_empty() || s.chars().count() > 64 {
            return Err(ApiError::invalid(
                "Invalid 'suffix': string must be between 1 and 64 characters long.",
                Some("suffix"),
            ));
        }
        if !s
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        {
            return Err(ApiError::invalid(
                "Invalid 'suffix': only letters, digits, '-', '_' and '.' are allowed.",
                Some("suffix"),
            ));
        }
    }
    let seed = match req.seed {
        None | Some(Value::Null) => rand::rng().random_range(0..2_147_483_647i64),
        Some(v) => v
            .as_i64()
            .filter(|s| (0..=2_147_483_647).contains(s))
            .ok_or_else(|| {
                ApiError::invalid(
                    "Invalid 'seed': expected an integer between 0 and 2147483647.",
                    Some("seed"),
                )
            })?,
    };
    let metadata = check_metadata(req.metadata)?;
    let integrations = check_integrations(req.integrations)?;
    let (method_type, user_hp, method_extra) = parse_method(req.method, req.hyperparameters)?;
    if let Some(caps) =
        caps.filter(|c| !c.methods.is_empty() && !c.methods.contains(&method_type.as_str()))
    {
        // facts §2: A25P's `method.type` is "dpo|supervised only".
        return Err(ApiError::invalid(
            format!(
                "Invalid 'method.type' on api-version {}: expected one of {:?}, got '{method_type}'.",
                caps.version, caps.methods
            ),
            Some("method.type"),
        ));
    }
    let tunable = models::resolve(&model).ok_or_else(|| {
        ApiError::invalid(
            format!("Model {model} is not available for fine-tuning or does not exist."),
            Some("model"),
        )
        .code("model_not_available")
    })?;
    if let Some(date) = crate::chat::shutdown_date(&state, &tunable.base) {
        if crate::chat::is_past(&date) {
            return Err(ApiError::invalid(
                format!(
                    "Model {model} was shut down on {date} and is not available for fine-tuning."
                ),
                Some("model"),
            )
            .code("model_not_available"));
        }
    }
    if caps.is_some() {
        // facts §6 (D-RET): Azure's training retirement of the base model.
        if let (Some(date), _) = crate::azure::retirement(&state, &tunable.base) {
            if crate::chat::is_past(&date) {
                return Err(ApiError::invalid(
                    format!("Model {model} can no longer be fine-tuned on Azure: its training retired on {date}."),
                    Some("model"),
                )
                .code("model_not_available"));
            }
        }
    }
    let completion = models::is_completion_model(&tunable.base);
    if completion && method_type != "supervised" {
        return Err(ApiError::invalid(
            format!("Model {model} does not support the '{method_type}' fine-tuning method."),
            Some("method.type"),
        ));
    }
    if method_type == "reinforcement" && !tunable.base.starts_with("o4-mini") {
        return Err(ApiError::invalid(
            format!("Model {model} does not support the 'reinforcement' fine-tuning method."),
            Some("model"),
        ));
    }
    let format = match method_type.as_str() {
        "dpo" => DataFormat::Preference,
        "reinforcement" => DataFormat::Reinforcement,
        _ if completion => DataFormat::Completion,
        _ => DataFormat::Chat,
    };
    let (train_path, valid_path) = {
        let store = state.store();
        let t = usable_file(&store, &training_file, "training_file")?;
        let v = match &validation_file {
            Some(v) => Some(usable_file(&store, v, "validation_file")?),
            None => None,
        };
        (t, v)
    };
    let token_opts = fine_tune_dataset::ValidateOptions {
        base_model: Some(tunable.base.clone()),
        method: if format == DataFormat::Preference {
            fine_tune_dataset::Method::Dpo
        } else {
            fine_tune_dataset::Method::Supervised
        },
        ..Default::default()
    };
    let (train, valid, train_tokens) = tokio::task::spawn_blocking(
        move || -> std::io::Result<(Analysis, Option<Analysis>, u64)> {
            let t = analyze(
                &train_path,
                format,
                "training_file",
                Some(rules::MIN_EXAMPLES),
            )?;
            let v = match valid_path {
                Some(p) => Some(analyze(&p, format, "validation_file", None)?),
                None => None,
            };
            // The tokens of the training file, counted with the base model's own encoding.
            let tokens = match &t.error {
                None => fine_tune_dataset::validate_path(&train_path, &token_opts)
                    .map(|r| r.tokens.total)
                    .unwrap_or(0),
                Some(_) => 0,
            };
            Ok((t, v, tokens))
        },
    )
    .await
    .map_err(|e| ApiError::internal(e.to_string()))??;

    let org = state.0.organization.clone();
    let now = now_ms();
    let d = state.0.job_duration_ms.max(10) as i64;
    let n = train.n_examples as u64;
    let mut resolved = Map::new();
    let epochs = user_hp
        .get("n_epochs")
        .and_then(Value::as_u64)
        .unwrap_or_else(|| u64::from(rules::default_epochs(n)));
    let batch = user_hp
        .get("batch_size")
        .and_then(Value::as_u64)
        .unwrap_or_else(|| (n.div_ceil(500)).clamp(1, 256));
    resolved.insert("n_epochs".into(), json!(epochs));
    resolved.insert("batch_size".into(), json!(batch));
    resolved.insert("learning_rate_multiplier".into(), json!(1.8));
    match method_type.as_str() {
        "dpo" => {
            resolved.insert("beta".into(), json!(0.1));
        }
        "reinforcement" => {
            resolved.insert("compute_multiplier".into(), json!(1.0));
            resolved.insert("eval_interval".into(), json!(1));
            resolved.insert("eval_samples".into(), json!(1));
            resolved.insert("reasoning_effort".into(), json!("default"));
        }
        _ => {}
    }
    let total_steps = (n * epochs).div_ceil(batch).max(1);
    let id = random_id("ftjob-", 24);
    let fine_tuned_model = match caps {
        Some(_) => crate::azure::fine_tuned_name(&tunable.base),
        None => models::fine_tuned_name(&tunable.base, &org, suffix.as_deref(), &random_lower(8)),
    };
    let mut job = JobRecord {
        id: id.clone(),
        created_ms: now,
        seq: 0,
        model: tunable.model,
        training_file: training_file.clone(),
        validation_file: validation_file.clone(),
        suffix,
        seed,
        metadata,
        integrations,
        method_type,
        user_hp,
        resolved_hp: resolved,
        method_extra,
        validating_until: now + d / 10,
        queued_until: now + d / 5,
        natural_end: now + d,
        outcome: Outcome::Succeeded,
        outcome_at: now + d,
        events: Vec::new(),
        event_seq: 0,
        checkpoints: Vec::new(),
        fine_tuned_model,
        trained_tokens: train_tokens.max(1) * epochs,
        result_file_id: random_id("file-", 24),
        result_materialized: false,
        total_steps,
        has_validation: validation_file.is_some(),
        paused_at: None,
        azure: caps.is_some(),
    };
    plan(&mut job, &state, &train, valid.as_ref());
    let mut store = state.store();
    job.seq = store.next_seq();
    let v = job.to_json(&org, now_ms(), caps);
    store.jobs.insert(id.clone(), job);
    drop(store);
    state.count(|s| s.jobs_created += 1);
    match caps {
        // facts §2: the dated APIs answer "create → **201** + Location".
        Some(caps) if caps.create_201 => {
            let host = headers
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .unwrap_or("127.0.0.1");
            let path = uri.path().trim_end_matches('/');
            let location = format!("http://{host}{path}/{id}?api-version={}", caps.version);
            Ok((StatusCode::CREATED, [(header::LOCATION, location)], Json(v)).into_response())
        }
        // facts §2: v1 answers "`POST /fine_tuning/jobs` → **200**".
        _ => Ok(Json(v).into_response()),
    }
}

/// Lays out the job's timeline: events, metrics, checkpoints and the outcome.
fn plan(job: &mut JobRecord, state: &AppState, train: &Analysis, valid: Option<&Analysis>) {
    let t0 = job.created_ms;
    job.push_event(
        t0,
        "info",
        format!("Created fine-tuning job: {}", job.id),
        "message",
        json!({}),
    );
    let mut validating = format!("Validating training file: {}", job.training_file);
    if let Some(v) = &job.validation_file {
        validating.push_str(&format!(" and validation file: {v}"));
    }
    job.push_event(t0, "info", validating, "message", json!({}));
    let error = train
        .error
        .clone()
        .or_else(|| valid.and_then(|v| v.error.clone()));
    if let Some(e) = error {
        let at = job.validating_until;
        job.outcome_at = at;
        job.end_at(at, Outcome::Failed(e));
        return;
    }
    job.push_event(
        job.validating_until,
        "info",
        "Files validated, moving job to queued state".into(),
        "message",
        json!({}),
    );
    job.push_event(
        job.queued_until,
        "info",
        "Fine-tuning job started".into(),
        "message",
        json!({}),
    );
    let total = job.total_steps;
    let run_start = job.queued_until;
    let run_end = job.natural_end - (job.natural_end - job.queued_until) / 20;
    let at_step =
        |step: u64| run_start + ((run_end - run_start) as f64 * step as f64 / total as f64) as i64;
    let shown = total.min(20);
    for i in 1..=shown {
        let step = (i * total).div_ceil(shown);
        let (loss, acc) = train_metrics(job.seed, step, total);
        let mut data = json!({
            "step": step,
            "train_loss": loss,
            "total_steps": total,
            "train_mean_token_accuracy": acc,
        });
        let mut message = format!("Step {step}/{total}: training loss={loss:.4}");
        if job.has_validation {
            let (vl, va) = valid_metrics(job.seed, step, total);
            data["valid_loss"] = json!(vl);
            data["valid_mean_token_accuracy"] = json!(va);
            message.push_str(&format!(", validation loss={vl:.4}"));
        }
        job.push_event(at_step(step), "info", message, "metrics", data);
    }
    let epochs = job
        .resolved_hp
        .get("n_epochs")
        .and_then(Value::as_u64)
        .unwrap_or(1)
        .max(1);
    let epochs = job
        .user_hp
        .get("n_epochs")
        .and_then(Value::as_u64)
        .unwrap_or(epochs);
    for e in epochs.saturating_sub(2).max(1)..=epochs {
        let step = (e * total).div_ceil(epochs);
        let at = if e == epochs {
            job.natural_end
        } else {
            at_step(step)
        };
        let (loss, acc) = train_metrics(job.seed, step, total);
        let mut metrics = json!({
            "step": step,
            "train_loss": loss,
            "train_mean_token_accuracy": acc,
        });
        if job.has_validation {
            let (vl, va) = valid_metrics(job.seed, step, total);
            for (k, v) in [
                ("valid_loss", vl),
                ("valid_mean_token_accuracy", va),
                ("full_valid_loss", vl),
                ("full_valid_mean_token_accuracy", va),
            ] {
                metrics[k] = json!(v);
            }
        }
        let name = format!("{}:ckpt-step-{step}", job.fine_tuned_model);
        job.push_event(
            at,
            "info",
            format!("Checkpoint created at step {step} with Snapshot ID: {name}"),
            "message",
            json!({}),
        );
        job.checkpoints.push(Checkpoint {
            // facts §3: Azure's checkpoints are `ftchkpt-<32 hex>`.
            id: if job.azure {
                crate::azure::checkpoint_id()
            } else {
                random_id("ftckpt_", 24)
            },
            at_ms: at,
            step,
            metrics,
            name,
        });
    }
    let end = job.natural_end;
    job.push_event(
        end,
        "info",
        format!("New fine-tuned model created: {}", job.fine_tuned_model),
        "message",
        json!({}),
    );
    job.push_event(
        end,
        "info",
        "The job has successfully completed".into(),
        "message",
        json!({}),
    );
    let faults = &state.0.faults;
    if faults.fail_jobs {
        let at = run_start + (job.natural_end - run_start) / 2;
        job.end_at(
            at,
            Outcome::Failed(JobError {
                code: "server_error".into(),
                message: "The job failed due to an internal error.".into(),
                param: None,
            }),
        );
    }
    if let Some(ms) = faults.cancel_jobs_after_ms {
        let at = t0 + ms as i64;
        if at < job.outcome_at {
            job.end_at(at, Outcome::Cancelled);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loss_falls() {
        let (first, _) = train_metrics(1, 1, 100);
        let (last, _) = train_metrics(1, 100, 100);
        assert!(first > last + 1.0, "{first} {last}");
    }
}
