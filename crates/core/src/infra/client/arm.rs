//! Azure's control plane (Azure Resource Manager) through the same transport: a client whose
//! key is the Microsoft Entra ID token and whose base URL is the management endpoint.

use reqwest::Method;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::transport::Client;
use crate::calc::azure::{
    deployment_body, deployment_path, DeploymentPlan, MANAGEMENT_API_VERSION,
};
use crate::infra::connection::Connection;
use crate::types::error::{Error, ErrorCode, Result};

impl Client {
    /// A JSON request to `path` with `query` (the control plane: a client whose key is the
    /// Entra token and whose base URL is the management endpoint; always Bearer auth).
    pub async fn json_request(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
        cancel: &CancellationToken,
    ) -> Result<Value> {
        self.send(
            || {
                let mut rb = self
                    .http
                    .request(method.clone(), format!("{}{}", self.conn.base_url, path))
                    .bearer_auth(&self.conn.api_key)
                    .query(query);
                if let Some(b) = body {
                    rb = rb.json(b);
                }
                Ok(rb)
            },
            cancel,
        )
        .await
    }
}

/// A control-plane client: Bearer `token` at the management URL.
pub fn management_client(
    data_plane: &Connection,
    plan: &DeploymentPlan,
    token: String,
) -> Result<Client> {
    Client::new(Connection {
        api_key: token,
        base_url: plan.management_url.clone(),
        organization: None,
        project: None,
        max_retries: data_plane.max_retries,
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
