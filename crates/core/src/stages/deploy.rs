//! Stage 5 on Azure OpenAI: a fine-tuned model answers nothing until it is deployed. With
//! `azureDeployment` and a Microsoft Entra ID token (the `azureToken` callback, asked for
//! `https://management.azure.com/.default`, else `AZURE_ACCESS_TOKEN`), the model is deployed
//! through Azure's control plane: the `PUT`'s long-running operation is followed
//! (`Azure-AsyncOperation`, `Retry-After`), then the deployment is read until it has
//! `Succeeded` (facts §4); the entry then names the deployment (the model an agent's client
//! sends, facts §5) and the v1 base URL. Without them, the entry keeps the model id,
//! `deployment: null` and the `az` command that deploys it. On OpenAI this stage does
//! nothing.

use std::time::Duration;

use serde_json::{json, Value};

use crate::calc::azure::{self, DeploymentPlan};
use crate::calc::lifecycle::{AZURE_INACTIVITY_RULE, DEVELOPER_DEPLOYMENT_HOURS};
use crate::infra::client::{arm, Client};
use crate::infra::connection::control_plane_auth;
use crate::types::error::{Error, ErrorCode, Result};
use crate::types::progress::{ProgressEvent, RunContext};
use crate::types::results::Deployed;

use super::Run;

/// Deploys the fine-tuned model on Azure (see the module's documentation).
pub async fn deploy(run: &Run<'_>, fine_tuned_model: Option<&str>) -> Result<Deployed> {
    let r = run.r;
    let Some(model) = fine_tuned_model.filter(|m| !m.is_empty()) else {
        return Ok(Deployed::default());
    };
    let on_azure = r.connection.is_azure();
    let plan = match &r.opts.azure_deployment {
        Some(o) => Some(azure::plan(o, &r.opts.model_key)?),
        None => None,
    };
    if !on_azure && plan.is_none() {
        return Ok(Deployed {
            model_name: model.to_string(),
            ..Default::default()
        });
    }
    let base_url = if on_azure {
        r.connection.v1_base_url()
    } else {
        let res = plan
            .as_ref()
            .map(|p| p.resource_name.as_str())
            .unwrap_or("");
        format!("https://{res}.openai.azure.com/openai/v1")
    };
    let token = match &plan {
        Some(_) => control_plane_auth(r.opts.connection.token.as_ref()),
        None => None,
    };
    let (Some(plan), Some(token)) = (plan.clone(), token) else {
        return Ok(undeployed(
            model,
            plan.as_ref(),
            &r.opts.model_key,
            base_url,
        ));
    };
    let client = arm::management_client(&plan, token, r.connection.retry.clone())?;
    let state = wait_deployed(run, &client, &plan, model).await?;
    Ok(deployed(model, &plan, &state, base_url))
}

/// The entry of a model left undeployed (no `azureDeployment`, or no token): `deployment:
/// null`, and the `az` command that deploys it.
fn undeployed(
    model: &str,
    plan: Option<&DeploymentPlan>,
    model_key: &str,
    base_url: String,
) -> Deployed {
    let why = if plan.is_none() {
        "no azureDeployment option was given"
    } else {
        "no Microsoft Entra ID token (azureToken callback or AZURE_ACCESS_TOKEN) was given"
    };
    let command = azure::az_command(plan, model, &azure::deployment_name_of(model_key));
    Deployed {
        model_name: model.to_string(),
        base_url: Some(base_url),
        deployment: Some(Value::Null),
        warnings: vec![format!(
            "the model {model} is not deployed ({why}), so on Azure it answers nothing yet; deploy it with: {command}"
        )],
        deploy_command: Some(command),
    }
}

/// The entry of a model deployed by `plan` (provisioning state `state`), with Azure's rules
/// about how long it answers.
fn deployed(model: &str, plan: &DeploymentPlan, state: &str, base_url: String) -> Deployed {
    let now = chrono::Utc::now();
    let expires_at = plan.is_developer().then(|| {
        (now + chrono::Duration::hours(DEVELOPER_DEPLOYMENT_HOURS))
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    });
    let mut warnings = vec![format!("{AZURE_INACTIVITY_RULE}.")];
    if let Some(at) = &expires_at {
        warnings.push(format!(
            "Developer-tier deployments live {DEVELOPER_DEPLOYMENT_HOURS} hours: {} stops answering at {at}",
            plan.deployment_name
        ));
    }
    let deployment = json!({
        "name": plan.deployment_name,
        "model": model,
        "sku": plan.sku,
        "capacity": plan.capacity,
        "subscriptionId": plan.subscription_id,
        "resourceGroup": plan.resource_group,
        "resourceName": plan.resource_name,
        "managementUrl": plan.management_url,
        "apiVersion": plan.api_version,
        "provisioningState": state,
        "deployedAt": now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "expiresAt": expires_at,
        "inactivityRule": AZURE_INACTIVITY_RULE,
    });
    Deployed {
        model_name: plan.deployment_name.clone(),
        base_url: Some(base_url),
        deployment: Some(deployment),
        deploy_command: None,
        warnings,
    }
}

/// `PUT`s the deployment, follows its long-running operation, then reads the deployment until
/// it has `Succeeded` (an error for `Failed`/`Canceled`, and after `timeoutMs` or an hour).
async fn wait_deployed(
    run: &Run<'_>,
    client: &Client,
    plan: &DeploymentPlan,
    model: &str,
) -> Result<String> {
    let (ctx, r) = (run.ctx, run.r);
    let put = arm::put_deployment(client, plan, model, &ctx.cancel).await?;
    let last = azure::provisioning_state(&put.body);
    let wait = Wait {
        ctx,
        client,
        plan,
        model,
        poll: r.poll_interval,
        limit: r
            .timeout
            .unwrap_or(Duration::from_secs(3600))
            .min(Duration::from_secs(3600)),
        started: tokio::time::Instant::now(),
    };
    wait.report(&last);
    // The operation first (facts §4: "LRO final-state-via azure-async-operation").
    if let Some(url) = &put.operation {
        let first = put.retry_after.unwrap_or(r.poll_interval);
        wait.follow_operation(url, first, &last).await?;
    }
    // Then the deployment itself, until it says so (at once when the operation was followed).
    wait.until_settled(last, put.operation.is_some()).await
}

/// A deployment being waited for: where to ask, what to report, and until when.
struct Wait<'a> {
    ctx: &'a RunContext,
    client: &'a Client,
    plan: &'a DeploymentPlan,
    model: &'a str,
    poll: Duration,
    limit: Duration,
    started: tokio::time::Instant,
}

impl Wait<'_> {
    /// Polls the `Azure-AsyncOperation` at `url` (after `wait`, then as each answer's
    /// `Retry-After` says) until it has `Succeeded`; an error when it failed.
    async fn follow_operation(&self, url: &str, mut wait: Duration, last: &str) -> Result<()> {
        loop {
            self.pause(wait, last).await?;
            let op = match arm::get_operation(self.client, self.plan, url, &self.ctx.cancel).await {
                Ok(op) => op,
                Err(e) if e.is_retryable() => continue,
                Err(e) => return Err(e),
            };
            let (status, why) = azure::operation_status(&op.body);
            if status == "Succeeded" {
                return Ok(());
            }
            if azure::is_failed_state(&status) {
                return Err(self.failed(&status, why));
            }
            wait = op.retry_after.unwrap_or(self.poll);
        }
    }

    /// Reads the deployment (at once with `read_now`, else after a poll interval) until its
    /// provisioning state, last `last`, is `Succeeded` (returned) or failed (an error),
    /// reporting each change.
    async fn until_settled(&self, mut last: String, mut read_now: bool) -> Result<String> {
        loop {
            if !read_now {
                match last.as_str() {
                    "Succeeded" => return Ok(last),
                    s if azure::is_failed_state(s) => return Err(self.failed(s, None)),
                    _ => {}
                }
                self.pause(self.poll, &last).await?;
            }
            read_now = false;
            let v = match arm::get_deployment(self.client, self.plan, &self.ctx.cancel).await {
                Ok(v) => v,
                Err(e) if e.is_retryable() => continue,
                Err(e) => return Err(e),
            };
            let state = azure::provisioning_state(&v.body);
            if state != last {
                last = state;
                self.report(&last);
            }
        }
    }

    /// Waits `d`: `ERR_TIMEOUT` (the deployment still `last`) when the time is already up, an
    /// abort when the call is cancelled meanwhile.
    async fn pause(&self, d: Duration, last: &str) -> Result<()> {
        if self.started.elapsed() >= self.limit {
            return Err(self.timed_out(last));
        }
        tokio::select! {
            _ = self.ctx.cancel.cancelled() => Err(Error::aborted()),
            _ = tokio::time::sleep(d) => Ok(()),
        }
    }

    /// The deployment's provisioning state, as a progress event.
    fn report(&self, state: &str) {
        self.ctx.emit(ProgressEvent::Deployment {
            deployment: self.plan.deployment_name.clone(),
            provisioning_state: state.to_string(),
        });
    }

    fn failed(&self, state: &str, why: Option<String>) -> Error {
        let plan = self.plan;
        Error::new(
            ErrorCode::DeploymentFailed,
            format!(
                "the Azure deployment {} of {} ended {state}{}; the model is trained: call again to retry the deployment, or deploy it by hand: {}",
                plan.deployment_name,
                self.model,
                why.map(|w| format!(" ({w})")).unwrap_or_default(),
                azure::az_command(Some(plan), self.model, &plan.deployment_name)
            ),
        )
    }

    fn timed_out(&self, state: &str) -> Error {
        Error::new(
            ErrorCode::Timeout,
            format!(
                "the Azure deployment {} of {} is still {state} after {} s; call again to keep waiting",
                self.plan.deployment_name,
                self.model,
                self.limit.as_secs()
            ),
        )
    }
}
