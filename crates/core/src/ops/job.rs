//! The calls on a run's job other than the run: get, cancel (the run and its job), pause and
//! resume.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::infra::client::Client;
use crate::infra::connection::{connection, names_an_api};
use crate::infra::journal::{Journal, RunRecord};
use crate::infra::registry::{self, Registry};
use crate::stages::upload::clean_up;
use crate::types::api::Job;
use crate::types::error::{Error, ErrorCode, Result};
use crate::types::options::ConnectionOptions;

/// An API answer of 404 for job `job_id` becomes `ERR_NOT_FOUND` naming the job (with
/// `jobId`); any other error is kept.
pub fn job_not_found(job_id: &str, e: Error) -> Error {
    if e.status != Some(404) {
        return e;
    }
    let mut out = Error::new(
        ErrorCode::NotFound,
        format!("no fine-tuning job {job_id} at this API ({})", e.message),
    )
    .with_job(job_id);
    out.status = e.status;
    out
}

/// The journal of the registry at `registry_path` (option, env, default).
fn journal_of(registry_path: Option<String>) -> (Registry, Journal) {
    let registry = Registry::new(registry::registry_path(registry_path));
    let journal = Journal::new(&registry.dir());
    (registry, journal)
}

/// How many times, a second apart, a run whose create-job answer was never journaled is looked
/// up before concluding that its request never reached the API.
const CANCEL_LOOKUPS: u32 = 3;

/// The job a run created, looked up by its idempotency key (see `Client::jobs_of_key`), else
/// by its run id: `Ok(None)` once the API answered [`CANCEL_LOOKUPS`] times that there is
/// none.
async fn find_own(client: &Client, rec: &RunRecord) -> Result<Option<Job>> {
    let never = CancellationToken::new();
    for i in 0..CANCEL_LOOKUPS {
        if i > 0 {
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        let own = match rec.idempotency_key.as_deref() {
            Some(k) => client
                .jobs_of_key(k, &rec.run_id, &never)
                .await?
                .into_iter()
                .find(|j| j.own)
                .map(|j| j.job),
            None => client
                .jobs_by_metadata("run_id", &rec.run_id, &never)
                .await?
                .into_iter()
                .next(),
        };
        if own.is_some() {
            return Ok(own);
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
    clean_up(client, rec, &keep, &never).await?;
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
    let client = match crate::infra::connection::connection(connection).and_then(Client::new) {
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
        .map_err(|e| job_not_found(&job_id, e))
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
            // OpenAI's job ids are `ftjob-…`, Azure's `ft-…` (facts §3).
            None if model_key_or_job_id.starts_with("ftjob-")
                || model_key_or_job_id.starts_with("ft-") =>
            {
                model_key_or_job_id.to_string()
            }
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
    if let Some(r) = rec.filter(|_| !names_an_api(&conn)) {
        match r.api_version {
            Some(v) => {
                conn.azure_endpoint = Some(r.base_url.trim_end_matches("/openai").to_string());
                conn.api_version = conn.api_version.or(Some(v));
            }
            None => conn.base_url = Some(r.base_url),
        }
    }
    let client = Client::new(connection(conn)?)?;
    Ok((job_id, client))
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
/// [`job_target`] finds it.
async fn job_action(
    model_key_or_job_id: &str,
    registry_path: Option<String>,
    conn: ConnectionOptions,
    action: &str,
) -> Result<Job> {
    let (job_id, client) = job_target(model_key_or_job_id, registry_path, conn)?;
    if let Some(caps) = client.caps() {
        // Refused before anything is sent where the version has no such call.
        caps.check_pause(action)?;
    }
    client
        .job_action(&job_id, action, &CancellationToken::new())
        .await
        .map_err(|e| job_not_found(&job_id, e))
}
