//! Stage 4: the fine-tuning job. Its request is one typed value (`Resolved::job_request`); the run's
//! options digest is computed from that same value, so an option that changes the job can
//! never resume a job trained with the old value. The create is idempotent (a lost answer is
//! looked up by the run's metadata before it is ever sent again), and the wait reports events
//! before the status they lead to.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::infra::client::{pick_job, KeyedJob};
use crate::infra::journal::RunRecord;
use crate::types::api::{CreateJobRequest, Job};
use crate::types::error::{Error, ErrorCode, Result};
use crate::types::progress::ProgressEvent;

use super::Run;

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
    if !rec.job_requested || rec.idempotency_key.is_some() {
        return Ok(None);
    }
    // A request sent by a version that set no idempotency key: its run id finds it (where
    // jobs keep metadata).
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
    let (key, run_id) = (rec.idempotency_key.clone(), rec.run_id.clone());
    let fut = run
        .client
        .create_job(body, key.as_deref(), &run_id, &detached);
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
/// every one of them keeps the first created (see [`pick_job`]) and cancels its
/// own. A look-up that fails keeps `ours`.
async fn settle_race(run: &Run<'_>, rec: &RunRecord, ours: Job) -> Job {
    let Some(key) = rec.idempotency_key.as_deref() else {
        return ours;
    };
    let Ok(mut jobs) = run
        .client
        .jobs_of_key(key, &rec.run_id, &run.ctx.cancel)
        .await
    else {
        return ours;
    };
    if !jobs.iter().any(|j| j.job.id == ours.id) {
        // Not listed yet: newer than every listed job.
        jobs.insert(
            0,
            KeyedJob {
                job: ours.clone(),
                own: true,
            },
        );
    }
    match pick_job(jobs, false) {
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
        Error::new(
            ErrorCode::Network,
            format!(
                "could not look up whether the job already exists ({}); no job was created: call again with the same options",
                e.message
            ),
        )
        .with_answer_of(&e)
    })?;
    let job = match found {
        Some(j) => j,
        None => {
            rec.job_requested = true;
            run.journal.save(rec)?;
            let training = rec.training_file_id.clone().unwrap_or_default();
            let body = run.r.job_request(
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
