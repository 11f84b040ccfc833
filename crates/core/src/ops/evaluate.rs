//! `evaluateModel`: a model against its baseline on a data set, as a call of its own (the run
//! is `stages::evaluate`). Its requests get more retries than one call's unless `maxRetries`
//! is given.

use crate::infra::client::Client;
use crate::infra::connection::connection;
use crate::infra::registry::{self, Registry};
use crate::infra::task::blocking;
use crate::stages::evaluate::settings::check_numbers;
use crate::stages::evaluate::{run, EVAL_MAX_RETRIES};
use crate::types::entry::RegistryEntry;
use crate::types::error::{Error, ErrorCode, Result};
use crate::types::options::EvaluateOptions;
use crate::types::progress::RunContext;
use crate::types::results::EvaluationReport;

/// The registry entry of `key`, which must be registered.
async fn entry_of(registry: &Registry, key: &str) -> Result<RegistryEntry> {
    let (r, k) = (registry.clone(), key.to_string());
    blocking(move || r.get(&k)).await?.ok_or_else(|| {
        Error::new(
            ErrorCode::NotFound,
            format!(
                "modelKey {key:?} is not registered in {}",
                registry.path().display()
            ),
        )
        .with_param("modelKey")
    })
}

/// The baseline: the option, else the entry's base model, else the model the key resolved to
/// before, else the base of an `ft:` candidate.
fn baseline_of(
    given: Option<&str>,
    entry: Option<&RegistryEntry>,
    candidate: &str,
    resolve: &dyn Fn(&str) -> Result<String>,
) -> Result<String> {
    if let Some(b) = given {
        return resolve(b);
    }
    entry
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
        })
}

/// `evaluateModel`: resolves the candidate, the baseline and the data from the options and
/// the registry, then [`run`]s.
pub async fn evaluate_model(o: EvaluateOptions, ctx: RunContext) -> Result<EvaluationReport> {
    check_numbers(&o.settings)?;
    let explicit_retries = o.connection.max_retries.is_some();
    let conn = connection(o.connection)?;
    let registry = Registry::new(registry::registry_path(o.registry_path));
    let key = o.model_key.filter(|k| !k.trim().is_empty());
    let entry = match &key {
        Some(k) => Some(entry_of(&registry, k).await?),
        None => None,
    };
    let resolve = |m: &str| registry::resolve_model(m, Some(registry.path().display().to_string()));
    let candidate = match (&o.model, &entry) {
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
    let settings = o.settings;
    let baseline = baseline_of(
        settings.baseline.as_deref(),
        entry.as_ref(),
        &candidate,
        &resolve,
    )?;
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
