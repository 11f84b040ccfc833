//! An OpenAI-compatible fine-tuning API served on 127.0.0.1.
//!
//! The emulator follows OpenAI's OpenAPI spec for the Files, Uploads and fine-tuning jobs
//! APIs (plus a canned `POST /chat/completions`) under `/v1`, and Azure OpenAI's specs under
//! `/openai/v1` (Azure's v1 API) and `/openai?api-version=…` (the dated APIs 2024-10-21 and
//! 2025-04-01-preview), each with its own capabilities (see `docs/emulator-azure.md`), plus
//! Azure's control plane for deployments under `/management`. Jobs progress with time: their status,
//! events, checkpoints and results are computed from elapsed time at each read. Faults can be
//! injected per request with a seeded random generator (see [`FaultOptions`]).
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! let emu = fine_tune_emulator::Emulator::start(Default::default()).await?;
//! println!("{} {}", emu.url(), emu.api_key());
//! emu.close().await;
//! # Ok(()) }
//! ```

mod azure;
mod chat;
mod deployments;
mod errors;
mod faults;
mod files;
mod job_params;
mod jobs;
mod learned;
mod models;
mod persist;
mod ratelimit;
mod server;
mod state;
mod training;
mod uploads;
mod util;

pub use faults::{
    FaultKind, FaultOptions, FaultSpec, OptionError, DEFAULT_RETRY_AFTER_MS, DEFAULT_SLOW_MS,
    ENDPOINTS,
};
pub use ratelimit::{RateLimits, DEFAULT_REQUESTS_PER_MINUTE, DEFAULT_TOKENS_PER_MINUTE};
pub use state::EmulatorStats;

use faults::FaultInjector;
use state::{lock, AppState, Inner, Store};
use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Default API key.
pub const DEFAULT_API_KEY: &str = "sk-emulator";
/// Default organization id.
pub const DEFAULT_ORGANIZATION: &str = "org-emulator";
/// Default duration of a successful job, in milliseconds.
pub const DEFAULT_JOB_DURATION_MS: u64 = 3000;

/// How to start an [`Emulator`].
#[derive(Debug, Clone, Default)]
pub struct EmulatorOptions {
    /// Port on 127.0.0.1; `None` or `0`: a free port.
    pub port: Option<u16>,
    /// The accepted API key (default [`DEFAULT_API_KEY`]).
    pub api_key: Option<String>,
    /// Time from creation to success of a job (default [`DEFAULT_JOB_DURATION_MS`]):
    /// `validating_files` 10 %, `queued` 10 %, `running` 80 %.
    pub job_duration_ms: Option<u64>,
    /// Organization id (default [`DEFAULT_ORGANIZATION`]), used in fine-tuned model names and
    /// in jobs' `organization_id`.
    pub organization: Option<String>,
    /// Fault injection (default: none).
    pub faults: FaultOptions,
    /// Shutdown dates (`YYYY-MM-DD`) of models, served as `shutdown_date` by `GET /models`
    /// (Azure: `deprecation.inference`). A model past its date answers no chat and can no
    /// longer be fine-tuned; its fine-tuned models end with it.
    pub model_shutdown_dates: std::collections::BTreeMap<String, String>,
    /// `POST /fine_tuning/jobs` is refused as OpenAI's wind-down notice describes: 403,
    /// `permission_denied`, for an organization no longer allowed to fine-tune.
    pub fine_tuning_unavailable: bool,
    /// A folder where files (contents included), Uploads, jobs, deployments and deleted models
    /// are kept across restarts: `state.json` (rewritten after every request that may change
    /// something, and at close; never the API key) and `files/`. Created if missing, never
    /// removed. Default: a temporary folder removed at close.
    pub state_dir: Option<std::path::PathBuf>,
    /// Azure paths behave as before the emulator followed Azure's specs: any `api-version`,
    /// OpenAI's job statuses, ids and fields on every `/openai` path, `/uploads` on v1, 200 on
    /// job creation, any control-plane `api-version`, no long-running operation headers, the
    /// `Developer` SKU. Off by default: Azure paths answer as Azure's specs say.
    pub azure_lenient: bool,
    /// Chat rate limits (requests and tokens per minute), enforced and reported in the
    /// `x-ratelimit-*` headers of every chat answer. Default: [`RateLimits::default`].
    pub rate_limits: RateLimits,
}

/// Why [`Emulator::start`] failed.
#[derive(Debug)]
pub enum StartError {
    /// 127.0.0.1:`port` cannot be listened on (in use, or not permitted); `port` 0: no free
    /// port was given by the system.
    Listen {
        /// The port asked for (0: any free port).
        port: u16,
        /// The system's error.
        source: std::io::Error,
    },
    /// Another local failure (e.g. the temporary folder cannot be created).
    Io(std::io::Error),
    /// The state file of [`EmulatorOptions::state_dir`] cannot be used (unreadable, corrupt,
    /// or written by a newer emulator). Nothing was changed.
    State {
        /// The state file.
        path: std::path::PathBuf,
        /// Why.
        message: String,
    },
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartError::Listen { port: 0, source } => {
                write!(f, "cannot listen on a free port of 127.0.0.1: {source}")
            }
            StartError::Listen { port, source } => {
                write!(f, "cannot listen on 127.0.0.1:{port}: {source}")
            }
            StartError::Io(e) => write!(f, "cannot start the emulator: {e}"),
            StartError::State { path, message } => write!(
                f,
                "cannot start the emulator on the state file {}: {message}",
                path.display()
            ),
        }
    }
}

impl std::error::Error for StartError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StartError::Listen { source, .. } | StartError::Io(source) => Some(source),
            StartError::State { .. } => None,
        }
    }
}

impl From<StartError> for std::io::Error {
    fn from(e: StartError) -> Self {
        let kind = match &e {
            StartError::Listen { source, .. } | StartError::Io(source) => source.kind(),
            StartError::State { .. } => std::io::ErrorKind::InvalidData,
        };
        std::io::Error::new(kind, e.to_string())
    }
}

/// A running emulator. Stop it with [`Emulator::close`]; dropping it also stops the server
/// (without waiting).
pub struct Emulator {
    addr: SocketAddr,
    state: AppState,
    shutdown: watch::Sender<bool>,
    server: tokio::sync::Mutex<Option<JoinHandle<()>>>,
}

impl Emulator {
    /// Binds 127.0.0.1 and spawns the server on the current tokio runtime.
    pub async fn start(options: EmulatorOptions) -> Result<Emulator, StartError> {
        // The state first: a state file that cannot be used stops the start before any port.
        let (tempdir, dir, store) = match &options.state_dir {
            Some(state_dir) => {
                let dir = state_dir.join(persist::CONTENT_DIR);
                std::fs::create_dir_all(&dir).map_err(StartError::Io)?;
                let store = persist::load(state_dir, &dir)?;
                (None, dir, store)
            }
            None => {
                let tempdir = tempfile::Builder::new()
                    .prefix("fine-tune-emulator-")
                    .tempdir()
                    .map_err(StartError::Io)?;
                let dir = tempdir.path().to_path_buf();
                (Some(tempdir), dir, Store::default())
            }
        };
        let port = options.port.unwrap_or(0);
        let listener = tokio::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port)))
            .await
            .map_err(|source| StartError::Listen { port, source })?;
        let addr = listener.local_addr().map_err(StartError::Io)?;
        let state = AppState(Arc::new(Inner {
            api_key: options
                .api_key
                .unwrap_or_else(|| DEFAULT_API_KEY.to_string()),
            organization: options
                .organization
                .unwrap_or_else(|| DEFAULT_ORGANIZATION.to_string()),
            job_duration_ms: options.job_duration_ms.unwrap_or(DEFAULT_JOB_DURATION_MS),
            injector: Mutex::new(FaultInjector::new(options.faults.clone())),
            faults: options.faults,
            model_shutdown_dates: options.model_shutdown_dates,
            fine_tuning_unavailable: options.fine_tuning_unavailable,
            store: Mutex::new(store),
            stats: Mutex::new(EmulatorStats::default()),
            dir,
            tempdir: Mutex::new(tempdir),
            state_dir: options.state_dir,
            save_lock: Mutex::new(None),
            learned: Mutex::new(Default::default()),
            azure_lenient: options.azure_lenient,
            rate_limiter: ratelimit::RateLimiter::new(options.rate_limits),
        }));
        let (shutdown, rx) = watch::channel(false);
        let app = server::router(state.clone());
        let handle = tokio::spawn(server::serve(listener, app, rx));
        Ok(Emulator {
            addr,
            state,
            shutdown,
            server: tokio::sync::Mutex::new(Some(handle)),
        })
    }

    /// The base URL, `http://127.0.0.1:PORT/v1`.
    pub fn url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// The base URL of the emulated Azure control plane (Azure Resource Manager's role,
    /// `https://management.azure.com` in Azure): `http://127.0.0.1:PORT/management`. It takes
    /// the API key as its Bearer (Entra ID) token.
    pub fn management_url(&self) -> String {
        format!("http://{}{}", self.addr, deployments::MANAGEMENT_PREFIX)
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The accepted API key.
    pub fn api_key(&self) -> String {
        self.state.0.api_key.clone()
    }

    /// Counters for tests.
    pub fn stats(&self) -> EmulatorStats {
        self.state.snapshot()
    }

    /// Stops the server: closes the listener, lets open connections finish (3 s at most),
    /// removes the emulator's temporary files (with a `state_dir`: saves the state, keeps the
    /// folder). Idempotent; returns when all is stopped.
    pub async fn close(&self) {
        let _ = self.shutdown.send(true);
        let mut server = self.server.lock().await;
        if let Some(handle) = server.take() {
            let _ = handle.await;
            persist::save(&self.state).await;
            let dir = lock(&self.state.0.tempdir).take();
            if let Some(dir) = dir {
                let _ = dir.close();
            }
        }
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync + 'static>() {}

    #[test]
    fn public_types_are_thread_safe() {
        assert_send_sync::<Emulator>();
        assert_send_sync::<EmulatorOptions>();
        assert_send_sync::<EmulatorStats>();
        assert_send_sync::<StartError>();
    }

    #[tokio::test]
    async fn a_port_in_use_is_a_listen_error() {
        let emu = Emulator::start(EmulatorOptions::default()).await.unwrap();
        let port = emu.port();
        let err = Emulator::start(EmulatorOptions {
            port: Some(port),
            ..Default::default()
        })
        .await
        .err()
        .expect("the port is taken");
        match &err {
            StartError::Listen { port: p, source } => {
                assert_eq!(*p, port);
                assert_eq!(source.kind(), std::io::ErrorKind::AddrInUse);
            }
            other => panic!("{other:?}"),
        }
        assert!(err
            .to_string()
            .starts_with(&format!("cannot listen on 127.0.0.1:{port}: ")));
        assert_eq!(
            std::io::Error::from(err).kind(),
            std::io::ErrorKind::AddrInUse
        );
        emu.close().await;
    }

    #[tokio::test]
    async fn close_removes_the_temporary_folder() {
        let emu = Emulator::start(EmulatorOptions::default()).await.unwrap();
        let dir = emu.state.0.dir.clone();
        assert!(dir.is_dir());
        emu.close().await;
        assert!(!dir.exists());
    }

    #[test]
    fn uploads_expire_after_an_hour() {
        let u = uploads::UploadRecord {
            id: "upload_x".into(),
            created_ms: 0,
            filename: "f".into(),
            purpose: "fine-tune".into(),
            bytes: 1,
            status: "pending",
            expires_at: 3600,
            parts: Default::default(),
            completing: false,
            file: None,
            dir: std::path::PathBuf::new(),
        };
        assert_eq!(u.status_at(3_599_999), "pending");
        assert_eq!(u.status_at(3_600_000), "expired");
        assert_eq!(u.to_json(3_600_000)["status"], "expired");
    }
}
