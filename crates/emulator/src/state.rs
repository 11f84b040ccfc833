//! Shared server state: options, the object store (files, uploads, jobs), counters.

use crate::faults::{FaultInjector, FaultOptions};
use crate::files::FileRecord;
use crate::jobs::JobRecord;
use crate::uploads::UploadRecord;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

/// Counters and gauges for tests, as returned by [`crate::Emulator::stats`].
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct EmulatorStats {
    /// Every HTTP request received (including 401s, 404s and faulted ones).
    pub requests_total: u64,
    /// Requests received and not answered yet, now: a handler still running (a slow or late
    /// fault included). One whose client went away stops counting once the server drops it. A
    /// test waits for 0 to know that nothing sent before is still to land.
    pub requests_in_flight: u64,
    /// Requests per `"METHOD /route/pattern"`, e.g. `"POST /v1/files"`, `"GET /v1/fine_tuning/jobs/{job_id}"`.
    pub requests: BTreeMap<String, u64>,
    /// Requests per endpoint name, e.g. `"files.create"`, `"jobs.retrieve"`.
    pub endpoints: BTreeMap<String, u64>,
    /// Requests that got an injected fault.
    pub faults_injected: u64,
    /// Injected faults per kind name (`internal_error`, `rate_limited`, `lost_response`…).
    pub faults: BTreeMap<String, u64>,
    /// Injected faults per endpoint name.
    pub faults_by_endpoint: BTreeMap<String, u64>,
    /// Files created by clients (`POST /files` and completed Uploads); result files excluded.
    pub files_created: u64,
    /// Files deleted by clients.
    pub files_deleted: u64,
    /// Files present now (result files included).
    pub files_live: u64,
    /// Uploads created.
    pub uploads_created: u64,
    /// Upload parts received.
    pub upload_parts_created: u64,
    /// Uploads completed.
    pub uploads_completed: u64,
    /// Uploads cancelled.
    pub uploads_cancelled: u64,
    /// Uploads still `pending` (neither completed, cancelled nor expired) now.
    pub uploads_pending: u64,
    /// Fine-tuning jobs created.
    pub jobs_created: u64,
    /// Fine-tuning jobs cancelled through the API.
    pub jobs_cancelled: u64,
    /// Fine-tuning jobs not yet in a final state now.
    pub jobs_active: u64,
    /// Chat completions answered.
    pub chat_completions: u64,
}

/// All objects served by the emulator.
#[derive(Debug, Default, Clone, Serialize, serde::Deserialize)]
pub(crate) struct Store {
    /// Monotonic sequence, to order objects created within the same second.
    pub seq: u64,
    /// Files by id.
    pub files: HashMap<String, FileRecord>,
    /// Uploads by id.
    pub uploads: HashMap<String, UploadRecord>,
    /// Fine-tuning jobs by id.
    pub jobs: HashMap<String, JobRecord>,
    /// Azure deployments by ARM path (lower case).
    pub deployments: HashMap<String, crate::deployments::DeploymentRecord>,
    /// Fine-tuned models deleted through `DELETE /models/{model}`.
    pub deleted_models: std::collections::HashSet<String>,
    /// Azure control-plane long-running operations by id.
    #[serde(default)]
    pub operations: HashMap<String, crate::deployments::OperationRecord>,
}

impl Store {
    /// The next sequence number.
    pub fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }
}

/// Server state shared by all handlers.
#[derive(Clone)]
pub(crate) struct AppState(pub Arc<Inner>);

/// The contents of [`AppState`].
pub(crate) struct Inner {
    /// The only accepted API key.
    pub api_key: String,
    /// Organization id used in model names and jobs.
    pub organization: String,
    /// Duration of a successful job, in milliseconds.
    pub job_duration_ms: u64,
    /// Fault settings (job knobs are read from here).
    pub faults: FaultOptions,
    /// Models' shutdown dates (`YYYY-MM-DD`).
    pub model_shutdown_dates: BTreeMap<String, String>,
    /// Job creation is refused (the wind-down).
    pub fine_tuning_unavailable: bool,
    /// Per-request fault decisions.
    pub injector: Mutex<FaultInjector>,
    /// Objects.
    pub store: Mutex<Store>,
    /// Counters.
    pub stats: Mutex<EmulatorStats>,
    /// Folder holding file contents and upload parts (inside `tempdir`, or `state_dir/files`).
    pub dir: PathBuf,
    /// The temporary folder, removed when taken out and dropped at close (none with a
    /// `state_dir`).
    pub tempdir: Mutex<Option<tempfile::TempDir>>,
    /// Where the store is kept across restarts (`state.json`), if anywhere.
    pub state_dir: Option<PathBuf>,
    /// Held while `state.json` is written: the text last written (unchanged text is not
    /// written again).
    pub save_lock: Mutex<Option<String>>,
    /// What each fine-tuned model learned, read once from its training file.
    pub learned: Mutex<crate::learned::LearnedCache>,
    /// Azure paths behave as before the emulator followed Azure's specs.
    pub azure_lenient: bool,
    /// Chat rate limits.
    pub rate_limiter: crate::ratelimit::RateLimiter,
}

/// Locks a mutex, recovering from poisoning (a panicking handler must not wedge the emulator).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl AppState {
    /// Locks the store after bringing time-driven state up to date (finished jobs get their
    /// result files).
    pub fn store(&self) -> MutexGuard<'_, Store> {
        let mut store = lock(&self.0.store);
        crate::jobs::advance(self, &mut store, crate::util::now_ms());
        store
    }

    /// Updates the counters.
    pub fn count(&self, f: impl FnOnce(&mut EmulatorStats)) {
        f(&mut lock(&self.0.stats));
    }

    /// A snapshot of the counters with the gauges filled in.
    pub fn snapshot(&self) -> EmulatorStats {
        let now = crate::util::now_ms();
        let (files_live, uploads_pending, jobs_active) = {
            let store = self.store();
            (
                store.files.len() as u64,
                store
                    .uploads
                    .values()
                    .filter(|u| u.status_at(now) == "pending")
                    .count() as u64,
                store.jobs.values().filter(|j| !j.is_final(now)).count() as u64,
            )
        };
        let mut s = lock(&self.0.stats).clone();
        s.files_live = files_live;
        s.uploads_pending = uploads_pending;
        s.jobs_active = jobs_active;
        s
    }
}
