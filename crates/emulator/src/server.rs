//! HTTP plumbing: routes under `/v1` and Azure-style `/openai`, the request-id, auth and fault
//! middlewares, and our own accept loop (one hyper connection per socket) so that a fault can
//! close a connection without answering and `close()` can stop everything gracefully.

use crate::errors::ApiError;
use crate::faults::FaultKind;
use crate::state::{lock, AppState};
use crate::util::request_id;
use crate::{chat, files, jobs, uploads};
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::{from_fn_with_state, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Notify};
use tokio::task::JoinSet;
use tower::ServiceExt;

/// Which object shapes a request gets (files' statuses, models).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flavor {
    /// `/v1/...`, OpenAI (and `/openai/v1/...` with `azure_lenient`).
    OpenAi,
    /// `/openai/...`, Azure OpenAI; which of its APIs is in [`crate::azure::AzureApi`].
    Azure,
}

/// The request came through an Azure resource's paths (`/openai/...`, v1 included): models
/// are deployment names there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OnAzure(pub bool);

/// Closes the request's connection without an answer when notified.
#[derive(Clone)]
pub(crate) struct ConnKill(Arc<Notify>);

/// Largest request body (a 512 MB file plus multipart overhead).
const BODY_LIMIT: usize = 513 * 1024 * 1024;

/// The routes shared by `/v1` and `/openai`.
fn api_routes() -> Router<AppState> {
    Router::new()
        .route("/files", post(files::create).get(files::list))
        .route(
            "/files/{file_id}",
            get(files::retrieve).delete(files::delete),
        )
        .route("/files/{file_id}/content", get(files::content))
        .route("/uploads", post(uploads::create))
        .route("/uploads/{upload_id}/parts", post(uploads::add_part))
        .route("/uploads/{upload_id}/complete", post(uploads::complete))
        .route("/uploads/{upload_id}/cancel", post(uploads::cancel))
        .route("/fine_tuning/jobs", post(jobs::create).get(jobs::list))
        .route(
            "/fine_tuning/jobs/{fine_tuning_job_id}",
            get(jobs::retrieve),
        )
        .route(
            "/fine_tuning/jobs/{fine_tuning_job_id}/cancel",
            post(jobs::cancel),
        )
        .route(
            "/fine_tuning/jobs/{fine_tuning_job_id}/events",
            get(jobs::events),
        )
        .route(
            "/fine_tuning/jobs/{fine_tuning_job_id}/checkpoints",
            get(jobs::checkpoints),
        )
        .route(
            "/fine_tuning/jobs/{fine_tuning_job_id}/pause",
            post(jobs::pause_resume),
        )
        .route(
            "/fine_tuning/jobs/{fine_tuning_job_id}/resume",
            post(jobs::pause_resume),
        )
        .route("/chat/completions", post(chat::completions))
        .route(
            "/deployments/{deployment}/chat/completions",
            post(chat::deployment_completions),
        )
        .route("/models", get(chat::list_models))
        .route(
            "/models/{model}",
            get(chat::retrieve_model).delete(crate::learned::delete_model),
        )
}

/// The whole application.
pub(crate) fn router(state: AppState) -> Router {
    let api = api_routes()
        .route_layer(from_fn_with_state(state.clone(), guard))
        .layer(DefaultBodyLimit::max(BODY_LIMIT));
    Router::new()
        .nest("/v1", api.clone())
        // Azure OpenAI's v1 API: OpenAI's paths under `/openai/v1`, no `api-version`.
        .nest("/openai/v1", api.clone())
        .nest("/openai", api)
        // Azure's control plane (Azure Resource Manager): deployments.
        .nest(
            crate::deployments::MANAGEMENT_PREFIX,
            crate::deployments::routes(state.clone()),
        )
        .fallback(invalid_url)
        .method_not_allowed_fallback(invalid_url)
        .layer(from_fn_with_state(state.clone(), crate::ratelimit::headers))
        .layer(from_fn_with_state(state.clone(), tag))
        .with_state(state)
}

/// OpenAI's answer to an unknown route.
async fn invalid_url(method: Method, uri: axum::http::Uri) -> Response {
    ApiError::not_found(format!("Invalid URL ({method} {})", uri.path()), None).into_response()
}

/// Endpoint name of a route, as used by [`crate::FaultOptions::endpoints`] and the stats.
pub(crate) fn endpoint_name(method: &Method, pattern: &str) -> &'static str {
    let p = pattern
        .strip_prefix("/v1")
        .or_else(|| pattern.strip_prefix("/openai/v1"))
        .or_else(|| pattern.strip_prefix("/openai"))
        .unwrap_or(pattern);
    let m = method.as_str();
    match (m, p) {
        ("POST", "/files") => "files.create",
        ("GET", "/files") => "files.list",
        ("GET", "/files/{file_id}") => "files.retrieve",
        ("DELETE", "/files/{file_id}") => "files.delete",
        ("GET", "/files/{file_id}/content") => "files.content",
        ("POST", "/uploads") => "uploads.create",
        ("POST", "/uploads/{upload_id}/parts") => "uploads.part",
        ("POST", "/uploads/{upload_id}/complete") => "uploads.complete",
        ("POST", "/uploads/{upload_id}/cancel") => "uploads.cancel",
        ("POST", "/fine_tuning/jobs") => "jobs.create",
        ("GET", "/fine_tuning/jobs") => "jobs.list",
        ("GET", "/fine_tuning/jobs/{fine_tuning_job_id}") => "jobs.retrieve",
        ("POST", "/fine_tuning/jobs/{fine_tuning_job_id}/cancel") => "jobs.cancel",
        ("GET", "/fine_tuning/jobs/{fine_tuning_job_id}/events") => "jobs.events",
        ("GET", "/fine_tuning/jobs/{fine_tuning_job_id}/checkpoints") => "jobs.checkpoints",
        ("POST", "/fine_tuning/jobs/{fine_tuning_job_id}/pause") => "jobs.pause",
        ("POST", "/fine_tuning/jobs/{fine_tuning_job_id}/resume") => "jobs.resume",
        ("POST", "/chat/completions") | ("POST", "/deployments/{deployment}/chat/completions") => {
            "chat.completions"
        }
        ("GET", "/models") => "models.list",
        ("GET", "/models/{model}") => "models.retrieve",
        ("DELETE", "/models/{model}") => "models.delete",
        _ => "other",
    }
}

/// Whether a request may change the store (and so the state file): not a read, not a chat.
fn may_change(method: &Method, path: &str) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
        && !path.ends_with("/chat/completions")
}

/// Counts a request in [`crate::EmulatorStats::requests_in_flight`] until dropped: answered, or
/// abandoned with its connection.
struct InFlight(AppState);

impl InFlight {
    fn start(state: &AppState) -> Self {
        state.count(|s| {
            s.requests_total += 1;
            s.requests_in_flight += 1;
        });
        InFlight(state.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0
            .count(|s| s.requests_in_flight = s.requests_in_flight.saturating_sub(1));
    }
}

/// Outer middleware: counts every request and stamps `x-request-id` on every answer.
async fn tag(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let _in_flight = InFlight::start(&state);
    let mutating = may_change(req.method(), req.uri().path());
    let mut resp = next.run(req).await;
    if mutating {
        // Before the answer leaves: an answered request survives a crash.
        crate::persist::save(&state).await;
    }
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&request_id()) {
        h.insert("x-request-id", v);
    }
    if let Ok(v) = HeaderValue::from_str(&started.elapsed().as_millis().to_string()) {
        h.insert("openai-processing-ms", v);
    }
    h.insert("openai-version", HeaderValue::from_static("2020-10-01"));
    if let Ok(v) = HeaderValue::from_str(&state.0.organization) {
        h.insert("openai-organization", v);
    }
    resp
}

/// Whether the request carries the API key (`Authorization: Bearer` or Azure `api-key`). On
/// Azure both are accepted on every flavour (facts §1: "Auth (V1 securitySchemes): header
/// `api-key`; header `authorization`"; Entra ID tokens come as `Authorization: Bearer`); the
/// emulator's API key doubles as the Entra ID token, as on its control plane.
fn authorized(state: &AppState, req: &Request) -> Result<(), ApiError> {
    let headers = req.headers();
    let bearer = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
                .unwrap_or(v)
                .trim()
        });
    let api_key = headers
        .get("api-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim);
    let given: Vec<&str> = [bearer, api_key]
        .into_iter()
        .flatten()
        .filter(|k| !k.is_empty())
        .collect();
    if given.is_empty() {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_request_error",
            "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the api-key header.",
        ));
    }
    if given.contains(&state.0.api_key.as_str()) {
        return Ok(());
    }
    // The key is never echoed back, not even masked.
    Err(ApiError::new(
        StatusCode::UNAUTHORIZED,
        "invalid_request_error",
        "Incorrect API key provided.",
    )
    .code("invalid_api_key"))
}

/// Route middleware: per-route stats, auth, Azure `api-version`, fault injection.
async fn guard(
    State(state): State<AppState>,
    matched: MatchedPath,
    mut req: Request,
    next: Next,
) -> Response {
    let pattern = matched.as_str().to_string();
    let endpoint = count_request(&state, req.method(), &pattern);
    if let Err(e) = authorized(&state, &req) {
        return e.into_response();
    }
    let (flavor, caps) = match flavor_of(&state, &pattern, req.uri().query()) {
        Ok(f) => f,
        Err(e) => return e.into_response(),
    };
    if caps.is_some_and(|c| !c.serves(endpoint, &pattern)) {
        // A path the flavour does not have (facts §2: no `/uploads` on v1, no pause/resume on
        // 2024-10-21): as any unknown path.
        let uri = req
            .extensions()
            .get::<axum::extract::OriginalUri>()
            .map_or_else(|| req.uri().clone(), |u| u.0.clone());
        return invalid_url(req.method().clone(), uri).await;
    }
    req.extensions_mut().insert(crate::azure::AzureApi(caps));
    req.extensions_mut().insert(flavor);
    req.extensions_mut()
        .insert(OnAzure(pattern.starts_with("/openai")));
    let fault = lock(&state.0.injector).decide(endpoint);
    match fault {
        None => next.run(req).await,
        Some(fault) => inject(&state, endpoint, fault, req, next).await,
    }
}

/// Counts the request in the per-route and per-endpoint stats; returns its endpoint name.
fn count_request(state: &AppState, method: &Method, pattern: &str) -> &'static str {
    let endpoint = endpoint_name(method, pattern);
    debug_assert!(
        endpoint == "other" || crate::ENDPOINTS.contains(&endpoint),
        "{endpoint} is missing from ENDPOINTS"
    );
    let key = format!("{method} {pattern}");
    state.count(|s| {
        *s.requests.entry(key).or_default() += 1;
        *s.endpoints.entry(endpoint.to_string()).or_default() += 1;
    });
    endpoint
}

/// The flavour a route pattern is served as, and (Azure) its API's capabilities, from the
/// path and the `api-version`.
fn flavor_of(
    state: &AppState,
    pattern: &str,
    query: Option<&str>,
) -> Result<(Flavor, Option<&'static crate::azure::Caps>), ApiError> {
    if !pattern.starts_with("/openai") {
        return Ok((Flavor::OpenAi, None));
    }
    if !state.0.azure_lenient {
        return crate::azure::select(pattern, query).map(|caps| (Flavor::Azure, Some(caps)));
    }
    // The behaviour before the Azure flavours: `/openai/v1` is OpenAI's, `/openai` takes any
    // non-empty `api-version`.
    if pattern.starts_with("/openai/v1/") {
        return Ok((Flavor::OpenAi, None));
    }
    let has_version = query.is_some_and(|q| {
        q.split('&')
            .any(|p| p.starts_with("api-version=") && p.len() > 12)
    });
    if !has_version {
        return Err(ApiError::invalid(
            "Missing required query parameter 'api-version'.",
            Some("api-version"),
        )
        .code("MissingApiVersionParameter"));
    }
    Ok((Flavor::Azure, None))
}

/// Serves the request with `fault` injected (counted in the stats).
async fn inject(
    state: &AppState,
    endpoint: &str,
    fault: FaultKind,
    req: Request,
    next: Next,
) -> Response {
    state.count(|s| {
        s.faults_injected += 1;
        *s.faults.entry(fault.name().to_string()).or_default() += 1;
        *s.faults_by_endpoint
            .entry(endpoint.to_string())
            .or_default() += 1;
    });
    let kill = req.extensions().get::<ConnKill>().cloned();
    match fault {
        FaultKind::Slow { delay_ms } => {
            tokio::time::sleep(Duration::from_millis(delay_ms)).await;
            next.run(req).await
        }
        FaultKind::DropConnection => drop_connection(kill).await,
        FaultKind::Late { delay_ms } => {
            let resp = next.run(req).await;
            tokio::time::sleep(Duration::from_millis(delay_ms)).await;
            resp
        }
        FaultKind::LostResponse => {
            let resp = next.run(req).await;
            drop(resp);
            // Done, then the answer is lost: the change is kept all the same.
            crate::persist::save(state).await;
            drop_connection(kill).await
        }
        other => match other.error() {
            Some(e) => e.into_response(),
            None => next.run(req).await,
        },
    }
}

/// Closes the connection without answering (or answers 500 when not served by our loop).
async fn drop_connection(kill: Option<ConnKill>) -> Response {
    match kill {
        Some(k) => {
            k.0.notify_one();
            std::future::pending::<Response>().await
        }
        None => ApiError::internal("connection dropped").into_response(),
    }
}

/// Serves one TCP connection until it ends, is killed by a fault, or the server shuts down.
async fn serve_connection(stream: TcpStream, app: Router, mut shutdown: watch::Receiver<bool>) {
    let kill = Arc::new(Notify::new());
    let conn_kill = ConnKill(kill.clone());
    let service =
        hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
            req.extensions_mut().insert(conn_kill.clone());
            app.clone().oneshot(req.map(Body::new))
        });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => return,
        _ = kill.notified() => return,
        _ = shutdown.changed() => {}
    }
    conn.as_mut().graceful_shutdown();
    tokio::select! {
        _ = conn.as_mut() => {}
        _ = kill.notified() => {}
    }
}

/// The accept loop. Returns once the listener is closed and every connection has ended
/// (connections still busy 3 s after shutdown are aborted).
pub(crate) async fn serve(listener: TcpListener, app: Router, mut shutdown: watch::Receiver<bool>) {
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            changed = shutdown.changed() => {
                if changed.is_err() || *shutdown.borrow() {
                    break;
                }
            }
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let _ = stream.set_nodelay(true);
                    conns.spawn(serve_connection(stream, app.clone(), shutdown.clone()));
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
    drop(listener);
    let drained = tokio::time::timeout(Duration::from_secs(3), async {
        while conns.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        conns.abort_all();
        while conns.join_next().await.is_some() {}
    }
}
