//! The journal of in-flight runs, beside the registry in `.runs/` (never in `models.json`, which
//! holds only finished models, so TaskForce never sees a half-made entry).
//!
//! One JSON file per modelKey records the run's options digest, data digest, uploaded file ids
//! and job id as soon as each exists, so a killed process loses nothing: calling again with the
//! same modelKey and options resumes. A lock file per modelKey, held for the whole run, makes
//! sure only one process runs a modelKey at a time; the kernel drops it when the process dies.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use fs4::FileExt;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::calc::azure_api::key_marker;
use crate::types::error::{Error, ErrorCode, Result};

/// What is known about one in-flight run.
#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RunRecord {
    pub model_key: String,
    /// Our id for the run, sent as the job's `metadata.run_id` so a lost answer can be found.
    pub run_id: String,
    pub options_digest: String,
    #[serde(default)]
    pub data_digest: Option<String>,
    /// The digest of what the job is (modelKey, options, data), sent as the job's
    /// `metadata.idempotency_key`: every process and machine training the same thing finds the
    /// same job.
    #[serde(default)]
    pub idempotency_key: Option<String>,
    /// Every file this run knows it created (journaled as soon as an answer names it), so
    /// that the ones the job does not use are deleted when the run ends. Files whose answer
    /// was lost are found by their name, which starts with [`RunRecord::upload_prefix`].
    #[serde(default)]
    pub uploaded_files: Vec<String>,
    /// The files (`source`, `validation`) whose upload request was sent: a file of the run's
    /// name whose answer was lost is looked for on resume before uploading again.
    #[serde(default)]
    pub files_requested: Vec<String>,
    /// Uploads (Uploads API) this run started and no longer needs: cancelled when it ends.
    #[serde(default)]
    pub stale_uploads: Vec<String>,
    pub agent_name: String,
    pub base_model: String,
    pub suffix: String,
    pub base_url: String,
    /// Azure OpenAI's `api-version`, for a run against Azure.
    #[serde(default)]
    pub api_version: Option<String>,
    #[serde(default)]
    pub training_file_id: Option<String>,
    #[serde(default)]
    pub validation_file_id: Option<String>,
    /// Uploads API state per file (`source`, `validation`), so a resumed run sends only the
    /// missing parts while the Upload lives.
    #[serde(default)]
    pub uploads: std::collections::BTreeMap<String, UploadState>,
    /// Set just before the create-job request is sent.
    #[serde(default)]
    pub job_requested: bool,
    #[serde(default)]
    pub job_id: Option<String>,
    pub started_at: String,
}

impl RunRecord {
    /// The start of the name of every file this run uploads (unique to the run).
    pub fn upload_prefix(&self) -> String {
        format!("ft-{}-", &self.run_id)
    }

    /// The name `param`'s file (`source`, `validation`) is uploaded under: unique to the run,
    /// so that a file whose answer was lost is found exactly, and holding the run's
    /// idempotency key (`calc::azure_api::key_marker`), so that another machine finds the job
    /// training on it where jobs keep no metadata.
    pub fn upload_name(&self, param: &str, filename: &str) -> String {
        let what = if param == "validation" {
            "valid"
        } else {
            "train"
        };
        let key = self
            .idempotency_key
            .as_deref()
            .map(key_marker)
            .unwrap_or_else(|| "-".into());
        format!("{}{what}{key}{filename}", self.upload_prefix())
    }

    /// Notes a file this run created (once).
    /// Whether this run may have created something (a file, an upload, a job) and so may
    /// have spent money: a run that did not is discarded when a call with other options or
    /// other data comes for its modelKey.
    pub fn may_have_spent(&self) -> bool {
        self.job_requested
            || self.job_id.is_some()
            || !self.uploaded_files.is_empty()
            || !self.files_requested.is_empty()
            || !self.stale_uploads.is_empty()
            || !self.uploads.is_empty()
            || self.training_file_id.is_some()
            || self.validation_file_id.is_some()
    }

    pub fn note_file(&mut self, id: &str) {
        if !self.uploaded_files.iter().any(|f| f == id) {
            self.uploaded_files.push(id.to_string());
        }
    }
}

/// A multipart upload in progress.
#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct UploadState {
    pub upload_id: String,
    pub part_bytes: u64,
    pub total_bytes: u64,
    /// One entry per part, `None` until that part is accepted.
    pub part_ids: Vec<Option<String>>,
    /// When the Upload expires (Unix seconds).
    #[serde(default)]
    pub expires_at: Option<i64>,
}

/// The journal folder of one registry.
#[derive(Debug, Clone)]
pub struct Journal {
    dir: PathBuf,
}

/// Holds a modelKey's run lock until dropped; dropping it removes the lock file (while still
/// holding the lock, so that nobody can be holding a lock on it).
pub struct RunLock {
    file: File,
    path: PathBuf,
}

impl Drop for RunLock {
    fn drop(&mut self) {
        // Only where an open file can be unlinked. Another process that opened this file
        // before the unlink finds, once it holds the lock, that the path no longer names its
        // file, and starts again (see `Journal::try_lock`).
        #[cfg(unix)]
        if same_file(&self.file, &self.path) {
            let _ = std::fs::remove_file(&self.path);
        }
        let _ = &self.file;
    }
}

/// Whether `path` still names the open `file` (same device and inode).
#[cfg(unix)]
fn same_file(file: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), std::fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn same_file(_file: &File, _path: &Path) -> bool {
    true
}

fn io_err(what: &str, path: &Path, e: std::io::Error) -> Error {
    Error::new(
        ErrorCode::RegistryIo,
        format!("cannot {what} {}: {e}", path.display()),
    )
}

/// A file name stem for a modelKey that cannot leave the folder: its safe characters plus a
/// digest of the whole key.
pub fn file_stem(model_key: &str) -> String {
    let safe: String = model_key
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .take(48)
        .collect();
    let digest = Sha256::digest(model_key.as_bytes());
    let hex: String = digest[..6].iter().map(|b| format!("{b:02x}")).collect();
    format!("{safe}-{hex}")
}

impl Journal {
    /// The journal beside the registry folder `registry_dir`.
    pub fn new(registry_dir: &Path) -> Journal {
        Journal {
            dir: registry_dir.join(".runs"),
        }
    }

    /// The folder (temporary downloads go here too).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn record_path(&self, key: &str) -> PathBuf {
        self.dir.join(format!("{}.json", file_stem(key)))
    }

    /// Removes the temporary files (`.run.XXXXXX.tmp`) a process killed in the middle of a
    /// [`Journal::save`] left behind. A file younger than a minute may be another process's
    /// save in progress: it is kept.
    pub fn sweep_stale_temps(&self) {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return;
        };
        let minute = std::time::Duration::from_secs(60);
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if !(name.starts_with(".run.") && name.ends_with(".tmp")) {
                continue;
            }
            let old = entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age >= minute);
            if old {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }

    /// Takes the run lock of `key` without waiting: `ERR_MODEL_KEY_IN_PROGRESS` if another
    /// process (or call) holds it. Stale temporary files of the journal are removed first.
    pub fn try_lock(&self, key: &str) -> Result<RunLock> {
        std::fs::create_dir_all(&self.dir).map_err(|e| io_err("create", &self.dir, e))?;
        self.sweep_stale_temps();
        let path = self.dir.join(format!("{}.lock", file_stem(key)));
        // A lock file is removed by its holder when the run ends; a file opened just before
        // that is no longer at the path once locked: then open the path again.
        for _ in 0..100 {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .truncate(false)
                .read(true)
                .write(true)
                .open(&path)
                .map_err(|e| io_err("open", &path, e))?;
            match FileExt::try_lock(&file) {
                Ok(()) if same_file(&file, &path) => return Ok(RunLock { file, path }),
                Ok(()) => continue,
                Err(fs4::TryLockError::WouldBlock) => return Err(Error::new(
                    ErrorCode::ModelKeyInProgress,
                    format!("a run for modelKey {key:?} is already in progress in another call or process; wait for it, or cancel it with cancelFineTune"),
                )
                .with_param("modelKey")),
                Err(fs4::TryLockError::Error(e)) => return Err(io_err("lock", &path, e)),
            }
        }
        Err(io_err(
            "lock",
            &path,
            std::io::Error::other("the lock file kept being replaced"),
        ))
    }

    /// The record of `key`, if a run is in flight.
    pub fn load(&self, key: &str) -> Result<Option<RunRecord>> {
        let path = self.record_path(key);
        match std::fs::read(&path) {
            Ok(bytes) => match serde_json::from_slice(&bytes) {
                Ok(r) => Ok(Some(r)),
                // Written atomically, so this only happens if someone edited it.
                Err(e) => Err(Error::new(
                    ErrorCode::RegistryCorrupt,
                    format!("the run journal {} is not valid: {e}", path.display()),
                )),
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_err("read", &path, e)),
        }
    }

    /// Writes the record atomically (temporary file, fsync, rename).
    pub fn save(&self, rec: &RunRecord) -> Result<()> {
        std::fs::create_dir_all(&self.dir).map_err(|e| io_err("create", &self.dir, e))?;
        let path = self.record_path(&rec.model_key);
        let mut tmp = tempfile::Builder::new()
            .prefix(".run.")
            .suffix(".tmp")
            .tempfile_in(&self.dir)
            .map_err(|e| io_err("create a temporary file in", &self.dir, e))?;
        let text = serde_json::to_vec_pretty(rec)
            .map_err(|e| Error::new(ErrorCode::Internal, e.to_string()))?;
        tmp.write_all(&text)
            .and_then(|_| tmp.as_file().sync_all())
            .map_err(|e| io_err("write", tmp.path(), e))?;
        tmp.persist(&path)
            .map_err(|e| io_err("replace", &path, e.error))?;
        if let Ok(d) = File::open(&self.dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }

    /// Removes the record of a finished run.
    pub fn remove(&self, key: &str) -> Result<()> {
        let path = self.record_path(key);
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_err("remove", &path, e)),
        }
    }

    /// Every in-flight record.
    pub fn list(&self) -> Result<Vec<RunRecord>> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_err("read", &self.dir, e)),
        };
        let mut out = Vec::new();
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.ends_with(".json") && !name.starts_with('.') {
                if let Ok(bytes) = std::fs::read(entry.path()) {
                    if let Ok(r) = serde_json::from_slice::<RunRecord>(&bytes) {
                        out.push(r);
                    }
                }
            }
        }
        out.sort_by(|a, b| a.started_at.cmp(&b.started_at));
        Ok(out)
    }
}

/// The SHA-256 of the files' bytes, in order (streamed; memory stays flat). Blocking.
pub fn data_digest(paths: &[&Path]) -> std::io::Result<String> {
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    for p in paths {
        let mut f = File::open(p)?;
        loop {
            let n = std::io::Read::read(&mut f, &mut buf)?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
        }
        h.update([0u8]);
    }
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_start_removes_stale_journal_temp_files_only() {
        let dir = tempfile::tempdir().unwrap();
        let j = Journal::new(dir.path());
        std::fs::create_dir_all(j.dir()).unwrap();
        let old = j.dir().join(".run.abc123.tmp");
        let fresh = j.dir().join(".run.def456.tmp");
        let other = j.dir().join("notes.tmp");
        for p in [&old, &fresh, &other] {
            std::fs::write(p, b"{").unwrap();
        }
        let hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
        for p in [&old, &other] {
            File::options()
                .write(true)
                .open(p)
                .unwrap()
                .set_modified(hour_ago)
                .unwrap();
        }
        let _lock = j.try_lock("k").unwrap();
        assert!(!old.exists());
        assert!(fresh.exists() && other.exists());
    }

    #[test]
    fn stems_stay_in_the_folder() {
        for k in ["../../etc/passwd", "a/b", "..", "x"] {
            let s = file_stem(k);
            assert!(!s.contains('/') && !s.contains(".."), "{s}");
        }
        assert_ne!(file_stem("a/b"), file_stem("ab"));
    }

    #[test]
    fn one_lock_holder_at_a_time() {
        let dir = tempfile::tempdir().unwrap();
        let j = Journal::new(dir.path());
        let held = j.try_lock("k").unwrap();
        assert_eq!(
            j.try_lock("k").err().unwrap().code,
            ErrorCode::ModelKeyInProgress
        );
        assert!(j.try_lock("other").is_ok());
        drop(held);
        assert!(j.try_lock("k").is_ok());
    }

    #[test]
    fn lock_files_are_removed_when_runs_end_and_a_stale_open_file_is_not_trusted() {
        let dir = tempfile::tempdir().unwrap();
        let j = Journal::new(dir.path());
        let locks = || {
            std::fs::read_dir(j.dir())
                .unwrap()
                .filter(|e| {
                    e.as_ref()
                        .unwrap()
                        .file_name()
                        .to_string_lossy()
                        .ends_with(".lock")
                })
                .count()
        };
        for k in ["a", "b", "c"] {
            drop(j.try_lock(k).unwrap());
        }
        assert_eq!(locks(), 0, "lock files pile up");
        // A process that opened the lock file just before its holder removed it: locking that
        // file must not count as holding the modelKey.
        let held = j.try_lock("k").unwrap();
        let path = j.dir().join(format!("{}.lock", file_stem("k")));
        let stale = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .unwrap();
        drop(held); // removes the file
        FileExt::try_lock(&stale).unwrap(); // the stale file locks fine…
        let mine = j.try_lock("k").unwrap(); // …but the lock is taken on a new file
        assert!(path.exists());
        assert_eq!(
            j.try_lock("k").err().unwrap().code,
            ErrorCode::ModelKeyInProgress
        );
        drop(mine);
        drop(stale);
        assert_eq!(locks(), 0);
    }

    #[test]
    fn records_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let j = Journal::new(dir.path());
        let rec = RunRecord {
            model_key: "k".into(),
            run_id: "r".into(),
            job_id: Some("ftjob-1".into()),
            ..Default::default()
        };
        j.save(&rec).unwrap();
        assert_eq!(j.load("k").unwrap(), Some(rec));
        assert_eq!(j.list().unwrap().len(), 1);
        j.remove("k").unwrap();
        assert_eq!(j.load("k").unwrap(), None);
    }
}
