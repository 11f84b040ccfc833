//! The whole run. [`train_and_register`] makes every check that needs no network, takes the
//! modelKey's run lock and reads its journal; [`run`] is then the list of stages:
//! load → check → upload → job → register (see [`crate::stages`]).

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::client::Client;
use crate::error::{Error, ErrorCode, Result};
use crate::journal::{Journal, RunRecord};
use crate::options::{self, Resolved, TrainOptions};
use crate::progress::{ProgressEvent, RunContext};
use crate::registry::{self, Registry};
use crate::source;
use crate::stages::{self, job, load, register::RegisteredModel, Run};

fn run_id() -> String {
    use rand::Rng;
    let mut rng = rand::rng();
    (0..16)
        .map(|_| format!("{:02x}", rng.random::<u8>()))
        .collect()
}

/// Checks what needs no network: options, sources, the duplicate key (before any lock or
/// download), and local files' existence.
async fn precheck(opts: TrainOptions) -> Result<(Resolved, Registry)> {
    let r = options::resolve(opts)?;
    source::check_source("source", &r.opts.source)?;
    if let Some(v) = &r.opts.validation {
        source::check_source("validation", v)?;
    }
    let registry = Registry::new(&r.registry_path);
    let (reg, k) = (registry.clone(), r.opts.model_key.clone());
    let new_version = r.opts.on_existing == crate::versions::OnExisting::NewVersion;
    if crate::blocking(move || reg.contains(&k)).await? && !new_version {
        return Err(registry::duplicate(&r.opts.model_key, registry.path()));
    }
    for (param, src) in [
        ("source", Some(&r.opts.source)),
        ("validation", r.opts.validation.as_ref()),
    ] {
        if let Some(src) = src.filter(|s| !source::is_url(s)) {
            source::open_local(param, src)?;
        }
    }
    Ok((r, registry))
}

/// The journaled run of this modelKey, if its options are the same; a new record otherwise.
fn resume_or_start(r: &Resolved, journal: &Journal) -> Result<RunRecord> {
    let o = &r.opts;
    let digest = job::options_digest(r);
    match journal.load(&o.model_key)? {
        Some(prev) if prev.options_digest != digest => Err(Error::new(
            ErrorCode::ModelKeyInProgress,
            format!(
                "a run for modelKey {:?} with different options is in flight{}; call again with the same options to resume it, or cancel it with cancelFineTune",
                o.model_key,
                prev.job_id.as_deref().map(|j| format!(" (job {j})")).unwrap_or_default()
            ),
        )
        .with_param("modelKey")),
        Some(prev) => Ok(prev),
        None => Ok(RunRecord {
            model_key: o.model_key.clone(),
            run_id: run_id(),
            options_digest: digest,
            agent_name: o.agent_name.clone(),
            base_model: o.base_model.clone(),
            suffix: r.suffix.clone(),
            base_url: r.connection.base_url.clone(),
            api_version: r.connection.azure_api_version.clone(),
            started_at: stages::register::iso(None),
            ..Default::default()
        }),
    }
}

/// Runs the whole pipeline. Every check that needs no network runs before anything is sent.
pub async fn train_and_register(opts: TrainOptions, ctx: RunContext) -> Result<RegisteredModel> {
    let (r, registry) = precheck(opts).await?;
    let key = r.opts.model_key.clone();
    let journal = Journal::new(&registry.dir());
    let _run_lock = {
        let (j, k) = (journal.clone(), key.clone());
        crate::blocking(move || j.try_lock(&k)).await?
    };
    // Another process may have registered the key between the first check and the lock.
    if r.opts.on_existing == crate::versions::OnExisting::Error && registry.contains(&key)? {
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
    let result = run(&stages, rec).await;
    if matches!(&result, Err(e) if e.is_abort()) && r.opts.cancel_on_abort {
        cancel_after_abort(&journal, &key, &client).await;
    }
    result
}

/// With `cancelOnAbort`: cancels the run's job (with a token of its own, the caller's being
/// cancelled) and clears the journal once that worked.
async fn cancel_after_abort(journal: &Journal, key: &str, client: &Client) {
    let Ok(Some(RunRecord {
        job_id: Some(job), ..
    })) = journal.load(key)
    else {
        return;
    };
    let fresh = CancellationToken::new();
    let cancelled =
        tokio::time::timeout(Duration::from_secs(30), client.cancel_job(&job, &fresh)).await;
    if matches!(cancelled, Ok(Ok(_))) {
        let _ = journal.remove(key);
    }
}

/// The stages, in order. A journaled job skips the data stages (the data is not needed
/// again, but local data must not have changed).
async fn run(run: &Run<'_>, mut rec: RunRecord) -> Result<RegisteredModel> {
    let key = &run.r.opts.model_key;
    let resumed = rec.job_id.clone();
    let job_id = match &resumed {
        Some(id) => {
            load::check_unchanged(run, &rec, id).await?;
            run.ctx.emit(ProgressEvent::JobCreated {
                job_id: id.clone(),
                resumed: true,
            });
            id.clone()
        }
        None => {
            let data = load::load(run).await?;
            stages::check::check(run, &data).await?;
            load::journal_digest(run, &mut rec, &data).await?;
            stages::upload::upload(run, &mut rec, &data).await?;
            // Temporary downloads are removed here (and on any early return).
            drop(data);
            job::create(run, &mut rec).await?.id
        }
    };
    let job = match job::wait(run, &job_id).await {
        Ok(j) => j,
        Err(e) if matches!(e.code, ErrorCode::JobFailed | ErrorCode::JobCancelled) => {
            run.journal.remove(key)?;
            return Err(e);
        }
        Err(mut e) if e.status == Some(404) && resumed.is_some() => {
            e.message = format!(
                "{} (the journaled job {job_id} no longer exists at this API; clear the run with cancelFineTune({key:?}) and start again)",
                e.message
            );
            return Err(e);
        }
        Err(e) => return Err(e),
    };
    let evaluated = crate::evaluate::after_job(run, &rec, &job).await?;
    stages::register::register(run, &rec, job, evaluated).await
}
