//! The whole run: check → load → validate → journal → upload → create job → wait → register.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde_json::{json, Map, Value};
use tokio_util::sync::CancellationToken;

use crate::client::{Client, Job};
use crate::error::{Error, ErrorCode, Result};
use crate::journal::{self, Journal, RunRecord};
use crate::options::{self, Auto, Method, Resolved, TrainOptions};
use crate::registry::{self, Registry};
use crate::source::{self, LocalData};
use crate::{models, progress::ProgressEvent};

/// Metadata keys this library sets on every job.
pub const RESERVED_METADATA: [&str; 3] = ["model_key", "agent_name", "run_id"];

/// The `ABORT_ERR` error.
pub fn aborted() -> Error {
    Error::new(ErrorCode::Aborted, "The operation was aborted")
}

/// Receives progress events; must not block.
pub type ProgressFn = Arc<dyn Fn(ProgressEvent) + Send + Sync>;

/// What a run can be steered with besides its options.
#[derive(Clone, Default)]
pub struct RunContext {
    /// Cancelled when the caller aborts.
    pub cancel: CancellationToken,
    /// Receives progress events.
    pub progress: Option<ProgressFn>,
}

impl RunContext {
    fn emit(&self, ev: ProgressEvent) {
        if let Some(p) = &self.progress {
            p(ev);
        }
    }
}

/// What a successful run registered.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RegisteredModel {
    pub model_key: String,
    pub agent_name: String,
    pub base_model: String,
    pub fine_tuned_model: String,
    pub job_id: String,
    pub training_file_id: String,
    pub validation_file_id: Option<String>,
    pub suffix: String,
    pub trained_tokens: Option<u64>,
    pub created_at: String,
    pub finished_at: String,
    pub registry_path: String,
    /// Summary of the job's result file (losses, accuracy, steps), when it could be read.
    pub metrics: Option<crate::metrics::MetricsSummary>,
    /// The loss curve drawn as SVG beside the registry, when there was one to draw.
    pub curve_path: Option<String>,
}

fn iso(ts: Option<i64>) -> String {
    let ts = ts.unwrap_or_else(|| chrono::Utc::now().timestamp());
    chrono::DateTime::from_timestamp(ts, 0)
        .unwrap_or_else(chrono::Utc::now)
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn options_digest(r: &Resolved) -> String {
    let o = &r.opts;
    let h = &o.hyperparameters;
    let meta = serde_json::to_string(&o.metadata).unwrap_or_default();
    journal::digest_strings(&[
        &o.agent_name,
        &o.base_model,
        &r.suffix,
        &o.source,
        o.validation.as_deref().unwrap_or(""),
        &r.connection.base_url,
        o.method.as_str(),
        &format!("{:?}", h),
        &format!("{:?}", o.seed),
        &meta,
        &format!("{:?}", o.integrations),
    ])
}

fn method_json(o: &TrainOptions) -> Value {
    let h = &o.hyperparameters;
    let mut hp = Map::new();
    let mut put = |k: &str, v: Option<Value>| {
        if let Some(v) = v {
            hp.insert(k.to_string(), v);
        }
    };
    let to = |a: Option<Auto<u32>>| a.map(|a| serde_json::to_value(a).unwrap_or(Value::Null));
    let tof = |a: Option<Auto<f64>>| a.map(|a| serde_json::to_value(a).unwrap_or(Value::Null));
    put("n_epochs", to(h.n_epochs));
    put("batch_size", to(h.batch_size));
    put("learning_rate_multiplier", tof(h.learning_rate_multiplier));
    if o.method == Method::Dpo {
        put("beta", tof(h.beta));
    }
    let kind = o.method.as_str();
    json!({ "type": kind, kind: { "hyperparameters": hp } })
}

/// The create-job request body.
pub fn job_body(r: &Resolved, rec: &RunRecord) -> Value {
    let o = &r.opts;
    let mut metadata = Map::new();
    for (k, v) in &o.metadata {
        metadata.insert(k.clone(), Value::String(v.clone()));
    }
    metadata.insert("model_key".into(), truncate(&o.model_key, 512).into());
    metadata.insert("agent_name".into(), truncate(&o.agent_name, 512).into());
    metadata.insert("run_id".into(), rec.run_id.clone().into());
    let mut body = json!({
        "model": o.base_model,
        "training_file": rec.training_file_id,
        "method": method_json(o),
        "metadata": metadata,
    });
    if !r.suffix.is_empty() {
        body["suffix"] = r.suffix.clone().into();
    }
    if let Some(v) = &rec.validation_file_id {
        body["validation_file"] = v.clone().into();
    }
    if let Some(seed) = o.seed {
        body["seed"] = seed.into();
    }
    if !o.integrations.is_empty() {
        body["integrations"] = o
            .integrations
            .iter()
            .map(|w| json!({ "type": "wandb", "wandb": w }))
            .collect();
    }
    body
}

fn truncate(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

fn run_id() -> String {
    use rand::Rng;
    let mut rng = rand::rng();
    (0..16)
        .map(|_| format!("{:02x}", rng.random::<u8>()))
        .collect()
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::new(ErrorCode::Internal, format!("worker thread failed: {e}")))?
}

/// Loads one source to a local file (downloading a URL into the journal folder).
async fn load(
    param: &str,
    src: &str,
    r: &Resolved,
    journal: &Journal,
    ctx: &RunContext,
) -> Result<LocalData> {
    if source::is_url(src) {
        source::download(param, src, journal.dir(), r.max_download_bytes, &ctx.cancel).await
    } else {
        source::open_local(param, src)
    }
}

/// Checks one file with the dataset checker; refuses it with the report attached.
async fn check_data(param: &str, data: &LocalData, r: &Resolved, ctx: &RunContext) -> Result<()> {
    let path = data.path.clone();
    let base_model = r.opts.base_model.clone();
    let method = r.opts.method;
    let report = tokio::select! {
        _ = ctx.cancel.cancelled() => return Err(aborted()),
        r = blocking(move || crate::checks::check_file(&path, &base_model, method)) => r?,
    };
    ctx.emit(ProgressEvent::DataChecked {
        file: param.to_string(),
        report: Box::new(report.report.clone()),
    });
    if !report.valid {
        let mut e = Error::new(
            ErrorCode::InvalidTrainingData,
            format!(
                "{param} {:?} is not valid fine-tuning data: {}",
                shown(&r.opts, param),
                report.summary
            ),
        )
        .with_param(param);
        e.report = Some(serde_json::to_value(&report.report).unwrap_or(Value::Null));
        return Err(e);
    }
    Ok(())
}

fn shown(o: &TrainOptions, param: &str) -> String {
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

/// Uploads a file (unless the journal has one the API still knows) and waits until processed.
/// Large files go through the Uploads API in parts, journaled part by part.
#[allow(clippy::too_many_arguments)]
async fn ensure_uploaded(
    param: &str,
    data: &LocalData,
    rec: &mut RunRecord,
    journal: &Journal,
    client: &Client,
    r: &Resolved,
    ctx: &RunContext,
) -> Result<String> {
    let known = if param == "validation" {
        rec.validation_file_id.clone()
    } else {
        rec.training_file_id.clone()
    };
    if let Some(id) = known {
        match client.retrieve_file(&id, &ctx.cancel).await {
            Ok(f) if f.status.as_deref() != Some("error") => {
                let f = client
                    .wait_for_processing(f, r.poll_interval, max_processing_wait(r), &ctx.cancel)
                    .await?;
                return Ok(f.id);
            }
            Ok(_) => {}
            Err(e) if e.status == Some(404) => {}
            Err(e) => return Err(e),
        }
    }
    ctx.emit(ProgressEvent::UploadStarted {
        file: param.to_string(),
        bytes: data.bytes,
    });
    let f = if data.bytes > r.upload_threshold_bytes {
        match upload_in_parts(param, data, rec, journal, client, ctx, r.upload_part_bytes).await {
            Err(e)
                if matches!(e.status, Some(400) | Some(404)) && rec.uploads.contains_key(param) =>
            {
                // The Upload expired or was cancelled: start a new one.
                rec.uploads.remove(param);
                journal.save(rec)?;
                upload_in_parts(param, data, rec, journal, client, ctx, r.upload_part_bytes).await?
            }
            other => other?,
        }
    } else {
        client
            .upload_file(
                &data.path,
                &data.filename,
                upload_progress(param, data.bytes, ctx),
                &ctx.cancel,
            )
            .await?
    };
    ctx.emit(ProgressEvent::FileUploaded {
        file: param.to_string(),
        file_id: f.id.clone(),
        bytes: data.bytes,
    });
    let f = client
        .wait_for_processing(f, r.poll_interval, max_processing_wait(r), &ctx.cancel)
        .await?;
    ctx.emit(ProgressEvent::FileProcessed {
        file: param.to_string(),
        file_id: f.id.clone(),
    });
    Ok(f.id)
}

/// How long to wait for OpenAI to process an uploaded file: an hour, or less with `timeoutMs`.
fn max_processing_wait(r: &Resolved) -> Duration {
    r.timeout
        .unwrap_or(Duration::from_secs(3600))
        .min(Duration::from_secs(3600))
}

/// Reports an upload's bytes as `uploadProgress` events, about every 1 % (and at the end).
fn upload_progress(param: &str, total: u64, ctx: &RunContext) -> Option<crate::client::SentFn> {
    let progress = ctx.progress.clone()?;
    let file = param.to_string();
    let step = (total / 100).max(64 * 1024);
    let last = std::sync::atomic::AtomicU64::new(0);
    Some(Arc::new(move |sent: u64| {
        let prev = last.load(std::sync::atomic::Ordering::Relaxed);
        if sent < prev || sent - prev >= step || sent == total {
            last.store(sent, std::sync::atomic::Ordering::Relaxed);
            progress(ProgressEvent::UploadProgress {
                file: file.clone(),
                sent,
                total,
            });
        }
    }))
}

/// How many parts go up at once.
const PART_CONCURRENCY: usize = 3;

/// Sends a file through the Uploads API: create (or resume) the Upload, send the missing parts
/// a few at a time (each retried on its own), journal each part id, then complete.
async fn upload_in_parts(
    param: &str,
    data: &LocalData,
    rec: &mut RunRecord,
    journal: &Journal,
    client: &Client,
    ctx: &RunContext,
    part_bytes: u64,
) -> Result<crate::client::FileObject> {
    use futures::StreamExt;
    let now = chrono::Utc::now().timestamp();
    let mut state = match rec.uploads.get(param) {
        Some(s) if s.total_bytes == data.bytes && s.expires_at.is_none_or(|e| e > now + 60) => {
            s.clone()
        }
        _ => {
            let up = client
                .create_upload(&data.filename, data.bytes, &ctx.cancel)
                .await?;
            let parts = data.bytes.div_ceil(part_bytes).max(1) as usize;
            journal::UploadState {
                upload_id: up.id,
                part_bytes,
                total_bytes: data.bytes,
                part_ids: vec![None; parts],
                expires_at: up.expires_at,
            }
        }
    };
    rec.uploads.insert(param.to_string(), state.clone());
    journal.save(rec)?;
    let part_len = |i: usize| {
        let offset = i as u64 * state.part_bytes;
        (offset, state.part_bytes.min(state.total_bytes - offset))
    };
    let missing: Vec<usize> = (0..state.part_ids.len())
        .filter(|i| state.part_ids[*i].is_none())
        .collect();
    let mut sent: u64 = (0..state.part_ids.len())
        .filter(|i| state.part_ids[*i].is_some())
        .map(|i| part_len(i).1)
        .sum();
    let upload_id = state.upload_id.clone();
    let path = data.path.clone();
    let mut results = futures::stream::iter(missing.into_iter().map(|i| {
        let (offset, len) = part_len(i);
        let (upload_id, path) = (upload_id.clone(), path.clone());
        async move {
            let id = client
                .add_upload_part(&upload_id, &path, offset, len, &ctx.cancel)
                .await;
            (i, len, id)
        }
    }))
    .buffer_unordered(PART_CONCURRENCY);
    while let Some((i, len, id)) = results.next().await {
        state.part_ids[i] = Some(id?);
        sent += len;
        rec.uploads.insert(param.to_string(), state.clone());
        journal.save(rec)?;
        ctx.emit(ProgressEvent::UploadProgress {
            file: param.to_string(),
            sent,
            total: state.total_bytes,
        });
    }
    drop(results);
    let ids: Vec<String> = state.part_ids.iter().flatten().cloned().collect();
    let done = client
        .complete_upload(&state.upload_id, &ids, &ctx.cancel)
        .await?;
    rec.uploads.remove(param);
    done.file.ok_or_else(|| {
        Error::new(
            ErrorCode::Api,
            format!("Upload {} completed without a file", state.upload_id),
        )
    })
}

/// Runs the whole pipeline. Every check that needs no network runs before anything is sent.
pub async fn train_and_register(opts: TrainOptions, ctx: RunContext) -> Result<RegisteredModel> {
    let r = options::resolve(opts)?;
    source::check_source("source", &r.opts.source)?;
    if let Some(v) = &r.opts.validation {
        source::check_source("validation", v)?;
    }
    let registry = Registry::new(&r.registry_path);
    let key = r.opts.model_key.clone();
    {
        let (reg, k) = (registry.clone(), key.clone());
        if blocking(move || reg.get(&k)).await?.is_some() {
            return Err(registry::duplicate(&key, registry.path()));
        }
    }
    // Local files are checked for existence before any lock or download.
    for (param, src) in [
        ("source", Some(&r.opts.source)),
        ("validation", r.opts.validation.as_ref()),
    ] {
        if let Some(src) = src {
            if !source::is_url(src) {
                source::open_local(param, src)?;
            }
        }
    }
    let journal = Journal::new(&registry.dir());
    let _run_lock = {
        let (j, k) = (journal.clone(), key.clone());
        blocking(move || j.try_lock(&k)).await?
    };
    // Another process may have registered the key between the first check and the lock.
    if registry.get(&key)?.is_some() {
        return Err(registry::duplicate(&key, registry.path()));
    }
    let digest = options_digest(&r);
    let previous = journal.load(&key)?;
    if let Some(prev) = &previous {
        if prev.options_digest != digest {
            return Err(Error::new(
                ErrorCode::ModelKeyInProgress,
                format!(
                    "a run for modelKey {key:?} with different options is in flight{}; call again with the same options to resume it, or cancel it with cancelFineTune",
                    prev.job_id.as_deref().map(|j| format!(" (job {j})")).unwrap_or_default()
                ),
            )
            .with_param("modelKey"));
        }
    }
    let client = Client::new(r.connection.clone())?;
    let result = run(&r, &registry, &journal, previous, digest, &client, &ctx).await;
    match &result {
        Err(e) if e.is_abort() && r.opts.cancel_on_abort => {
            if let Ok(Some(rec)) = journal.load(&key) {
                if let Some(job) = &rec.job_id {
                    // The caller's token is cancelled; the cancel request gets its own.
                    let fresh = CancellationToken::new();
                    let cancelled = tokio::time::timeout(
                        Duration::from_secs(30),
                        client.cancel_job(job, &fresh),
                    )
                    .await;
                    if matches!(cancelled, Ok(Ok(_))) {
                        let _ = journal.remove(&key);
                    }
                }
            }
        }
        _ => {}
    }
    result
}

async fn run(
    r: &Resolved,
    registry: &Registry,
    journal: &Journal,
    previous: Option<RunRecord>,
    digest: String,
    client: &Client,
    ctx: &RunContext,
) -> Result<RegisteredModel> {
    let o = &r.opts;
    let key = &o.model_key;
    let resumed_job = previous.as_ref().and_then(|p| p.job_id.clone());
    let mut rec = previous.unwrap_or_else(|| RunRecord {
        model_key: key.clone(),
        run_id: run_id(),
        options_digest: digest,
        agent_name: o.agent_name.clone(),
        base_model: o.base_model.clone(),
        suffix: r.suffix.clone(),
        base_url: r.connection.base_url.clone(),
        started_at: iso(None),
        ..Default::default()
    });

    // With a job already created, the data is not needed again.
    if resumed_job.is_none() {
        let training = load("source", &o.source, r, journal, ctx).await?;
        let validation = match &o.validation {
            Some(v) => Some(load("validation", v, r, journal, ctx).await?),
            None => None,
        };
        check_data("source", &training, r, ctx).await?;
        if let Some(v) = &validation {
            check_data("validation", v, r, ctx).await?;
        }
        let paths: Vec<PathBuf> = std::iter::once(training.path.clone())
            .chain(validation.as_ref().map(|v| v.path.clone()))
            .collect();
        let data_digest = blocking(move || {
            let refs: Vec<&std::path::Path> = paths.iter().map(PathBuf::as_path).collect();
            journal::data_digest(&refs).map_err(|e| {
                Error::new(
                    ErrorCode::SourceNotFound,
                    format!("cannot read the data: {e}"),
                )
            })
        })
        .await?;
        match &rec.data_digest {
            Some(d) if *d != data_digest => {
                return Err(Error::new(
                    ErrorCode::ModelKeyInProgress,
                    format!("a run for modelKey {key:?} is in flight with different training data; call again with the same data to resume it, or cancel it with cancelFineTune"),
                )
                .with_param("modelKey"))
            }
            _ => rec.data_digest = Some(data_digest),
        }
        journal.save(&rec)?;
        let tid = ensure_uploaded("source", &training, &mut rec, journal, client, r, ctx).await?;
        rec.training_file_id = Some(tid);
        journal.save(&rec)?;
        if let Some(v) = &validation {
            let vid = ensure_uploaded("validation", v, &mut rec, journal, client, r, ctx).await?;
            rec.validation_file_id = Some(vid);
            journal.save(&rec)?;
        }
        // Temporary downloads are removed here (and on any early return).
        drop(training);
        drop(validation);

        let mut job = None;
        if rec.job_requested {
            // A previous process sent the request; its answer may have been lost.
            job = client.find_job_by_run(&rec.run_id, &ctx.cancel).await?;
        }
        let job = match job {
            Some(j) => j,
            None => {
                rec.job_requested = true;
                journal.save(&rec)?;
                client.create_job(&job_body(r, &rec), &ctx.cancel).await?
            }
        };
        rec.job_id = Some(job.id.clone());
        journal.save(&rec)?;
        ctx.emit(ProgressEvent::JobCreated {
            job_id: job.id.clone(),
            resumed: false,
        });
    } else if let Some(id) = &resumed_job {
        // The job trains on the data it was given; refuse to pass it off as the result of
        // local data that has changed since (URL sources are not fetched again to check).
        if let (Some(recorded), false) = (
            &rec.data_digest,
            source::is_url(&o.source) || o.validation.as_deref().is_some_and(source::is_url),
        ) {
            let paths: Vec<PathBuf> = std::iter::once(PathBuf::from(&o.source))
                .chain(o.validation.as_ref().map(PathBuf::from))
                .collect();
            let now = blocking(move || {
                let refs: Vec<&std::path::Path> = paths.iter().map(PathBuf::as_path).collect();
                journal::data_digest(&refs).map_err(|e| {
                    Error::new(
                        ErrorCode::SourceNotFound,
                        format!("cannot read the data: {e}"),
                    )
                })
            })
            .await?;
            if now != *recorded {
                return Err(Error::new(
                    ErrorCode::ModelKeyInProgress,
                    format!("job {id} for modelKey {key:?} is training on an earlier version of the data; wait for it with the same data, or cancel it with cancelFineTune and start again"),
                )
                .with_job(id)
                .with_param("modelKey"));
            }
        }
        ctx.emit(ProgressEvent::JobCreated {
            job_id: id.clone(),
            resumed: true,
        });
    }
    let job_id = rec.job_id.clone().unwrap_or_default();
    let job = wait_for_job(&job_id, client, r, ctx).await;
    let job = match job {
        Ok(j) => j,
        Err(e) => {
            if matches!(e.code, ErrorCode::JobFailed | ErrorCode::JobCancelled) {
                journal.remove(key)?;
            }
            if e.status == Some(404) && resumed_job.is_some() {
                let mut e = e;
                e.message = format!(
                    "{} (the journaled job {job_id} no longer exists at this API; clear the run with cancelFineTune({key:?}) and start again)",
                    e.message
                );
                return Err(e);
            }
            return Err(e);
        }
    };
    let Some(ft_model) = job.fine_tuned_model.clone().filter(|m| !m.is_empty()) else {
        journal.remove(key)?;
        return Err(Error::new(
            ErrorCode::JobFailed,
            format!("job {job_id} succeeded but reported no fine_tuned_model"),
        )
        .with_job(&job_id));
    };
    let (metrics, curve_path) = training_metrics(&job, key, registry, client, ctx).await;
    let family = models::family(&o.base_model);
    let created_at = iso(job.created_at);
    let finished_at = iso(job.finished_at);
    let training_file_id = rec
        .training_file_id
        .clone()
        .or(job.training_file.clone())
        .unwrap_or_default();
    let validation_file_id = rec
        .validation_file_id
        .clone()
        .or(job.validation_file.clone());
    let entry = json!({
        "model": {
            "name": ft_model,
            "provider": "openai",
            "supportsTools": family.as_ref().map(|f| f.supports_tools).unwrap_or(false),
            "maxContextTokens": family.as_ref().map(|f| f.max_context_tokens).unwrap_or(4096),
        },
        "fineTune": {
            "agentName": o.agent_name,
            "baseModel": o.base_model,
            "jobId": job_id,
            "trainingFileId": training_file_id,
            "validationFileId": validation_file_id,
            "suffix": r.suffix,
            "method": o.method.as_str(),
            "hyperparameters": job.method.as_ref()
                .and_then(|m| m.get(o.method.as_str()))
                .and_then(|m| m.get("hyperparameters"))
                .cloned()
                .or(job.hyperparameters.clone()),
            "trainedTokens": job.trained_tokens,
            "metrics": metrics,
            "lossCurve": curve_path.as_ref().and_then(|p| p.file_name()).map(|n| n.to_string_lossy().into_owned()),
            "createdAt": created_at,
            "finishedAt": finished_at,
        }
    });
    {
        let (reg, k) = (registry.clone(), key.clone());
        blocking(move || reg.insert_new(&k, entry)).await.map_err(|e| {
            let mut e = e;
            e.message = format!("{} (the job {job_id} succeeded with model {ft_model}; register it by hand if needed)", e.message);
            e.job_id = Some(job_id.clone());
            e
        })?;
    }
    journal.remove(key)?;
    let out = RegisteredModel {
        model_key: key.clone(),
        agent_name: o.agent_name.clone(),
        base_model: o.base_model.clone(),
        fine_tuned_model: ft_model,
        job_id,
        training_file_id,
        validation_file_id,
        suffix: r.suffix.clone(),
        trained_tokens: job.trained_tokens,
        created_at,
        finished_at,
        registry_path: registry.path().display().to_string(),
        metrics,
        curve_path: curve_path.map(|p| p.display().to_string()),
    };
    ctx.emit(ProgressEvent::Registered {
        model_key: out.model_key.clone(),
        fine_tuned_model: out.fine_tuned_model.clone(),
        registry_path: out.registry_path.clone(),
    });
    Ok(out)
}

/// Reads the job's result file, summarises it and draws the loss curve beside the registry
/// (`<modelKey>.svg`). Best effort: the model is trained either way, so a failure here only
/// leaves the metrics out.
async fn training_metrics(
    job: &Job,
    key: &str,
    registry: &Registry,
    client: &Client,
    ctx: &RunContext,
) -> (Option<crate::metrics::MetricsSummary>, Option<PathBuf>) {
    let Some(file) = job.result_files.first() else {
        return (None, None);
    };
    let Ok(csv) = client.file_content(file, &ctx.cancel).await else {
        return (None, None);
    };
    let Some(series) = crate::metrics::parse_results(&csv) else {
        return (None, None);
    };
    let summary = crate::metrics::summarize(&series, job.trained_tokens);
    let svg = crate::metrics::render_svg(&series, &format!("{key}: training loss"));
    // The modelKey holds no path separators (checked up front), so this stays in the folder.
    let path = registry.dir().join(format!("{key}.svg"));
    let written = tempfile::Builder::new()
        .prefix(".curve.")
        .tempfile_in(registry.dir())
        .and_then(|mut t| {
            std::io::Write::write_all(&mut t, svg.as_bytes())?;
            t.persist(&path).map_err(|e| e.error)
        });
    (Some(summary), written.ok().map(|_| path))
}

/// Polls the job until it is final, reporting status changes and events. Retryable failures
/// (network, 429, 5xx) are tolerated until the timeout.
async fn wait_for_job(
    job_id: &str,
    client: &Client,
    r: &Resolved,
    ctx: &RunContext,
) -> Result<Job> {
    let started = tokio::time::Instant::now();
    let mut last_status = String::new();
    let mut last_event: Option<String> = None;
    let timed_out = || {
        Error::new(
            ErrorCode::Timeout,
            format!(
                "job {job_id} did not finish within {} ms; it keeps running, and calling again with the same options resumes waiting for it",
                r.timeout.map(|t| t.as_millis()).unwrap_or(0)
            ),
        )
        .with_job(job_id)
    };
    loop {
        if let Some(t) = r.timeout {
            if started.elapsed() >= t {
                return Err(timed_out());
            }
        }
        match client.retrieve_job(job_id, &ctx.cancel).await {
            Ok(job) => {
                if job.status != last_status {
                    last_status = job.status.clone();
                    ctx.emit(ProgressEvent::Status {
                        job_id: job_id.to_string(),
                        status: job.status.clone(),
                    });
                }
                if ctx.progress.is_some() {
                    if let Ok(events) = client
                        .events_since(job_id, last_event.as_deref(), &ctx.cancel)
                        .await
                    {
                        for ev in events {
                            last_event = Some(ev.id.clone());
                            ctx.emit(ProgressEvent::from_job_event(job_id, ev));
                        }
                    }
                }
                match job.status.as_str() {
                    "succeeded" => return Ok(job),
                    "failed" => {
                        let (code, message, param) =
                            job.error_parts().unwrap_or((None, None, None));
                        let mut e = Error::new(
                            ErrorCode::JobFailed,
                            format!(
                                "fine-tuning job {job_id} failed{}: {}",
                                code.as_deref()
                                    .map(|c| format!(" ({c})"))
                                    .unwrap_or_default(),
                                message.as_deref().unwrap_or("OpenAI gave no reason")
                            ),
                        )
                        .with_job(job_id);
                        e.api_code = code;
                        e.param = param;
                        return Err(e);
                    }
                    "cancelled" => {
                        return Err(Error::new(
                            ErrorCode::JobCancelled,
                            format!("fine-tuning job {job_id} was cancelled"),
                        )
                        .with_job(job_id))
                    }
                    _ => {}
                }
            }
            Err(e) if e.is_abort() => return Err(e),
            Err(e)
                if matches!(e.code, ErrorCode::Network | ErrorCode::RateLimited)
                    || e.status.is_some_and(|s| s >= 500 || s == 408 || s == 409) => {}
            Err(e) => return Err(e),
        }
        let mut sleep = r.poll_interval;
        if let Some(t) = r.timeout {
            sleep = sleep.min(t.saturating_sub(started.elapsed()));
        }
        tokio::select! {
            _ = ctx.cancel.cancelled() => return Err(aborted()),
            _ = tokio::time::sleep(sleep) => {}
        }
    }
}

/// Cancels the in-flight run of `model_key`: cancels its job (if one was created) and clears
/// its journal entry. Returns the job id, if any.
pub async fn cancel_fine_tune(
    model_key: &str,
    registry_path: Option<String>,
    connection: options::ConnectionOptions,
) -> Result<Option<String>> {
    let registry = Registry::new(options::registry_path(registry_path));
    let journal = Journal::new(&registry.dir());
    let Some(rec) = journal.load(model_key)? else {
        return Err(Error::new(
            ErrorCode::NotFound,
            format!("no run for modelKey {model_key:?} is in flight"),
        )
        .with_param("modelKey"));
    };
    if let Some(job) = &rec.job_id {
        let client = Client::new(options::connection(connection)?)?;
        let token = CancellationToken::new();
        match client.cancel_job(job, &token).await {
            Ok(_) => {}
            // Already final: nothing left to cancel.
            Err(e) if e.status == Some(400) || e.status == Some(404) => {}
            Err(e) => return Err(e),
        }
    }
    journal.remove(model_key)?;
    Ok(rec.job_id)
}
