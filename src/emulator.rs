//! The emulator's binding: `startEmulator` and its handle.

use std::collections::HashMap;
use std::sync::Arc;

use napi::bindgen_prelude::*;
use napi_derive::napi;

use fine_tune_emulator as emu;

/// Options of `startEmulator`.
#[napi(object, object_to_js = false)]
pub struct EmulatorOptions {
    /// Port on 127.0.0.1; default: a free one.
    pub port: Option<u32>,
    /// The API key clients must send; default `sk-emulator`.
    pub api_key: Option<String>,
    /// How long a job takes from `validating_files` to `succeeded`, in ms (default 3000).
    pub job_duration_ms: Option<f64>,
    /// The organization in fine-tuned model names (default `org-emulator`).
    pub organization: Option<String>,
    /// Faults to inject, for testing clients under failure.
    pub faults: Option<EmulatorFaults>,
}

/// Seeded fault injection: the same seed and request order give the same faults.
#[napi(object, object_to_js = false)]
pub struct EmulatorFaults {
    /// Seed of the random generator (default 0).
    pub seed: Option<f64>,
    /// Probability (0 to 1) that a request to a selected endpoint gets a fault.
    pub rate: Option<f64>,
    /// Endpoints subject to faults, e.g. `files.create`, `jobs.create`, `jobs.retrieve`,
    /// `jobs.list`, `jobs.events`, `uploads.part`. Default: all.
    pub endpoints: Option<Vec<String>>,
    /// Kinds drawn from when a fault hits: `"500"`, `"503"`, `"429"` (with `retry-after`),
    /// `"quota"`, `"daily_limit"`, `"drop"` (connection closed, nothing done), `"slow"`,
    /// `"lost"` (done, then the answer is lost). Default: 500, 503 and 429.
    pub kinds: Option<Vec<String>>,
    /// The delay advertised by injected 429s, in ms (default 100).
    pub retry_after_ms: Option<f64>,
    /// The delay of `"slow"` answers, in ms (default 1000).
    pub slow_ms: Option<f64>,
    /// At most this many faults in the emulator's life.
    pub max_faults: Option<f64>,
    /// Every job fails while running.
    pub fail_jobs: Option<bool>,
    /// Jobs still running this long after creation are cancelled, as if from outside.
    pub cancel_jobs_after_ms: Option<f64>,
    /// Uploaded files never leave the `uploaded` status.
    pub files_stuck_processing: Option<bool>,
}

fn fault_kind(name: &str, retry_after_ms: u64, slow_ms: u64) -> Result<emu::FaultKind> {
    Ok(match name {
        "500" => emu::FaultKind::InternalError,
        "503" => emu::FaultKind::Unavailable,
        "429" => emu::FaultKind::RateLimited { retry_after_ms },
        "quota" => emu::FaultKind::InsufficientQuota,
        "daily_limit" => emu::FaultKind::DailyRateLimit,
        "drop" => emu::FaultKind::DropConnection,
        "slow" => emu::FaultKind::Slow { delay_ms: slow_ms },
        "lost" => emu::FaultKind::LostResponse,
        other => {
            return Err(Error::new(
                Status::InvalidArg,
                format!("unknown fault kind {other:?}"),
            ))
        }
    })
}

fn to_options(o: Option<EmulatorOptions>) -> Result<emu::EmulatorOptions> {
    let Some(o) = o else {
        return Ok(emu::EmulatorOptions::default());
    };
    let mut faults = emu::FaultOptions::default();
    if let Some(f) = o.faults {
        let retry_after = f.retry_after_ms.unwrap_or(100.0) as u64;
        let slow = f.slow_ms.unwrap_or(1000.0) as u64;
        faults.seed = f.seed.unwrap_or(0.0) as u64;
        faults.rate = f.rate.unwrap_or(0.0);
        faults.endpoints = f.endpoints.unwrap_or_default();
        faults.kinds = f
            .kinds
            .unwrap_or_default()
            .iter()
            .map(|k| fault_kind(k, retry_after, slow))
            .collect::<Result<_>>()?;
        faults.max_faults = f.max_faults.map(|n| n as u64);
        faults.fail_jobs = f.fail_jobs.unwrap_or(false);
        faults.cancel_jobs_after_ms = f.cancel_jobs_after_ms.map(|n| n as u64);
        faults.files_stuck_processing = f.files_stuck_processing.unwrap_or(false);
    }
    Ok(emu::EmulatorOptions {
        port: o.port.map(|p| p as u16),
        api_key: o.api_key,
        job_duration_ms: o.job_duration_ms.map(|n| n as u64),
        organization: o.organization,
        faults,
    })
}

/// What the emulator has seen and done, for tests.
#[napi(object, object_from_js = false)]
pub struct EmulatorStats {
    /// Every HTTP request received (401s, 404s and faulted ones included).
    pub requests_total: f64,
    /// Requests per `"METHOD /route/pattern"`, e.g. `"POST /v1/files"`.
    pub requests: HashMap<String, f64>,
    /// Requests per endpoint name, e.g. `"files.create"`, `"jobs.retrieve"`.
    pub endpoints: HashMap<String, f64>,
    /// Requests that got an injected fault.
    pub faults_injected: f64,
    /// Injected faults per kind (`internal_error`, `rate_limited`, `lost_response`…).
    pub faults: HashMap<String, f64>,
    /// Injected faults per endpoint name.
    pub faults_by_endpoint: HashMap<String, f64>,
    /// Files created by clients (result files excluded).
    pub files_created: f64,
    pub files_deleted: f64,
    /// Files present now (result files included).
    pub files_live: f64,
    pub uploads_created: f64,
    /// Upload parts received.
    pub upload_parts_created: f64,
    pub uploads_completed: f64,
    pub uploads_cancelled: f64,
    /// Uploads neither completed, cancelled nor expired.
    pub uploads_pending: f64,
    pub jobs_created: f64,
    pub jobs_cancelled: f64,
    /// Jobs not yet final.
    pub jobs_active: f64,
    pub chat_completions: f64,
}

fn counts(m: std::collections::BTreeMap<String, u64>) -> HashMap<String, f64> {
    m.into_iter().map(|(k, v)| (k, v as f64)).collect()
}

impl From<emu::EmulatorStats> for EmulatorStats {
    fn from(s: emu::EmulatorStats) -> Self {
        EmulatorStats {
            requests_total: s.requests_total as f64,
            requests: counts(s.requests),
            endpoints: counts(s.endpoints),
            faults_injected: s.faults_injected as f64,
            faults: counts(s.faults),
            faults_by_endpoint: counts(s.faults_by_endpoint),
            files_created: s.files_created as f64,
            files_deleted: s.files_deleted as f64,
            files_live: s.files_live as f64,
            uploads_created: s.uploads_created as f64,
            upload_parts_created: s.upload_parts_created as f64,
            uploads_completed: s.uploads_completed as f64,
            uploads_cancelled: s.uploads_cancelled as f64,
            uploads_pending: s.uploads_pending as f64,
            jobs_created: s.jobs_created as f64,
            jobs_cancelled: s.jobs_cancelled as f64,
            jobs_active: s.jobs_active as f64,
            chat_completions: s.chat_completions as f64,
        }
    }
}

/// A running emulator. Close it when done (`await emulator.close()`), e.g. in Jest's `afterAll`.
#[napi]
pub struct Emulator {
    inner: Arc<emu::Emulator>,
}

#[napi]
impl Emulator {
    /// The base URL to use as `baseUrl` (or `OPENAI_BASE_URL`), e.g. `http://127.0.0.1:43123/v1`.
    #[napi(getter)]
    pub fn url(&self) -> String {
        self.inner.url()
    }

    /// The API key the emulator accepts.
    #[napi(getter)]
    pub fn api_key(&self) -> String {
        self.inner.api_key()
    }

    /// Counters for tests: requests, injected faults, files, uploads, parts and jobs created.
    #[napi]
    pub fn stats(&self) -> EmulatorStats {
        self.inner.stats().into()
    }

    /// Stops the server and frees its port and files.
    #[napi]
    pub async fn close(&self) -> Result<()> {
        self.inner.close().await;
        Ok(())
    }
}

/// Starts an OpenAI-compatible fine-tuning API on 127.0.0.1 (files, uploads, fine-tuning jobs,
/// events, checkpoints, chat completions), for offline runs, tests and CI. Jobs move
/// `validating_files → queued → running → succeeded` over `jobDurationMs`.
#[napi(ts_return_type = "Promise<Emulator>")]
pub fn start_emulator(env: Env, options: Option<EmulatorOptions>) -> Result<AsyncBlock<Emulator>> {
    let opts = to_options(options)?;
    AsyncBlockBuilder::build_with_map(
        &env,
        async move {
            emu::Emulator::start(opts).await.map_err(|e| {
                Error::new(
                    Status::GenericFailure,
                    format!("cannot start the emulator: {e}"),
                )
            })
        },
        |_, e| Ok(Emulator { inner: Arc::new(e) }),
    )
}
