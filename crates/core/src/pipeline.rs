//! The whole run. [`train_and_register`] makes every check that needs no network, takes the
//! modelKey's run lock and reads its journal; [`run`] is then the list of stages:
//! base-model dates → load → check → upload → job → deploy (Azure) → register (see
//! [`crate::stages`]).

use std::time::Duration;

use crate::calc::azure;
use crate::calc::lifecycle::iso;
use crate::infra::client::Client;
use crate::infra::journal::{Journal, RunRecord};
use crate::infra::registry::{self, Registry};
use crate::infra::resolve::{resolve, Resolved};
use crate::infra::source;
use crate::infra::task::blocking;
use crate::ops::job::cancel_run;
use crate::stages::{self, base_model, job, load, Run};
use crate::types::api::Job;
use crate::types::error::{Error, ErrorCode, Result};
use crate::types::options::{OnExisting, TrainOptions};
use crate::types::progress::{ProgressEvent, RunContext};
use crate::types::redact::{redact_text, redact_url};
use crate::types::results::{BaseModelCheck, Findings, RegisteredModel};

fn run_id() -> String {
    use rand::Rng;
    let mut rng = rand::rng();
    (0..16)
        .map(|_| format!("{:02x}", rng.random::<u8>()))
        .collect()
}

/// Checks what needs no network: options, sources, the duplicate key (before any lock or
/// download), and local files' existence (and, on Azure, their size).
async fn precheck(opts: TrainOptions) -> Result<(Resolved, Registry)> {
    let r = resolve(opts)?;
    if let Some(a) = &r.opts.azure_deployment {
        azure::plan(a, &r.opts.model_key)?;
    }
    source::check_source("source", &r.opts.source)?;
    if let Some(v) = &r.opts.validation {
        source::check_source("validation", v)?;
    }
    let registry = Registry::new(&r.registry_path);
    let (reg, k) = (registry.clone(), r.opts.model_key.clone());
    let new_version = r.opts.on_existing == OnExisting::NewVersion;
    if blocking(move || reg.contains(&k)).await? && !new_version {
        return Err(registry::duplicate(&r.opts.model_key, registry.path()));
    }
    for (param, src) in [
        ("source", Some(&r.opts.source)),
        ("validation", r.opts.validation.as_ref()),
    ] {
        if let Some(src) = src.filter(|s| !source::is_url(s)) {
            let local = source::open_local(param, src)?;
            stages::upload::check_size(&r, param, local.bytes)?;
        }
    }
    Ok((r, registry))
}

/// The journaled run of this modelKey, if its options are the same; a new record otherwise.
fn resume_or_start(r: &Resolved, journal: &Journal) -> Result<RunRecord> {
    let o = &r.opts;
    let digest = r.options_digest();
    match journal.load(&o.model_key)? {
        Some(prev) if prev.options_digest != digest && prev.may_have_spent() => Err(Error::new(
            ErrorCode::ModelKeyInProgress,
            format!(
                "a run for modelKey {:?} with different options is in flight{}; call again with the same options to resume it, or cancel it with cancelFineTune({:?}) or `fine-tune cancel {}`",
                o.model_key,
                prev.job_id.as_deref().map(|j| format!(" (job {j})")).unwrap_or_default(),
                o.model_key,
                o.model_key
            ),
        )
        .with_param("modelKey")),
        // Same options: resume. Other options, nothing created: the new call replaces it.
        Some(prev) if prev.options_digest == digest => Ok(prev),
        _ => Ok(RunRecord {
            model_key: o.model_key.clone(),
            run_id: run_id(),
            options_digest: digest,
            agent_name: o.agent_name.clone(),
            base_model: o.base_model.clone(),
            suffix: r.suffix.clone(),
            // Never a secret on disk: without user info and query values.
            base_url: redact_url(&r.connection.base_url),
            api_version: r.connection.api_version().map(str::to_string),
            started_at: iso(None),
            ..Default::default()
        }),
    }
}

/// Runs the whole pipeline. Every check that needs no network runs before anything is sent.
/// `timeoutMs` bounds the whole call, downloads and uploads included (`ERR_TIMEOUT`; what was
/// journaled is resumed by a call with the same options). No error message holds a URL's
/// user info or query values.
pub async fn train_and_register(opts: TrainOptions, ctx: RunContext) -> Result<RegisteredModel> {
    let started = tokio::time::Instant::now();
    train_and_register_inner(opts, ctx, started)
        .await
        .map_err(|mut e| {
            e.message = redact_text(&e.message);
            e
        })
}

async fn train_and_register_inner(
    opts: TrainOptions,
    caller: RunContext,
    started: tokio::time::Instant,
) -> Result<RegisteredModel> {
    let (r, registry) = precheck(opts).await?;
    // The stages run with a token of their own: the caller's abort, or the deadline.
    let ctx = RunContext {
        cancel: caller.cancel.child_token(),
        ..caller.clone()
    };
    let key = r.opts.model_key.clone();
    let journal = Journal::new(&registry.dir());
    let _run_lock = {
        let (j, k) = (journal.clone(), key.clone());
        blocking(move || j.try_lock(&k)).await?
    };
    // Another process may have registered the key between the first check and the lock.
    if r.opts.on_existing == OnExisting::Error && registry.contains(&key)? {
        return Err(registry::duplicate(&key, registry.path()));
    }
    let rec = resume_or_start(&r, &journal)?;
    let client = Client::new(r.connection.clone())?;
    let stages = Run {
        r: &r,
        registry: &registry,
        journal: &journal,
        client: &client,
        ctx: &ctx,
    };
    let fut = run(&stages, rec);
    tokio::pin!(fut);
    let mut timed_out = false;
    let result = match r.timeout {
        None => fut.await,
        Some(t) => tokio::select! {
            res = &mut fut => res,
            _ = tokio::time::sleep_until(started + t) => {
                // Stop the stages where they can stop (never halfway through a journal or
                // registry write), then report the timeout.
                timed_out = true;
                ctx.cancel.cancel();
                fut.await
            }
        },
    };
    let aborted = matches!(&result, Err(e) if e.is_abort());
    if aborted && timed_out && !caller.cancel.is_cancelled() {
        return Err(deadline_error(
            &journal,
            &key,
            r.timeout.unwrap_or_default(),
        ));
    }
    if aborted && r.opts.cancel_on_abort {
        cancel_after_abort(&journal, &key, &client).await;
    }
    result
}

/// `ERR_TIMEOUT` for a call that ran out of `timeoutMs` before its job finished.
fn deadline_error(journal: &Journal, key: &str, t: Duration) -> Error {
    let job = journal.load(key).ok().flatten().and_then(|r| r.job_id);
    let (what, then) = match &job {
        Some(j) => (
            format!("job {j}"),
            "it keeps running, and calling again with the same options resumes waiting for it",
        ),
        None => (
            format!("the run for modelKey {key:?}"),
            "calling again with the same options resumes it (what was uploaded is reused)",
        ),
    };
    let e = Error::new(
        ErrorCode::Timeout,
        format!(
            "{what} did not finish within {} ms (timeoutMs); {then}",
            t.as_millis()
        ),
    )
    .with_param("timeoutMs");
    match job {
        Some(j) => e.with_job(&j),
        None => e,
    }
}

/// With `cancelOnAbort`: cancels the run's job (the journaled one, or the one its create
/// request made if the answer was never journaled) with a token of its own, the caller's being
/// cancelled, and clears the journal once that worked (see [`cancel_run`]).
async fn cancel_after_abort(journal: &Journal, key: &str, client: &Client) {
    let Ok(Some(rec)) = journal.load(key) else {
        return;
    };
    let _ = tokio::time::timeout(Duration::from_secs(60), cancel_run(client, journal, &rec)).await;
}

/// The files the job trains on: never deleted.
fn job_files(job: &Job) -> Vec<String> {
    [job.training_file.clone(), job.validation_file.clone()]
        .into_iter()
        .flatten()
        .collect()
}

/// The stages, in order. A journaled job skips the data stages (the data is not needed
/// again, but local data must not have changed); so does a job that already exists for the
/// run's idempotency key (another machine's, or an earlier call's whose answer was lost).
/// When the job is final, the files the run uploaded and the job does not use are deleted.
async fn run(run: &Run<'_>, mut rec: RunRecord) -> Result<RegisteredModel> {
    let resumed = rec.job_id.clone();
    let (job_id, base) = match &resumed {
        Some(id) => {
            let base = base_model::check_base_model(run, false).await?;
            load::check_unchanged(run, &rec, id).await?;
            run.ctx.emit(ProgressEvent::JobCreated {
                job_id: id.clone(),
                resumed: true,
            });
            (id.clone(), base)
        }
        None => start_job(run, &mut rec).await?,
    };
    let job = wait_for_job(run, &rec, &job_id, resumed.is_some()).await?;
    // Best effort: the model is trained either way; a clean-up that fails after its retries
    // leaves files behind rather than the model unregistered.
    let mut keep = job_files(&job);
    keep.extend(rec.training_file_id.clone());
    keep.extend(rec.validation_file_id.clone());
    let cleaned = stages::upload::clean_up(run.client, &rec, &keep, &run.ctx.cancel).await;
    if matches!(&cleaned, Err(e) if e.is_abort()) {
        return Err(Error::aborted());
    }
    let deployed = stages::deploy::deploy(run, job.fine_tuned_model.as_deref()).await?;
    let evaluated = stages::evaluate::after_job(run, &rec, &job).await?;
    let found = Findings {
        base,
        deployed,
        evaluated,
    };
    stages::register::register(run, &rec, job, found).await
}

/// The data stages and the job's creation (or adoption): load → check → base-model dates →
/// upload → create. Every local check runs before the first request; a base model already
/// shut down is refused, one shutting down soon warned about, before anything is uploaded.
async fn start_job(run: &Run<'_>, rec: &mut RunRecord) -> Result<(String, BaseModelCheck)> {
    let data = load::load(run).await?;
    stages::check::check(run, &data).await?;
    load::journal_digest(run, rec, &data).await?;
    let base = base_model::check_base_model(run, true).await?;
    let existing = if rec.training_file_id.is_none() && !rec.job_requested {
        job::adopt_existing(run, rec).await?
    } else {
        None
    };
    if let Some(j) = existing {
        return Ok((j.id, base));
    }
    stages::upload::upload(run, rec, &data).await?;
    // Temporary downloads are removed here (and on any early return).
    drop(data);
    match job::create(run, rec).await {
        Ok(j) => Ok((j.id, base)),
        Err(e) => Err(base_model::on_job_refused(run, rec, e).await),
    }
}

/// Waits for the job. A failed or cancelled job ends the run (its files are cleaned up); a
/// journaled job the API no longer knows says how to clear the run.
async fn wait_for_job(run: &Run<'_>, rec: &RunRecord, job_id: &str, resumed: bool) -> Result<Job> {
    let key = &run.r.opts.model_key;
    match job::wait(run, job_id).await {
        Ok(j) => Ok(j),
        Err(e) if matches!(e.code, ErrorCode::JobFailed | ErrorCode::JobCancelled) => {
            let keep = [rec.training_file_id.clone(), rec.validation_file_id.clone()];
            let keep: Vec<String> = keep.into_iter().flatten().collect();
            let _ = stages::upload::clean_up(run.client, rec, &keep, &run.ctx.cancel).await;
            run.journal.remove(key)?;
            Err(e)
        }
        Err(mut e) if e.status == Some(404) && resumed => {
            e.message = format!(
                "{} (the journaled job {job_id} no longer exists at this API; clear the run with cancelFineTune({key:?}) and start again)",
                e.message
            );
            Err(e)
        }
        Err(e) => Err(e),
    }
}
