//! The emulator's binding: `startEmulator` and its handle. The names, defaults and checks of
//! the options live in the emulator crate; this file only converts JavaScript values.

use std::collections::HashMap;
use std::sync::Arc;

use napi::bindgen_prelude::*;
use napi_derive::napi;

use fine_tune_core as core;
use fine_tune_emulator as emu;

/// Options of `startEmulator`. An unknown option is refused (`ERR_INVALID_OPTION`).
#[napi(object, object_to_js = false)]
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EmulatorOptions {
    /// Port on 127.0.0.1 (0 to 65535); default or 0: a free one.
    pub port: Option<f64>,
    /// The API key clients must send; default `sk-emulator`.
    pub api_key: Option<String>,
    /// How long a job takes from `validating_files` to `succeeded`, in ms (default 3000).
    pub job_duration_ms: Option<f64>,
    /// The organization in fine-tuned model names (default `org-emulator`).
    pub organization: Option<String>,
    /// Faults to inject, for testing clients under failure.
    pub faults: Option<EmulatorFaults>,
    /// Shutdown dates (`YYYY-MM-DD`) by model, served as `shutdown_date` by `GET /models`
    /// (Azure: `deprecation`). A model past its date answers no chat and cannot be fine-tuned;
    /// its fine-tuned models end with it.
    #[napi(ts_type = "Record<string, string> | null")]
    pub model_shutdown_dates: Option<HashMap<String, String>>,
    /// Refuse `POST /fine_tuning/jobs` as OpenAI's wind-down does for an organization that may
    /// no longer fine-tune (403).
    pub fine_tuning_unavailable: Option<bool>,
    /// A folder where files, Uploads, jobs and fine-tuned models are kept across restarts
    /// (`state.json` and `files/`; created if missing, never removed, the API key never
    /// written): an emulator started again on it serves them as before. Default: a temporary
    /// folder removed at `close()`. A state file that is corrupt or from a newer version
    /// rejects the start (`ERR_INVALID_OPTION`, `param: "stateDir"`).
    pub state_dir: Option<String>,
    /// Azure paths answer as they did before the emulator followed Azure's specs: any
    /// `api-version`, OpenAI's job statuses, fields and `ft:` ids on every `/openai` path,
    /// `/uploads` on `/openai/v1`, 200 on job creation, any control-plane `api-version`, no
    /// long-running operation headers, the `Developer` SKU. Default `false`: `/openai/v1/...`
    /// behaves as Azure's v1 API, `/openai/...?api-version=2024-10-21` and
    /// `2025-04-01-preview` as those dated APIs, `managementUrl` as Azure Resource Manager
    /// (see docs/emulator-azure.md).
    pub azure_lenient: Option<bool>,
    /// Chat rate limits, enforced (429 `rate_limit_exceeded` with `retry-after`) and reported
    /// in the `x-ratelimit-*` headers of every chat answer. Default: 10000 requests and
    /// 10000000 tokens per minute.
    pub rate_limits: Option<EmulatorRateLimits>,
}

/// Chat rate limits per minute, each a bucket that refills continuously.
#[napi(object, object_to_js = false)]
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EmulatorRateLimits {
    /// Requests per minute (1 or more; default 10000).
    pub requests_per_minute: Option<f64>,
    /// Prompt and completion tokens per minute (1 or more; default 10000000).
    pub tokens_per_minute: Option<f64>,
}

/// Seeded fault injection: the same seed and request order give the same faults.
#[napi(object, object_to_js = false)]
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EmulatorFaults {
    /// Seed of the random generator (default 0).
    pub seed: Option<f64>,
    /// Probability (0 to 1) that a request to a selected endpoint gets a fault (default 0).
    pub rate: Option<f64>,
    /// Endpoints subject to faults: `files.create`, `files.list`, `files.retrieve`,
    /// `files.delete`, `files.content`, `uploads.create`, `uploads.part`, `uploads.complete`,
    /// `uploads.cancel`, `jobs.create`, `jobs.list`, `jobs.retrieve`, `jobs.cancel`,
    /// `jobs.events`, `jobs.checkpoints`, `jobs.pause`, `jobs.resume`, `chat.completions`,
    /// `models.list`, `models.retrieve`. Default: all.
    pub endpoints: Option<Vec<String>>,
    /// Kinds drawn from when a fault hits: `"500"`, `"503"`, `"429"` (with `retry-after`),
    /// `"quota"`, `"daily_limit"`, `"drop"` (connection closed, nothing done), `"slow"`,
    /// `"lost"` (done, then the answer is lost), `"late"` (done at once, the answer delayed by
    /// `slowMs`). Default: 500, 503 and 429.
    pub kinds: Option<Vec<String>>,
    /// The delay advertised by injected 429s, in ms (default 100).
    pub retry_after_ms: Option<f64>,
    /// The delay of `"slow"` and `"late"` answers, in ms (default 1000).
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

fn invalid(name: &str, why: impl std::fmt::Display) -> core::Error {
    core::Error::new(
        core::ErrorCode::InvalidOption,
        format!("option {name}: {why}"),
    )
    .with_param(name)
}

/// The largest integer a JavaScript number holds exactly.
const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// A JavaScript number that must be a whole number from 0 to `max`.
fn whole(name: &str, v: Option<f64>, max: u64) -> core::Result<Option<u64>> {
    match v {
        None => Ok(None),
        Some(x) if x.is_finite() && x >= 0.0 && x.fract() == 0.0 && x <= max as f64 => {
            Ok(Some(x as u64))
        }
        Some(x) => Err(invalid(
            name,
            format!("must be a whole number from 0 to {max}, got {x}"),
        )),
    }
}

/// A JavaScript number that must be a whole number from 0 to `Number.MAX_SAFE_INTEGER`.
fn uint(name: &str, v: Option<f64>) -> core::Result<Option<u64>> {
    whole(name, v, MAX_SAFE_INTEGER)
}

fn to_fault_spec(f: EmulatorFaults) -> core::Result<emu::FaultSpec> {
    // No `..`: a field added to `EmulatorFaults` must be converted here.
    let EmulatorFaults {
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
    } = f;
    Ok(emu::FaultSpec {
        seed: uint("faults.seed", seed)?,
        rate,
        endpoints,
        kinds,
        retry_after_ms: uint("faults.retryAfterMs", retry_after_ms)?,
        slow_ms: uint("faults.slowMs", slow_ms)?,
        max_faults: uint("faults.maxFaults", max_faults)?,
        fail_jobs,
        cancel_jobs_after_ms: uint("faults.cancelJobsAfterMs", cancel_jobs_after_ms)?,
        files_stuck_processing,
    })
}

fn to_rate_limits(r: Option<EmulatorRateLimits>) -> core::Result<emu::RateLimits> {
    let d = emu::RateLimits::default();
    let Some(EmulatorRateLimits {
        requests_per_minute,
        tokens_per_minute,
    }) = r
    else {
        return Ok(d);
    };
    let positive = |name: &str, v: Option<f64>, default: u64| match uint(name, v)? {
        Some(0) => Err(invalid(name, "must be 1 or more, got 0")),
        Some(n) => Ok(n),
        None => Ok(default),
    };
    Ok(emu::RateLimits {
        requests_per_minute: positive(
            "rateLimits.requestsPerMinute",
            requests_per_minute,
            d.requests_per_minute,
        )?,
        tokens_per_minute: positive(
            "rateLimits.tokensPerMinute",
            tokens_per_minute,
            d.tokens_per_minute,
        )?,
    })
}

fn to_options(o: Option<EmulatorOptions>) -> core::Result<emu::EmulatorOptions> {
    let Some(o) = o else {
        return Ok(emu::EmulatorOptions::default());
    };
    // No `..`: a field added to `EmulatorOptions` must be converted here.
    let EmulatorOptions {
        port,
        api_key,
        job_duration_ms,
        organization,
        faults,
        model_shutdown_dates,
        fine_tuning_unavailable,
        state_dir,
        azure_lenient,
        rate_limits,
    } = o;
    if state_dir.as_deref() == Some("") {
        return Err(invalid(
            "stateDir",
            "must be a folder path, got an empty string",
        ));
    }
    if state_dir.as_deref().is_some_and(|d| d.contains('\0')) {
        return Err(invalid(
            "stateDir",
            "must be a folder path, got one holding a NUL character",
        ));
    }
    let mut dates = std::collections::BTreeMap::new();
    for (model, date) in model_shutdown_dates.unwrap_or_default() {
        if chrono_like_date(&date).is_none() {
            return Err(invalid(
                "modelShutdownDates",
                format!("the date of {model:?} must be YYYY-MM-DD, got {date:?}"),
            ));
        }
        dates.insert(model, date);
    }
    let faults = match faults {
        Some(f) => to_fault_spec(f)?,
        None => emu::FaultSpec::default(),
    };
    let faults = faults.resolve().map_err(|e| invalid(e.option, e.message))?;
    Ok(emu::EmulatorOptions {
        port: whole("port", port, u16::MAX.into())?.map(|p| p as u16),
        api_key,
        job_duration_ms: uint("jobDurationMs", job_duration_ms)?,
        organization,
        faults,
        model_shutdown_dates: dates,
        fine_tuning_unavailable: fine_tuning_unavailable.unwrap_or(false),
        state_dir: state_dir.map(std::path::PathBuf::from),
        azure_lenient: azure_lenient.unwrap_or(false),
        rate_limits: to_rate_limits(rate_limits)?,
    })
}

/// `YYYY-MM-DD` as (year, month, day), or `None`.
fn chrono_like_date(s: &str) -> Option<(u32, u32, u32)> {
    let mut it = s.split('-');
    let (y, m, d) = (it.next()?, it.next()?, it.next()?);
    if it.next().is_some() || y.len() != 4 || m.len() != 2 || d.len() != 2 {
        return None;
    }
    let (m, d): (u32, u32) = (m.parse().ok()?, d.parse().ok()?);
    ((1..=12).contains(&m) && (1..=31).contains(&d)).then_some((y.parse().ok()?, m, d))
}

/// Why the emulator could not start: a port that cannot be listened on is the caller's
/// option (`ERR_INVALID_OPTION`, `param: "port"`); anything else is `ERR_INTERNAL`.
fn start_error(e: emu::StartError) -> core::Error {
    match &e {
        emu::StartError::Listen { port, .. } if *port != 0 => invalid("port", &e),
        emu::StartError::State { .. } => invalid("stateDir", &e),
        _ => core::Error::new(core::ErrorCode::Internal, e.to_string()),
    }
}

/// What the emulator has seen and done, for tests.
#[napi(object, object_from_js = false)]
pub struct EmulatorStats {
    /// Every HTTP request received (401s, 404s and faulted ones included).
    pub requests_total: f64,
    /// Requests received and not answered yet (0: nothing sent before is still to land).
    pub requests_in_flight: f64,
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
        // No `..`: a counter added to the emulator must be exposed here.
        let emu::EmulatorStats {
            requests_total,
            requests_in_flight,
            requests,
            endpoints,
            faults_injected,
            faults,
            faults_by_endpoint,
            files_created,
            files_deleted,
            files_live,
            uploads_created,
            upload_parts_created,
            uploads_completed,
            uploads_cancelled,
            uploads_pending,
            jobs_created,
            jobs_cancelled,
            jobs_active,
            chat_completions,
        } = s;
        EmulatorStats {
            requests_total: requests_total as f64,
            requests_in_flight: requests_in_flight as f64,
            requests: counts(requests),
            endpoints: counts(endpoints),
            faults_injected: faults_injected as f64,
            faults: counts(faults),
            faults_by_endpoint: counts(faults_by_endpoint),
            files_created: files_created as f64,
            files_deleted: files_deleted as f64,
            files_live: files_live as f64,
            uploads_created: uploads_created as f64,
            upload_parts_created: upload_parts_created as f64,
            uploads_completed: uploads_completed as f64,
            uploads_cancelled: uploads_cancelled as f64,
            uploads_pending: uploads_pending as f64,
            jobs_created: jobs_created as f64,
            jobs_cancelled: jobs_cancelled as f64,
            jobs_active: jobs_active as f64,
            chat_completions: chat_completions as f64,
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

    /// The emulated Azure control plane (Azure Resource Manager's role): pass it as
    /// `azureDeployment.managementUrl`. It takes the API key as its Bearer (Entra ID) token.
    #[napi(getter)]
    pub fn management_url(&self) -> String {
        self.inner.management_url()
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

impl From<emu::Emulator> for Emulator {
    fn from(e: emu::Emulator) -> Self {
        Emulator { inner: Arc::new(e) }
    }
}

/// Starts an OpenAI-compatible fine-tuning API on 127.0.0.1 (files, uploads, fine-tuning jobs,
/// events, checkpoints, chat completions), for offline runs, tests and CI. Jobs move
/// `validating_files → queued → running → succeeded` over `jobDurationMs`.
///
/// Rejects with `code: "ERR_INVALID_OPTION"` and `param` naming the option for a bad option
/// (e.g. `param: "faults.kinds"` for an unknown fault kind, `param: "port"` for a port out of
/// range, in use or not permitted), and with `code: "ERR_INTERNAL"` when the emulator cannot
/// start for another reason (the system's error is in the message).
#[napi(
    ts_args_type = "options?: EmulatorOptions | undefined | null",
    ts_return_type = "Promise<Emulator>"
)]
pub fn start_emulator(env: Env, options: Option<Object>) -> Result<AsyncBlock<Emulator>> {
    // Read the options here rather than in napi's argument conversion, so that a value of the
    // wrong type or an unknown key rejects with ERR_INVALID_OPTION naming it, like every other
    // bad option: the safe reader makes a plain copy (no getters, cycles or non-finite
    // numbers), which serde then reads.
    let opts = crate::read::options_object(&env, options)
        .and_then(|o| {
            let Some(o) = o else { return Ok(None) };
            let json = crate::convert::options_json(&env, Some(&o), &[])?;
            core::options::from_json_object::<EmulatorOptions>(json, "options").map(Some)
        })
        .and_then(to_options);
    crate::settle(&env, async move {
        emu::Emulator::start(opts?).await.map_err(start_error)
    })
}
