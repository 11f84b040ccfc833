//! Stage 5: the finished job becomes a [`RegistryEntry`] in `models.json` (with its training
//! metrics, and its loss curve drawn beside the registry), and the call's result.

use std::path::PathBuf;

use serde::Serialize;

use crate::api::Job;
use crate::error::{Error, ErrorCode, Result};
use crate::journal::RunRecord;
use crate::metrics::MetricsSummary;
use crate::models;
use crate::progress::ProgressEvent;
use crate::registry::{FineTuneRecord, ModelRef, Registry, RegistryEntry};
use crate::versions::VersionOutcome;

use super::Run;

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
    pub metrics: Option<MetricsSummary>,
    /// The loss curve drawn as SVG beside the registry, when there was one to draw.
    pub curve_path: Option<String>,
    /// The base model's shutdown date (`YYYY-MM-DD`), when the API announces one: the
    /// fine-tuned model stops answering then.
    pub base_shutdown_date: Option<String>,
    /// The model an agent's client sends: the Azure deployment's name once deployed, else the
    /// fine-tuned model's id.
    pub model: String,
    /// Where the model answers, when not at OpenAI (Azure OpenAI's v1 base URL).
    pub base_url: Option<String>,
    /// Azure: the deployment (`null` when not deployed); absent on OpenAI.
    pub deployment: Option<serde_json::Value>,
    /// Azure, not deployed: the `az` command that deploys the model.
    pub deploy_command: Option<String>,
    /// What the caller should know (a base model shutting down soon, an undeployed model…).
    pub warnings: Vec<String>,
    /// Whether the modelKey resolves to this model now (`promote: "ifBetter"` keeps the
    /// current one unless the evaluation says `better`).
    pub promoted: bool,
    /// The model the key resolved to before, when it was registered.
    pub previous_model: Option<String>,
    /// The evaluation against the baseline, when `evaluate` ran.
    pub evaluation: Option<crate::evaluate::EvaluationReport>,
    /// Why the evaluation could not run, when it failed (the model is registered anyway).
    pub evaluation_error: Option<String>,
}

/// What the stages before registration found, for the entry and the result.
#[derive(Debug, Clone, Default)]
pub struct Findings {
    /// The base model's lifecycle check.
    pub base: crate::lifecycle::BaseModelCheck,
    /// The deployment stage's outcome.
    pub deployed: super::deploy::Deployed,
    /// The evaluation after the job, when `evaluate` ran.
    pub evaluated: crate::evaluate::Evaluated,
}

/// Unix seconds (or now) as ISO 8601.
pub fn iso(ts: Option<i64>) -> String {
    let ts = ts.unwrap_or_else(|| chrono::Utc::now().timestamp());
    chrono::DateTime::from_timestamp(ts, 0)
        .unwrap_or_else(chrono::Utc::now)
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// The model as TaskForce reads it: an OpenAI model, with tools and a context window as its
/// family has them (none, and 4096 tokens, when the family is unknown).
pub(crate) fn model_ref(name: String, family: Option<&models::ModelInfo>) -> ModelRef {
    ModelRef {
        name,
        base_url: None,
        provider: "openai".into(),
        supports_tools: family.is_some_and(|f| f.supports_tools),
        max_context_tokens: family.map_or(4096, |f| f.max_context_tokens as u64),
        extra: serde_json::Map::new(),
    }
}

/// How a succeeded job was trained, as far as the job says (`method` as the API names it);
/// the caller adds what it knows (agent, suffix, metrics, deployment…).
pub(crate) fn record_of_job(job: &Job, method: &str) -> FineTuneRecord {
    FineTuneRecord {
        agent_name: String::new(),
        base_model: job.model.clone().unwrap_or_default(),
        job_id: job.id.clone(),
        training_file_id: job.training_file.clone().unwrap_or_default(),
        validation_file_id: job.validation_file.clone(),
        suffix: String::new(),
        method: method.to_string(),
        hyperparameters: job.hyperparameters_used(method),
        trained_tokens: job.trained_tokens,
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

impl RegisteredModel {
    /// What registering `f` (a succeeded job's record) under `model_key` returns, as far as the
    /// record and the registration say; the caller adds what only it knows (metrics, curve,
    /// where the model answers, warnings, the evaluation).
    pub(crate) fn of_record(
        model_key: String,
        fine_tuned_model: String,
        model: String,
        f: FineTuneRecord,
        registry: &Registry,
        outcome: VersionOutcome,
    ) -> RegisteredModel {
        RegisteredModel {
            model_key,
            fine_tuned_model,
            agent_name: f.agent_name,
            base_model: f.base_model,
            job_id: f.job_id,
            training_file_id: f.training_file_id,
            validation_file_id: f.validation_file_id,
            suffix: f.suffix,
            trained_tokens: f.trained_tokens,
            created_at: f.created_at,
            finished_at: f.finished_at,
            registry_path: registry.path().display().to_string(),
            metrics: None,
            curve_path: None,
            base_shutdown_date: f.base_shutdown_date,
            model,
            base_url: None,
            deployment: f.deployment,
            deploy_command: f.deploy_command,
            warnings: Vec::new(),
            promoted: outcome.promoted,
            previous_model: outcome.previous_model,
            evaluation: None,
            evaluation_error: None,
        }
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
    let mut model_extra = serde_json::Map::new();
    if d.base_url.is_some() {
        // Where the key comes from: the entry never holds it.
        model_extra.insert("apiKeyEnv".into(), "AZURE_OPENAI_API_KEY".into());
    }
    let name = if d.model_name.is_empty() {
        fine_tuned_model.to_string()
    } else {
        d.model_name.clone()
    };
    let of_job = record_of_job(job, o.method.as_str());
    RegistryEntry {
        model: ModelRef {
            base_url: d.base_url.clone(),
            extra: model_extra,
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
    let model_name = e.model.name.clone();
    let evaluated = found.evaluated;
    if let (Some(f), Some(r)) = (e.fine_tune.as_mut(), &evaluated.report) {
        f.evaluation = serde_json::to_value(r).ok();
    }
    let fine_tune = e.fine_tune.clone().unwrap_or_default();
    let promote = evaluated.promote(run.r.opts.promote);
    let on_existing = run.r.opts.on_existing;
    let outcome = {
        let (reg, k, job_id) = (run.registry.clone(), key.clone(), job.id.clone());
        crate::blocking(move || {
            crate::versions::register_version(&reg, &k, e, on_existing, promote)
        })
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
        base_url: found.deployed.base_url,
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
            model_name,
            fine_tune,
            run.registry,
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
    let key = &run.r.opts.model_key;
    let Some(file) = job.result_files.first() else {
        return (None, None);
    };
    let Ok(csv) = run.client.file_content(file, &run.ctx.cancel).await else {
        return (None, None);
    };
    let Some(series) = crate::metrics::parse_results(&csv) else {
        return (None, None);
    };
    let summary = crate::metrics::summarize(&series, job.trained_tokens);
    let svg = crate::metrics::render_svg(&series, &format!("{key}: training loss"));
    // The modelKey holds no path separators (checked up front), so this stays in the folder.
    let dir = run.registry.dir();
    let path = dir.join(format!("{key}.svg"));
    let written = tempfile::Builder::new()
        .prefix(".curve.")
        .tempfile_in(&dir)
        .and_then(|mut t| {
            std::io::Write::write_all(&mut t, svg.as_bytes())?;
            t.persist(&path).map_err(|e| e.error)
        });
    (Some(summary), written.ok().map(|_| path))
}
