//! Azure OpenAI's control plane, as far as deployments go: the Azure Resource Manager
//! resource `Microsoft.CognitiveServices/accounts/{account}/deployments/{deployment}` under
//! [`MANAGEMENT_PREFIX`] (Azure: `https://management.azure.com`), with a fake Microsoft
//! Entra ID check (the Bearer token must be the emulator's API key; facts §4: ARM takes a
//! bearer token, no `api-key`) and a published `api-version` (facts §4). A new deployment is
//! a long-running operation: 201 with `Azure-AsyncOperation` and `Retry-After`, the
//! operation's status resource at that URL, and the deployment `Creating`, then `Succeeded`;
//! from then on chat completions answer by its name under `/openai`. Developer-tier
//! deployments end after 24 hours, as Azure's do (facts §6).
//!
//! With `azure_lenient`: any `api-version`, no operation headers, the SKU `Developer`.

use crate::errors::ApiError;
use crate::models::is_base_chat_model;
use crate::state::AppState;
use crate::util::{now_ms, secs};
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::{from_fn_with_state, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

/// Where the control plane is served.
pub(crate) const MANAGEMENT_PREFIX: &str = "/management";

/// The SKUs Azure offers for fine-tuned models, as Microsoft names them (facts §4, D-TYPES:
/// `Standard`, `GlobalStandard`, `ProvisionedManaged`, `DeveloperTier`; D-DEP: fine-tuned
/// deployment types Standard, Global Standard, Provisioned Throughput, Developer). Whether
/// ARM compares them case-insensitively is not confirmed: the emulator does (lenient).
const SKUS: [&str; 4] = [
    "Standard",
    "GlobalStandard",
    "ProvisionedManaged",
    "DeveloperTier",
];

/// The SKUs of the lenient emulator (before it followed Azure's names).
const LENIENT_SKUS: [&str; 3] = ["Developer", "Standard", "GlobalStandard"];

/// Microsoft.CognitiveServices control-plane api-versions published as GA (facts §4, RM
/// tags). Previews: facts §4 lists some ("incl."), so any `YYYY-MM-DD-preview` is accepted.
pub(crate) const PUBLISHED_API_VERSIONS: [&str; 12] = [
    "2017-04-18",
    "2021-04-30",
    "2021-10-01",
    "2022-03-01",
    "2022-10-01",
    "2022-12-01",
    "2023-05-01",
    "2024-10-01",
    "2025-06-01",
    "2025-09-01",
    "2025-12-01",
    "2026-03-01",
];

/// Whether `v` is a published control-plane api-version (facts §4).
fn published(v: &str) -> bool {
    if PUBLISHED_API_VERSIONS.contains(&v) {
        return true;
    }
    v.strip_suffix("-preview")
        .is_some_and(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").is_ok())
}

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
        // facts §6: "Developer tier: fixed **24 h** lifetime, auto-deleted regardless of
        // activity".
        matches!(self.sku.as_str(), "DeveloperTier" | "Developer")
            && now >= self.created_ms + DEVELOPER_LIFETIME_MS
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
                // facts §4: the ready example "also `deploymentState: Running`".
                "deploymentState": "Running",
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

/// A request the control plane refuses with 400 and ARM's error `code`.
struct Refused {
    code: &'static str,
    message: String,
}

fn bad_request(code: &'static str, message: impl Into<String>) -> Refused {
    Refused {
        code,
        message: message.into(),
    }
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        arm_error(StatusCode::BAD_REQUEST, self.code, self.message)
    }
}

/// The control plane's routes, with their auth and api-version checks.
pub(crate) fn routes(state: AppState) -> Router<AppState> {
    let base = "/subscriptions/{subscription}/resourceGroups/{group}/providers/Microsoft.CognitiveServices/accounts/{account}/deployments";
    Router::new()
        .route(OPERATION_ROUTE, get(operation))
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
    let version = crate::util::query_pairs(req.uri().query())
        .into_iter()
        .find(|(k, _)| k == "api-version")
        .map(|(_, v)| v)
        .filter(|v| !v.is_empty());
    let Some(version) = version else {
        return arm_error(
            StatusCode::BAD_REQUEST,
            "MissingApiVersionParameter",
            "The api-version query parameter (?api-version=) is required for all requests.",
        );
    };
    if !state.0.azure_lenient && !published(&version) {
        // facts §4: "`2024-10-21` is not a control-plane version" (no RM tag). ARM's exact
        // answer to an unpublished version is not in facts.md ("Could not confirm"); the
        // emulator refuses it with 400 so that a client using one fails here.
        return arm_error(
            StatusCode::BAD_REQUEST,
            "NoRegisteredProviderFound",
            format!(
                "No registered resource provider found for API version '{version}' for type 'accounts/deployments'. The supported api-versions are '{}' and previews.",
                PUBLISHED_API_VERSIONS.join(", ")
            ),
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
/// format: "OpenAI", name, version } } }`. 201 when created, 200 when updated (facts §4), with
/// `Azure-AsyncOperation` and `Retry-After` while it provisions.
async fn create_or_update(
    State(state): State<AppState>,
    Path((sub, group, account, name)): DeploymentPath,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Result<Response, Refused> {
    let wanted = check_request(&state, &name, &body)?;
    let now = now_ms();
    check_deployable(&state, &wanted.model, now)?;
    let delay = (state.0.job_duration_ms / 5).clamp(50, 5000) as i64;
    let id = arm_id(&sub, &group, &account, &name);
    let mut store = state.store();
    let put = upsert(&mut store.deployments, id, &name, wanted, now, delay);
    let status = if put.existed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    if put.unchanged || state.0.azure_lenient {
        return Ok((status, Json(put.body)).into_response());
    }
    // facts §4: "**201** create with `Azure-AsyncOperation` + `Retry-After`; LRO
    // final-state-via azure-async-operation". An update that provisions again gets them too.
    let op = crate::util::random_id("", 32).to_lowercase();
    store.operations.insert(
        op.clone(),
        OperationRecord {
            started_ms: now,
            done_ms: now + delay,
        },
    );
    drop(store);
    let url = operation_url(&headers, query.as_deref(), &sub, &op);
    let retry_after = (delay as u64).div_ceil(1000).max(1).to_string();
    Ok((
        status,
        [("azure-asyncoperation", url), ("retry-after", retry_after)],
        Json(put.body),
    )
        .into_response())
}

/// What a `PUT` asks for.
struct Wanted {
    /// The SKU as this emulator spells it.
    sku: &'static str,
    capacity: u64,
    model: String,
}

/// Reads and checks a `PUT`'s name and body: a valid name, a known SKU, a capacity, an
/// OpenAI model.
fn check_request(state: &AppState, name: &str, body: &Bytes) -> Result<Wanted, Refused> {
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        return Err(bad_request(
            "InvalidRequestContent",
            "The request content was invalid and could not be deserialized.",
        ));
    };
    check_name(name)?;
    let sku = check_sku(state, &v)?;
    let capacity = v
        .pointer("/sku/capacity")
        .and_then(Value::as_u64)
        .unwrap_or(0);
    if capacity == 0 {
        return Err(bad_request(
            "InvalidCapacity",
            "sku.capacity must be a whole number of at least 1.",
        ));
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
        return Err(bad_request(
            "InvalidResourceProperties",
            "properties.model needs format 'OpenAI' and a name.",
        ));
    }
    Ok(Wanted {
        sku,
        capacity,
        model: model.to_string(),
    })
}

/// A deployment name: 2 to 64 letters, digits, `-`, `_` or `.`.
fn check_name(name: &str) -> Result<(), Refused> {
    let n = name.chars().count();
    if !(2..=64).contains(&n)
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    {
        return Err(bad_request(
            "InvalidResourceName",
            format!("The deployment name '{name}' is invalid."),
        ));
    }
    Ok(())
}

/// `sku.name`, one of [`SKUS`] (lenient: [`LENIENT_SKUS`]), compared case-insensitively.
fn check_sku(state: &AppState, v: &Value) -> Result<&'static str, Refused> {
    let sku_name = v.pointer("/sku/name").and_then(Value::as_str).unwrap_or("");
    let skus: &'static [&'static str] = if state.0.azure_lenient {
        &LENIENT_SKUS
    } else {
        &SKUS
    };
    match skus.iter().find(|s| s.eq_ignore_ascii_case(sku_name)) {
        Some(sku) => Ok(sku),
        None => Err(bad_request(
            "InvalidSkuName",
            format!(
                "The sku '{sku_name}' is not supported for fine-tuned models; use {}.",
                skus.join(", ")
            ),
        )),
    }
}

/// The model must be a base chat model or a fine-tuned model of this emulator, and (not
/// lenient) not retired for deployments.
fn check_deployable(state: &AppState, model: &str, now: i64) -> Result<(), Refused> {
    let known = is_base_chat_model(model)
        || crate::jobs::fine_tuned_models(&state.store(), now)
            .iter()
            .any(|(m, _)| m == model);
    if !known {
        return Err(bad_request(
            "DeploymentModelNotSupported",
            format!("The model '{model}' does not exist or is not supported for deployment."),
        ));
    }
    if !state.0.azure_lenient {
        // facts §6 (D-RET): "at deployment retirement inference/deploy error".
        if let (_, Some(date)) = crate::azure::retirement(state, model) {
            if crate::chat::is_past(&date) {
                return Err(bad_request(
                    "DeploymentModelNotSupported",
                    format!("The model '{model}' was retired for deployments on {date}."),
                ));
            }
        }
    }
    Ok(())
}

/// What a `PUT` did to the store.
struct Put {
    /// A live deployment of that name existed.
    existed: bool,
    /// It already had the same model, SKU and capacity: nothing was provisioned.
    unchanged: bool,
    /// The deployment as it is now.
    body: Value,
}

/// Creates or replaces the deployment `id` (ready after `delay`), unless a live one already
/// has the same model, SKU and capacity.
fn upsert(
    deployments: &mut std::collections::HashMap<String, DeploymentRecord>,
    id: String,
    name: &str,
    wanted: Wanted,
    now: i64,
    delay: i64,
) -> Put {
    let key = id.to_lowercase();
    let live = deployments.get(&key).filter(|d| !d.expired_at(now));
    let existed = live.is_some();
    let unchanged = live.is_some_and(|d| {
        d.model == wanted.model && d.sku == wanted.sku && d.capacity == wanted.capacity
    });
    if !unchanged {
        let record = DeploymentRecord {
            id,
            name: name.to_string(),
            model: wanted.model,
            sku: wanted.sku.to_string(),
            capacity: wanted.capacity,
            created_ms: now,
            ready_ms: now + delay,
        };
        deployments.insert(key.clone(), record);
    }
    Put {
        existed,
        unchanged,
        body: deployments[&key].to_json(now),
    }
}

/// The `Azure-AsyncOperation` URL of operation `op`, on the host and `api-version` the
/// request used.
fn operation_url(headers: &HeaderMap, query: Option<&str>, sub: &str, op: &str) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1");
    let version = crate::util::query_pairs(query)
        .into_iter()
        .find(|(k, _)| k == "api-version")
        .map(|(_, v)| v)
        .unwrap_or_default();
    format!(
        "http://{host}{MANAGEMENT_PREFIX}/subscriptions/{sub}/providers/Microsoft.CognitiveServices/operationStatuses/{op}?api-version={version}"
    )
}

/// Where an operation's status is served (the `Azure-AsyncOperation` URL).
const OPERATION_ROUTE: &str =
    "/subscriptions/{subscription}/providers/Microsoft.CognitiveServices/operationStatuses/{operation}";

/// A long-running operation of the control plane (a deployment provisioning).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(crate) struct OperationRecord {
    started_ms: i64,
    done_ms: i64,
}

/// `GET` of an `Azure-AsyncOperation` URL: `{ id, name, status: InProgress | Succeeded,
/// startTime, endTime }` (ARM's operation status resource; its exact fields are not in
/// facts.md, which gives only "final-state-via azure-async-operation").
async fn operation(
    State(state): State<AppState>,
    Path((sub, op)): Path<(String, String)>,
) -> Response {
    let now = now_ms();
    let Some(rec) = state.store().operations.get(&op).cloned() else {
        return arm_error(
            StatusCode::NOT_FOUND,
            "OperationNotFound",
            format!("Operation {op} not found."),
        );
    };
    let time = |ms: i64| chrono::DateTime::from_timestamp_millis(ms).map(|d| d.to_rfc3339());
    let done = now >= rec.done_ms;
    Json(json!({
        "id": format!("/subscriptions/{sub}/providers/Microsoft.CognitiveServices/operationStatuses/{op}"),
        "name": op,
        "status": if done { "Succeeded" } else { "InProgress" },
        "startTime": time(rec.started_ms),
        "endTime": if done { json!(time(rec.done_ms)) } else { Value::Null },
    }))
    .into_response()
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

#[cfg(test)]
mod tests {
    use super::*;

    fn record(sku: &str) -> DeploymentRecord {
        DeploymentRecord {
            id: "/d".into(),
            name: "d".into(),
            model: "m".into(),
            sku: sku.into(),
            capacity: 1,
            created_ms: 0,
            ready_ms: 10,
        }
    }

    #[test]
    fn developer_tier_ends_after_24_hours() {
        let day = 24 * 3600 * 1000;
        assert!(!record("DeveloperTier").expired_at(day - 1));
        assert!(record("DeveloperTier").expired_at(day));
        assert!(record("Developer").expired_at(day));
        assert!(!record("Standard").expired_at(100 * day));
        assert_eq!(record("Standard").state_at(5), "Creating");
        assert_eq!(record("Standard").state_at(10), "Succeeded");
    }

    #[test]
    fn published_versions() {
        assert!(published("2026-03-01"));
        assert!(published("2024-10-01"));
        assert!(published("2025-10-01-preview"));
        assert!(!published("2024-10-21"));
        assert!(!published("latest"));
        assert!(!published("2024-13-01-preview"));
    }
}
