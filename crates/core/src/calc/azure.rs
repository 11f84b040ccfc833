//! Azure OpenAI's control plane: deploying a fine-tuned model so that it answers. This is the
//! plan (checks, paths, bodies); the requests are `infra::client::arm`.
//!
//! On Azure a fine-tuned model answers nothing until it is deployed. The deployment is an
//! Azure Resource Manager resource, `Microsoft.CognitiveServices/accounts/{resource}/
//! deployments/{deployment}`, created with `PUT` (api-version [`MANAGEMENT_API_VERSION`]) and a
//! Microsoft Entra ID bearer token, and polled until its `properties.provisioningState` is
//! `Succeeded`. The token is a secret: it is sent, never logged, returned or stored.

use crate::calc::ids::path_segment;
use serde_json::{json, Value};

use crate::calc::checks::require;
use crate::types::error::{Error, ErrorCode, Result};
use crate::types::options::AzureDeploymentOptions;

/// Azure Resource Manager's public endpoint.
pub const DEFAULT_MANAGEMENT_URL: &str = "https://management.azure.com";
/// The `Microsoft.CognitiveServices` api-version used for deployments (GA; the version of
/// Microsoft's "deploy a fine-tuned model" REST example).
pub const MANAGEMENT_API_VERSION: &str = "2024-10-21";
/// The deployment SKUs Azure offers for fine-tuned models.
pub const SKUS: [&str; 3] = ["Developer", "Standard", "GlobalStandard"];
/// The SKU used when none is given.
pub const DEFAULT_SKU: &str = "Standard";

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
    let segments = [
        ("azureDeployment.subscriptionId", &o.subscription_id),
        ("azureDeployment.resourceGroup", &o.resource_group),
        ("azureDeployment.resourceName", &o.resource_name),
    ];
    require(&segments)?;
    for (name, v) in segments {
        if v.contains(['/', '?', '#', '%']) {
            return Err(invalid(
                name,
                format!("{name} {v:?} must not hold '/', '?', '#' or '%'"),
            ));
        }
    }
    let deployment_name = deployment_name(o, model_key)?;
    let sku = sku(o)?;
    let capacity = o.capacity.unwrap_or(1);
    if capacity == 0 {
        return Err(invalid(
            "azureDeployment.capacity",
            "azureDeployment.capacity must be at least 1".into(),
        ));
    }
    Ok(DeploymentPlan {
        subscription_id: o.subscription_id.trim().to_string(),
        resource_group: o.resource_group.trim().to_string(),
        resource_name: o.resource_name.trim().to_string(),
        deployment_name,
        sku,
        capacity,
        management_url: management_url(o)?,
    })
}

/// `deploymentName`, else one made from the modelKey: 2 to 64 letters, digits, `-`, `_`, `.`.
fn deployment_name(o: &AzureDeploymentOptions, model_key: &str) -> Result<String> {
    let name = o
        .deployment_name
        .clone()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| deployment_name_of(model_key));
    let n = name.chars().count();
    if !(2..=64).contains(&n)
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    {
        return Err(invalid(
            "azureDeployment.deploymentName",
            format!("azureDeployment.deploymentName {name:?}: use 2 to 64 letters, digits, '-', '_' or '.'"),
        ));
    }
    Ok(name)
}

/// `sku` in Azure's spelling (any case accepted), else [`DEFAULT_SKU`].
fn sku(o: &AzureDeploymentOptions) -> Result<String> {
    let Some(s) = &o.sku else {
        return Ok(DEFAULT_SKU.to_string());
    };
    SKUS.iter()
        .find(|k| k.eq_ignore_ascii_case(s.trim()))
        .map(|k| k.to_string())
        .ok_or_else(|| {
            invalid(
                "azureDeployment.sku",
                format!("azureDeployment.sku {s:?}: allowed: Developer, Standard, GlobalStandard"),
            )
        })
}

/// `managementUrl` (an http(s) URL without a trailing `/`), else Azure Resource Manager's.
fn management_url(o: &AzureDeploymentOptions) -> Result<String> {
    let url = o
        .management_url
        .clone()
        .map(|s| s.trim().trim_end_matches('/').to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| DEFAULT_MANAGEMENT_URL.to_string());
    match url::Url::parse(&url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => Ok(url),
        _ => Err(invalid(
            "azureDeployment.managementUrl",
            format!("azureDeployment.managementUrl {url:?} is not an http(s) URL"),
        )),
    }
}

/// The ARM path of a deployment.
pub fn deployment_path(p: &DeploymentPlan) -> String {
    format!(
        "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.CognitiveServices/accounts/{}/deployments/{}",
        path_segment(&p.subscription_id),
        path_segment(&p.resource_group),
        path_segment(&p.resource_name),
        path_segment(&p.deployment_name)
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
        // A name that holds `/` stays one segment of the ARM path.
        let mut o = opts();
        o.resource_group = "rg/../../x".into();
        let path = deployment_path(&plan(&o, "k").unwrap());
        assert!(
            path.contains("/resourceGroups/rg%2F%2E%2E%2F%2E%2E%2Fx/")
                || path.contains("/resourceGroups/rg%2F..%2F..%2Fx/"),
            "{path}"
        );
        assert_eq!(path.matches('/').count(), 10, "{path}");
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
}
