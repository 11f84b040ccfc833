//! Stage 5: the finished job becomes a [`RegistryEntry`] in `models.json` (with its training
//! metrics, and its loss curve drawn beside the registry), and the call's result.

use std::path::{Path, PathBuf};

use crate::calc::lifecycle::iso;
use crate::calc::metrics;
use crate::infra::journal::RunRecord;
use crate::infra::task::blocking;
use crate::infra::versions::register_version;
use crate::types::api::Job;
use crate::types::entry::{FineTuneRecord, ModelRef, RegistryEntry};
use crate::types::error::{Error, ErrorCode, Result};
use crate::types::models;
use crate::types::progress::ProgressEvent;
use crate::types::results::{Findings, MetricsSummary, RegisteredModel};

use super::Run;

/// The model as TaskForce reads it: an OpenAI model, with tools and a context window as its
/// family has them (none, and 4096 tokens, when the family is unknown).
pub fn model_ref(name: String, family: Option<&models::ModelInfo>) -> ModelRef {
    ModelRef {
        name,
        base_url: None,
        api_key_env: None,
        provider: "openai".into(),
        supports_tools: family.is_some_and(|f| f.supports_tools),
        max_context_tokens: family.map_or(4096, |f| f.max_context_tokens as u64),
        extra: serde_json::Map::new(),
    }
}

/// How a succeeded job was trained, as far as the job says (`method` as the API names it);
/// the caller adds what it knows (agent, suffix, metrics, deployment…).
pub fn record_of_job(job: &Job, method: &str) -> FineTuneRecord {
    FineTuneRecord {
        agent_name: String::new(),
        base_model: job.model.clone().unwrap_or_default(),
        job_id: job.id.clone(),
        training_file_id: job.training_file.clone().unwrap_or_default(),
        validation_file_id: job.validation_file.clone(),
        suffix: String::new(),
        method: method.to_string(),
        hyperparameters: job.hyperparameters_used(method),
        trained_tokens: job.trained_tokens.and_then(|t| u64::try_from(t).ok()),
        metrics: None,
        loss_curve: None,
        created_at: iso(job.created_at),
        finished_at: iso(job.finished_at),
        base_shutdown_date: None,
        deployment: None,
        deploy_command: None,
        evaluation: None,
        extra: Default::default(),
    }
}

/// The registry entry of a succeeded job, in the shape TaskForce's loader reads.
fn entry(
    run: &Run<'_>,
    rec: &RunRecord,
    job: &Job,
    fine_tuned_model: &str,
    metrics: Option<MetricsSummary>,
    curve: Option<&PathBuf>,
    found: &Findings,
) -> RegistryEntry {
    let o = &run.r.opts;
    let family = models::family(&o.base_model);
    let d = &found.deployed;
    let name = if d.model_name.is_empty() {
        fine_tuned_model.to_string()
    } else {
        d.model_name.clone()
    };
    let of_job = record_of_job(job, o.method.as_str());
    RegistryEntry {
        model: ModelRef {
            base_url: d.base_url.clone(),
            // Where the key comes from: the entry never holds it.
            api_key_env: d
                .base_url
                .is_some()
                .then(|| "AZURE_OPENAI_API_KEY".to_string()),
            ..model_ref(name, family.as_ref())
        },
        fine_tune: Some(FineTuneRecord {
            agent_name: o.agent_name.clone(),
            base_model: o.base_model.clone(),
            training_file_id: rec
                .training_file_id
                .clone()
                .unwrap_or(of_job.training_file_id),
            validation_file_id: rec.validation_file_id.clone().or(of_job.validation_file_id),
            suffix: run.r.suffix.clone(),
            metrics: metrics.and_then(|m| serde_json::to_value(m).ok()),
            loss_curve: curve
                .and_then(|p| p.file_name())
                .map(|n| n.to_string_lossy().into_owned()),
            base_shutdown_date: found.base.shutdown_date.clone(),
            deployment: d.deployment.clone(),
            deploy_command: d.deploy_command.clone(),
            ..of_job
        }),
        ..Default::default()
    }
}

/// Registers a succeeded job under the run's modelKey (a new version of it with
/// `onExisting: "newVersion"`, made current unless `promote: "ifBetter"` and the evaluation
/// did not find it better) and returns what was registered.
pub async fn register(
    run: &Run<'_>,
    rec: &RunRecord,
    job: Job,
    found: Findings,
) -> Result<RegisteredModel> {
    let key = &run.r.opts.model_key;
    let Some(ft_model) = job.fine_tuned_model.clone().filter(|m| !m.is_empty()) else {
        run.journal.remove(key)?;
        return Err(Error::new(
            ErrorCode::JobFailed,
            format!("job {} succeeded but reported no fine_tuned_model", job.id),
        )
        .with_job(&job.id));
    };
    let (metrics, curve) = training_metrics(run, &job).await;
    let mut e = entry(
        run,
        rec,
        &job,
        &ft_model,
        metrics.clone(),
        curve.as_ref(),
        &found,
    );
    let model = e.model.clone();
    let evaluated = found.evaluated;
    if let (Some(f), Some(r)) = (e.fine_tune.as_mut(), &evaluated.report) {
        f.evaluation = serde_json::to_value(r).ok();
    }
    let fine_tune = e.fine_tune.clone().unwrap_or_default();
    let promote = evaluated.promote(run.r.opts.promote);
    let on_existing = run.r.opts.on_existing;
    let outcome = {
        let (reg, k, job_id) = (run.registry.clone(), key.clone(), job.id.clone());
        blocking(move || register_version(&reg, &k, e, on_existing, promote))
            .await
            .map_err(|mut e| {
                e.message = format!("{} (the job {job_id} succeeded with model {ft_model}; register it by hand if needed)", e.message);
                e.job_id = Some(job_id);
                e
            })?
    };
    run.journal.remove(key)?;
    let out = RegisteredModel {
        metrics,
        curve_path: curve.map(|p| p.display().to_string()),
        warnings: found
            .base
            .warning
            .into_iter()
            .chain(found.deployed.warnings)
            .collect(),
        evaluation: evaluated.report,
        evaluation_error: evaluated.error,
        ..RegisteredModel::of_record(
            key.clone(),
            ft_model,
            model,
            fine_tune,
            run.registry.path().display().to_string(),
            outcome,
        )
    };
    run.ctx.emit(ProgressEvent::Registered {
        model_key: out.model_key.clone(),
        fine_tuned_model: out.fine_tuned_model.clone(),
        registry_path: out.registry_path.clone(),
    });
    Ok(out)
}

/// Reads the job's result file, summarises it and draws the loss curve beside the registry
/// (`<modelKey>.svg`). Best effort: the model is trained either way, so a failure here only
/// leaves the metrics out.
async fn training_metrics(run: &Run<'_>, job: &Job) -> (Option<MetricsSummary>, Option<PathBuf>) {
    let key = run.r.opts.model_key.clone();
    let Some(file) = job.result_files.first() else {
        return (None, None);
    };
    let Ok(csv) = run.client.file_content(file, &run.ctx.cancel).await else {
        return (None, None);
    };
    let Some(series) = metrics::parse_results(&csv) else {
        return (None, None);
    };
    let summary = metrics::summarize(
        &series,
        job.trained_tokens.and_then(|t| u64::try_from(t).ok()),
    );
    let svg = metrics::render_svg(&series, &format!("{key}: training loss"));
    let (dir, mode) = (run.registry.dir(), registry_mode(run.registry.path()));
    let written = blocking(move || Ok(write_curve(&dir, &key, svg.as_bytes(), mode))).await;
    (Some(summary), written.ok().flatten())
}

/// The permission bits of `models.json` (0644 when it does not exist yet): the files written
/// beside it get the same.
fn registry_mode(registry: &Path) -> u32 {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(registry)
            .map(|m| m.permissions().mode() & 0o777)
            .unwrap_or(0o644)
    }
    #[cfg(not(unix))]
    {
        let _ = registry;
        0o644
    }
}

/// Writes a run's loss curve into `dir` under a name no file has yet: `<key>.svg`, else
/// `<key>.2.svg`, `<key>.3.svg`… So each version keeps its own curve, and a file that is
/// there already (an earlier version's, or one the package did not write) is never
/// overwritten. Returns the path, or `None` when it could not be written.
pub fn write_curve(dir: &Path, key: &str, svg: &[u8], mode: u32) -> Option<PathBuf> {
    // The modelKey holds no path separators (checked up front), so this stays in the folder.
    let mut t = tempfile::Builder::new()
        .prefix(".curve.")
        .tempfile_in(dir)
        .ok()?;
    std::io::Write::write_all(&mut t, svg).ok()?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        t.as_file()
            .set_permissions(std::fs::Permissions::from_mode(mode))
            .ok()?;
    }
    #[cfg(not(unix))]
    let _ = mode;
    for n in 1..1000 {
        let path = match n {
            1 => dir.join(format!("{key}.svg")),
            n => dir.join(format!("{key}.{n}.svg")),
        };
        match t.persist_noclobber(&path) {
            Ok(_) => return Some(path),
            Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => t = e.file,
            Err(_) => return None,
        }
    }
    None
}

#[cfg(test)]
mod curve_tests {
    use super::*;

    #[test]
    fn each_run_gets_its_own_curve_and_no_file_is_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        // A file of the user's where the first curve would go.
        std::fs::write(dir.path().join("k.svg"), "mine").unwrap();
        let a = write_curve(dir.path(), "k", b"<svg>a</svg>", 0o644).unwrap();
        let b = write_curve(dir.path(), "k", b"<svg>b</svg>", 0o644).unwrap();
        assert_eq!(a, dir.path().join("k.2.svg"));
        assert_eq!(b, dir.path().join("k.3.svg"));
        let read = |p: &Path| std::fs::read_to_string(p).unwrap();
        assert_eq!(read(&dir.path().join("k.svg")), "mine");
        assert_eq!(
            (read(&a), read(&b)),
            (String::from("<svg>a</svg>"), String::from("<svg>b</svg>"))
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&a).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o644);
        }
        // No temporary file is left behind.
        let names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with('.'))
            .collect();
        assert!(names.is_empty(), "{names:?}");
    }
}
