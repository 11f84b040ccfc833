//! Stage 4: the fine-tuning job. Its request is one typed value ([`request`]); the run's
//! options digest is computed from that same value, so an option that changes the job can
//! never resume a job trained with the old value. The create is idempotent (a lost answer is
//! looked up by the run's metadata before it is ever sent again), and the wait reports events
//! before the status they lead to.

use std::collections::BTreeMap;

use serde_json::json;
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;

use crate::api::{CreateJobRequest, Job, JobMethod};
use crate::client::Client;
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
) -> CreateJobRequest {
    let o = &r.opts;
    let mut metadata: BTreeMap<String, String> = o.metadata.clone();
    metadata.insert("model_key".into(), truncate(&o.model_key, 512));
    metadata.insert("agent_name".into(), truncate(&o.agent_name, 512));
    metadata.insert("run_id".into(), run_id.to_string());
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
    let template = request(r, "", o.validation.as_deref().map(|_| ""), "");
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

/// Creates the job, or finds the one an earlier call created if its answer was lost, and
/// journals its id.
pub async fn create(run: &Run<'_>, rec: &mut RunRecord) -> Result<Job> {
    let (client, cancel) = (run.client, &run.ctx.cancel);
    let mut job = None;
    if rec.job_requested {
        // A previous process sent the request; its answer may have been lost.
        job = client.find_job_by_run(&rec.run_id, cancel).await?;
    }
    let job = match job {
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
            );
            client.create_job(&body, cancel).await?
        }
    };
    rec.job_id = Some(job.id.clone());
    run.journal.save(rec)?;
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

/// Cancels the in-flight run of `model_key`: cancels its job (if one was created) and clears
/// its journal entry. Returns the job id, if any.
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
    if let Some(job) = &rec.job_id {
        let client = Client::new(options::connection(connection)?)?;
        match client.cancel_job(job, &CancellationToken::new()).await {
            Ok(_) => {}
            // Already final: nothing left to cancel.
            Err(e) if e.status == Some(400) || e.status == Some(404) => {}
            Err(e) => return Err(e),
        }
    }
    journal.remove(model_key)?;
    Ok(rec.job_id)
}

/// The live job of a modelKey (its run in flight, else its registered entry) or of a job id,
/// read from the API. Without a base URL in the options or the environment, the run's own
/// API (journaled, Azure included) is asked.
pub async fn get_job(
    model_key_or_job_id: &str,
    registry_path: Option<String>,
    mut conn: ConnectionOptions,
) -> Result<Job> {
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
    client
        .retrieve_job(&job_id, &CancellationToken::new())
        .await
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
