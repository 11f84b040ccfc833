//! `checkRegisteredModels` (`fine-tune doctor`): when each registered model stops answering,
//! with its base model's shutdown date read again from the API.

use std::collections::BTreeMap;

use tokio_util::sync::CancellationToken;

use crate::calc::checks::invalid;
use crate::calc::lifecycle::WARN_WITHIN_DAYS;
use crate::calc::lifecycle::{
    base_model_of, recorded_shutdown, stops_answering, today, AZURE_INACTIVITY_RULE,
};
use crate::infra::client::Client;
use crate::infra::connection::connection;
use crate::infra::registry::{self, Registry};
use crate::infra::task::blocking;
use crate::stages::base_model::model_facts;
use crate::types::error::{ErrorCode, Result};
use crate::types::options::{CheckOptions, ConnectionOptions};
use crate::types::results::ModelCheck;

/// `checkRegisteredModels` with its options: `withinDays` (a number of days from 0, default
/// 90) checked, then [`check_registered_models`].
pub async fn check(o: CheckOptions) -> Result<Vec<ModelCheck>> {
    let within = match o.within_days {
        None => WARN_WITHIN_DAYS,
        Some(d) if d.is_finite() && d >= 0.0 => d as i64,
        Some(d) => {
            return Err(invalid(
                "withinDays",
                format!("withinDays must be a number of days from 0, got {d}"),
            ))
        }
    };
    check_registered_models(o.registry_path, o.connection, within).await
}

/// Re-reads, from the API, the shutdown date of every registered model's base, and says for
/// each when it stops answering; `failing` when that is past or within `within_days` days.
/// A base the API cannot tell about keeps its recorded date.
pub async fn check_registered_models(
    registry_path: Option<String>,
    conn: ConnectionOptions,
    within_days: i64,
) -> Result<Vec<ModelCheck>> {
    let registry = Registry::new(registry::registry_path(registry_path));
    let entries = {
        let reg = registry.clone();
        blocking(move || reg.entries()).await?
    };
    let client = match connection(conn) {
        Ok(c) => Some(Client::new(c)?),
        // No key: the recorded dates only.
        Err(e) if e.code == ErrorCode::MissingApiKey => None,
        Err(e) => return Err(e),
    };
    let cancel = CancellationToken::new();
    let mut cache: BTreeMap<String, Option<Option<String>>> = BTreeMap::new();
    let today = today();
    let mut out = Vec::new();
    for (key, e) in entries {
        let base = base_model_of(&e);
        if !cache.contains_key(&base) {
            let fresh = match &client {
                Some(c) => match model_facts(c, &base, &cancel).await {
                    Ok(f) if f.found => Some(f.shutdown_date),
                    Ok(_) => None,
                    Err(err) if err.status == Some(401) || err.is_abort() => return Err(err),
                    Err(_) => None,
                },
                None => None,
            };
            cache.insert(base.clone(), fresh);
        }
        let fresh = cache.get(&base).cloned().flatten();
        let refreshed = fresh.is_some();
        let date = fresh.unwrap_or_else(|| recorded_shutdown(&e));
        let stop = stops_answering(&e, date.as_deref(), today, within_days);
        let mut notes = Vec::new();
        if e.fine_tune
            .as_ref()
            .and_then(|f| f.deployment.as_ref())
            .is_some_and(|d| d.is_object())
        {
            notes.push(AZURE_INACTIVITY_RULE.to_string());
        }
        out.push(ModelCheck {
            failing: matches!(stop.status.as_str(), "shutDown" | "soon" | "undeployed"),
            model_key: key,
            agent_name: e
                .fine_tune
                .as_ref()
                .map(|f| f.agent_name.clone())
                .filter(|a| !a.is_empty()),
            model: e.model.clone(),
            base_model: base,
            base_shutdown_date: date,
            refreshed,
            stops_answering: stop,
            notes,
        });
    }
    Ok(out)
}
