//! Rate limits of chat completions, as OpenAI enforces and reports them: requests per minute
//! and tokens per minute, each a bucket that refills continuously (the whole limit over a
//! minute). Every chat answer carries `x-ratelimit-limit-requests`,
//! `x-ratelimit-remaining-requests`, `x-ratelimit-reset-requests` (the time until the bucket is
//! full again, as `1s`, `6m0s`, `20ms`) and the same three for `-tokens`. A request beyond
//! the limit is answered 429 `rate_limit_exceeded` with `retry-after`/`retry-after-ms`; an
//! injected 429 fault reports an empty requests bucket until its `retry-after`.

use crate::errors::ApiError;
use crate::state::{lock, AppState};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Mutex;
use std::time::Instant;

/// Default requests per minute.
pub const DEFAULT_REQUESTS_PER_MINUTE: u64 = 10_000;
/// Default tokens per minute.
pub const DEFAULT_TOKENS_PER_MINUTE: u64 = 10_000_000;

/// The chat rate limits of the emulated organization (all models share them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    /// Requests per minute (default [`DEFAULT_REQUESTS_PER_MINUTE`]).
    pub requests_per_minute: u64,
    /// Tokens per minute, prompt and completion (default [`DEFAULT_TOKENS_PER_MINUTE`]).
    pub tokens_per_minute: u64,
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits {
            requests_per_minute: DEFAULT_REQUESTS_PER_MINUTE,
            tokens_per_minute: DEFAULT_TOKENS_PER_MINUTE,
        }
    }
}

/// A bucket refilled at `limit` per minute.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    limit: f64,
    available: f64,
}

impl Bucket {
    fn new(limit: u64) -> Self {
        Bucket {
            limit: limit.max(1) as f64,
            available: limit.max(1) as f64,
        }
    }

    fn refill(&mut self, secs: f64) {
        self.available = (self.available + secs * self.limit / 60.0).min(self.limit);
    }

    /// Milliseconds until `amount` is available.
    fn wait_ms(&self, amount: f64) -> u64 {
        let missing = (amount - self.available).max(0.0);
        (missing * 60_000.0 / self.limit).ceil() as u64
    }

    /// Milliseconds until the bucket is full.
    fn reset_ms(&self) -> u64 {
        self.wait_ms(self.limit)
    }
}

/// Both buckets, refilled on every look.
#[derive(Debug)]
pub(crate) struct RateLimiter {
    inner: Mutex<(Bucket, Bucket, Instant)>,
}

/// The six header values at one moment.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Snapshot {
    limit_requests: u64,
    remaining_requests: u64,
    reset_requests_ms: u64,
    limit_tokens: u64,
    remaining_tokens: u64,
    reset_tokens_ms: u64,
}

/// A duration as OpenAI writes resets: `20ms`, `1.5s`, `6m0s`, `1h2m3s`.
pub(crate) fn duration(ms: u64) -> String {
    if ms < 1000 {
        return format!("{ms}ms");
    }
    let h = ms / 3_600_000;
    let m = ms % 3_600_000 / 60_000;
    let s = (ms % 60_000) as f64 / 1000.0;
    let s = format!("{s:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    match (h, m) {
        (0, 0) => format!("{s}s"),
        (0, m) => format!("{m}m{s}s"),
        (h, m) => format!("{h}h{m}m{s}s"),
    }
}

impl Snapshot {
    /// Sets the six `x-ratelimit-*` headers.
    pub fn apply(&self, h: &mut HeaderMap) {
        let set = |h: &mut HeaderMap, name: &'static str, v: String| {
            if let Ok(v) = HeaderValue::from_str(&v) {
                h.insert(HeaderName::from_static(name), v);
            }
        };
        set(
            h,
            "x-ratelimit-limit-requests",
            self.limit_requests.to_string(),
        );
        set(
            h,
            "x-ratelimit-remaining-requests",
            self.remaining_requests.to_string(),
        );
        set(
            h,
            "x-ratelimit-reset-requests",
            duration(self.reset_requests_ms),
        );
        set(h, "x-ratelimit-limit-tokens", self.limit_tokens.to_string());
        set(
            h,
            "x-ratelimit-remaining-tokens",
            self.remaining_tokens.to_string(),
        );
        set(
            h,
            "x-ratelimit-reset-tokens",
            duration(self.reset_tokens_ms),
        );
    }
}

impl RateLimiter {
    pub fn new(limits: RateLimits) -> Self {
        RateLimiter {
            inner: Mutex::new((
                Bucket::new(limits.requests_per_minute),
                Bucket::new(limits.tokens_per_minute),
                Instant::now(),
            )),
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut Bucket, &mut Bucket) -> T) -> T {
        let mut g = lock(&self.inner);
        let now = Instant::now();
        let secs = now.duration_since(g.2).as_secs_f64();
        g.2 = now;
        g.0.refill(secs);
        g.1.refill(secs);
        let (r, t, _) = &mut *g;
        f(r, t)
    }

    fn snapshot_of(r: &Bucket, t: &Bucket) -> Snapshot {
        Snapshot {
            limit_requests: r.limit as u64,
            remaining_requests: r.available.floor() as u64,
            reset_requests_ms: r.reset_ms(),
            limit_tokens: t.limit as u64,
            remaining_tokens: t.available.floor() as u64,
            reset_tokens_ms: t.reset_ms(),
        }
    }

    /// The headers now.
    pub fn snapshot(&self) -> Snapshot {
        self.with(|r, t| Self::snapshot_of(r, t))
    }

    /// Takes one request and `tokens` tokens, or refuses with OpenAI's 429 (headers included).
    pub fn admit(&self, org: &str, model: &str, tokens: u64) -> Result<Snapshot, ApiError> {
        self.with(|r, t| {
            let refuse = |what: &str, unit: &str, b: &Bucket, asked: u64, wait: u64| {
                let used = (b.limit - b.available).ceil().max(0.0) as u64;
                let mut e = ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    unit,
                    format!(
                        "Rate limit reached for {model} in organization {org} on {what}: Limit {}, Used {used}, Requested {asked}. Please try again in {}.",
                        b.limit as u64,
                        duration(wait)
                    ),
                )
                .code("rate_limit_exceeded")
                .header("retry-after-ms", wait.to_string())
                .header("retry-after", wait.div_ceil(1000).max(1).to_string());
                for (k, v) in Self::snapshot_of(r, t).headers() {
                    e = e.header(k, v);
                }
                e
            };
            if tokens as f64 > t.limit {
                return Err(ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "tokens",
                    format!(
                        "Request too large for {model} in organization {org} on tokens per min (TPM): Limit {}, Requested {tokens}. The input or output tokens must be reduced in order to run successfully.",
                        t.limit as u64
                    ),
                )
                .code("rate_limit_exceeded"));
            }
            if r.available < 1.0 {
                return Err(refuse("requests per min (RPM)", "requests", r, 1, r.wait_ms(1.0)));
            }
            if t.available < tokens as f64 {
                return Err(refuse("tokens per min (TPM)", "tokens", t, tokens, t.wait_ms(tokens as f64)));
            }
            r.available -= 1.0;
            t.available -= tokens as f64;
            Ok(Self::snapshot_of(r, t))
        })
    }
}

impl Snapshot {
    fn headers(&self) -> Vec<(&'static str, String)> {
        vec![
            (
                "x-ratelimit-limit-requests",
                self.limit_requests.to_string(),
            ),
            (
                "x-ratelimit-remaining-requests",
                self.remaining_requests.to_string(),
            ),
            (
                "x-ratelimit-reset-requests",
                duration(self.reset_requests_ms),
            ),
            ("x-ratelimit-limit-tokens", self.limit_tokens.to_string()),
            (
                "x-ratelimit-remaining-tokens",
                self.remaining_tokens.to_string(),
            ),
            ("x-ratelimit-reset-tokens", duration(self.reset_tokens_ms)),
        ]
    }
}

/// Middleware: every answer of a chat route carries the rate-limit headers. An injected
/// 429 (a fault, answered before the handler) reports the requests bucket empty until its
/// `retry-after-ms`, and names the emulator's real limit.
pub(crate) async fn headers(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if !req.uri().path().ends_with("/chat/completions") {
        return next.run(req).await;
    }
    let resp = next.run(req).await;
    if resp.headers().contains_key("x-ratelimit-limit-requests") {
        return resp;
    }
    let mut snap = state.0.rate_limiter.snapshot();
    let injected_wait = (resp.status() == StatusCode::TOO_MANY_REQUESTS)
        .then(|| resp.headers().get("retry-after-ms"))
        .flatten()
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let mut resp = match injected_wait {
        Some(wait) => {
            snap.remaining_requests = 0;
            snap.reset_requests_ms = wait;
            ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "requests",
                format!(
                    "Rate limit reached for requests in organization {} on requests per min (RPM): Limit {limit}, Used {limit}, Requested 1. Please try again in {}.",
                    state.0.organization,
                    duration(wait),
                    limit = snap.limit_requests,
                ),
            )
            .code("rate_limit_exceeded")
            .header("retry-after-ms", wait.to_string())
            .header("retry-after", wait.div_ceil(1000).max(1).to_string())
            .into_response()
        }
        None => resp,
    };
    snap.apply(resp.headers_mut());
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_as_openai_writes_them() {
        assert_eq!(duration(0), "0ms");
        assert_eq!(duration(20), "20ms");
        assert_eq!(duration(1000), "1s");
        assert_eq!(duration(8_640), "8.64s");
        assert_eq!(duration(360_000), "6m0s");
        assert_eq!(duration(90_500), "1m30.5s");
        assert_eq!(duration(3_723_000), "1h2m3s");
    }

    #[test]
    fn buckets_refuse_then_refill() {
        let l = RateLimiter::new(RateLimits {
            requests_per_minute: 2,
            tokens_per_minute: 100,
        });
        let a = l.admit("org", "m", 10).unwrap();
        assert_eq!(a.remaining_requests, 1);
        assert_eq!(a.remaining_tokens, 90);
        assert!(l.admit("org", "m", 95).is_err());
        l.admit("org", "m", 10).unwrap();
        let e = l.admit("org", "m", 1).unwrap_err();
        assert!(e.body()["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("Rate limit reached for m in organization org on requests per min (RPM): Limit 2, Used 2, Requested 1."));
        assert!(l.admit("org", "m", 101).is_err());
    }
}
