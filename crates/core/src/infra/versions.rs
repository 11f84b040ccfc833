//! The versions of a modelKey in the registry (see `ops::versions` for the calls on them).
//!
//! `models.json[modelKey].model` stays the model agents get (TaskForce's loader reads only
//! that). Once a key has more than one model, the entry also holds `versions` (every model
//! the key has had: its `model`, `fineTune` record, evaluation and registration time; the
//! current one included) and `previous` (the models that were current before, most recent
//! last: what `rollbackModel` goes back to). An entry with a single model has neither, exactly as
//! before versions existed. Every change is one locked, atomic read-modify-write
//! ([`Registry::update`]).

use serde_json::{Map, Value};

use crate::calc::lifecycle::iso;
use crate::infra::registry::{duplicate, Registry};
use crate::types::entry::{ModelVersion, RegistryEntry};
use crate::types::error::{Error, ErrorCode, Result};
use crate::types::options::OnExisting;
use crate::types::results::VersionOutcome;

/// The entry's current model as a version.
pub fn current_version(e: &RegistryEntry) -> ModelVersion {
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
pub fn make_current(e: &mut RegistryEntry, to: &ModelVersion, remember: bool) {
    if e.model.name == to.model.name {
        return;
    }
    if remember && !e.model.name.is_empty() {
        e.previous.push(e.model.name.clone());
    }
    e.model = to.model.clone();
    e.fine_tune = to.fine_tune.clone();
}

pub fn not_found(msg: String) -> Error {
    Error::new(ErrorCode::NotFound, msg).with_param("modelKey")
}

pub fn entry_or_not_found(
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
        Some(_) if on_existing == OnExisting::Error => Err(duplicate(key, reg.path())),
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
