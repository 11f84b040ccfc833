//! `checkRegisteredModels` (`fine-tune doctor`): when each registered model stops answering,
//! with its base model's shutdown date read again from the API.
//!
//! Azure OpenAI entries (facts §6): the deployment retirement date of the base (the dated
//! API's `deprecation.inference` when the call is on it, else Microsoft's retirement table),
//! the training retirement in a note, a Developer-tier deployment's 24 hours, and the 15-day
//! inactivity rule: with `AZURE_ACCESS_TOKEN`, the deployment is read from Azure's control
//! plane and one that is gone is `deleted` (failing); without, the rule is a note. A registry
//! whose models answer at more than one API (OpenAI and Azure, or two Azure resources) gets a
//! note: TaskForce 1.0.15 reaches every `openai` model of a process through one client,
//! configured only by `OPENAI_BASE_URL` and `OPENAI_API_KEY`.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::calc::azure::{self, az_command, DeploymentPlan};
use crate::calc::checks::invalid;
use crate::calc::lifecycle::WARN_WITHIN_DAYS;
use crate::calc::lifecycle::{
    base_model_of, days_until, is_azure_entry, recorded_shutdown, stops_answering, today,
    AZURE_INACTIVITY_DAYS, AZURE_INACTIVITY_RULE, DEVELOPER_DEPLOYMENT_HOURS,
};
use crate::infra::client::{arm, Client};
use crate::infra::connection::{connection, control_plane_auth, Auth, Flavour, Retry};
use crate::infra::registry::{self, Registry};
use crate::infra::task::blocking;
use crate::stages::base_model::{azure_table_facts, model_facts, ModelFacts};
use crate::types::entry::RegistryEntry;
use crate::types::error::{ErrorCode, Result};
use crate::types::options::{AzureDeploymentOptions, CheckOptions, ConnectionOptions};
use crate::types::results::{ModelCheck, StopsAnswering};

/// Where an entry's model answers: `OpenAI`, or its Azure v1 base URL.
fn target_of(e: &RegistryEntry) -> String {
    match &e.model.base_url {
        Some(u) => u.trim_end_matches('/').to_string(),
        None if is_azure_entry(e) => "Azure OpenAI (base URL not recorded)".into(),
        None => "OpenAI".into(),
    }
}

/// The note for a registry whose models answer at more than one API.
fn mixed_note(mine: &str, targets: &BTreeSet<String>) -> String {
    let others: Vec<&str> = targets
        .iter()
        .map(String::as_str)
        .filter(|t| *t != mine)
        .collect();
    let how = if mine == "OpenAI" {
        "run its agents in a process without OPENAI_BASE_URL (or with OpenAI's), OPENAI_API_KEY your OpenAI key".to_string()
    } else {
        format!("run its agents in a process with OPENAI_BASE_URL={mine} and OPENAI_API_KEY set to that resource's key (AZURE_OPENAI_API_KEY)")
    };
    format!(
        "this registry's models answer at more than one API (this one at {mine}; others at {}), and TaskForce 1.0.15 sends every openai model of a process through one client set only by OPENAI_BASE_URL and OPENAI_API_KEY, so one process cannot call them all: {how}; or fine-tune them all on one Azure resource",
        others.join(", ")
    )
}

/// The deployment plan recorded in an entry's `fineTune.deployment`.
fn recorded_plan(d: &Value, key: &str) -> Option<DeploymentPlan> {
    let s = |k: &str| d.get(k).and_then(Value::as_str).map(str::to_string);
    let o = AzureDeploymentOptions {
        subscription_id: s("subscriptionId")?,
        resource_group: s("resourceGroup")?,
        resource_name: s("resourceName")?,
        deployment_name: s("name"),
        sku: s("sku"),
        capacity: d.get("capacity").and_then(Value::as_u64).map(|c| c as u32),
        management_url: s("managementUrl"),
        api_version: s("apiVersion"),
    };
    azure::plan(&o, key).ok()
}

/// Whether the recorded deployment still exists at Azure's control plane: `Some(false)` when
/// it answers 404, `None` when it cannot be asked (no token) or does not answer.
async fn deployment_exists(
    plan: &DeploymentPlan,
    auth: Auth,
    cancel: &CancellationToken,
) -> Option<bool> {
    let client = arm::management_client(plan, auth, Retry::default()).ok()?;
    match arm::get_deployment(&client, plan, cancel).await {
        Ok(v) => Some(!azure::is_failed_state(&azure::provisioning_state(&v.body))),
        Err(e) if e.status == Some(404) => Some(false),
        Err(_) => None,
    }
}

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
/// each when it stops answering; `failing` when that is past or within `within_days` days
/// (or, on Azure, when the deployment is gone or was never made). A base the API cannot tell
/// about keeps its recorded date.
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
    let arm_auth = control_plane_auth(conn.token.as_ref());
    let client = match connection(conn) {
        Ok(c) => Some(Client::new(c)?),
        // No key: the recorded dates only.
        Err(e) if e.code == ErrorCode::MissingApiKey => None,
        Err(e) => return Err(e),
    };
    let mut doctor = Doctor {
        client,
        arm_auth,
        cancel: CancellationToken::new(),
        today: today(),
        within_days,
        targets: entries.iter().map(|(_, e)| target_of(e)).collect(),
        facts: BTreeMap::new(),
    };
    let mut out = Vec::new();
    for (key, e) in entries {
        out.push(doctor.check(key, e).await?);
    }
    Ok(out)
}

/// What [`check_registered_models`] asks each entry's questions of: the API (when there is a
/// key), Azure's control plane (when there is a token), and the dates already read.
struct Doctor {
    client: Option<Client>,
    arm_auth: Option<Auth>,
    cancel: CancellationToken,
    today: NaiveDate,
    within_days: i64,
    /// Where the registry's models answer (see [`target_of`]).
    targets: BTreeSet<String>,
    /// Per (Azure entry?, base): the dates, and whether the API gave them (not a table).
    facts: BTreeMap<(bool, String), Option<(ModelFacts, bool)>>,
}

impl Doctor {
    /// One entry's check.
    async fn check(&mut self, key: String, e: RegistryEntry) -> Result<ModelCheck> {
        let base = base_model_of(&e);
        let (fresh, refreshed) = match self.base_facts(&base, is_azure_entry(&e)).await? {
            Some((f, api)) => (Some(f), api),
            None => (None, false),
        };
        let date = fresh
            .as_ref()
            .and_then(|f| f.shutdown_date.clone())
            .or_else(|| recorded_shutdown(&e));
        let mut stop = stops_answering(&e, date.as_deref(), self.today, self.within_days);
        let mut notes = Vec::new();
        if let Some(until) = fresh.as_ref().and_then(|f| f.fine_tune_until.clone()) {
            notes.push(format!(
                "Azure OpenAI fine-tunes {base} until no earlier than {until}; a new version must be trained before then"
            ));
        }
        let deployment = e
            .fine_tune
            .as_ref()
            .and_then(|f| f.deployment.as_ref())
            .filter(|d| d.is_object());
        if let Some(d) = deployment {
            match self.deployment(d, &key).await {
                Deployment::Deleted(deleted) => stop = deleted,
                Deployment::Note(note) => notes.push(note),
            }
        }
        if self.targets.len() > 1 {
            notes.push(mixed_note(&target_of(&e), &self.targets));
        }
        Ok(ModelCheck {
            failing: matches!(
                stop.status.as_str(),
                "shutDown" | "soon" | "undeployed" | "deleted"
            ),
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
        })
    }

    /// The dates of `base` for an entry (an Azure one or not), asked once per base: of the
    /// entry's own provider, OpenAI's of OpenAI; Azure's of Azure's dated API (which lists
    /// them), else Microsoft's retirement table. `None` when nothing tells; with it, whether
    /// the API gave them.
    async fn base_facts(
        &mut self,
        base: &str,
        azure_entry: bool,
    ) -> Result<Option<(ModelFacts, bool)>> {
        let cache_key = (azure_entry, base.to_string());
        if let Some(known) = self.facts.get(&cache_key) {
            return Ok(known.clone());
        }
        let table = || Some((azure_table_facts(base), false));
        let client = self.client.as_ref();
        let fresh = match (azure_entry, client.map(Client::flavour), client) {
            (true, Some(Flavour::AzureDated { .. }), Some(c))
            | (false, Some(Flavour::OpenAi), Some(c)) => {
                match model_facts(c, base, &self.cancel).await {
                    Ok(f) if f.found => Some((f, true)),
                    Err(err) if err.status == Some(401) || err.is_abort() => return Err(err),
                    _ if azure_entry => table(),
                    _ => None,
                }
            }
            (true, _, _) => table(),
            (false, _, _) => None,
        };
        let fresh = fresh.filter(|(f, _)| f.found);
        self.facts.insert(cache_key, fresh.clone());
        Ok(fresh)
    }

    /// What the recorded Azure deployment `d` of entry `key` adds: `deleted` when Azure's
    /// control plane no longer has it, else a note of the inactivity rule.
    async fn deployment(&self, d: &Value, key: &str) -> Deployment {
        let plan = recorded_plan(d, key);
        let exists = match (&plan, &self.arm_auth) {
            (Some(p), Some(auth)) => deployment_exists(p, auth.clone(), &self.cancel).await,
            _ => None,
        };
        let name = d.get("name").and_then(Value::as_str).unwrap_or(key);
        match exists {
            Some(false) => {
                let model = d.get("model").and_then(Value::as_str).unwrap_or(name);
                let command = az_command(plan.as_ref(), model, name);
                Deployment::Deleted(StopsAnswering {
                    at: None,
                    days_left: None,
                    status: "deleted".into(),
                    reason: format!(
                        "Azure has no deployment {name} any more (it deletes deployments of fine-tuned models inactive for {AZURE_INACTIVITY_DAYS} days, and Developer-tier ones after {DEVELOPER_DEPLOYMENT_HOURS} hours): deploy the model again: {command}"
                    ),
                })
            }
            Some(true) => Deployment::Note(format!(
                "{AZURE_INACTIVITY_RULE} (checked now: {name} is deployed)"
            )),
            None => {
                let idle_possible = d
                    .get("deployedAt")
                    .and_then(Value::as_str)
                    .and_then(|at| days_until(at, self.today))
                    .is_some_and(|days| -days >= AZURE_INACTIVITY_DAYS);
                Deployment::Note(if idle_possible {
                    format!("{AZURE_INACTIVITY_RULE}; {name} was deployed more than {AZURE_INACTIVITY_DAYS} days ago, so it is gone if it had no calls for {AZURE_INACTIVITY_DAYS} days in a row: set AZURE_ACCESS_TOKEN to let doctor ask Azure")
                } else {
                    AZURE_INACTIVITY_RULE.to_string()
                })
            }
        }
    }
}

/// What an entry's Azure deployment says: it is gone (when it stops answering), or a note.
enum Deployment {
    Deleted(StopsAnswering),
    Note(String),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::entry::ModelRef;

    #[test]
    fn a_mixed_registry_says_how_to_run_each() {
        let openai = RegistryEntry::default();
        let az = RegistryEntry {
            model: ModelRef {
                base_url: Some("https://r.openai.azure.com/openai/v1".into()),
                ..Default::default()
            },
            ..Default::default()
        };
        let targets: BTreeSet<String> = [target_of(&openai), target_of(&az)].into();
        assert_eq!(targets.len(), 2);
        let note = mixed_note(&target_of(&az), &targets);
        assert!(
            note.contains("OPENAI_BASE_URL=https://r.openai.azure.com/openai/v1"),
            "{note}"
        );
        assert!(mixed_note("OpenAI", &targets).contains("without OPENAI_BASE_URL"));
    }
}
