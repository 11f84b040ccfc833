//! The registry's reads as the exported calls return them: `getRegisteredModel`,
//! `listRegisteredModels` (each entry with when it stops answering) and `listInFlightRuns`.
//! None waits for the registry's lock.

use crate::calc::lifecycle::{recorded_shutdown, stops_answering, today, WARN_WITHIN_DAYS};
use crate::infra::journal::{Journal, RunRecord};
use crate::infra::registry::{self, Registry};
use crate::types::entry::RegistryEntry;
use crate::types::error::Result;
use crate::types::options::{ListOptions, RegistryOptions};
use crate::types::results::{EntryInfo, InFlightRun};

/// An entry as the calls return it: its model, how it was trained (without the fields this
/// library does not know) and when it stops answering.
pub fn entry_info(model_key: String, e: RegistryEntry) -> EntryInfo {
    let stops = stops_answering(
        &e,
        recorded_shutdown(&e).as_deref(),
        today(),
        WARN_WITHIN_DAYS,
    );
    EntryInfo {
        model_key,
        model: e.model,
        fine_tune: e.fine_tune.map(|mut f| {
            f.extra.clear();
            f
        }),
        stops_answering: stops,
    }
}

/// The entry of `key`, if registered.
pub fn get(key: &str, o: RegistryOptions) -> Result<Option<EntryInfo>> {
    Ok(registry::get(o.registry_path, key)?.map(|e| entry_info(key.to_string(), e)))
}

/// Every entry, in file order, optionally only those of one agent.
pub fn list(o: ListOptions) -> Result<Vec<EntryInfo>> {
    Ok(registry::list(o.registry_path, o.agent_name.as_deref())?
        .into_iter()
        .map(|(k, e)| entry_info(k, e))
        .collect())
}

/// A journaled run as `listInFlightRuns` shows it (its digests, keys and upload state stay
/// internal).
pub fn in_flight_run(r: RunRecord) -> InFlightRun {
    InFlightRun {
        model_key: r.model_key,
        run_id: r.run_id,
        agent_name: r.agent_name,
        base_model: r.base_model,
        suffix: r.suffix,
        base_url: r.base_url,
        training_file_id: r.training_file_id,
        validation_file_id: r.validation_file_id,
        job_requested: r.job_requested,
        job_id: r.job_id,
        started_at: r.started_at,
    }
}

/// The runs in flight beside the registry, oldest first.
pub fn in_flight_runs(o: RegistryOptions) -> Result<Vec<InFlightRun>> {
    let registry = Registry::new(registry::registry_path(o.registry_path));
    Ok(Journal::new(&registry.dir())
        .list()?
        .into_iter()
        .map(in_flight_run)
        .collect())
}
