//! Azure OpenAI's control plane, as far as deployments go: the Azure Resource Manager
//! resource `Microsoft.CognitiveServices/accounts/{account}/deployments/{deployment}` under
//! [`MANAGEMENT_PREFIX`] (Azure: `https://management.azure.com`), with a fake Microsoft
//! Entra ID check (the Bearer token must be the emulator's API key) and a required
//! `api-version`. A deployment is `Creating` for a while, then `Succeeded`; from then on chat
//! completions answer by its name under `/openai`. Developer-tier deployments end after 24
//! hours, as Azure's do.

use crate::errors::ApiError;
use crate::models::is_base_chat_model;
use crate::state::AppState;
use crate::util::{now_ms, secs};
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::StatusCode;
use axum::middleware::{from_fn_with_state, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

/// Where the control plane is served.
pub(crate) const MANAGEMENT_PREFIX: &str = "/management";

/// The SKUs Azure offers for fine-tuned models.
const SKUS: [&str; 3] = ["Developer", "Standard", "GlobalStandard"];

/// How long a Developer-tier deployment lives.
const DEVELOPER_LIFETIME_MS: i64 = 24 * 3600 * 1000;

/// One deployment.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(crate) struct DeploymentRecord {
    /// Its ARM id (`/subscriptions/…/deployments/{name}`).
    id: String,
    name: String,
    model: String,
    sku: String,
    capacity: u64,
    created_ms: i64,
    ready_ms: i64,
}

impl DeploymentRecord {
    fn state_at(&self, now: i64) -> &'static str {
        if now < self.ready_ms {
            "Creating"
        } else {
            "Succeeded"
        }
    }

    fn expired_at(&self, now: i64) -> bool {
        self.sku == "Developer" && now >= self.created_ms + DEVELOPER_LIFETIME_MS
    }

    fn to_json(&self, now: i64) -> Value {
        json!({
            "id": self.id,
            "type": "Microsoft.CognitiveServices/accounts/deployments",
            "name": self.name,
            "sku": { "name": self.sku, "capacity": self.capacity },
            "properties": {
                "model": { "format": "OpenAI", "name": self.model, "version": "1" },
                "provisioningState": self.state_at(now),
                "capabilities": { "chatCompletion": "true" },
                "rateLimits": [{ "key": "request", "renewalPeriod": 10, "count": self.capacity }],
            },
            "systemData": { "createdAt": chrono::DateTime::from_timestamp(secs(self.created_ms), 0).map(|d| d.to_rfc3339()) },
        })
    }
}

/// An Azure Resource Manager error: `{"error": {"code", "message"}}`.
fn arm_error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    (
        status,
        Json(json!({ "error": { "code": code, "message": message.into() } })),
    )
        .into_response()
}

/// The control plane's routes, with their auth and api-version checks.
pub(crate) fn routes(state: AppState) -> Router<AppState> {
    let base = "/subscriptions/{subscription}/resourceGroups/{group}/providers/Microsoft.CognitiveServices/accounts/{account}/deployments";
    Router::new()
        .route(base, get(list))
        .route(
            &format!("{base}/{{deployment}}"),
            get(retrieve).put(create_or_update).delete(delete),
        )
        .route_layer(from_fn_with_state(state, arm_guard))
}

/// The fake Entra ID check and the required `api-version`.
async fn arm_guard(State(state): State<AppState>, req: Request, next: Next) -> Response {
    state.count(|s| *s.endpoints.entry("deployments".into()).or_default() += 1);
    let auth = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::trim);
    match auth {
        None => {
            return arm_error(
                StatusCode::UNAUTHORIZED,
                "AuthenticationFailed",
                "Authentication failed. The 'Authorization' header is missing.",
            )
        }
        Some(a) => {
            let token = a.strip_prefix("Bearer ").unwrap_or("").trim();
            if token != state.0.api_key {
                return arm_error(
                    StatusCode::UNAUTHORIZED,
                    "InvalidAuthenticationToken",
                    "The access token is invalid.",
                );
            }
        }
    }
    let has_version = req.uri().query().is_some_and(|q| {
        q.split('&')
            .any(|p| p.starts_with("api-version=") && p.len() > 12)
    });
    if !has_version {
        return arm_error(
            StatusCode::BAD_REQUEST,
            "MissingApiVersionParameter",
            "The api-version query parameter (?api-version=) is required for all requests.",
        );
    }
    next.run(req).await
}

type DeploymentPath = Path<(String, String, String, String)>;

fn arm_id(sub: &str, group: &str, account: &str, name: &str) -> String {
    format!("/subscriptions/{sub}/resourceGroups/{group}/providers/Microsoft.CognitiveServices/accounts/{account}/deployments/{name}")
}

fn not_found(name: &str) -> Response {
    arm_error(
        StatusCode::NOT_FOUND,
        "DeploymentNotFound",
        format!("Deployment {name} not found."),
    )
}

/// `GET …/deployments`.
async fn list(
    State(state): State<AppState>,
    Path((sub, group, account)): Path<(String, String, String)>,
    RawQuery(_): RawQuery,
) -> Response {
    let prefix = arm_id(&sub, &group, &account, "").to_lowercase();
    let now = now_ms();
    let store = state.store();
    let mut data: Vec<&DeploymentRecord> = store
        .deployments
        .iter()
        .filter(|(k, d)| k.starts_with(&prefix) && !d.expired_at(now))
        .map(|(_, d)| d)
        .collect();
    data.sort_by_key(|d| d.created_ms);
    let data: Vec<Value> = data.iter().map(|d| d.to_json(now)).collect();
    Json(json!({ "value": data })).into_response()
}

/// `GET …/deployments/{deployment}`.
async fn retrieve(
    State(state): State<AppState>,
    Path((sub, group, account, name)): DeploymentPath,
) -> Response {
    let key = arm_id(&sub, &group, &account, &name).to_lowercase();
    let now = now_ms();
    let store = state.store();
    match store.deployments.get(&key).filter(|d| !d.expired_at(now)) {
        Some(d) => Json(d.to_json(now)).into_response(),
        None => not_found(&name),
    }
}

/// `DELETE …/deployments/{deployment}`.
async fn delete(
    State(state): State<AppState>,
    Path((sub, group, account, name)): DeploymentPath,
) -> Response {
    let key = arm_id(&sub, &group, &account, &name).to_lowercase();
    match state.store().deployments.remove(&key) {
        Some(_) => StatusCode::OK.into_response(),
        None => StatusCode::NO_CONTENT.into_response(),
    }
}

/// `PUT …/deployments/{deployment}`: `{ sku: { name, capacity }, properties: { model: {
/// format: "OpenAI", name, version } } }`. 201 when created, 200 when updated.
async fn create_or_update(
    State(state): State<AppState>,
    Path((sub, group, account, name)): DeploymentPath,
    body: Bytes,
) -> Response {
    let Ok(v) = serde_json::from_slice::<Value>(&body) else {
        return arm_error(
            StatusCode::BAD_REQUEST,
            "InvalidRequestContent",
            "The request content was invalid and could not be deserialized.",
        );
    };
    let n = name.chars().count();
    if !(2..=64).contains(&n)
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    {
        return arm_error(
            StatusCode::BAD_REQUEST,
            "InvalidResourceName",
            format!("The deployment name '{name}' is invalid."),
        );
    }
    let sku_name = v.pointer("/sku/name").and_then(Value::as_str).unwrap_or("");
    let Some(sku) = SKUS.iter().find(|s| s.eq_ignore_ascii_case(sku_name)) else {
        return arm_error(StatusCode::BAD_REQUEST, "InvalidSkuName", format!("The sku '{sku_name}' is not supported for fine-tuned models; use Developer, Standard or GlobalStandard."));
    };
    let capacity = v
        .pointer("/sku/capacity")
        .and_then(Value::as_u64)
        .unwrap_or(0);
    if capacity == 0 {
        return arm_error(
            StatusCode::BAD_REQUEST,
            "InvalidCapacity",
            "sku.capacity must be a whole number of at least 1.",
        );
    }
    let model = v
        .pointer("/properties/model/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    let format = v
        .pointer("/properties/model/format")
        .and_then(Value::as_str)
        .unwrap_or("");
    if format != "OpenAI" || model.is_empty() {
        return arm_error(
            StatusCode::BAD_REQUEST,
            "InvalidResourceProperties",
            "properties.model needs format 'OpenAI' and a name.",
        );
    }
    let now = now_ms();
    let known = is_base_chat_model(model)
        || crate::jobs::fine_tuned_models(&state.store(), now)
            .iter()
            .any(|(m, _)| m == model);
    if !known {
        return arm_error(
            StatusCode::BAD_REQUEST,
            "DeploymentModelNotSupported",
            format!("The model '{model}' does not exist or is not supported for deployment."),
        );
    }
    let delay = (state.0.job_duration_ms / 5).clamp(50, 5000) as i64;
    let id = arm_id(&sub, &group, &account, &name);
    let key = id.to_lowercase();
    let mut store = state.store();
    let existed = store
        .deployments
        .get(&key)
        .is_some_and(|d| !d.expired_at(now));
    let same = store.deployments.get(&key).is_some_and(|d| {
        d.model == model && d.sku == *sku && d.capacity == capacity && !d.expired_at(now)
    });
    if !same {
        store.deployments.insert(
            key.clone(),
            DeploymentRecord {
                id,
                name: name.clone(),
                model: model.to_string(),
                sku: sku.to_string(),
                capacity,
                created_ms: now,
                ready_ms: now + delay,
            },
        );
    }
    let body = store.deployments[&key].to_json(now);
    let status = if existed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    (status, Json(body)).into_response()
}

/// The model a deployment name answers for, if it is deployed (succeeded, not expired).
pub(crate) fn deployed_model(state: &AppState, name: &str) -> Option<String> {
    let now = now_ms();
    let store = state.store();
    store
        .deployments
        .values()
        .filter(|d| d.name == name && d.state_at(now) == "Succeeded" && !d.expired_at(now))
        .map(|d| d.model.clone())
        .next()
}

/// Azure's answer to a model that is not a deployment (an undeployed fine-tuned model).
pub(crate) fn deployment_not_found(name: &str) -> ApiError {
    ApiError::not_found(
        format!("The API deployment {name} for this resource does not exist. If you created the deployment within the last 5 minutes, please wait a moment and try again."),
        None,
    )
    .code("DeploymentNotFound")
}
