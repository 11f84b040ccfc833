//! Azure's control plane (Azure Resource Manager) through the same transport (retries,
//! timeouts, error mapping): a client whose auth is the Microsoft Entra ID token and whose base
//! URL is the management endpoint. The deployment `PUT` is a long-running operation (facts
//! §4): its `Azure-AsyncOperation` URL and `Retry-After` are returned with the answer.

use std::time::Duration;

use reqwest::{header::HeaderMap, Method};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::transport::{Answer, Client};
use crate::calc::azure::{deployment_body, deployment_path, DeploymentPlan};
use crate::infra::connection::{Auth, Connection, Retry};
use crate::types::error::{Error, ErrorCode, Result};

/// The longest `Retry-After` honoured while an operation runs.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// A control-plane answer: the body, and where and when to look at the operation it started.
#[derive(Debug, Clone)]
pub struct ArmAnswer {
    pub body: Value,
    /// `Azure-AsyncOperation`, when it is on the management endpoint itself (a URL elsewhere
    /// would receive the token, so it is not followed).
    pub operation: Option<String>,
    /// `Retry-After`, in seconds.
    pub retry_after: Option<Duration>,
}

impl Client {
    /// A JSON request to `url` (absolute, on this client's origin) with `query`; the answer's
    /// body and headers.
    async fn arm_request(
        &self,
        method: Method,
        url: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
        cancel: &CancellationToken,
    ) -> Result<(Value, HeaderMap)> {
        self.execute(
            || {
                let mut rb = self.request_url(method.clone(), url).query(query);
                if let Some(b) = body {
                    rb = rb.json(b);
                }
                Ok(rb)
            },
            |a: Answer| {
                let v = if a.body.is_empty() {
                    Value::Null
                } else {
                    serde_json::from_slice(&a.body).map_err(|e| {
                        Error::new(
                            ErrorCode::Api,
                            format!(
                                "Azure's control plane answered with a body that is not JSON: {e}"
                            ),
                        )
                    })?
                };
                Ok((v, a.headers))
            },
            cancel,
            None::<fn() -> std::future::Ready<Result<Option<(Value, HeaderMap)>>>>,
        )
        .await
    }

    /// Whether `url` is on this client's origin (scheme, host and port of its base URL).
    fn same_origin(&self, url: &str) -> bool {
        let (Ok(a), Ok(b)) = (url::Url::parse(url), url::Url::parse(self.base_url())) else {
            return false;
        };
        a.scheme() == b.scheme()
            && a.host_str() == b.host_str()
            && a.port_or_known_default() == b.port_or_known_default()
    }

    fn arm_answer(&self, body: Value, headers: &HeaderMap) -> ArmAnswer {
        let h = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        ArmAnswer {
            body,
            operation: h("azure-asyncoperation").filter(|u| self.same_origin(u)),
            retry_after: h("retry-after")
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(|s| Duration::from_secs(s).min(MAX_RETRY_AFTER)),
        }
    }
}

/// A control-plane client at the plan's management URL, authenticated by `auth` (see
/// `connection::control_plane_auth`), retried as `retry` says.
pub fn management_client(plan: &DeploymentPlan, auth: Auth, retry: Retry) -> Result<Client> {
    Client::new(Connection::control_plane(&plan.management_url, auth, retry))
}

fn deployment_url(client: &Client, plan: &DeploymentPlan) -> String {
    format!("{}{}", client.base_url(), deployment_path(plan))
}

/// `PUT` the deployment (idempotent: the same body again is a no-op).
pub async fn put_deployment(
    client: &Client,
    plan: &DeploymentPlan,
    model: &str,
    cancel: &CancellationToken,
) -> Result<ArmAnswer> {
    let (body, headers) = client
        .arm_request(
            Method::PUT,
            &deployment_url(client, plan),
            &[("api-version", plan.api_version.as_str())],
            Some(&deployment_body(plan, model)),
            cancel,
        )
        .await
        .map_err(|e| management_error(e, plan))?;
    Ok(client.arm_answer(body, &headers))
}

/// `GET` the deployment.
pub async fn get_deployment(
    client: &Client,
    plan: &DeploymentPlan,
    cancel: &CancellationToken,
) -> Result<ArmAnswer> {
    let (body, headers) = client
        .arm_request(
            Method::GET,
            &deployment_url(client, plan),
            &[("api-version", plan.api_version.as_str())],
            None,
            cancel,
        )
        .await
        .map_err(|e| management_error(e, plan))?;
    Ok(client.arm_answer(body, &headers))
}

/// `GET` an `Azure-AsyncOperation` URL (it carries its own api-version).
pub async fn get_operation(
    client: &Client,
    plan: &DeploymentPlan,
    url: &str,
    cancel: &CancellationToken,
) -> Result<ArmAnswer> {
    let (body, headers) = client
        .arm_request(Method::GET, url, &[], None, cancel)
        .await
        .map_err(|e| management_error(e, plan))?;
    Ok(client.arm_answer(body, &headers))
}

/// Control-plane errors say so (the client's messages speak of the OpenAI API).
fn management_error(mut e: Error, plan: &DeploymentPlan) -> Error {
    if e.is_abort() {
        return e;
    }
    let what = format!(
        "Azure's control plane ({}, api-version {}) refused the deployment {} of resource {}",
        plan.management_url, plan.api_version, plan.deployment_name, plan.resource_name
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
