//! Azure OpenAI's control plane: deploying a fine-tuned model so that it answers.
//!
//! On Azure a fine-tuned model answers nothing until it is deployed. The deployment is an
//! Azure Resource Manager resource, `Microsoft.CognitiveServices/accounts/{resource}/
//! deployments/{deployment}`, created with `PUT` (api-version [`MANAGEMENT_API_VERSION`]) and a
//! Microsoft Entra ID bearer token, and polled until its `properties.provisioningState` is
//! `Succeeded`. The token is a secret: it is sent, never logged, returned or stored.

use serde::Deserialize;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use crate::client::Client;
use crate::error::{Error, ErrorCode, Result};
use crate::options::{Connection, Resolved};

/// Azure Resource Manager's public endpoint.
pub const DEFAULT_MANAGEMENT_URL: &str = "https://management.azure.com";
/// The `Microsoft.CognitiveServices` api-version used for deployments (GA; the version of
/// Microsoft's "deploy a fine-tuned model" REST example).
pub const MANAGEMENT_API_VERSION: &str = "2024-10-21";
/// The deployment SKUs Azure offers for fine-tuned models.
pub const SKUS: [&str; 3] = ["Developer", "Standard", "GlobalStandard"];
/// The SKU used when none is given.
pub const DEFAULT_SKU: &str = "Standard";

/// Where and how to deploy the fine-tuned model on Azure (option `azureDeployment`).
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(test, derive(serde::Serialize))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AzureDeploymentOptions {
    /// The Azure subscription id of the Azure OpenAI resource.
    #[serde(default)]
    pub subscription_id: String,
    /// Its resource group.
    #[serde(default)]
    pub resource_group: String,
    /// The Azure OpenAI (Foundry) resource's name.
    #[serde(default)]
    pub resource_name: String,
    /// The deployment's name, which is the model agents send (default: from the modelKey).
    pub deployment_name: Option<String>,
    /// `Developer`, `Standard` (default) or `GlobalStandard`.
    pub sku: Option<String>,
    /// Capacity, in thousands of tokens per minute (default 1).
    pub capacity: Option<u32>,
    /// Azure Resource Manager's URL (default `https://management.azure.com`).
    pub management_url: Option<String>,
}

/// The deployment to make, after every check.
#[derive(Debug, Clone, PartialEq)]
pub struct DeploymentPlan {
    pub subscription_id: String,
    pub resource_group: String,
    pub resource_name: String,
    pub deployment_name: String,
    pub sku: String,
    pub capacity: u32,
    pub management_url: String,
}

fn invalid(param: &str, msg: String) -> Error {
    Error::new(ErrorCode::InvalidOption, msg).with_param(param)
}

/// A deployment name from a modelKey: letters, digits, `-`, `_` and `.`, at most 64.
pub fn deployment_name_of(model_key: &str) -> String {
    let s: String = model_key
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '-'
            }
        })
        .take(64)
        .collect();
    if s.len() < 2 {
        format!("ft-{s}")
    } else {
        s
    }
}

/// Checks `azureDeployment` (before anything is sent).
pub fn plan(o: &AzureDeploymentOptions, model_key: &str) -> Result<DeploymentPlan> {
    crate::options::require(&[
        ("azureDeployment.subscriptionId", &o.subscription_id),
        ("azureDeployment.resourceGroup", &o.resource_group),
        ("azureDeployment.resourceName", &o.resource_name),
    ])?;
    let segment_ok = |s: &str| !s.contains(['/', '?', '#', '%']);
    for (name, v) in [
        ("azureDeployment.subscriptionId", &o.subscription_id),
        ("azureDeployment.resourceGroup", &o.resource_group),
        ("azureDeployment.resourceName", &o.resource_name),
    ] {
        if !segment_ok(v) {
            return Err(invalid(
                name,
                format!("{name} {v:?} must not hold '/', '?', '#' or '%'"),
            ));
        }
    }
    let deployment_name = o
        .deployment_name
        .clone()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| deployment_name_of(model_key));
    let n = deployment_name.chars().count();
    if !(2..=64).contains(&n)
        || !deployment_name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    {
        return Err(invalid(
            "azureDeployment.deploymentName",
            format!("azureDeployment.deploymentName {deployment_name:?}: use 2 to 64 letters, digits, '-', '_' or '.'"),
        ));
    }
    let sku = match &o.sku {
        None => DEFAULT_SKU.to_string(),
        Some(s) => SKUS
            .iter()
            .find(|k| k.eq_ignore_ascii_case(s.trim()))
            .map(|k| k.to_string())
            .ok_or_else(|| {
                invalid(
                    "azureDeployment.sku",
                    format!(
                        "azureDeployment.sku {s:?}: allowed: Developer, Standard, GlobalStandard"
                    ),
                )
            })?,
    };
    let capacity = o.capacity.unwrap_or(1);
    if capacity == 0 {
        return Err(invalid(
            "azureDeployment.capacity",
            "azureDeployment.capacity must be at least 1".into(),
        ));
    }
    let management_url = o
        .management_url
        .clone()
        .map(|s| s.trim().trim_end_matches('/').to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| DEFAULT_MANAGEMENT_URL.to_string());
    match url::Url::parse(&management_url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => {}
        _ => {
            return Err(invalid(
                "azureDeployment.managementUrl",
                format!("azureDeployment.managementUrl {management_url:?} is not an http(s) URL"),
            ))
        }
    }
    Ok(DeploymentPlan {
        subscription_id: o.subscription_id.trim().to_string(),
        resource_group: o.resource_group.trim().to_string(),
        resource_name: o.resource_name.trim().to_string(),
        deployment_name,
        sku,
        capacity,
        management_url,
    })
}

/// Whether a run talks to Azure OpenAI: an Azure endpoint, or a base URL on Azure's hosts.
pub fn is_azure(c: &Connection) -> bool {
    if c.azure_api_version.is_some() {
        return true;
    }
    url::Url::parse(&c.base_url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
        .is_some_and(|h| {
            h.ends_with(".openai.azure.com")
                || h.ends_with(".cognitiveservices.azure.com")
                || h.ends_with(".services.ai.azure.com")
        })
}

/// The v1 base URL an OpenAI client uses to reach the resource's deployments
/// (`https://<resource>.openai.azure.com/openai/v1`).
pub fn v1_base_url(c: &Connection) -> String {
    let b = c.base_url.trim_end_matches('/');
    if b.ends_with("/openai/v1") {
        b.to_string()
    } else if b.ends_with("/openai") {
        format!("{b}/v1")
    } else {
        format!("{b}/openai/v1")
    }
}

/// The ARM path of a deployment.
pub fn deployment_path(p: &DeploymentPlan) -> String {
    format!(
        "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.CognitiveServices/accounts/{}/deployments/{}",
        p.subscription_id, p.resource_group, p.resource_name, p.deployment_name
    )
}

/// The body of the deployment's `PUT`.
pub fn deployment_body(p: &DeploymentPlan, model: &str) -> Value {
    json!({
        "sku": { "name": p.sku, "capacity": p.capacity },
        "properties": { "model": { "format": "OpenAI", "name": model, "version": "1" } },
    })
}

/// The Azure CLI command that makes the same deployment (placeholders where a value is not
/// known).
pub fn az_command(plan: Option<&DeploymentPlan>, model: &str, fallback_name: &str) -> String {
    let v = |f: fn(&DeploymentPlan) -> String, placeholder: &str| {
        plan.map(f).unwrap_or_else(|| placeholder.to_string())
    };
    format!(
        "az cognitiveservices account deployment create --subscription {} --resource-group {} --name {} --deployment-name {} --model-name {} --model-version 1 --model-format OpenAI --sku-name {} --sku-capacity {}",
        v(|p| p.subscription_id.clone(), "<SUBSCRIPTION_ID>"),
        v(|p| p.resource_group.clone(), "<RESOURCE_GROUP>"),
        v(|p| p.resource_name.clone(), "<RESOURCE_NAME>"),
        plan.map(|p| p.deployment_name.clone())
            .unwrap_or_else(|| fallback_name.to_string()),
        model,
        v(|p| p.sku.clone(), DEFAULT_SKU),
        plan.map(|p| p.capacity).unwrap_or(1),
    )
}

/// A control-plane client: Bearer `token` at the management URL.
pub fn management_client(r: &Resolved, plan: &DeploymentPlan, token: String) -> Result<Client> {
    Client::new(Connection {
        api_key: token,
        base_url: plan.management_url.clone(),
        organization: None,
        project: None,
        max_retries: r.connection.max_retries,
        azure_api_version: None,
    })
}

/// `PUT` the deployment (idempotent: the same body again is a no-op).
pub async fn put_deployment(
    client: &Client,
    plan: &DeploymentPlan,
    model: &str,
    cancel: &CancellationToken,
) -> Result<Value> {
    client
        .json_request(
            reqwest::Method::PUT,
            &deployment_path(plan),
            &[("api-version", MANAGEMENT_API_VERSION)],
            Some(&deployment_body(plan, model)),
            cancel,
        )
        .await
        .map_err(|e| management_error(e, plan))
}

/// `GET` the deployment.
pub async fn get_deployment(
    client: &Client,
    plan: &DeploymentPlan,
    cancel: &CancellationToken,
) -> Result<Value> {
    client
        .json_request(
            reqwest::Method::GET,
            &deployment_path(plan),
            &[("api-version", MANAGEMENT_API_VERSION)],
            None,
            cancel,
        )
        .await
        .map_err(|e| management_error(e, plan))
}

/// Control-plane errors say so (the client's messages speak of the OpenAI API).
fn management_error(mut e: Error, plan: &DeploymentPlan) -> Error {
    if e.is_abort() {
        return e;
    }
    let what = format!(
        "Azure's control plane ({}) refused the deployment {} of resource {}",
        plan.management_url, plan.deployment_name, plan.resource_name
    );
    e.message = match e.status {
        Some(401) | Some(403) => format!("{what}: the Microsoft Entra ID token was refused or lacks the Cognitive Services Contributor role ({})", e.message),
        _ => format!("{what}: {}", e.message),
    };
    if e.code != ErrorCode::Network {
        e.code = ErrorCode::DeploymentFailed;
    }
    e
}

/// A deployment's `properties.provisioningState`.
pub fn provisioning_state(v: &Value) -> String {
    v.pointer("/properties/provisioningState")
        .and_then(Value::as_str)
        .unwrap_or("Unknown")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> AzureDeploymentOptions {
        AzureDeploymentOptions {
            subscription_id: "sub".into(),
            resource_group: "rg".into(),
            resource_name: "res".into(),
            ..Default::default()
        }
    }

    #[test]
    fn plans_with_defaults_and_checks() {
        let p = plan(&opts(), "writer v1").unwrap();
        assert_eq!(p.deployment_name, "writer-v1");
        assert_eq!((p.sku.as_str(), p.capacity), ("Standard", 1));
        assert_eq!(p.management_url, DEFAULT_MANAGEMENT_URL);
        assert_eq!(
            deployment_path(&p),
            "/subscriptions/sub/resourceGroups/rg/providers/Microsoft.CognitiveServices/accounts/res/deployments/writer-v1"
        );
        let mut o = opts();
        o.sku = Some("globalstandard".into());
        assert_eq!(plan(&o, "k").unwrap().sku, "GlobalStandard");
        o.sku = Some("Provisioned".into());
        assert_eq!(
            plan(&o, "k").unwrap_err().param.as_deref(),
            Some("azureDeployment.sku")
        );
        let mut o = opts();
        o.resource_group = " ".into();
        assert_eq!(plan(&o, "k").unwrap_err().code, ErrorCode::MissingOption);
        let cmd = az_command(Some(&plan(&opts(), "k1").unwrap()), "ft:x", "k1");
        assert!(
            cmd.contains("--deployment-name k1 --model-name ft:x"),
            "{cmd}"
        );
    }

    #[test]
    fn v1_urls() {
        let c = |b: &str, v: Option<&str>| Connection {
            api_key: "k".into(),
            base_url: b.into(),
            organization: None,
            project: None,
            max_retries: 0,
            azure_api_version: v.map(str::to_string),
        };
        assert_eq!(
            v1_base_url(&c("https://r.openai.azure.com/openai", Some("x"))),
            "https://r.openai.azure.com/openai/v1"
        );
        assert_eq!(
            v1_base_url(&c("https://r.openai.azure.com/openai/v1", None)),
            "https://r.openai.azure.com/openai/v1"
        );
        assert!(is_azure(&c("https://r.openai.azure.com/openai/v1", None)));
        assert!(!is_azure(&c("https://api.openai.com/v1", None)));
    }
}
