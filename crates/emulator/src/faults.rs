//! Fault injection: seeded, per-request faults (5xx, 429, dropped connections, slow or lost
//! answers) and job-level knobs (jobs that fail, jobs cancelled from outside, files stuck in
//! processing).

use crate::errors::ApiError;
use axum::http::StatusCode;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// One kind of fault injected into a request.
#[derive(Debug, Clone, PartialEq)]
pub enum FaultKind {
    /// 500 `server_error`.
    InternalError,
    /// 503 "overloaded".
    Unavailable,
    /// 429 `rate_limit_exceeded` with `retry-after-ms` and `retry-after` headers.
    RateLimited {
        /// The delay advertised in the headers.
        retry_after_ms: u64,
    },
    /// 429 `insufficient_quota` (must not be retried by clients).
    InsufficientQuota,
    /// 429 `daily_rate_limit_exceeded` (OpenAI's per-model daily cap on fine-tuning requests).
    DailyRateLimit,
    /// The connection is closed without any answer; the request is not performed.
    DropConnection,
    /// The answer is delayed by `delay_ms`, then given normally.
    Slow {
        /// Delay before handling the request.
        delay_ms: u64,
    },
    /// The request is performed (file stored, job created…), then the connection is closed
    /// without an answer.
    LostResponse,
}

impl FaultKind {
    /// A short name, used in [`crate::EmulatorStats::faults`].
    pub fn name(&self) -> &'static str {
        match self {
            FaultKind::InternalError => "internal_error",
            FaultKind::Unavailable => "unavailable",
            FaultKind::RateLimited { .. } => "rate_limited",
            FaultKind::InsufficientQuota => "insufficient_quota",
            FaultKind::DailyRateLimit => "daily_rate_limit",
            FaultKind::DropConnection => "drop_connection",
            FaultKind::Slow { .. } => "slow",
            FaultKind::LostResponse => "lost_response",
        }
    }

    /// The error answered for the kinds that answer with an error; `None` for the others.
    pub(crate) fn error(&self) -> Option<ApiError> {
        match self {
            FaultKind::InternalError => Some(ApiError::internal(
                "The server had an error while processing your request. Sorry about that!",
            )),
            FaultKind::Unavailable => Some(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "server_error",
                "The server is overloaded or not ready yet.",
            )),
            FaultKind::RateLimited { retry_after_ms } => {
                let secs = retry_after_ms.div_ceil(1000).max(1);
                Some(
                    ApiError::new(
                        StatusCode::TOO_MANY_REQUESTS,
                        "requests",
                        format!(
                            "Rate limit reached for requests in organization on requests per min (RPM): Limit 60, Used 60, Requested 1. Please try again in {retry_after_ms}ms."
                        ),
                    )
                    .code("rate_limit_exceeded")
                    .header("retry-after-ms", retry_after_ms.to_string())
                    .header("retry-after", secs.to_string()),
                )
            }
            FaultKind::InsufficientQuota => Some(
                ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "insufficient_quota",
                    "You exceeded your current quota, please check your plan and billing details.",
                )
                .code("insufficient_quota"),
            ),
            FaultKind::DailyRateLimit => Some(
                ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "requests",
                    "This fine-tuning request has been rate-limited. Your organization has reached the maximum of fine-tuning requests per day for this model.",
                )
                .code("daily_rate_limit_exceeded"),
            ),
            _ => None,
        }
    }
}

/// Fault-injection settings. `Default` injects nothing.
#[derive(Debug, Clone, Default)]
pub struct FaultOptions {
    /// Seed of the random generator that decides which request fails: the same seed and the
    /// same order of requests give the same faults.
    pub seed: u64,
    /// Probability (0..=1) that a request to a selected endpoint gets a fault.
    pub rate: f64,
    /// Endpoints subject to faults, by name (`files.create`, `files.list`, `files.retrieve`,
    /// `files.delete`, `files.content`, `uploads.create`, `uploads.part`, `uploads.complete`,
    /// `uploads.cancel`, `jobs.create`, `jobs.list`, `jobs.retrieve`, `jobs.cancel`,
    /// `jobs.events`, `jobs.checkpoints`, `jobs.pause`, `jobs.resume`, `chat.completions`,
    /// `models.list`, `models.retrieve`). Empty: all endpoints.
    pub endpoints: Vec<String>,
    /// Kinds drawn from (uniformly) when a fault hits. Empty: `InternalError`, `Unavailable`
    /// and `RateLimited { retry_after_ms: 100 }`.
    pub kinds: Vec<FaultKind>,
    /// At most this many request faults in the emulator's life (`None`: no cap).
    pub max_faults: Option<u64>,
    /// Every fine-tuning job fails while running, with a `server_error` error.
    pub fail_jobs: bool,
    /// Every fine-tuning job still running this long after its creation is cancelled, as if
    /// from outside (another client, the dashboard).
    pub cancel_jobs_after_ms: Option<u64>,
    /// Uploaded files stay in status `uploaded` (Azure: `pending`) and never become usable.
    pub files_stuck_processing: bool,
}

/// Decides, request by request, whether to inject a fault.
#[derive(Debug)]
pub(crate) struct FaultInjector {
    options: FaultOptions,
    rng: StdRng,
    injected: u64,
}

impl FaultInjector {
    /// A new injector seeded from `options.seed`.
    pub fn new(options: FaultOptions) -> Self {
        let rng = StdRng::seed_from_u64(options.seed);
        FaultInjector {
            options,
            rng,
            injected: 0,
        }
    }

    /// Whether `endpoint` gets a fault now, and which.
    pub fn decide(&mut self, endpoint: &str) -> Option<FaultKind> {
        if self.options.rate <= 0.0 {
            return None;
        }
        if !self.options.endpoints.is_empty()
            && !self.options.endpoints.iter().any(|e| e == endpoint)
        {
            return None;
        }
        if let Some(max) = self.options.max_faults {
            if self.injected >= max {
                return None;
            }
        }
        let roll: f64 = self.rng.random();
        if roll >= self.options.rate {
            return None;
        }
        let kind = if self.options.kinds.is_empty() {
            let defaults = [
                FaultKind::InternalError,
                FaultKind::Unavailable,
                FaultKind::RateLimited {
                    retry_after_ms: 100,
                },
            ];
            defaults[self.rng.random_range(0..defaults.len())].clone()
        } else {
            let i = self.rng.random_range(0..self.options.kinds.len());
            self.options.kinds[i].clone()
        };
        self.injected += 1;
        Some(kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_faults_by_default() {
        let mut f = FaultInjector::new(FaultOptions::default());
        assert!((0..100).all(|_| f.decide("files.create").is_none()));
    }

    #[test]
    fn seeded_and_filtered() {
        let opts = FaultOptions {
            seed: 7,
            rate: 0.5,
            endpoints: vec!["jobs.create".into()],
            ..Default::default()
        };
        let run = || {
            let mut f = FaultInjector::new(opts.clone());
            (0..50).map(|_| f.decide("jobs.create")).collect::<Vec<_>>()
        };
        let a = run();
        assert_eq!(a, run());
        assert!(a.iter().any(Option::is_some) && a.iter().any(Option::is_none));
        let mut f = FaultInjector::new(opts);
        assert!((0..50).all(|_| f.decide("files.create").is_none()));
    }

    #[test]
    fn capped() {
        let mut f = FaultInjector::new(FaultOptions {
            rate: 1.0,
            max_faults: Some(2),
            kinds: vec![FaultKind::DropConnection],
            ..Default::default()
        });
        let n = (0..10).filter(|_| f.decide("x").is_some()).count();
        assert_eq!(n, 2);
    }
}
