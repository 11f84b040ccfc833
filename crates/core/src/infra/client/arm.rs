//! Azure's control plane (Azure Resource Manager) through the same transport: a client whose
//! key is the Microsoft Entra ID token and whose base URL is the management endpoint.

use reqwest::Method;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::transport::Client;
use crate::calc::azure::{
    deployment_body, deployment_path, DeploymentPlan, MANAGEMENT_API_VERSION,
};
use crate::infra::connection::{Connection, Secret};
use crate::types::error::{Error, ErrorCode, Result};

impl Client {
    /// A JSON request to `path` with `query` (the control plane: a client of
    /// [`Connection::control_plane`]).
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
                let mut rb = self.request(method.clone(), path).query(query);
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

/// A control-plane client: the Microsoft Entra ID `token` at the plan's management URL.
pub fn management_client(
    data_plane: &Connection,
    plan: &DeploymentPlan,
    token: Secret,
) -> Result<Client> {
    Client::new(Connection::control_plane(
        &plan.management_url,
        token,
        data_plane,
    ))
}

/// `PUT` the deployment (idempotent: the same body again is a no-op).
pub async fn put_deployment(
    client: &Client,
    plan: &DeploymentPlan,
    model: &str,
    cancel: &CancellationToken,
) -> Result<Value> {
    let body = deployment_body(plan, model);
    deployment_request(client, plan, Method::PUT, Some(&body), cancel).await
}

/// `GET` the deployment.
pub async fn get_deployment(
    client: &Client,
    plan: &DeploymentPlan,
    cancel: &CancellationToken,
) -> Result<Value> {
    deployment_request(client, plan, Method::GET, None, cancel).await
}

async fn deployment_request(
    client: &Client,
    plan: &DeploymentPlan,
    method: Method,
    body: Option<&Value>,
    cancel: &CancellationToken,
) -> Result<Value> {
    client
        .json_request(
            method,
            &deployment_path(plan),
            &[("api-version", MANAGEMENT_API_VERSION)],
            body,
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
