//! `fine-tuned/models.json`: a flat JSON object keyed by modelKey, read by TaskForce's loader.
//!
//! Every write holds an exclusive lock (`models.json.lock`, `flock(2)` through fs4, released by
//! the kernel if the process dies, so a dead process never blocks anyone), re-reads the file
//! under the lock, and replaces it atomically: a temporary file in the same folder, fsync,
//! rename, fsync of the folder. Other entries are kept as they were (key order included), and a
//! crash leaves the old file or the new one, never a half-written one. A file that is not a
//! JSON object is never overwritten.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use fs4::FileExt;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{Error, ErrorCode, Result};

/// One entry of `models.json`, keyed by its modelKey: `model` is what TaskForce's loader reads,
/// `fineTune` how this library trained it. Fields this type does not know (TaskForce's own, a
/// user's hand edits) are kept in `extra` at every level and written back as they were.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegistryEntry {
    #[serde(default)]
    pub model: ModelRef,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fine_tune: Option<FineTuneRecord>,
    /// Every version of the key once it has more than one (see [`crate::versions`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub versions: Vec<crate::versions::ModelVersion>,
    /// The models that were current before this one, most recent last (what
    /// `rollbackModel` goes back to).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub previous: Vec<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The model an agent using the modelKey gets, in TaskForce's shape.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ModelRef {
    /// The model id sent to the API (`ft:…`).
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub provider: String,
    #[serde(default)]
    pub supports_tools: bool,
    #[serde(default)]
    pub max_context_tokens: u64,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// How the model was fine-tuned. Empty fields are left out when written, so an entry read
/// from the file is written back as it was.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FineTuneRecord {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub agent_name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub base_model: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub job_id: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub training_file_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation_file_id: Option<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub suffix: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub method: String,
    /// The hyperparameters the job ran with, as OpenAI reported them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hyperparameters: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trained_tokens: Option<u64>,
    /// The training metrics' summary (a `MetricsSummary` as this library writes it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics: Option<Value>,
    /// The loss curve's file name, beside the registry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loss_curve: Option<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub created_at: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub finished_at: String,
    /// The summary of the model's evaluation against its baseline, when one ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evaluation: Option<Value>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl RegistryEntry {
    /// Reads an entry leniently: missing fields take their defaults; a value that is not an
    /// entry at all (not an object, a `model` that is not an object…) gives `None`.
    pub fn from_value(v: &Value) -> Option<RegistryEntry> {
        if let Ok(e) = serde_json::from_value(v.clone()) {
            return Some(e);
        }
        // A `fineTune` (or another field) edited into a shape of its own: keep the model
        // TaskForce reads, and everything else as it is.
        let model = serde_json::from_value(v.get("model")?.clone()).ok()?;
        let mut extra = v.as_object()?.clone();
        extra.remove("model");
        Some(RegistryEntry {
            model,
            extra,
            ..Default::default()
        })
    }
}

/// The registry at one path.
#[derive(Debug, Clone)]
pub struct Registry {
    path: PathBuf,
}

/// Holds the registry's write lock until dropped.
pub struct RegistryLock {
    _file: File,
}

fn io_err(what: &str, path: &Path, e: std::io::Error) -> Error {
    Error::new(
        ErrorCode::RegistryIo,
        format!("cannot {what} {}: {e}", path.display()),
    )
}

impl Registry {
    /// The registry at `path` (absolute, or relative to the current directory).
    pub fn new(path: impl Into<PathBuf>) -> Registry {
        let path: PathBuf = path.into();
        let path = if path.is_absolute() {
            path
        } else {
            std::env::current_dir()
                .map(|d| d.join(&path))
                .unwrap_or(path)
        };
        Registry { path }
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The folder beside which runs are journaled.
    pub fn dir(&self) -> PathBuf {
        self.path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."))
    }

    /// Reads every entry. A missing file is an empty registry; anything but a JSON object is
    /// `ERR_REGISTRY_CORRUPT`.
    pub fn read(&self) -> Result<Map<String, Value>> {
        let bytes = match std::fs::read(&self.path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Map::new()),
            Err(e) => return Err(io_err("read the registry", &self.path, e)),
        };
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Map::new());
        }
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(Value::Object(map)) => Ok(map),
            Ok(_) => Err(self.corrupt("it is valid JSON but not an object")),
            Err(e) => Err(self.corrupt(&format!("it is not valid JSON ({e})"))),
        }
    }

    fn corrupt(&self, why: &str) -> Error {
        Error::new(
            ErrorCode::RegistryCorrupt,
            format!(
                "the registry {} cannot be used: {why}. It was left untouched; repair or move it, then try again",
                self.path.display()
            ),
        )
    }

    /// Whether `key` is registered.
    pub fn contains(&self, key: &str) -> Result<bool> {
        Ok(self.read()?.contains_key(key))
    }

    /// The entry of `key`, if any (and if it reads as an entry).
    pub fn get(&self, key: &str) -> Result<Option<RegistryEntry>> {
        Ok(self.read()?.get(key).and_then(RegistryEntry::from_value))
    }

    /// Every entry that reads as one, in file order.
    pub fn entries(&self) -> Result<Vec<(String, RegistryEntry)>> {
        Ok(self
            .read()?
            .into_iter()
            .filter_map(|(k, v)| RegistryEntry::from_value(&v).map(|e| (k, e)))
            .collect())
    }

    /// Takes the write lock, waiting for other writers. Blocking: call off the async threads.
    pub fn lock(&self) -> Result<RegistryLock> {
        let dir = self.dir();
        std::fs::create_dir_all(&dir).map_err(|e| io_err("create", &dir, e))?;
        let lock_path = lock_path(&self.path);
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&lock_path)
            .map_err(|e| io_err("open the lock file", &lock_path, e))?;
        FileExt::lock(&file).map_err(|e| io_err("lock", &lock_path, e))?;
        Ok(RegistryLock { _file: file })
    }

    /// Adds `key` unless it exists (`ERR_DUPLICATE_MODEL_KEY`), under the lock, atomically.
    /// Blocking: call off the async threads.
    pub fn insert_new(&self, key: &str, entry: &RegistryEntry) -> Result<()> {
        let entry = serde_json::to_value(entry)
            .map_err(|e| Error::new(ErrorCode::Internal, e.to_string()))?;
        let _lock = self.lock()?;
        let mut map = self.read()?;
        if map.contains_key(key) {
            return Err(duplicate(key, &self.path));
        }
        map.insert(key.to_string(), entry);
        self.write_locked(&map)
    }

    /// A locked read-modify-write of one entry: `f` gets the entry of `key` (`None` when it is
    /// absent) and returns what to store (`None` removes the key) and a value to return. Other
    /// entries and the key's position are kept. An entry that does not read as one is
    /// `ERR_REGISTRY_CORRUPT`, left untouched. Blocking: call off the async threads.
    pub fn update<T>(
        &self,
        key: &str,
        f: impl FnOnce(Option<RegistryEntry>) -> Result<(Option<RegistryEntry>, T)>,
    ) -> Result<T> {
        let _lock = self.lock()?;
        let mut map = self.read()?;
        let current = match map.get(key) {
            None => None,
            Some(v) => Some(RegistryEntry::from_value(v).ok_or_else(|| {
                Error::new(
                    ErrorCode::RegistryCorrupt,
                    format!(
                        "the entry {key:?} of {} is not an entry this library can read (no \"model\" object); it was left untouched",
                        self.path.display()
                    ),
                )
            })?),
        };
        let (next, out) = f(current)?;
        match next {
            Some(e) => {
                let v = serde_json::to_value(&e)
                    .map_err(|e| Error::new(ErrorCode::Internal, e.to_string()))?;
                map.insert(key.to_string(), v);
            }
            None => {
                map.shift_remove(key);
            }
        }
        self.write_locked(&map)?;
        Ok(out)
    }

    /// Replaces the file with `map`: temporary file, fsync, rename, fsync of the folder.
    /// Only while holding the lock, so any temporary file already there was left by a writer
    /// that died: it is removed.
    fn write_locked(&self, map: &Map<String, Value>) -> Result<()> {
        let dir = self.dir();
        if let Ok(entries) = std::fs::read_dir(&dir) {
            for e in entries.flatten() {
                let name = e.file_name();
                let name = name.to_string_lossy();
                if name.starts_with(".models.json.") && name.ends_with(".tmp") {
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
        let mut tmp = tempfile::Builder::new()
            .prefix(".models.json.")
            .suffix(".tmp")
            .tempfile_in(&dir)
            .map_err(|e| io_err("create a temporary file in", &dir, e))?;
        let mut text = serde_json::to_string_pretty(map)
            .map_err(|e| Error::new(ErrorCode::Internal, e.to_string()))?;
        text.push('\n');
        tmp.write_all(text.as_bytes())
            .and_then(|_| tmp.as_file().sync_all())
            .map_err(|e| io_err("write", tmp.path(), e))?;
        tmp.persist(&self.path)
            .map_err(|e| io_err("replace", &self.path, e.error))?;
        if let Ok(d) = File::open(&dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }
}

/// The registered models, in file order, optionally only those of one agent
/// (`fineTune.agentName`). Reads the file fresh.
pub fn list(
    path: Option<String>,
    agent_name: Option<&str>,
) -> Result<Vec<(String, RegistryEntry)>> {
    let reg = Registry::new(crate::options::registry_path(path));
    Ok(reg
        .entries()?
        .into_iter()
        .filter(|(_, e)| {
            agent_name.is_none_or(|a| e.fine_tune.as_ref().is_some_and(|f| f.agent_name == a))
        })
        .collect())
}

/// A registered modelKey gives its model's name (the `ft:` id); anything else comes back as
/// it is, so agents can pass either.
pub fn resolve_model(model_or_key: &str, path: Option<String>) -> Result<String> {
    let reg = Registry::new(crate::options::registry_path(path));
    Ok(reg
        .get(model_or_key)?
        .map(|e| e.model.name)
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| model_or_key.to_string()))
}

fn lock_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".lock");
    path.with_file_name(name)
}

/// The duplicate-key error.
pub fn duplicate(key: &str, path: &Path) -> Error {
    Error::new(
        ErrorCode::DuplicateModelKey,
        format!(
            "modelKey {key:?} is already registered in {}; choose another modelKey",
            path.display()
        ),
    )
    .with_param("modelKey")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn named(name: &str) -> RegistryEntry {
        RegistryEntry {
            model: ModelRef {
                name: name.into(),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    #[test]
    fn entries_keep_fields_they_do_not_know() {
        let raw = json!({
            "model": {"name": "ft:x", "provider": "openai", "supportsTools": true,
                      "maxContextTokens": 128000, "temperature": 0.2},
            "fineTune": {"agentName": "A", "jobId": "ftjob-1", "note": "by hand"},
            "description": "TaskForce's own field"
        });
        let e = RegistryEntry::from_value(&raw).unwrap();
        assert_eq!(e.model.name, "ft:x");
        assert_eq!(e.fine_tune.as_ref().unwrap().job_id, "ftjob-1");
        assert_eq!(e.extra["description"], json!("TaskForce's own field"));
        let back = serde_json::to_value(&e).unwrap();
        assert_eq!(back["model"]["temperature"], json!(0.2));
        assert_eq!(back["fineTune"]["note"], json!("by hand"));
        assert_eq!(back["description"], raw["description"]);
        // A fineTune of another shape leaves the model readable and the rest as it was.
        let odd = json!({"model": {"name": "ft:y"}, "fineTune": {"jobId": 7}});
        let e = RegistryEntry::from_value(&odd).unwrap();
        assert_eq!(e.model.name, "ft:y");
        assert_eq!(
            serde_json::to_value(&e).unwrap()["fineTune"],
            odd["fineTune"]
        );
        // Not an entry at all.
        assert!(RegistryEntry::from_value(&json!({"model": "gpt-4o"})).is_none());
    }

    #[test]
    fn keeps_other_entries_and_their_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fine-tuned/models.json");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(
            &path,
            r#"{"zeta": {"model": {"name": "x", "custom": [1, 2]}}, "alpha": {"model": {"name": "y"}}}"#,
        )
        .unwrap();
        let reg = Registry::new(&path);
        reg.insert_new("mid", &named("ft:z")).unwrap();
        let map = reg.read().unwrap();
        let keys: Vec<_> = map.keys().cloned().collect();
        assert_eq!(keys, ["zeta", "alpha", "mid"]);
        assert_eq!(map["zeta"]["model"]["custom"], json!([1, 2]));
        let e = reg.insert_new("alpha", &named("x")).unwrap_err();
        assert_eq!(e.code, ErrorCode::DuplicateModelKey);
    }

    #[test]
    fn never_overwrites_a_corrupt_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("models.json");
        std::fs::write(&path, "{\"a\": ").unwrap();
        let reg = Registry::new(&path);
        let e = reg.insert_new("b", &named("x")).unwrap_err();
        assert_eq!(e.code, ErrorCode::RegistryCorrupt);
        assert!(e.message.contains("models.json"));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "{\"a\": ");
        std::fs::write(&path, "[1]").unwrap();
        assert_eq!(reg.read().unwrap_err().code, ErrorCode::RegistryCorrupt);
    }

    #[test]
    fn concurrent_writers_lose_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("models.json");
        let handles: Vec<_> = (0..16)
            .map(|i| {
                let reg = Registry::new(&path);
                std::thread::spawn(move || {
                    reg.insert_new(&format!("k{i}"), &named(&format!("m{i}")))
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap().unwrap();
        }
        assert_eq!(Registry::new(&path).read().unwrap().len(), 16);
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty());
    }
}
