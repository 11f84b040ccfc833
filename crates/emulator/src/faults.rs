//! Fault injection: seeded, per-request faults (5xx, 429, dropped connections, slow or lost
//! answers) and job-level knobs (jobs that fail, jobs cancelled from outside, files stuck in
//! processing).

use crate::errors::ApiError;
use axum::http::StatusCode;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::fmt;

/// The delay advertised by injected 429s unless told otherwise, in ms.
pub const DEFAULT_RETRY_AFTER_MS: u64 = 100;
/// The delay of [`FaultKind::Slow`] answers unless told otherwise, in ms.
pub const DEFAULT_SLOW_MS: u64 = 1000;

/// The endpoint names that [`FaultOptions::endpoints`] accepts (those of
/// [`crate::EmulatorStats::endpoints`]).
pub const ENDPOINTS: &[&str] = &[
    "files.create",
    "files.list",
    "files.retrieve",
    "files.delete",
    "files.content",
    "uploads.create",
    "uploads.part",
    "uploads.complete",
    "uploads.cancel",
    "jobs.create",
    "jobs.list",
    "jobs.retrieve",
    "jobs.cancel",
    "jobs.events",
    "jobs.checkpoints",
    "jobs.pause",
    "jobs.resume",
    "chat.completions",
    "models.list",
    "models.retrieve",
    "models.delete",
];

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
    /// The request is performed at once, and its answer is delayed by `delay_ms` (a client
    /// that gives up or dies meanwhile never learns what was made).
    Late {
        /// Delay of the answer.
        delay_ms: u64,
    },
}

impl FaultKind {
    /// The names [`FaultKind::from_name`] accepts, in the order of the variants.
    pub const NAMES: &'static [&'static str] = &[
        "500",
        "503",
        "429",
        "quota",
        "daily_limit",
        "drop",
        "slow",
        "lost",
        "late",
    ];

    /// The kind called `name` (one of [`FaultKind::NAMES`]): `"500"`, `"503"`, `"429"` (a
    /// 429 advertising `retry_after_ms`), `"quota"`, `"daily_limit"`, `"drop"`, `"slow"`
    /// (answers delayed by `slow_ms`), `"lost"`, `"late"` (performed at once, answer delayed by
    /// `slow_ms`). An unknown name: a message naming it and the
    /// known ones.
    pub fn from_name(name: &str, retry_after_ms: u64, slow_ms: u64) -> Result<FaultKind, String> {
        Ok(match name {
            "500" => FaultKind::InternalError,
            "503" => FaultKind::Unavailable,
            "429" => FaultKind::RateLimited { retry_after_ms },
            "quota" => FaultKind::InsufficientQuota,
            "daily_limit" => FaultKind::DailyRateLimit,
            "drop" => FaultKind::DropConnection,
            "slow" => FaultKind::Slow { delay_ms: slow_ms },
            "lost" => FaultKind::LostResponse,
            "late" => FaultKind::Late { delay_ms: slow_ms },
            other => {
                return Err(format!(
                    "unknown fault kind {other:?} (known: {})",
                    Self::NAMES.join(", ")
                ))
            }
        })
    }

    /// The kinds drawn from when none are chosen: 500, 503 and 429 advertising
    /// `retry_after_ms`.
    pub fn defaults(retry_after_ms: u64) -> Vec<FaultKind> {
        vec![
            FaultKind::InternalError,
            FaultKind::Unavailable,
            FaultKind::RateLimited { retry_after_ms },
        ]
    }

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
            FaultKind::Late { .. } => "late",
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
    /// Kinds drawn from (uniformly) when a fault hits. Empty: [`FaultKind::defaults`] with
    /// [`DEFAULT_RETRY_AFTER_MS`].
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

/// Fault injection as plain values (kinds by name, every field optional), as a command line,
/// a config file or the Node.js binding gives it. [`FaultSpec::resolve`] checks it and applies
/// the defaults.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FaultSpec {
    /// Seed of the random generator (default 0).
    pub seed: Option<u64>,
    /// Probability (0 to 1) that a request to a selected endpoint gets a fault (default 0).
    pub rate: Option<f64>,
    /// Endpoint names subject to faults, from [`ENDPOINTS`] (default: all).
    pub endpoints: Option<Vec<String>>,
    /// Kind names (see [`FaultKind::from_name`]; default: 500, 503 and 429).
    pub kinds: Option<Vec<String>>,
    /// The delay advertised by injected 429s, in ms (default [`DEFAULT_RETRY_AFTER_MS`]).
    pub retry_after_ms: Option<u64>,
    /// The delay of `"slow"` answers, in ms (default [`DEFAULT_SLOW_MS`]).
    pub slow_ms: Option<u64>,
    /// See [`FaultOptions::max_faults`].
    pub max_faults: Option<u64>,
    /// See [`FaultOptions::fail_jobs`] (default false).
    pub fail_jobs: Option<bool>,
    /// See [`FaultOptions::cancel_jobs_after_ms`].
    pub cancel_jobs_after_ms: Option<u64>,
    /// See [`FaultOptions::files_stuck_processing`] (default false).
    pub files_stuck_processing: Option<bool>,
}

/// An option with a value that is not allowed: which one (`faults.kinds`, `faults.rate`,
/// `faults.endpoints`), and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptionError {
    /// The option, as the Node.js binding names it.
    pub option: &'static str,
    /// What is wrong with its value.
    pub message: String,
}

impl fmt::Display for OptionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.option, self.message)
    }
}

impl std::error::Error for OptionError {}

impl FaultSpec {
    /// Checks the values (rate within 0..=1, known kinds and endpoints) and fills in the
    /// defaults.
    pub fn resolve(self) -> Result<FaultOptions, OptionError> {
        let FaultSpec {
            seed,
            rate,
            endpoints,
            kinds,
            retry_after_ms,
            slow_ms,
            max_faults,
            fail_jobs,
            cancel_jobs_after_ms,
            files_stuck_processing,
        } = self;
        let rate = rate.unwrap_or(0.0);
        if !(0.0..=1.0).contains(&rate) {
            return Err(OptionError {
                option: "faults.rate",
                message: format!("must be a probability from 0 to 1, got {rate}"),
            });
        }
        let endpoints = endpoints.unwrap_or_default();
        if let Some(bad) = endpoints.iter().find(|e| !ENDPOINTS.contains(&e.as_str())) {
            return Err(OptionError {
                option: "faults.endpoints",
                message: format!("unknown endpoint {bad:?} (known: {})", ENDPOINTS.join(", ")),
            });
        }
        let retry_after_ms = retry_after_ms.unwrap_or(DEFAULT_RETRY_AFTER_MS);
        let slow_ms = slow_ms.unwrap_or(DEFAULT_SLOW_MS);
        let kinds = match kinds {
            Some(names) if !names.is_empty() => names
                .iter()
                .map(|n| FaultKind::from_name(n, retry_after_ms, slow_ms))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|message| OptionError {
                    option: "faults.kinds",
                    message,
                })?,
            _ => FaultKind::defaults(retry_after_ms),
        };
        Ok(FaultOptions {
            seed: seed.unwrap_or(0),
            rate,
            endpoints,
            kinds,
            max_faults,
            fail_jobs: fail_jobs.unwrap_or(false),
            cancel_jobs_after_ms,
            files_stuck_processing: files_stuck_processing.unwrap_or(false),
        })
    }
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
            let defaults = FaultKind::defaults(DEFAULT_RETRY_AFTER_MS);
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
    fn kinds_by_name() {
        for (i, name) in FaultKind::NAMES.iter().enumerate() {
            let k = FaultKind::from_name(name, 7, 9).unwrap();
            assert_eq!(FaultKind::NAMES[i], *name);
            match k {
                FaultKind::RateLimited { retry_after_ms } => assert_eq!(retry_after_ms, 7),
                FaultKind::Slow { delay_ms } | FaultKind::Late { delay_ms } => {
                    assert_eq!(delay_ms, 9)
                }
                _ => {}
            }
        }
        assert_eq!(
            FaultKind::from_name("quota", 0, 0),
            Ok(FaultKind::InsufficientQuota)
        );
        let e = FaultKind::from_name("404", 0, 0).unwrap_err();
        assert_eq!(
            e,
            "unknown fault kind \"404\" (known: 500, 503, 429, quota, daily_limit, drop, slow, lost, late)"
        );
    }

    #[test]
    fn spec_defaults() {
        let o = FaultSpec::default().resolve().unwrap();
        assert_eq!(o.seed, 0);
        assert_eq!(o.rate, 0.0);
        assert!(o.endpoints.is_empty());
        assert_eq!(o.kinds, FaultKind::defaults(DEFAULT_RETRY_AFTER_MS));
        assert_eq!(o.max_faults, None);
        assert!(!o.fail_jobs && !o.files_stuck_processing);
        assert_eq!(o.cancel_jobs_after_ms, None);
    }

    #[test]
    fn spec_values() {
        let o = FaultSpec {
            seed: Some(5),
            rate: Some(1.0),
            endpoints: Some(vec!["jobs.create".into()]),
            kinds: Some(vec!["429".into(), "slow".into()]),
            retry_after_ms: Some(250),
            slow_ms: Some(40),
            max_faults: Some(3),
            fail_jobs: Some(true),
            cancel_jobs_after_ms: Some(900),
            files_stuck_processing: Some(true),
        }
        .resolve()
        .unwrap();
        assert_eq!(o.seed, 5);
        assert_eq!(o.endpoints, ["jobs.create"]);
        assert_eq!(
            o.kinds,
            [
                FaultKind::RateLimited {
                    retry_after_ms: 250
                },
                FaultKind::Slow { delay_ms: 40 }
            ]
        );
        assert_eq!(o.max_faults, Some(3));
        assert!(o.fail_jobs && o.files_stuck_processing);
        assert_eq!(o.cancel_jobs_after_ms, Some(900));
        // The default kinds advertise the chosen retry-after.
        let o = FaultSpec {
            retry_after_ms: Some(250),
            ..Default::default()
        }
        .resolve()
        .unwrap();
        assert_eq!(o.kinds, FaultKind::defaults(250));
    }

    #[test]
    fn spec_errors_name_the_option() {
        let bad = |spec: FaultSpec| spec.resolve().unwrap_err();
        let e = bad(FaultSpec {
            kinds: Some(vec!["500".into(), "teapot".into()]),
            ..Default::default()
        });
        assert_eq!(e.option, "faults.kinds");
        assert!(
            e.message.starts_with("unknown fault kind \"teapot\""),
            "{e}"
        );
        for rate in [-0.1, 1.5, f64::NAN] {
            let e = bad(FaultSpec {
                rate: Some(rate),
                ..Default::default()
            });
            assert_eq!(e.option, "faults.rate");
        }
        let e = bad(FaultSpec {
            endpoints: Some(vec!["jobs.craete".into()]),
            ..Default::default()
        });
        assert_eq!(e.option, "faults.endpoints");
        assert_eq!(
            e.to_string().split(" (known").next().unwrap(),
            "faults.endpoints: unknown endpoint \"jobs.craete\""
        );
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
