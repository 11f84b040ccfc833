//! `evaluateModel`: a model against its baseline on a data set, as a call of its own (the run
//! is `stages::evaluate`). Its requests get more retries than one call's unless `maxRetries`
//! is given.

use crate::infra::client::Client;
use crate::infra::connection::connection;
use crate::infra::registry::{self, Registry};
use crate::infra::task::blocking;
use crate::stages::evaluate::settings::check_numbers;
use crate::stages::evaluate::{run, EVAL_MAX_RETRIES};
use crate::types::error::{Error, ErrorCode, Result};
use crate::types::options::{EvalSettings, EvaluateOptions};
use crate::types::progress::RunContext;
use crate::types::results::EvaluationReport;

/// `evaluateModel`: resolves the candidate, the baseline and the data from the options and
/// the registry, then [`run`]s.
pub async fn evaluate_model(o: EvaluateOptions, ctx: RunContext) -> Result<EvaluationReport> {
    let EvaluateOptions {
        model_key,
        model,
        data,
        baseline,
        graders,
        primary_grader,
        judge_model,
        judge_rubric,
        concurrency,
        max_cost_usd,
        max_examples,
        seed,
        bootstrap_samples,
        output_path,
        temperature,
        cache,
        junit_path,
        min_scores,
        max_answer_tokens,
        custom_graders,
        registry_path,
        connection: conn,
    } = o;
    let settings = EvalSettings {
        data,
        baseline,
        graders,
        primary_grader,
        judge_model,
        judge_rubric,
        concurrency,
        max_cost_usd,
        max_examples,
        seed,
        bootstrap_samples,
        output_path,
        temperature,
        cache,
        junit_path,
        min_scores,
        max_answer_tokens,
        custom_graders,
    };
    check_numbers(&settings)?;
    let explicit_retries = conn.max_retries.is_some();
    let conn = connection(conn)?;
    let registry = Registry::new(registry::registry_path(registry_path));
    let key = model_key.filter(|k| !k.trim().is_empty());
    let entry = match &key {
        Some(k) => {
            let (r, k2) = (registry.clone(), k.clone());
            Some(blocking(move || r.get(&k2)).await?.ok_or_else(|| {
                Error::new(
                    ErrorCode::NotFound,
                    format!(
                        "modelKey {k:?} is not registered in {}",
                        registry.path().display()
                    ),
                )
                .with_param("modelKey")
            })?)
        }
        None => None,
    };
    let resolve = |m: &str| registry::resolve_model(m, Some(registry.path().display().to_string()));
    let candidate = match (&model, &entry) {
        (Some(m), _) => resolve(m)?,
        (None, Some(e)) => e.model.name.clone(),
        (None, None) => {
            return Err(Error::new(
                ErrorCode::MissingOption,
                "missing required option: modelKey or model (the candidate)".to_string(),
            )
            .with_param("modelKey"))
        }
    };
    let baseline = match &settings.baseline {
        Some(b) => resolve(b)?,
        None => entry
            .as_ref()
            .and_then(|e| {
                e.fine_tune
                    .as_ref()
                    .map(|f| f.base_model.clone())
                    .filter(|b| !b.is_empty())
                    .or_else(|| e.previous.last().cloned())
            })
            .or_else(|| {
                candidate
                    .strip_prefix("ft:")
                    .and_then(|r| r.split(':').next())
                    .map(str::to_string)
            })
            .ok_or_else(|| {
                Error::new(
                    ErrorCode::MissingOption,
                    "no baseline: pass baseline (the candidate has no registered base model)"
                        .to_string(),
                )
                .with_param("baseline")
            })?,
    };
    let data = settings.data.clone().or_else(|| {
        entry
            .as_ref()
            .and_then(|e| e.fine_tune.as_ref())
            .and_then(|f| f.validation_file_id.clone())
    });
    let Some(data) = data else {
        return Err(Error::new(
            ErrorCode::MissingOption,
            "no evaluation data: pass data (the entry has no validation file)".to_string(),
        )
        .with_param("data"));
    };
    let client = Client::new(conn)?;
    let client = if explicit_retries {
        client
    } else {
        client.patient(EVAL_MAX_RETRIES)
    };
    run(
        &client, &registry, candidate, baseline, key, &data, settings, &ctx,
    )
    .await
}
