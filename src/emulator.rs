//! The emulator's binding: `startEmulator` and its handle.

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
            emu::Emulator::start(opts)
                .await
                .map_err(|e| Error::new(Status::GenericFailure, format!("cannot start the emulator: {e}")))
        },
        |_, e| {
            Ok(Emulator {
                inner: Arc::new(e),
            })
        },
    )
}
