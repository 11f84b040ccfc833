//! Versions of a modelKey, in TaskForce's shape.
//!
//! `models.json[modelKey].model` stays the model agents get (TaskForce's loader reads only
//! that). Once a key has more than one model, the entry also holds `versions` (every model
//! the key has had: its `model`, `fineTune` record, evaluation and registration time; the
//! current one included) and `previous` (the models that were current before, most recent
//! last: what [`rollback`] goes back to). An entry with a single model has neither, exactly as
//! before versions existed. Every change is one locked, atomic read-modify-write
//! ([`Registry::update`]).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use tokio_util::sync::CancellationToken;

use crate::api::Job;
use crate::client::Client;
use crate::error::{Error, ErrorCode, Result};
use crate::options;
use crate::registry::{self, FineTuneRecord, ModelRef, Registry, RegistryEntry};
use crate::stages::register::{iso, model_ref, record_of_job};

/// One model a modelKey has had.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ModelVersion {
    /// The model as TaskForce reads it (what `model` becomes when this version is promoted).
    #[serde(default)]
    pub model: ModelRef,
    /// How it was trained, when this library trained or imported it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fine_tune: Option<FineTuneRecord>,
    /// When it was registered under the key (ISO 8601).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub registered_at: String,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// What a run does when its modelKey is already registered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum OnExisting {
    /// Refuse with `ERR_DUPLICATE_MODEL_KEY` (before anything is uploaded).
    #[default]
    Error,
    /// Train a new version of the key.
    NewVersion,
}

/// Whether a newly trained version becomes the key's model.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Promote {
    /// Always (the default).
    #[default]
    Always,
    /// Only when its evaluation says `better`.
    IfBetter,
}

/// One version as `listModelVersions` returns it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VersionInfo {
    /// The model's name (`ft:…`).
    pub model: String,
    /// Whether the modelKey resolves to it now.
    pub current: bool,
    pub job_id: Option<String>,
    pub base_model: Option<String>,
    pub created_at: Option<String>,
    pub finished_at: Option<String>,
    pub registered_at: Option<String>,
    /// The training metrics' summary.
    pub metrics: Option<Value>,
    /// The evaluation's summary.
    pub evaluation: Option<Value>,
}

/// What registering a version did.
#[derive(Debug, Clone, PartialEq)]
pub struct VersionOutcome {
    /// Whether the key resolves to the new model now.
    pub promoted: bool,
    /// The model the key resolved to before, if it was registered.
    pub previous_model: Option<String>,
    /// How many versions the key has now.
    pub versions: usize,
}

/// The entry's current model as a version.
fn current_version(e: &RegistryEntry) -> ModelVersion {
    ModelVersion {
        model: e.model.clone(),
        fine_tune: e.fine_tune.clone(),
        registered_at: e
            .fine_tune
            .as_ref()
            .map(|f| f.finished_at.clone())
            .unwrap_or_default(),
        extra: Map::new(),
    }
}

/// The versions of an entry: its list, or its one model.
pub fn versions_of(e: &RegistryEntry) -> Vec<ModelVersion> {
    if e.versions.is_empty() {
        vec![current_version(e)]
    } else {
        e.versions.clone()
    }
}

/// Makes `to` the entry's model (from its version record), remembering the current one in
/// `previous` when `remember`.
fn make_current(e: &mut RegistryEntry, to: &ModelVersion, remember: bool) {
    if e.model.name == to.model.name {
        return;
    }
    if remember && !e.model.name.is_empty() {
        e.previous.push(e.model.name.clone());
    }
    e.model = to.model.clone();
    e.fine_tune = to.fine_tune.clone();
}

fn not_found(msg: String) -> Error {
    Error::new(ErrorCode::NotFound, msg).with_param("modelKey")
}

fn entry_or_not_found(
    e: Option<RegistryEntry>,
    key: &str,
    reg: &Registry,
) -> Result<RegistryEntry> {
    e.ok_or_else(|| {
        not_found(format!(
            "modelKey {key:?} is not registered in {}",
            reg.path().display()
        ))
    })
}

/// Registers `new` under `key`: a new key is inserted as it is; an existing one is refused
/// (`OnExisting::Error`) or gets `new` as a version, made current when `promote`. The first
/// registration of a key stays in the seed's shape (no `versions`). Blocking.
pub fn register_version(
    reg: &Registry,
    key: &str,
    mut new: RegistryEntry,
    on_existing: OnExisting,
    promote: bool,
) -> Result<VersionOutcome> {
    let mut version = current_version(&new);
    version.registered_at = iso(None);
    reg.update(key, |cur| match cur {
        None => {
            new.versions.clear();
            new.previous.clear();
            Ok((
                Some(new),
                VersionOutcome {
                    promoted: true,
                    previous_model: None,
                    versions: 1,
                },
            ))
        }
        Some(_) if on_existing == OnExisting::Error => Err(registry::duplicate(key, reg.path())),
        Some(mut e) => {
            let previous_model = Some(e.model.name.clone()).filter(|n| !n.is_empty());
            let mut all = versions_of(&e);
            all.retain(|v| v.model.name != version.model.name);
            all.push(version.clone());
            e.versions = all;
            if promote {
                make_current(&mut e, &version, true);
            }
            let n = e.versions.len();
            Ok((
                Some(e),
                VersionOutcome {
                    promoted: promote,
                    previous_model,
                    versions: n,
                },
            ))
        }
    })
}

/// Records an evaluation summary on the version `model` of `key` (and on the entry's
/// `fineTune` when it is current). Blocking.
pub fn record_evaluation(reg: &Registry, key: &str, model: &str, summary: Value) -> Result<()> {
    reg.update(key, |cur| {
        let mut e = entry_or_not_found(cur, key, reg)?;
        for v in e.versions.iter_mut().filter(|v| v.model.name == model) {
            v.fine_tune.get_or_insert_with(Default::default).evaluation = Some(summary.clone());
        }
        if e.model.name == model {
            e.fine_tune.get_or_insert_with(Default::default).evaluation = Some(summary);
        }
        Ok((Some(e), ()))
    })
}

fn info(v: &ModelVersion, current: &str) -> VersionInfo {
    let f = v.fine_tune.as_ref();
    let s = |x: Option<&String>| x.filter(|s| !s.is_empty()).cloned();
    VersionInfo {
        model: v.model.name.clone(),
        current: v.model.name == current,
        job_id: s(f.map(|f| &f.job_id)),
        base_model: s(f.map(|f| &f.base_model)),
        created_at: s(f.map(|f| &f.created_at)),
        finished_at: s(f.map(|f| &f.finished_at)),
        registered_at: s(Some(&v.registered_at)),
        metrics: f.and_then(|f| f.metrics.clone()),
        evaluation: f.and_then(|f| f.evaluation.clone()),
    }
}

/// The versions of `key`, oldest first. `ERR_NOT_FOUND` when the key is not registered.
pub fn list(key: &str, registry_path: Option<String>) -> Result<Vec<VersionInfo>> {
    let reg = Registry::new(options::registry_path(registry_path));
    let e = entry_or_not_found(reg.get(key)?, key, &reg)?;
    Ok(versions_of(&e)
        .iter()
        .map(|v| info(v, &e.model.name))
        .collect())
}

/// Makes the version `model` of `key` current; returns the model that was current before.
/// `ERR_NOT_FOUND` when the key or the version does not exist. Blocking.
pub fn promote(key: &str, model: &str, registry_path: Option<String>) -> Result<String> {
    let reg = Registry::new(options::registry_path(registry_path));
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
    let reg = Registry::new(options::registry_path(registry_path));
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

/// What [`remove`] did.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Removed {
    pub model_key: String,
    /// Every model the key had (its versions).
    pub models: Vec<String>,
    /// The fine-tuned models deleted at the API (`deleteRemote`).
    pub deleted_remote: Vec<String>,
}

crate::options::remote_options! {
/// Options of `removeRegisteredModel`: the registry, `deleteRemote`, and how to reach the API
/// (only used with `deleteRemote`).
#[derive(Clone, Default)]
pub struct RemoveOptions {
    #[serde(default)]
    pub delete_remote: bool,
}
}

/// Removes `key` from the registry; with `delete_remote`, first deletes each of its
/// fine-tuned (`ft:`) models at the API (`DELETE /models/{model}`; one the API no longer has
/// counts as deleted), so a failure leaves the entry in place to try again.
pub async fn remove(key: &str, o: RemoveOptions) -> Result<Removed> {
    let RemoveOptions {
        delete_remote,
        remote,
    } = o;
    let (registry_path, conn) = remote.split();
    let reg = Registry::new(options::registry_path(registry_path));
    let e = {
        let (r, k) = (reg.clone(), key.to_string());
        crate::blocking(move || r.get(&k)).await?
    };
    let e = entry_or_not_found(e, key, &reg)?;
    let models: Vec<String> = versions_of(&e)
        .into_iter()
        .map(|v| v.model.name)
        .filter(|n| !n.is_empty())
        .collect();
    let mut deleted_remote = Vec::new();
    if delete_remote {
        let client = Client::new(options::connection(conn)?)?;
        let cancel = CancellationToken::new();
        for m in models.iter().filter(|m| m.starts_with("ft:")) {
            client.delete_model(m, &cancel).await?;
            deleted_remote.push(m.clone());
        }
    }
    let (r, k) = (reg.clone(), key.to_string());
    crate::blocking(move || {
        r.update(&k, |cur| {
            entry_or_not_found(cur, &k, &r)?;
            Ok((None, ()))
        })
    })
    .await?;
    Ok(Removed {
        model_key: key.to_string(),
        models,
        deleted_remote,
    })
}

crate::options::remote_options! {
/// Options of `importFineTuneJob`.
#[derive(Clone, Default)]
pub struct ImportOptions {
    #[serde(default)]
    pub agent_name: String,
    #[serde(default)]
    pub model_key: String,
    /// What to do when the key is registered (default `error`).
    #[serde(default)]
    pub on_existing: OnExisting,
}
}

/// Registers the succeeded job `job_id` (started elsewhere) under `modelKey`. A job that is
/// not `succeeded` is refused with its status: `ERR_JOB_FAILED`, `ERR_JOB_CANCELLED`, or
/// `ERR_JOB_NOT_FINISHED` while it runs.
pub async fn import_job(job_id: &str, o: ImportOptions) -> Result<crate::RegisteredModel> {
    options::require(&[("agentName", &o.agent_name), ("modelKey", &o.model_key)])?;
    options::check_model_key(&o.model_key)?;
    let (registry_path, conn) = o.remote.clone().split();
    let reg = Registry::new(options::registry_path(registry_path));
    if o.on_existing == OnExisting::Error {
        let (r, k) = (reg.clone(), o.model_key.clone());
        if crate::blocking(move || r.contains(&k)).await? {
            return Err(registry::duplicate(&o.model_key, reg.path()));
        }
    }
    let client = Client::new(options::connection(conn)?)?;
    let cancel = CancellationToken::new();
    let job = client.retrieve_job(job_id, &cancel).await?;
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
    let outcome = {
        let (r, k, on) = (reg.clone(), o.model_key.clone(), o.on_existing);
        crate::blocking(move || register_version(&r, &k, entry, on, true)).await?
    };
    Ok(crate::RegisteredModel {
        metrics: metrics.and_then(|m| serde_json::from_value(m).ok()),
        ..crate::RegisteredModel::of_record(
            o.model_key.clone(),
            model.clone(),
            model,
            f,
            &reg,
            outcome,
        )
    })
}

async fn import_metrics(client: &Client, job: &Job, cancel: &CancellationToken) -> Option<Value> {
    let csv = client
        .file_content(job.result_files.first()?, cancel)
        .await
        .ok()?;
    let series = crate::metrics::parse_results(&csv)?;
    serde_json::to_value(crate::metrics::summarize(&series, job.trained_tokens)).ok()
}

/// The registry entry of a job trained elsewhere.
fn entry_of_job(job: &Job, model: &str, agent_name: &str, metrics: Option<Value>) -> RegistryEntry {
    let of_job = record_of_job(job, job.method_name());
    let family = crate::models::family(&of_job.base_model).or_else(|| crate::models::family(model));
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
                .map(|v| (v.model.as_str(), v.current))
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
        assert_eq!(l[0].model, "gpt-4o-mini");
        assert_eq!(rollback("k", p).unwrap(), "gpt-4o-mini");
    }
}
