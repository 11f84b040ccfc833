//! The one request path of the client, with openai-node's retry policy: connection errors,
//! timeouts, 408, 409, 429 and 5xx are retried with jittered exponential backoff, honouring
//! `retry-after-ms` and `retry-after`. The resources (files, jobs…) are in the sibling files.

use std::time::{Duration, SystemTime};

use rand::Rng;
use reqwest::{header, Method, RequestBuilder, Response, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::infra::connection::{Auth, Connection, Retry};
use crate::types::error::{Error, ErrorCode, Result};
use crate::types::redact::error_chain;

fn aborted() -> Error {
    Error::aborted()
}

/// A `retry-after` longer than this is not honoured (the default backoff is used instead).
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(600);

/// Told the bytes of a file sent so far (from 0 again when an attempt is retried).
pub type SentFn = std::sync::Arc<dyn Fn(u64) + Send + Sync>;

/// How one attempt went wrong.
enum Failure {
    /// Worth another attempt; `ambiguous` when the request may have been acted upon.
    Retry {
        error: Error,
        after: Option<Duration>,
        ambiguous: bool,
    },
    /// Final.
    Fatal(Error),
}

/// A success answer.
pub(super) struct Answer {
    status: StatusCode,
    /// `METHOD /path` below the base URL (no query), for messages.
    endpoint: String,
    pub(super) body: bytes::Bytes,
    pub(super) headers: header::HeaderMap,
    request_id: Option<String>,
}

impl Answer {
    /// The body as JSON of type `T`.
    fn json<T: DeserializeOwned>(self) -> Result<T> {
        let with_rid = |mut e: Error| {
            e.status = Some(self.status.as_u16());
            e.request_id = self.request_id.clone();
            e
        };
        let value: Value = serde_json::from_slice(&self.body).map_err(|e| {
            with_rid(Error::new(
                ErrorCode::Api,
                format!(
                    "the API answered {} to {} with a body that is not JSON: {e}",
                    self.status, self.endpoint
                ),
            ))
        })?;
        // The field that could not be read is named by its path (`data[0].created_at`).
        serde_path_to_error::deserialize(&value).map_err(|e| {
            with_rid(Error::new(
                ErrorCode::Api,
                format!(
                    "unexpected answer from the API to {}: field `{}`: {}",
                    self.endpoint,
                    e.path(),
                    e.inner()
                ),
            ))
        })
    }
}

/// The client. Cheap to clone.
#[derive(Clone)]
pub struct Client {
    pub(super) http: reqwest::Client,
    pub(super) conn: Connection,
}

impl Client {
    /// A client for this connection.
    pub fn new(conn: Connection) -> Result<Client> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("taskforce-fine-tune/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(30))
            .timeout(REQUEST_TIMEOUT)
            .build()
            .map_err(|e| Error::new(ErrorCode::Internal, format!("HTTP client: {e}")))?;
        Ok(Client { http, conn })
    }

    /// The base URL (never the key).
    pub fn base_url(&self) -> &str {
        &self.conn.base_url
    }

    pub(super) fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.request_url(method, &format!("{}{}", self.conn.base_url, path))
    }

    /// A request to an absolute `url` with this connection's authentication (the caller
    /// makes sure the URL is this connection's own origin).
    pub(super) fn request_url(&self, method: Method, url: &str) -> RequestBuilder {
        let mut rb = self.http.request(method, url);
        rb = match &self.conn.auth {
            Auth::Bearer(key) => rb.bearer_auth(key.expose()),
            Auth::ApiKey(key) => rb.header("api-key", key.expose()),
            // Asked for before each attempt (see `authorized`).
            Auth::Entra { .. } => rb,
        };
        if let Some(version) = self.conn.api_version() {
            rb = rb.query(&[("api-version", version)]);
        }
        if let Some(org) = &self.conn.organization {
            rb = rb.header("OpenAI-Organization", org);
        }
        if let Some(p) = &self.conn.project {
            rb = rb.header("OpenAI-Project", p);
        }
        rb
    }

    /// The request with a fresh Microsoft Entra ID token, when the connection authenticates
    /// with one (a provider that fails ends the call).
    async fn authorized(&self, rb: RequestBuilder) -> std::result::Result<RequestBuilder, Failure> {
        match &self.conn.auth {
            Auth::Entra { scope, provider } => {
                let token = provider(scope).await.map_err(Failure::Fatal)?;
                Ok(rb.bearer_auth(token.trim()))
            }
            _ => Ok(rb),
        }
    }

    /// `METHOD /path` of a request, the path below the base URL's.
    fn endpoint_of(&self, rb: &RequestBuilder) -> String {
        let Some(req) = rb.try_clone().and_then(|b| b.build().ok()) else {
            return "the request".into();
        };
        let base = url::Url::parse(&self.conn.base_url)
            .map(|u| u.path().trim_end_matches('/').to_string())
            .unwrap_or_default();
        let path = req.url().path();
        let path = path.strip_prefix(base.as_str()).unwrap_or(path);
        format!("{} {path}", req.method())
    }

    async fn attempt(&self, rb: RequestBuilder) -> std::result::Result<Answer, Failure> {
        let endpoint = self.endpoint_of(&rb);
        let rb = self.authorized(rb).await?;
        let resp = match rb.send().await {
            Ok(r) => r,
            Err(e) => {
                let ambiguous = !e.is_connect();
                let mut error = Error::new(
                    ErrorCode::Network,
                    format!(
                        "could not reach the {} API: {}",
                        if self.conn.is_azure() {
                            "Azure OpenAI"
                        } else {
                            "OpenAI"
                        },
                        error_chain(&e)
                    ),
                );
                error.status = e.status().map(|s| s.as_u16());
                return Err(Failure::Retry {
                    error,
                    after: None,
                    ambiguous,
                });
            }
        };
        let status = resp.status();
        // Azure answers with `apim-request-id` (facts §1).
        let request_id =
            header_str(&resp, "x-request-id").or_else(|| header_str(&resp, "apim-request-id"));
        let should_retry = header_str(&resp, "x-should-retry");
        let after = retry_after(&resp);
        if status.is_success() {
            let headers = resp.headers().clone();
            let body = resp.bytes().await.map_err(|e| Failure::Retry {
                error: Error::new(
                    ErrorCode::Network,
                    format!("the answer broke off: {}", error_chain(&e)),
                ),
                after: None,
                ambiguous: true,
            })?;
            return Ok(Answer {
                status,
                endpoint,
                body,
                headers,
                request_id,
            });
        }
        let body = resp.bytes().await.unwrap_or_default();
        let error = api_error(status, &body, request_id);
        let quota = matches!(error.code, ErrorCode::Quota);
        let retry = match should_retry.as_deref() {
            Some("true") => true,
            Some("false") => false,
            _ => !quota && (matches!(status.as_u16(), 408 | 409 | 429) || status.is_server_error()),
        };
        if retry {
            Err(Failure::Retry {
                error,
                after,
                ambiguous: status.is_server_error() || status.as_u16() == 408,
            })
        } else {
            Err(Failure::Fatal(error))
        }
    }

    /// The one request path: sends a request built afresh for each attempt, retrying what
    /// [`Error::is_retryable`]-style rules allow (and the API's `x-should-retry`), and turns a
    /// success's body into `T` with `parse`. `recover` is asked, after an ambiguous failure,
    /// whether the action already happened; if it says so, its answer wins.
    pub(super) async fn execute<T, B, P, R, RF>(
        &self,
        build: B,
        parse: P,
        cancel: &CancellationToken,
        recover: Option<R>,
    ) -> Result<T>
    where
        B: Fn() -> Result<RequestBuilder>,
        P: Fn(Answer) -> Result<T>,
        R: Fn() -> RF,
        RF: std::future::Future<Output = Result<Option<T>>>,
    {
        let mut retries = 0u32;
        loop {
            let rb = build()?;
            let outcome = tokio::select! {
                _ = cancel.cancelled() => return Err(aborted()),
                o = self.attempt(rb) => o,
            };
            match outcome {
                Ok(answer) => return parse(answer),
                Err(Failure::Fatal(e)) => return Err(e),
                Err(Failure::Retry {
                    error,
                    after,
                    ambiguous,
                }) => {
                    if ambiguous {
                        if let Some(recover) = &recover {
                            // The action may have happened. It is sent again only once a
                            // look-up has answered that it did not; a look-up that cannot get
                            // an answer ends the call (the caller looks up again next time).
                            match recover().await {
                                Ok(Some(found)) => return Ok(found),
                                Ok(None) => {}
                                Err(e) if e.is_abort() => return Err(e),
                                Err(e) => return Err(unconfirmed(&error, &e)),
                            }
                        }
                    }
                    if retries >= self.conn.retry.max_retries {
                        return Err(error);
                    }
                    let delay = after.unwrap_or_else(|| backoff(&self.conn.retry, retries));
                    retries += 1;
                    tokio::select! {
                        _ = cancel.cancelled() => return Err(aborted()),
                        _ = tokio::time::sleep(delay) => {}
                    }
                }
            }
        }
    }

    /// [`Self::execute`] for a JSON answer.
    pub(super) async fn send_with<T, B, R, RF>(
        &self,
        build: B,
        cancel: &CancellationToken,
        recover: Option<R>,
    ) -> Result<T>
    where
        T: DeserializeOwned,
        B: Fn() -> Result<RequestBuilder>,
        R: Fn() -> RF,
        RF: std::future::Future<Output = Result<Option<T>>>,
    {
        self.execute(build, Answer::json, cancel, recover).await
    }

    pub(super) async fn send<T: DeserializeOwned>(
        &self,
        build: impl Fn() -> Result<RequestBuilder>,
        cancel: &CancellationToken,
    ) -> Result<T> {
        self.send_with(
            build,
            cancel,
            None::<fn() -> std::future::Ready<Result<Option<T>>>>,
        )
        .await
    }
}

/// A request that may have been acted on, whose look-up failed too: `ERR_NETWORK`, not sent
/// again.
fn unconfirmed(error: &Error, lookup: &Error) -> Error {
    let mut e = Error::new(
        ErrorCode::Network,
        format!(
            "the request may have reached the API ({}), and looking up whether it did failed too ({}); it was not sent again: call again with the same options, which looks it up first",
            error.message, lookup.message
        ),
    );
    e.status = lookup.status.or(error.status);
    e.request_id = lookup.request_id.clone().or(error.request_id.clone());
    e
}

fn header_str(resp: &Response, name: &str) -> Option<String> {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// openai-node's backoff: the initial delay (0.5 s) doubling to the longest (8 s), minus up to
/// 25 % jitter.
fn backoff(retry: &Retry, retries: u32) -> Duration {
    let base = retry.initial_delay.saturating_mul(1u32 << retries.min(10));
    let base = base.min(retry.max_delay);
    let jitter = 1.0 - rand::rng().random::<f64>() * 0.25;
    base.mul_f64(jitter)
}

/// `retry-after-ms`, then `retry-after` in seconds or as an HTTP date; ignored when absurd.
fn retry_after(resp: &Response) -> Option<Duration> {
    let h = resp.headers();
    let parsed = h
        .get("retry-after-ms")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<f64>().ok())
        .map(|ms| Duration::from_secs_f64(ms.max(0.0) / 1000.0))
        .or_else(|| {
            let v = h
                .get(header::RETRY_AFTER)?
                .to_str()
                .ok()?
                .trim()
                .to_string();
            match v.parse::<f64>() {
                Ok(secs) => Some(Duration::from_secs_f64(secs.max(0.0))),
                Err(_) => {
                    let when = httpdate_parse(&v)?;
                    Some(when.duration_since(SystemTime::now()).unwrap_or_default())
                }
            }
        })?;
    (parsed <= MAX_RETRY_AFTER).then_some(parsed)
}

/// Parses an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), the form `retry-after` dates take.
fn httpdate_parse(s: &str) -> Option<SystemTime> {
    let dt = chrono::DateTime::parse_from_rfc2822(s).ok()?;
    let secs = u64::try_from(dt.timestamp()).ok()?;
    Some(SystemTime::UNIX_EPOCH + Duration::from_secs(secs))
}

/// Turns an error answer into an [`Error`] with OpenAI's code, type, param and message.
pub fn api_error(status: StatusCode, body: &[u8], request_id: Option<String>) -> Error {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    let e = parsed.as_ref().and_then(|v| v.get("error"));
    let s = |k: &str| {
        e.and_then(|e| e.get(k))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let api_message = s("message").unwrap_or_else(|| {
        let text = String::from_utf8_lossy(body);
        let text = text.trim();
        if text.is_empty() {
            status
                .canonical_reason()
                .unwrap_or("no message")
                .to_string()
        } else {
            text.chars().take(300).collect()
        }
    });
    let api_code = s("code");
    let api_type = s("type");
    let is_quota = |v: &Option<String>| {
        matches!(
            v.as_deref(),
            Some("insufficient_quota") | Some("daily_rate_limit_exceeded")
        )
    };
    let code = match status.as_u16() {
        401 | 403 => ErrorCode::Authentication,
        429 if is_quota(&api_code) || is_quota(&api_type) => ErrorCode::Quota,
        429 => ErrorCode::RateLimited,
        _ => ErrorCode::Api,
    };
    let mut err = Error::new(
        code,
        format!("OpenAI API answered {}: {api_message}", status.as_u16()),
    );
    err.status = Some(status.as_u16());
    err.request_id = request_id;
    err.api_code = api_code;
    err.api_type = api_type;
    err.param = s("param");
    err
}

impl Client {
    /// Whether this client talks to Azure OpenAI (either flavour), where a 403 is Azure's own
    /// access rule.
    pub fn is_azure(&self) -> bool {
        self.conn.is_azure()
    }

    /// What the Azure API version this client speaks declares (`None` for OpenAI).
    pub fn caps(&self) -> Option<&'static crate::calc::azure_api::ApiCaps> {
        self.conn.caps()
    }

    /// The connection's API flavour.
    pub fn flavour(&self) -> &crate::infra::connection::Flavour {
        &self.conn.flavour
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let retry = Retry::default();
        for r in 0..12 {
            let d = backoff(&retry, r);
            assert!(d <= retry.max_delay, "{d:?}");
            assert!(
                d >= retry
                    .initial_delay
                    .mul_f64(0.75)
                    .min(retry.max_delay.mul_f64(0.75))
            );
        }
        assert!(backoff(&retry, 3) > backoff(&retry, 0));
        // A setting: tests shorten it.
        let fast = Retry {
            initial_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(4),
            ..Retry::default()
        };
        assert!((0..12).all(|r| backoff(&fast, r) <= Duration::from_millis(4)));
    }

    #[test]
    fn quota_429_is_not_rate_limit() {
        let body = br#"{"error":{"message":"You exceeded your current quota","type":"insufficient_quota","param":null,"code":"insufficient_quota"}}"#;
        let e = api_error(StatusCode::TOO_MANY_REQUESTS, body, Some("req_1".into()));
        assert_eq!(e.code, ErrorCode::Quota);
        assert_eq!(e.request_id.as_deref(), Some("req_1"));
        let body =
            br#"{"error":{"message":"slow down","type":"requests","code":"rate_limit_exceeded"}}"#;
        assert_eq!(
            api_error(StatusCode::TOO_MANY_REQUESTS, body, None).code,
            ErrorCode::RateLimited
        );
        assert_eq!(
            api_error(StatusCode::UNAUTHORIZED, b"", None).code,
            ErrorCode::Authentication
        );
    }

    #[test]
    fn parses_http_dates() {
        let t = httpdate_parse("Sun, 06 Nov 1994 08:49:37 GMT").unwrap();
        assert_eq!(
            t.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs(),
            784111777
        );
    }
}
