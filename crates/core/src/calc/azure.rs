//! Azure OpenAI's control plane: deploying a fine-tuned model so that it answers. This is the
//! plan (checks, paths, bodies); the requests are `infra::client::arm`.
//!
//! On Azure a fine-tuned model answers nothing until it is deployed. The deployment is an
//! Azure Resource Manager resource, `Microsoft.CognitiveServices/accounts/{resource}/
//! deployments/{deployment}`, created with `PUT` (api-version [`MANAGEMENT_API_VERSION`]) and a
//! Microsoft Entra ID bearer token (facts §4). The `PUT` is a long-running operation: it
//! answers 201 (200 for an update) with `Azure-AsyncOperation` and `Retry-After`; the
//! operation is followed, then the deployment is read until its
//! `properties.provisioningState` is `Succeeded` (`Failed` or `Canceled` end it). The token is
//! a secret: it is sent, never logged, returned or stored.

use crate::calc::ids::{is_dot_segment, path_segment};
use serde_json::{json, Value};

use crate::calc::checks::{invalid, require};
use crate::types::error::Result;
use crate::types::options::AzureDeploymentOptions;

/// Azure Resource Manager's public endpoint.
pub const DEFAULT_MANAGEMENT_URL: &str = "https://management.azure.com";
/// The `Microsoft.CognitiveServices` control-plane api-version used for deployments: the
/// newest GA version published (facts §4: the resource-manager readme's stable tags end with
/// 2026-03-01). Microsoft's own fine-tuning docs use `2024-10-21`, which is not a published
/// control-plane version (facts §4). `azureDeployment.apiVersion` overrides it.
pub const MANAGEMENT_API_VERSION: &str = "2026-03-01";
/// The deployment SKUs of fine-tuned models, as Microsoft names them (facts §4, D-TYPES:
/// `Standard`, `GlobalStandard`, `DeveloperTier`).
pub const SKUS: [&str; 3] = ["Standard", "GlobalStandard", "DeveloperTier"];
/// The Developer tier's SKU: its deployments live 24 hours (facts §6).
pub const DEVELOPER_SKU: &str = "DeveloperTier";
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
    /// The control plane's api-version.
    pub api_version: String,
}

impl DeploymentPlan {
    /// Whether the deployment is Developer tier (it lives 24 hours, facts §6).
    pub fn is_developer(&self) -> bool {
        self.sku == DEVELOPER_SKU
    }
}

/// Whether an api-version has the shape of a control-plane version (`YYYY-MM-DD`, or
/// `YYYY-MM-DD-preview`).
fn api_version_shape_ok(v: &str) -> bool {
    let date = v.strip_suffix("-preview").unwrap_or(v);
    chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").is_ok() && date.len() == 10
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
    check_resource(o)?;
    Ok(DeploymentPlan {
        subscription_id: o.subscription_id.trim().to_string(),
        resource_group: o.resource_group.trim().to_string(),
        resource_name: o.resource_name.trim().to_string(),
        deployment_name: deployment_name(o.deployment_name.as_deref(), model_key)?,
        sku: sku(o.sku.as_deref())?,
        // Checked in this order (the first error is the one reported).
        api_version: management_api_version(o.api_version.as_deref())?,
        capacity: capacity(o.capacity)?,
        management_url: management_url(o.management_url.as_deref())?,
    })
}

/// The resource's subscription, group and name: given, and each one path segment.
fn check_resource(o: &AzureDeploymentOptions) -> Result<()> {
    let resource = [
        ("azureDeployment.subscriptionId", &o.subscription_id),
        ("azureDeployment.resourceGroup", &o.resource_group),
        ("azureDeployment.resourceName", &o.resource_name),
    ];
    require(&resource)?;
    for (name, v) in resource {
        if v.contains(['/', '?', '#', '%']) {
            return Err(invalid(
                name,
                format!("{name} {v:?} must not hold '/', '?', '#' or '%'"),
            ));
        }
        if is_dot_segment(v.trim()) {
            return Err(invalid(
                name,
                format!("{name} {v:?} must not be all dots (it would name another path)"),
            ));
        }
    }
    Ok(())
}

/// The deployment's name: the one given, else one made from the modelKey.
fn deployment_name(given: Option<&str>, model_key: &str) -> Result<String> {
    let name = given
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .unwrap_or_else(|| deployment_name_of(model_key));
    let n = name.chars().count();
    if !(2..=64).contains(&n)
        || is_dot_segment(&name)
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

/// The SKU as Microsoft spells it (any case given), [`DEFAULT_SKU`] when none is.
fn sku(given: Option<&str>) -> Result<String> {
    match given {
        None => Ok(DEFAULT_SKU.to_string()),
        // `Developer` is the Azure CLI's name of the tier (facts §4, D-TEST): DeveloperTier.
        Some(s) if s.trim().eq_ignore_ascii_case("Developer") => Ok(DEVELOPER_SKU.to_string()),
        Some(s) => SKUS
            .iter()
            .find(|k| k.eq_ignore_ascii_case(s.trim()))
            .map(|k| k.to_string())
            .ok_or_else(|| {
                invalid(
                    "azureDeployment.sku",
                    format!(
                        "azureDeployment.sku {s:?}: allowed: {} (Developer means DeveloperTier)",
                        SKUS.join(", ")
                    ),
                )
            }),
    }
}

/// The capacity, at least 1 (default 1).
fn capacity(given: Option<u32>) -> Result<u32> {
    match given.unwrap_or(1) {
        0 => Err(invalid(
            "azureDeployment.capacity",
            "azureDeployment.capacity must be at least 1".into(),
        )),
        c => Ok(c),
    }
}

/// Azure Resource Manager's URL: the one given (an http(s) URL), else the public endpoint.
fn management_url(given: Option<&str>) -> Result<String> {
    let url = given
        .map(|s| s.trim().trim_end_matches('/'))
        .filter(|s| !s.is_empty())
        .unwrap_or(DEFAULT_MANAGEMENT_URL)
        .to_string();
    match url::Url::parse(&url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => Ok(url),
        _ => Err(invalid(
            "azureDeployment.managementUrl",
            format!("azureDeployment.managementUrl {url:?} is not an http(s) URL"),
        )),
    }
}

/// The control plane's api-version: the one given (of a version's shape), else
/// [`MANAGEMENT_API_VERSION`].
fn management_api_version(given: Option<&str>) -> Result<String> {
    match given.map(str::trim) {
        None | Some("") => Ok(MANAGEMENT_API_VERSION.to_string()),
        Some(v) if api_version_shape_ok(v) => Ok(v.to_string()),
        Some(v) => Err(invalid(
            "azureDeployment.apiVersion",
            format!("azureDeployment.apiVersion {v:?} is not a control-plane api-version (YYYY-MM-DD or YYYY-MM-DD-preview); default {MANAGEMENT_API_VERSION}"),
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

/// The `status` of a long-running operation's status resource (`InProgress`, `Succeeded`,
/// `Failed`, `Canceled`), and its error message when it has one.
pub fn operation_status(v: &Value) -> (String, Option<String>) {
    let status = v
        .get("status")
        .and_then(Value::as_str)
        .unwrap_or("InProgress")
        .to_string();
    let message = v
        .pointer("/error/message")
        .and_then(Value::as_str)
        .map(str::to_string);
    (status, message)
}

/// Whether a provisioning or operation state is final and not a success.
pub fn is_failed_state(state: &str) -> bool {
    matches!(state, "Failed" | "Canceled" | "Cancelled" | "Deleting")
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
    use crate::types::error::ErrorCode;

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
        assert_eq!(p.api_version, MANAGEMENT_API_VERSION);
        let mut o = opts();
        o.sku = Some("globalstandard".into());
        assert_eq!(plan(&o, "k").unwrap().sku, "GlobalStandard");
        o.sku = Some("Developer".into());
        assert!(plan(&o, "k").unwrap().is_developer());
        o.sku = Some("developertier".into());
        assert_eq!(plan(&o, "k").unwrap().sku, "DeveloperTier");
        o.api_version = Some("2025-10-01-preview".into());
        assert_eq!(plan(&o, "k").unwrap().api_version, "2025-10-01-preview");
        o.api_version = Some("latest".into());
        assert_eq!(
            plan(&o, "k").unwrap_err().param.as_deref(),
            Some("azureDeployment.apiVersion")
        );
        o.sku = Some("Provisioned".into());
        assert_eq!(
            plan(&o, "k").unwrap_err().param.as_deref(),
            Some("azureDeployment.sku")
        );
        let mut o = opts();
        o.resource_group = " ".into();
        assert_eq!(plan(&o, "k").unwrap_err().code, ErrorCode::MissingOption);
        // All-dot names would climb the ARM path once a URL parser reads them (even encoded).
        for dots in [".", "..", "..."] {
            let mut o = opts();
            o.resource_group = dots.into();
            let e = plan(&o, "k").unwrap_err();
            assert_eq!(e.param.as_deref(), Some("azureDeployment.resourceGroup"));
            let mut o = opts();
            o.deployment_name = Some(dots.into());
            let e = plan(&o, "k").unwrap_err();
            assert_eq!(e.param.as_deref(), Some("azureDeployment.deploymentName"));
        }
        assert!(
            plan(&opts(), "..").is_err(),
            "a deployment name made from the key"
        );
        let cmd = az_command(Some(&plan(&opts(), "k1").unwrap()), "ft:x", "k1");
        assert!(
            cmd.contains("--deployment-name k1 --model-name ft:x"),
            "{cmd}"
        );
    }
}
