//! `POST /fine_tuning/jobs`: the body's checks, the model's, the files' (read on a blocking
//! thread), then the job with its resolved hyperparameters and its plan, stored and answered.

use super::plan::plan;
use super::{JobRecord, Outcome};
use crate::azure::{AzureApi, Caps};
use crate::errors::{ApiError, ApiResult};
use crate::job_params::{CreateJob, JobParams};
use crate::models::{self, Tunable};
use crate::state::{AppState, Store};
use crate::training::{analyze, Analysis, DataFormat};
use crate::util::{now_ms, parse_json, random_id, random_lower};
use axum::body::Bytes;
use axum::extract::{Extension, OriginalUri, State};
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use fine_tune_dataset::rules;
use serde_json::{json, Map, Value};
use std::path::PathBuf;

/// `POST /fine_tuning/jobs`.
pub(crate) async fn create(
    State(state): State<AppState>,
    Extension(AzureApi(caps)): Extension<AzureApi>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    body: Bytes,
) -> ApiResult<Response> {
    refuse_if_wound_down(&state)?;
    let params = JobParams::check(parse_json::<CreateJob>(&body)?, caps)?;
    let tunable = check_model(&state, caps.is_some(), &params.model, &params.method_type)?;
    let format = data_format(&params.method_type, &tunable.base);
    let files = check_files(&state, &params, &tunable.base, format).await?;
    let mut job = new_job(&state, caps.is_some(), params, tunable, &files);
    plan(&mut job, &state, &files.train, files.valid.as_ref());
    let (id, v) = store_job(&state, job, caps);
    state.count(|s| s.jobs_created += 1);
    Ok(respond(caps, &headers, &uri, &id, v))
}

/// With `fine_tuning_unavailable`: refuses, as OpenAI's wind-down notice describes (its exact
/// code is not published).
fn refuse_if_wound_down(state: &AppState) -> ApiResult<()> {
    if !state.0.fine_tuning_unavailable {
        return Ok(());
    }
    Err(ApiError::new(
        StatusCode::FORBIDDEN,
        "invalid_request_error",
        "Fine-tuning is no longer available for your organization. Existing fine-tuned models remain available for inference until their base models are deprecated. See https://platform.openai.com/docs/deprecations.",
    ))
}

/// Resolves `model` and checks that it can still be fine-tuned (on Azure: its training not
/// retired) with `method_type`.
fn check_model(
    state: &AppState,
    on_azure: bool,
    model: &str,
    method_type: &str,
) -> ApiResult<Tunable> {
    let unavailable =
        |message: String| ApiError::invalid(message, Some("model")).code("model_not_available");
    let tunable = models::resolve(model).ok_or_else(|| {
        unavailable(format!(
            "Model {model} is not available for fine-tuning or does not exist."
        ))
    })?;
    if let Some(date) = crate::chat::shutdown_date(state, &tunable.base) {
        if crate::chat::is_past(&date) {
            return Err(unavailable(format!(
                "Model {model} was shut down on {date} and is not available for fine-tuning."
            )));
        }
    }
    if on_azure {
        // facts §6 (D-RET): Azure's training retirement of the base model.
        if let (Some(date), _) = crate::azure::retirement(state, &tunable.base) {
            if crate::chat::is_past(&date) {
                return Err(unavailable(format!(
                    "Model {model} can no longer be fine-tuned on Azure: its training retired on {date}."
                )));
            }
        }
    }
    check_method_supported(model, &tunable.base, method_type)?;
    Ok(tunable)
}

/// Completion models take `supervised` only; `reinforcement` needs an o4-mini.
fn check_method_supported(model: &str, base: &str, method_type: &str) -> ApiResult<()> {
    if models::is_completion_model(base) && method_type != "supervised" {
        return Err(ApiError::invalid(
            format!("Model {model} does not support the '{method_type}' fine-tuning method."),
            Some("method.type"),
        ));
    }
    if method_type == "reinforcement" && !base.starts_with("o4-mini") {
        return Err(ApiError::invalid(
            format!("Model {model} does not support the 'reinforcement' fine-tuning method."),
            Some("model"),
        ));
    }
    Ok(())
}

/// The format the job's files must have.
fn data_format(method_type: &str, base: &str) -> DataFormat {
    match method_type {
        "dpo" => DataFormat::Preference,
        "reinforcement" => DataFormat::Reinforcement,
        _ if models::is_completion_model(base) => DataFormat::Completion,
        _ => DataFormat::Chat,
    }
}

/// Checks that a file exists, has purpose `fine-tune` and is processed; returns its path.
fn usable_file(store: &Store, id: &str, param: &str) -> ApiResult<PathBuf> {
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

/// What the job's files hold.
struct FileChecks {
    train: Analysis,
    valid: Option<Analysis>,
    /// The tokens of the training file, counted with the base model's own encoding (0 when
    /// the file has a problem).
    train_tokens: u64,
}

/// Checks that the job's files can be used, then reads them on a blocking thread.
async fn check_files(
    state: &AppState,
    params: &JobParams,
    base: &str,
    format: DataFormat,
) -> ApiResult<FileChecks> {
    let (train_path, valid_path) = {
        let store = state.store();
        let t = usable_file(&store, &params.training_file, "training_file")?;
        let v = match &params.validation_file {
            Some(v) => Some(usable_file(&store, v, "validation_file")?),
            None => None,
        };
        (t, v)
    };
    let token_opts = fine_tune_dataset::ValidateOptions {
        base_model: Some(base.to_string()),
        method: if format == DataFormat::Preference {
            fine_tune_dataset::Method::Dpo
        } else {
            fine_tune_dataset::Method::Supervised
        },
        ..Default::default()
    };
    tokio::task::spawn_blocking(move || read_files(&train_path, valid_path, format, &token_opts))
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?
        .map_err(ApiError::from)
}

/// Analyses the files and counts the training file's tokens (blocking).
fn read_files(
    train_path: &std::path::Path,
    valid_path: Option<PathBuf>,
    format: DataFormat,
    token_opts: &fine_tune_dataset::ValidateOptions,
) -> std::io::Result<FileChecks> {
    let train = analyze(
        train_path,
        format,
        "training_file",
        Some(rules::MIN_EXAMPLES),
    )?;
    let valid = match valid_path {
        Some(p) => Some(analyze(&p, format, "validation_file", None)?),
        None => None,
    };
    let train_tokens = match &train.error {
        None => fine_tune_dataset::validate_path(train_path, token_opts)
            .map(|r| r.tokens.total)
            .unwrap_or(0),
        Some(_) => 0,
    };
    Ok(FileChecks {
        train,
        valid,
        train_tokens,
    })
}

/// The values `"auto"` hyperparameters resolve to for `n` examples: (all of them, epochs,
/// batch size).
fn resolve_hp(
    user_hp: &Map<String, Value>,
    n: u64,
    method_type: &str,
) -> (Map<String, Value>, u64, u64) {
    let epochs = user_hp
        .get("n_epochs")
        .and_then(Value::as_u64)
        .unwrap_or_else(|| u64::from(rules::default_epochs(n)));
    let batch = user_hp
        .get("batch_size")
        .and_then(Value::as_u64)
        .unwrap_or_else(|| (n.div_ceil(500)).clamp(1, 256));
    let mut resolved = Map::new();
    resolved.insert("n_epochs".into(), json!(epochs));
    resolved.insert("batch_size".into(), json!(batch));
    resolved.insert("learning_rate_multiplier".into(), json!(1.8));
    match method_type {
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
    (resolved, epochs, batch)
}

/// The job record, starting now and lasting the configured job duration (its plan not yet
/// laid out).
fn new_job(
    state: &AppState,
    azure: bool,
    p: JobParams,
    tunable: Tunable,
    files: &FileChecks,
) -> JobRecord {
    let now = now_ms();
    let d = state.0.job_duration_ms.max(10) as i64;
    let n = files.train.n_examples as u64;
    let (resolved_hp, epochs, batch) = resolve_hp(&p.user_hp, n, &p.method_type);
    let fine_tuned_model = if azure {
        crate::azure::fine_tuned_name(&tunable.base)
    } else {
        let org = &state.0.organization;
        models::fine_tuned_name(&tunable.base, org, p.suffix.as_deref(), &random_lower(8))
    };
    JobRecord {
        id: random_id("ftjob-", 24),
        created_ms: now,
        seq: 0,
        model: tunable.model,
        has_validation: p.validation_file.is_some(),
        training_file: p.training_file,
        validation_file: p.validation_file,
        suffix: p.suffix,
        seed: p.seed,
        metadata: p.metadata,
        integrations: p.integrations,
        method_type: p.method_type,
        user_hp: p.user_hp,
        resolved_hp,
        method_extra: p.method_extra,
        validating_until: now + d / 10,
        queued_until: now + d / 5,
        natural_end: now + d,
        outcome: Outcome::Succeeded,
        outcome_at: now + d,
        events: Vec::new(),
        event_seq: 0,
        checkpoints: Vec::new(),
        fine_tuned_model,
        trained_tokens: files.train_tokens.max(1) * epochs,
        result_file_id: random_id("file-", 24),
        result_materialized: false,
        total_steps: (n * epochs).div_ceil(batch).max(1),
        paused_at: None,
        azure,
    }
}

/// Stores the job; returns its id and its `FineTuningJob` object as of now.
fn store_job(state: &AppState, mut job: JobRecord, caps: Option<&Caps>) -> (String, Value) {
    let mut store = state.store();
    job.seq = store.next_seq();
    let v = job.to_json(&state.0.organization, now_ms(), caps);
    let id = job.id.clone();
    store.jobs.insert(id.clone(), job);
    (id, v)
}

/// The answer: 200 with the job (OpenAI, Azure v1), or 201 with its `Location` (Azure's dated
/// APIs).
fn respond(caps: Option<&Caps>, headers: &HeaderMap, uri: &Uri, id: &str, v: Value) -> Response {
    match caps {
        // facts §2: the dated APIs answer "create → **201** + Location".
        Some(caps) if caps.create_201 => {
            let host = headers
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .unwrap_or("127.0.0.1");
            let path = uri.path().trim_end_matches('/');
            let location = format!("http://{host}{path}/{id}?api-version={}", caps.version);
            (StatusCode::CREATED, [(header::LOCATION, location)], Json(v)).into_response()
        }
        // facts §2: v1 answers "`POST /fine_tuning/jobs` → **200**".
        _ => Json(v).into_response(),
    }
}
