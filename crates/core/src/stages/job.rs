//! Stage 4: the fine-tuning job. Its request is one typed value ([`request`]); the run's
//! options digest is computed from that same value, so an option that changes the job can
//! never resume a job trained with the old value. The create is idempotent (a lost answer is
//! looked up by the run's metadata before it is ever sent again), and the wait reports events
//! before the status they lead to.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::json;
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;

use crate::api::{CreateJobRequest, Job, JobMethod};
use crate::client::{Client, IDEMPOTENCY_KEY};
use crate::error::{Error, ErrorCode, Result};
use crate::journal::{Journal, RunRecord};
use crate::options::{self, ConnectionOptions, Resolved};
use crate::progress::ProgressEvent;
use crate::registry::Registry;

use super::Run;

fn truncate(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

/// The create-job request of a run, with the files it uploaded and its run id.
pub fn request(
    r: &Resolved,
    training_file: &str,
    validation_file: Option<&str>,
    run_id: &str,
    idempotency_key: &str,
) -> CreateJobRequest {
    let o = &r.opts;
    let mut metadata: BTreeMap<String, String> = o.metadata.clone();
    metadata.insert("model_key".into(), truncate(&o.model_key, 512));
    metadata.insert("agent_name".into(), truncate(&o.agent_name, 512));
    metadata.insert("run_id".into(), run_id.to_string());
    metadata.insert(IDEMPOTENCY_KEY.into(), idempotency_key.to_string());
    CreateJobRequest {
        model: o.base_model.clone(),
        training_file: training_file.to_string(),
        validation_file: validation_file.map(str::to_string),
        suffix: Some(r.suffix.clone()).filter(|s| !s.is_empty()),
        method: JobMethod::new(o.method, o.hyperparameters.clone()),
        seed: o.seed,
        integrations: o.integrations.clone(),
        metadata,
    }
}

/// The digest of everything that makes the job what it is: the serialized request (without
/// the file ids and run id, which the run makes), the data sources and the API it goes to.
/// Secrets and knobs that only steer this process (timeouts, retries, paths) are not in it.
pub fn options_digest(r: &Resolved) -> String {
    let o = &r.opts;
    let template = request(r, "", o.validation.as_deref().map(|_| ""), "", "");
    let c = &r.connection;
    let v = json!({
        "request": template,
        "source": o.source,
        "validation": o.validation,
        "baseUrl": c.base_url,
        "organization": c.organization,
        "project": c.project,
    });
    let mut v = v;
    if let Some(split) = o.validation_split {
        v["validationSplit"] = json!(split);
    }
    let bytes = serde_json::to_vec(&v).unwrap_or_default();
    Sha256::digest(&bytes)[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The run's idempotency key: a digest of the job's request without what a run makes (file
/// ids, run id) — so of the modelKey, agent, base model, suffix, method, hyperparameters,
/// seed, integrations and metadata — and of the data's digest. Not of where the data is read
/// from (two checkouts of the same data in different folders make the same key) nor of the
/// API it goes to (the key is only ever looked up at that API).
pub fn idempotency_key(r: &Resolved, data_digest: &str) -> String {
    let template = request(r, "", r.opts.validation.as_deref().map(|_| ""), "", "");
    let v = json!({ "request": template, "data": data_digest });
    let bytes = serde_json::to_vec(&v).unwrap_or_default();
    Sha256::digest(&bytes)[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// How long an aborted call still waits for a create-job request already on its way, so that
/// the job it makes is journaled (and can be cancelled) rather than unknown.
const CREATE_GRACE: Duration = Duration::from_secs(30);

/// The job this run should use instead of creating one, if the API answers that there is one
/// (this run's own, or another process's or machine's running or succeeded job with the same
/// idempotency key). A look-up that fails is an error.
pub async fn find_existing(run: &Run<'_>, rec: &RunRecord) -> Result<Option<Job>> {
    let (client, cancel) = (run.client, &run.ctx.cancel);
    if let Some(key) = rec.idempotency_key.as_deref() {
        if let Some(job) = client.find_job(key, &rec.run_id, cancel).await? {
            return Ok(Some(job));
        }
    }
    if !rec.job_requested {
        return Ok(None);
    }
    // A request sent by a version that set no idempotency key: its run id finds it.
    let jobs = client
        .jobs_by_metadata("run_id", &rec.run_id, cancel)
        .await?;
    Ok(jobs.into_iter().next())
}

/// Journals the job as the run's, with the files it trains on (an adopted job may use
/// another run's files).
fn adopt(run: &Run<'_>, rec: &mut RunRecord, job: &Job) -> Result<()> {
    rec.job_id = Some(job.id.clone());
    if let Some(t) = &job.training_file {
        rec.training_file_id = Some(t.clone());
    }
    if job.training_file.is_some() {
        rec.validation_file_id = job.validation_file.clone();
    }
    run.journal.save(rec)
}

/// Adopts a job that already exists for this run's idempotency key, before anything is
/// uploaded. Best effort: a look-up that fails leaves the decision to [`create`].
pub async fn adopt_existing(run: &Run<'_>, rec: &mut RunRecord) -> Result<Option<Job>> {
    match find_existing(run, rec).await {
        Ok(Some(job)) => {
            adopt(run, rec, &job)?;
            run.ctx.emit(ProgressEvent::JobCreated {
                job_id: job.id.clone(),
                resumed: true,
            });
            Ok(Some(job))
        }
        Err(e) if e.is_abort() => Err(e),
        _ => Ok(None),
    }
}

/// Sends the create-job request. If the call is aborted while the request is on its way, the
/// request is still given [`CREATE_GRACE`] to finish, so that its job is journaled.
async fn send_create(run: &Run<'_>, rec: &mut RunRecord, body: &CreateJobRequest) -> Result<Job> {
    let detached = CancellationToken::new();
    let fut = run.client.create_job(body, &detached);
    tokio::pin!(fut);
    tokio::select! {
        r = &mut fut => r,
        _ = run.ctx.cancel.cancelled() => {
            let finished = tokio::time::timeout(CREATE_GRACE, &mut fut).await;
            detached.cancel();
            if let Ok(Ok(job)) = finished {
                let _ = adopt(run, rec, &job);
            }
            Err(Error::aborted())
        }
    }
}

/// After creating `ours`: if another process created a job for the same key at the same time,
/// every one of them keeps the first created (see [`crate::client::pick_job`]) and cancels its
/// own. A look-up that fails keeps `ours`.
async fn settle_race(run: &Run<'_>, rec: &RunRecord, ours: Job) -> Job {
    let Some(key) = rec.idempotency_key.as_deref() else {
        return ours;
    };
    let Ok(mut jobs) = run
        .client
        .jobs_by_metadata(IDEMPOTENCY_KEY, key, &run.ctx.cancel)
        .await
    else {
        return ours;
    };
    if !jobs.iter().any(|j| j.id == ours.id) {
        // Not listed yet: newer than every listed job.
        jobs.insert(0, ours.clone());
    }
    match crate::client::pick_job(jobs, "") {
        Some(first) if first.id != ours.id => {
            let detached = CancellationToken::new();
            if run.client.cancel_job(&ours.id, &detached).await.is_ok() {
                first
            } else {
                ours
            }
        }
        _ => ours,
    }
}

/// Creates the job, or adopts the one that exists for the run's idempotency key (its own
/// after a lost answer, or another machine's), and journals its id. The API must answer the
/// look-up first: when it cannot, the call rejects (`ERR_NETWORK`) and nothing is sent.
pub async fn create(run: &Run<'_>, rec: &mut RunRecord) -> Result<Job> {
    let found = find_existing(run, rec).await.map_err(|e| {
        if e.is_abort() {
            return e;
        }
        let mut out = Error::new(
            ErrorCode::Network,
            format!(
                "could not look up whether the job already exists ({}); no job was created: call again with the same options",
                e.message
            ),
        );
        out.status = e.status;
        out.request_id = e.request_id.clone();
        out
    })?;
    let job = match found {
        Some(j) => j,
        None => {
            rec.job_requested = true;
            run.journal.save(rec)?;
            let training = rec.training_file_id.clone().unwrap_or_default();
            let body = request(
                run.r,
                &training,
                rec.validation_file_id.as_deref(),
                &rec.run_id,
                rec.idempotency_key.as_deref().unwrap_or_default(),
            );
            let job = send_create(run, rec, &body).await?;
            settle_race(run, rec, job).await
        }
    };
    adopt(run, rec, &job)?;
    run.ctx.emit(ProgressEvent::JobCreated {
        job_id: job.id.clone(),
        resumed: false,
    });
    Ok(job)
}

/// A final job as the call's outcome: `succeeded` is the job, `failed` and `cancelled` are
/// errors; `None` while it is not final.
fn outcome(job: Job) -> Option<Result<Job>> {
    let id = job.id.clone();
    match job.status.as_str() {
        "succeeded" => Some(Ok(job)),
        "failed" => {
            let (code, message, param) = job.error_parts().unwrap_or((None, None, None));
            let mut e = Error::new(
                ErrorCode::JobFailed,
                format!(
                    "fine-tuning job {id} failed{}: {}",
                    code.as_deref()
                        .map(|c| format!(" ({c})"))
                        .unwrap_or_default(),
                    message.as_deref().unwrap_or("OpenAI gave no reason")
                ),
            )
            .with_job(&id);
            e.api_code = code;
            e.param = param;
            Some(Err(e))
        }
        "cancelled" => Some(Err(Error::new(
            ErrorCode::JobCancelled,
            format!("fine-tuning job {id} was cancelled"),
        )
        .with_job(&id))),
        _ => None,
    }
}

/// Polls the job until it is final, reporting its events and then each status change (so a
/// final status comes after the events that led to it). Retryable failures are waited through
/// until the timeout.
pub async fn wait(run: &Run<'_>, job_id: &str) -> Result<Job> {
    let (client, ctx, r) = (run.client, run.ctx, run.r);
    let started = tokio::time::Instant::now();
    let mut last_status = String::new();
    let mut last_event: Option<String> = None;
    loop {
        if r.timeout.is_some_and(|t| started.elapsed() >= t) {
            return Err(Error::new(
                ErrorCode::Timeout,
                format!(
                    "job {job_id} did not finish within {} ms; it keeps running, and calling again with the same options resumes waiting for it",
                    r.timeout.map(|t| t.as_millis()).unwrap_or(0)
                ),
            )
            .with_job(job_id));
        }
        match client.retrieve_job(job_id, &ctx.cancel).await {
            Ok(job) => {
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
                if job.status != last_status {
                    last_status = job.status.clone();
                    ctx.emit(ProgressEvent::Status {
                        job_id: job_id.to_string(),
                        status: job.status.clone(),
                    });
                }
                if let Some(done) = outcome(job) {
                    return done;
                }
            }
            Err(e) if e.is_retryable() => {}
            Err(e) => return Err(e),
        }
        let mut sleep = r.poll_interval;
        if let Some(t) = r.timeout {
            sleep = sleep.min(t.saturating_sub(started.elapsed()));
        }
        tokio::select! {
            _ = ctx.cancel.cancelled() => return Err(Error::aborted()),
            _ = tokio::time::sleep(sleep) => {}
        }
    }
}

/// The journal of the registry at `registry_path` (option, env, default).
fn journal_of(registry_path: Option<String>) -> (Registry, Journal) {
    let registry = Registry::new(options::registry_path(registry_path));
    let journal = Journal::new(&registry.dir());
    (registry, journal)
}

/// How many times, a second apart, a run whose create-job answer was never journaled is looked
/// up before concluding that its request never reached the API.
const CANCEL_LOOKUPS: u32 = 3;

/// The job a run created, looked up by its metadata (its idempotency key, else its run id):
/// `Ok(None)` once the API answered [`CANCEL_LOOKUPS`] times that there is none.
async fn find_own(client: &Client, rec: &RunRecord) -> Result<Option<Job>> {
    let (name, value) = match rec.idempotency_key.as_deref() {
        Some(k) => (IDEMPOTENCY_KEY, k),
        None => ("run_id", rec.run_id.as_str()),
    };
    let never = CancellationToken::new();
    for i in 0..CANCEL_LOOKUPS {
        if i > 0 {
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        let jobs = client.jobs_by_metadata(name, value, &never).await?;
        if let Some(j) = jobs
            .into_iter()
            .find(|j| j.metadata_value("run_id") == Some(rec.run_id.as_str()))
        {
            return Ok(Some(j));
        }
    }
    Ok(None)
}

/// Cancels a run: its job (the journaled one, or the one its create request made if the
/// answer was never journaled), its Uploads, and the files it uploaded that no job uses; then
/// clears its journal entry. When the job cannot be found out (the look-up fails), nothing is
/// cleared and the error says so. Returns the job id, if there was a job.
pub async fn cancel_run(
    client: &Client,
    journal: &Journal,
    rec: &RunRecord,
) -> Result<Option<String>> {
    let never = CancellationToken::new();
    let job_id = match &rec.job_id {
        Some(id) => Some(id.clone()),
        None if rec.job_requested => find_own(client, rec)
            .await
            .map_err(|e| {
                let mut out = Error::new(
                    e.code,
                    format!(
                        "the run of modelKey {:?} sent a create-job request whose answer was never received, and looking its job up failed ({}); the run stays journaled: call cancelFineTune again",
                        rec.model_key, e.message
                    ),
                )
                .with_param("modelKey");
                out.status = e.status;
                out
            })?
            .map(|j| j.id),
        None => None,
    };
    if let Some(job) = &job_id {
        match client.cancel_job(job, &never).await {
            Ok(_) => {}
            // Already final: nothing left to cancel.
            Err(e) if e.status == Some(400) || e.status == Some(404) => {}
            Err(e) => return Err(e),
        }
    }
    // Never delete a file a created job uses.
    let keep: Vec<String> = if job_id.is_some() {
        [rec.training_file_id.clone(), rec.validation_file_id.clone()]
            .into_iter()
            .flatten()
            .collect()
    } else {
        Vec::new()
    };
    super::upload::clean_up(client, rec, &keep, &never).await?;
    journal.remove(&rec.model_key)?;
    Ok(job_id)
}

/// Cancels the in-flight run of `model_key` (see [`cancel_run`]).
pub async fn cancel_fine_tune(
    model_key: &str,
    registry_path: Option<String>,
    connection: ConnectionOptions,
) -> Result<Option<String>> {
    let (_, journal) = journal_of(registry_path);
    let Some(rec) = journal.load(model_key)? else {
        return Err(Error::new(
            ErrorCode::NotFound,
            format!("no run for modelKey {model_key:?} is in flight"),
        )
        .with_param("modelKey"));
    };
    let nothing_remote = rec.job_id.is_none()
        && !rec.job_requested
        && rec.uploaded_files.is_empty()
        && rec.files_requested.is_empty()
        && rec.uploads.is_empty()
        && rec.stale_uploads.is_empty();
    let client = match options::connection(connection).and_then(Client::new) {
        Ok(c) => c,
        Err(_) if nothing_remote => {
            journal.remove(model_key)?;
            return Ok(None);
        }
        Err(e) => return Err(e),
    };
    cancel_run(&client, &journal, &rec).await
}

/// The live job of a modelKey (its run in flight, else its registered entry) or of a job id,
/// read from the API. Without a base URL in the options or the environment, the run's own
/// API (journaled, Azure included) is asked.
pub async fn get_job(
    model_key_or_job_id: &str,
    registry_path: Option<String>,
    conn: ConnectionOptions,
) -> Result<Job> {
    let (job_id, client) = job_target(model_key_or_job_id, registry_path, conn)?;
    client
        .retrieve_job(&job_id, &CancellationToken::new())
        .await
}

/// The job id of a modelKey (its run in flight, else its registered entry) or of a job id,
/// and a client for the API it lives at (see [`get_job`]).
pub fn job_target(
    model_key_or_job_id: &str,
    registry_path: Option<String>,
    mut conn: ConnectionOptions,
) -> Result<(String, Client)> {
    let (registry, journal) = journal_of(registry_path);
    let rec = journal.load(model_key_or_job_id)?;
    let job_id = match &rec {
        Some(r) => r.job_id.clone().ok_or_else(|| {
            Error::new(
                ErrorCode::NotFound,
                format!("the run of modelKey {model_key_or_job_id:?} has no job yet"),
            )
            .with_param("modelKey")
        })?,
        None => match registry.get(model_key_or_job_id)? {
            Some(entry) => entry.fine_tune.map(|f| f.job_id).unwrap_or_default(),
            None if model_key_or_job_id.starts_with("ftjob-") => model_key_or_job_id.to_string(),
            None => String::new(),
        },
    };
    if job_id.is_empty() {
        return Err(Error::new(
            ErrorCode::NotFound,
            format!("{model_key_or_job_id:?} is neither a modelKey with a job nor a job id"),
        )
        .with_param("modelKey"));
    }
    let env_set = |k: &str| std::env::var(k).is_ok_and(|v| !v.trim().is_empty());
    let unset = conn.base_url.is_none()
        && conn.azure_endpoint.is_none()
        && !env_set("OPENAI_BASE_URL")
        && !env_set("AZURE_OPENAI_ENDPOINT");
    if let Some(r) = rec.filter(|_| unset) {
        match r.api_version {
            Some(v) => {
                conn.azure_endpoint = Some(r.base_url.trim_end_matches("/openai").to_string());
                conn.api_version = conn.api_version.or(Some(v));
            }
            None => conn.base_url = Some(r.base_url),
        }
    }
    let client = Client::new(options::connection(conn)?)?;
    Ok((job_id, client))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::{resolve, TrainOptions};

    fn base() -> TrainOptions {
        TrainOptions::from_json(json!({
            "agentName": "Writer", "modelKey": "w", "baseModel": "gpt-4o-mini-2024-07-18",
            "source": "train.jsonl", "apiKey": "sk-test", "baseUrl": "http://127.0.0.1:1/v1"
        }))
        .unwrap()
    }

    #[test]
    fn the_digest_follows_the_request() {
        let r = resolve(base()).unwrap();
        let d = options_digest(&r);
        assert_eq!(d, options_digest(&resolve(base()).unwrap()));
        let mut o = base();
        o.seed = Some(1);
        assert_ne!(d, options_digest(&resolve(o).unwrap()));
        let mut o = base();
        o.poll_interval_ms = Some(1);
        o.api_key = Some("sk-other".into());
        assert_eq!(d, options_digest(&resolve(o).unwrap()));
    }
}
