//! Versions of a modelKey, in TaskForce's shape.
//!
//! `models.json[modelKey].model` stays the model agents get (TaskForce's loader reads only
//! that). Once a key has more than one model, the entry also holds `versions` (every model
//! the key has had: its `model`, `fineTune` record, evaluation and registration time; the
//! current one included) and `previous` (the models that were current before, most recent
//! last: what [`rollback`] goes back to). An entry with a single model has neither, exactly as
//! before versions existed. Every change is one locked, atomic read-modify-write
//! ([`Registry::update`]).

use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::calc::checks::{check_model_key, require};
use crate::calc::metrics;
use crate::infra::client::Client;
use crate::infra::connection::connection;
use crate::infra::registry::{self, duplicate, Registry};
use crate::infra::task::blocking;
use crate::infra::versions::{
    entry_or_not_found, make_current, not_found, register_version, versions_of,
};
use crate::stages::register::{model_ref, record_of_job};
use crate::types::api::Job;
use crate::types::entry::{FineTuneRecord, ModelVersion, RegistryEntry};
use crate::types::error::{Error, ErrorCode, Result};
use crate::types::models;
use crate::types::options::{ImportOptions, OnExisting, RemoveOptions};
use crate::types::results::{RegisteredModel, Removed, VersionInfo};

fn info(v: &ModelVersion, current: &str) -> VersionInfo {
    let f = v.fine_tune.as_ref();
    let s = |x: Option<&String>| x.filter(|s| !s.is_empty()).cloned();
    VersionInfo {
        model: v.model.clone(),
        current: v.model.name == current,
        job_id: s(f.map(|f| &f.job_id)),
        base_model: s(f.map(|f| &f.base_model)),
        created_at: s(f.map(|f| &f.created_at)),
        finished_at: s(f.map(|f| &f.finished_at)),
        registered_at: s(Some(&v.registered_at)),
        // Typed as this library writes them; a hand-edited value of another shape reads as
        // absent.
        metrics: f
            .and_then(|f| f.metrics.clone())
            .and_then(|m| serde_json::from_value(m).ok()),
        evaluation: f
            .and_then(|f| f.evaluation.clone())
            .and_then(|e| serde_json::from_value(e).ok()),
    }
}

/// The versions of `key`, oldest first. `ERR_NOT_FOUND` when the key is not registered.
pub fn list(key: &str, registry_path: Option<String>) -> Result<Vec<VersionInfo>> {
    let reg = Registry::new(registry::registry_path(registry_path));
    let e = entry_or_not_found(reg.get(key)?, key, &reg)?;
    Ok(versions_of(&e)
        .iter()
        .map(|v| info(v, &e.model.name))
        .collect())
}

/// Makes the version `model` of `key` current; returns the model that was current before.
/// `ERR_NOT_FOUND` when the key or the version does not exist. Blocking.
pub fn promote(key: &str, model: &str, registry_path: Option<String>) -> Result<String> {
    let reg = Registry::new(registry::registry_path(registry_path));
    reg.update(key, |cur| {
        let mut e = entry_or_not_found(cur, key, &reg)?;
        let before = e.model.name.clone();
        let all = versions_of(&e);
        let Some(v) = all.iter().find(|v| v.model.name == model) else {
            return Err(not_found(format!(
                "modelKey {key:?} has no version {model:?}; its versions are {}",
                all.iter()
                    .map(|v| v.model.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
            .with_param("modelName"));
        };
        e.versions = all.clone();
        make_current(&mut e, v, true);
        Ok((Some(e), before))
    })
}

/// Makes the model that was current before the current one current again (undoing the last
/// promotion); returns the model the key resolves to now. `ERR_NOT_FOUND` when there is no
/// earlier model. Blocking.
pub fn rollback(key: &str, registry_path: Option<String>) -> Result<String> {
    let reg = Registry::new(registry::registry_path(registry_path));
    reg.update(key, |cur| {
        let mut e = entry_or_not_found(cur, key, &reg)?;
        let all = versions_of(&e);
        while let Some(prev) = e.previous.pop() {
            if prev == e.model.name {
                continue;
            }
            if let Some(v) = all.iter().find(|v| v.model.name == prev) {
                make_current(&mut e, v, false);
                let now = e.model.name.clone();
                return Ok((Some(e), now));
            }
        }
        Err(not_found(format!(
            "modelKey {key:?} has no earlier model to roll back to (it resolves to {:?})",
            e.model.name
        )))
    })
}

/// A loss curve's name as this package writes it: `<name>.svg`, no folder, not hidden.
fn owned_file_name(n: &str) -> bool {
    n.ends_with(".svg")
        && !n.starts_with('.')
        && !n.contains(['/', '\\'])
        && std::path::Path::new(n).file_name() == Some(std::ffi::OsStr::new(n))
}

/// Removes `key` from the registry (and the loss curves it owns); with `delete_remote`, first deletes each of its
/// fine-tuned (`ft:`) models at the API (`DELETE /models/{model}`; one the API no longer has
/// counts as deleted), so a failure leaves the entry in place to try again.
pub async fn remove(key: &str, o: RemoveOptions) -> Result<Removed> {
    let RemoveOptions {
        delete_remote,
        registry_path,
        // The binding bounds the whole call (`infra::task::bounded`).
        timeout_ms: _,
        connection: conn,
    } = o;
    let reg = Registry::new(registry::registry_path(registry_path));
    let e = {
        let (r, k) = (reg.clone(), key.to_string());
        blocking(move || r.get(&k)).await?
    };
    let e = entry_or_not_found(e, key, &reg)?;
    let models: Vec<String> = versions_of(&e)
        .into_iter()
        .map(|v| v.model.name)
        .filter(|n| !n.is_empty())
        .collect();
    let mut deleted_remote = Vec::new();
    if delete_remote {
        let client = Client::new(connection(conn)?)?;
        let cancel = CancellationToken::new();
        for m in models.iter().filter(|m| m.starts_with("ft:")) {
            client.delete_model(m, &cancel).await?;
            deleted_remote.push(m.clone());
        }
    }
    // The files the entry owns: each version's loss curve (a bare file name beside the
    // registry; anything else was not written by this package and is left alone).
    let curves: Vec<String> = versions_of(&e)
        .into_iter()
        .filter_map(|v| v.fine_tune.and_then(|f| f.loss_curve))
        .chain(e.fine_tune.as_ref().and_then(|f| f.loss_curve.clone()))
        .filter(|n| owned_file_name(n))
        .collect();
    let (r, k) = (reg.clone(), key.to_string());
    blocking(move || {
        r.update(&k, |cur| {
            entry_or_not_found(cur, &k, &r)?;
            Ok((None, ()))
        })?;
        // The lock file (`models.json.lock`) stays: removing it while another process waits
        // on it would let two writers in at once.
        let dir = r.dir();
        for c in curves {
            let _ = std::fs::remove_file(dir.join(c));
        }
        Ok(())
    })
    .await?;
    Ok(Removed {
        model_key: key.to_string(),
        models,
        deleted_remote,
    })
}

/// Registers the succeeded job `job_id` (started elsewhere) under `modelKey`. A job that is
/// not `succeeded` is refused with its status: `ERR_JOB_FAILED`, `ERR_JOB_CANCELLED`, or
/// `ERR_JOB_NOT_FINISHED` while it runs.
pub async fn import_job(job_id: &str, o: ImportOptions) -> Result<RegisteredModel> {
    require(&[("agentName", &o.agent_name), ("modelKey", &o.model_key)])?;
    check_model_key(&o.model_key)?;
    let (registry_path, conn) = (o.registry_path.clone(), o.connection.clone());
    let reg = Registry::new(registry::registry_path(registry_path));
    if o.on_existing == OnExisting::Error {
        let (r, k) = (reg.clone(), o.model_key.clone());
        if blocking(move || r.contains(&k)).await? {
            return Err(duplicate(&o.model_key, reg.path()));
        }
    }
    let client = Client::new(connection(conn)?)?;
    let cancel = CancellationToken::new();
    let job = client
        .retrieve_job(job_id, &cancel)
        .await
        .map_err(|e| super::job::job_not_found(job_id, e))?;
    let refuse = |code, what: &str| {
        Err(Error::new(
            code,
            format!(
                "job {job_id} is {}{what}; only a succeeded job can be imported",
                job.status
            ),
        )
        .with_job(job_id))
    };
    match job.status.as_str() {
        "succeeded" => {}
        "failed" => {
            let why = job
                .error_parts()
                .and_then(|p| p.1)
                .map(|m| format!(" ({m})"))
                .unwrap_or_default();
            return refuse(ErrorCode::JobFailed, &why);
        }
        "cancelled" => return refuse(ErrorCode::JobCancelled, ""),
        _ => return refuse(ErrorCode::JobNotFinished, ""),
    }
    let Some(model) = job.fine_tuned_model.clone().filter(|m| !m.is_empty()) else {
        return Err(Error::new(
            ErrorCode::JobFailed,
            format!("job {job_id} succeeded but reported no fine_tuned_model"),
        )
        .with_job(job_id));
    };
    let metrics = import_metrics(&client, &job, &cancel).await;
    let entry = entry_of_job(&job, &model, &o.agent_name, metrics.clone());
    let f = entry.fine_tune.clone().unwrap_or_default();
    let model_ref = entry.model.clone();
    let outcome = {
        let (r, k, on) = (reg.clone(), o.model_key.clone(), o.on_existing);
        blocking(move || register_version(&r, &k, entry, on, true)).await?
    };
    Ok(RegisteredModel {
        metrics: metrics.and_then(|m| serde_json::from_value(m).ok()),
        ..RegisteredModel::of_record(
            o.model_key.clone(),
            model,
            model_ref,
            f,
            reg.path().display().to_string(),
            outcome,
        )
    })
}

async fn import_metrics(client: &Client, job: &Job, cancel: &CancellationToken) -> Option<Value> {
    let csv = client
        .file_content(job.result_files.first()?, cancel)
        .await
        .ok()?;
    let series = metrics::parse_results(&csv)?;
    serde_json::to_value(metrics::summarize(
        &series,
        job.trained_tokens.and_then(|t| u64::try_from(t).ok()),
    ))
    .ok()
}

/// The registry entry of a job trained elsewhere.
fn entry_of_job(job: &Job, model: &str, agent_name: &str, metrics: Option<Value>) -> RegistryEntry {
    let of_job = record_of_job(job, job.method_name());
    let family = models::family(&of_job.base_model).or_else(|| models::family(model));
    RegistryEntry {
        model: model_ref(model.to_string(), family.as_ref()),
        fine_tune: Some(FineTuneRecord {
            agent_name: agent_name.to_string(),
            suffix: model.split(':').nth(3).unwrap_or_default().to_string(),
            metrics,
            ..of_job
        }),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::entry::ModelRef;
    use serde_json::json;

    fn entry(name: &str) -> RegistryEntry {
        RegistryEntry {
            model: ModelRef {
                name: name.into(),
                provider: "openai".into(),
                ..Default::default()
            },
            fine_tune: Some(FineTuneRecord {
                job_id: format!("ftjob-{name}"),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn versions_promote_and_roll_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("models.json");
        std::fs::write(
            &path,
            r#"{"other": {"model": {"name": "gpt-4o"}, "note": 1}}"#,
        )
        .unwrap();
        let p = Some(path.display().to_string());
        let reg = Registry::new(&path);
        let o = register_version(&reg, "k", entry("ft:a"), OnExisting::Error, true).unwrap();
        assert_eq!(o.versions, 1);
        // The first registration keeps the seed's shape.
        let raw = reg.read().unwrap();
        assert!(raw["k"].get("versions").is_none());
        let e = register_version(&reg, "k", entry("ft:b"), OnExisting::Error, true).unwrap_err();
        assert_eq!(e.code, ErrorCode::DuplicateModelKey);
        // A version that is not promoted leaves the key resolving to the current model.
        let o = register_version(&reg, "k", entry("ft:b"), OnExisting::NewVersion, false).unwrap();
        assert_eq!((o.promoted, o.versions), (false, 2));
        assert_eq!(registry::resolve_model("k", p.clone()).unwrap(), "ft:a");
        let o = register_version(&reg, "k", entry("ft:c"), OnExisting::NewVersion, true).unwrap();
        assert_eq!(o.previous_model.as_deref(), Some("ft:a"));
        assert_eq!(registry::resolve_model("k", p.clone()).unwrap(), "ft:c");
        let l = list("k", p.clone()).unwrap();
        assert_eq!(
            l.iter()
                .map(|v| (v.model.name.as_str(), v.current))
                .collect::<Vec<_>>(),
            [("ft:a", false), ("ft:b", false), ("ft:c", true)]
        );
        assert_eq!(l[1].job_id.as_deref(), Some("ftjob-ft:b"));
        assert_eq!(promote("k", "ft:b", p.clone()).unwrap(), "ft:c");
        assert_eq!(rollback("k", p.clone()).unwrap(), "ft:c");
        assert_eq!(rollback("k", p.clone()).unwrap(), "ft:a");
        assert_eq!(
            rollback("k", p.clone()).unwrap_err().code,
            ErrorCode::NotFound
        );
        assert_eq!(
            promote("k", "ft:zzz", p.clone()).unwrap_err().code,
            ErrorCode::NotFound
        );
        // The other entry is untouched; the key's entry reads as TaskForce's shape.
        let raw = reg.read().unwrap();
        assert_eq!(
            raw["other"],
            json!({"model": {"name": "gpt-4o"}, "note": 1})
        );
        assert_eq!(raw["k"]["model"]["name"], "ft:a");
        assert_eq!(raw["k"]["fineTune"]["jobId"], "ftjob-ft:a");
        assert_eq!(raw["k"]["versions"].as_array().unwrap().len(), 3);
    }

    #[test]
    fn a_hand_registered_model_becomes_the_first_version() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("models.json");
        std::fs::write(
            &path,
            r#"{"k": {"model": {"name": "gpt-4o-mini", "provider": "openai"}}}"#,
        )
        .unwrap();
        let reg = Registry::new(&path);
        register_version(&reg, "k", entry("ft:a"), OnExisting::NewVersion, true).unwrap();
        let p = Some(path.display().to_string());
        let l = list("k", p.clone()).unwrap();
        assert_eq!(l[0].model.name, "gpt-4o-mini");
        assert_eq!(rollback("k", p).unwrap(), "gpt-4o-mini");
    }
}
