//! `fine-tuned/models.json`: a flat JSON object keyed by modelKey, read by TaskForce's loader.
//!
//! Every write holds an exclusive lock (`models.json.lock`, `flock(2)` through fs4, released by
//! the kernel if the process dies, so a dead process never blocks anyone), re-reads the file
//! under the lock, and replaces it atomically: a temporary file in the same folder, fsync,
//! rename, fsync of the folder. Other entries are kept as they were (key order included), and a
//! crash leaves the old file or the new one, never a half-written one. A file that is not a
//! JSON object is never overwritten.
//!
//! A `models.json` that is a symbolic link is written through: the lock, the temporary file and
//! the rename are beside the file it points to, which keeps its mode and (where allowed) its
//! owner. A path that is not a regular file (a device, a FIFO, a folder) is refused with
//! `ERR_REGISTRY_IO`, never replaced.
//!
//! Reads ([`Registry::read_cached`]) parse the file once per change of it, so looking up a
//! modelKey in a large registry costs a `stat`.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use fs4::FileExt;
use serde_json::{Map, Value};

use crate::calc::checks::non_empty;
use crate::types::entry::RegistryEntry;
use crate::types::error::{Error, ErrorCode, Result};
use crate::types::options::DEFAULT_REGISTRY_PATH;

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

    /// The file writes go to: the path itself, or, when it is a symbolic link, the file it
    /// points to (followed link by link, so a dangling link names the file to create). A path
    /// that exists but is not a regular file (a device, a FIFO, a folder) is `ERR_REGISTRY_IO`.
    pub fn target(&self) -> Result<PathBuf> {
        let mut p = self.path.clone();
        for _ in 0..40 {
            match std::fs::symlink_metadata(&p) {
                Ok(m) if m.file_type().is_symlink() => {
                    let link =
                        std::fs::read_link(&p).map_err(|e| io_err("read the link", &p, e))?;
                    p = if link.is_absolute() {
                        link
                    } else {
                        p.parent().unwrap_or(Path::new(".")).join(link)
                    };
                }
                Ok(m) if m.is_file() => return Ok(p),
                Ok(_) => return Err(self.not_regular(&p)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(p),
                Err(e) => return Err(io_err("read", &p, e)),
            }
        }
        Err(Error::new(
            ErrorCode::RegistryIo,
            format!(
                "cannot resolve {}: too many levels of symbolic links",
                self.path.display()
            ),
        ))
    }

    fn not_regular(&self, p: &Path) -> Error {
        let shown = if p == self.path {
            String::new()
        } else {
            format!(" (the link {} points to it)", self.path.display())
        };
        Error::new(
            ErrorCode::RegistryIo,
            format!(
                "the registry {}{shown} is not a regular file; it was left untouched. Point registryPath at a JSON file",
                p.display()
            ),
        )
    }

    /// Reads every entry, fresh from the file. A missing file is an empty registry; anything
    /// but a JSON object is `ERR_REGISTRY_CORRUPT`; a path that is not a regular file (a
    /// device, a FIFO, a folder) is `ERR_REGISTRY_IO` and is not read.
    pub fn read(&self) -> Result<Map<String, Value>> {
        match std::fs::metadata(&self.path) {
            Ok(m) if !m.is_file() => return Err(self.not_regular(&self.path)),
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Map::new()),
            Err(e) => return Err(io_err("read the registry", &self.path, e)),
        }
        let bytes = match std::fs::read(&self.path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Map::new()),
            Err(e) => return Err(io_err("read the registry", &self.path, e)),
        };
        self.parse(&bytes)
    }

    fn parse(&self, bytes: &[u8]) -> Result<Map<String, Value>> {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Map::new());
        }
        match serde_json::from_slice::<Value>(bytes) {
            Ok(Value::Object(map)) => Ok(map),
            Ok(_) => Err(self.corrupt("it is valid JSON but not an object")),
            Err(e) => Err(self.corrupt(&format!("it is not valid JSON ({e})"))),
        }
    }

    /// Reads every entry, parsing the file only when it changed since the last read of this
    /// path in this process (its device, inode, size, and modification and change times): a
    /// write by this library always makes a new inode (it renames a new file into place), and
    /// any other write changes the times. Shared, so do not modify it.
    pub fn read_cached(&self) -> Result<Arc<Map<String, Value>>> {
        let meta = match std::fs::metadata(&self.path) {
            Ok(m) if !m.is_file() => return Err(self.not_regular(&self.path)),
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Arc::default()),
            Err(e) => return Err(io_err("read the registry", &self.path, e)),
        };
        let stamp = Stamp::of(&meta);
        let mut cache = CACHE.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(i) = cache
            .iter()
            .position(|(p, s, _)| *p == self.path && *s == stamp)
        {
            let hit = cache.remove(i);
            let map = Arc::clone(&hit.2);
            cache.push(hit);
            return Ok(map);
        }
        drop(cache);
        let mut file = match File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Arc::default()),
            Err(e) => return Err(io_err("read the registry", &self.path, e)),
        };
        // The stamp of what is actually read (the file may have been replaced meanwhile).
        let stamp = file
            .metadata()
            .map(|m| Stamp::of(&m))
            .map_err(|e| io_err("read the registry", &self.path, e))?;
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut file, &mut bytes)
            .map_err(|e| io_err("read the registry", &self.path, e))?;
        let map = Arc::new(self.parse(&bytes)?);
        let mut cache = CACHE.lock().unwrap_or_else(|p| p.into_inner());
        cache.retain(|(p, _, _)| *p != self.path);
        if cache.len() >= CACHE_PATHS {
            cache.remove(0);
        }
        cache.push((self.path.clone(), stamp, Arc::clone(&map)));
        Ok(map)
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

    /// Whether `key` is registered (see [`Registry::read_cached`]).
    pub fn contains(&self, key: &str) -> Result<bool> {
        Ok(self.read_cached()?.contains_key(key))
    }

    /// The entry of `key`, if any (and if it reads as an entry).
    pub fn get(&self, key: &str) -> Result<Option<RegistryEntry>> {
        Ok(self
            .read_cached()?
            .get(key)
            .and_then(RegistryEntry::from_value))
    }

    /// Every entry that reads as one, in file order.
    pub fn entries(&self) -> Result<Vec<(String, RegistryEntry)>> {
        Ok(self
            .read_cached()?
            .iter()
            .filter_map(|(k, v)| RegistryEntry::from_value(v).map(|e| (k.clone(), e)))
            .collect())
    }

    /// Takes the write lock, waiting for other writers: `<target>.lock` beside the file
    /// writes go to (see [`Registry::target`]), so links to the same file share one lock.
    /// Blocking: call off the async threads.
    pub fn lock(&self) -> Result<RegistryLock> {
        let target = self.target()?;
        let dir = parent_of(&target);
        std::fs::create_dir_all(&dir).map_err(|e| io_err("create", &dir, e))?;
        let lock_path = lock_path(&target);
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

    /// Replaces the file with `map`: temporary file beside the target (the file a link points
    /// to), fsync, rename, fsync of the folder. The file keeps its permissions, and its owner
    /// and group where the process may set them; a new file gets `0666` less the umask, as
    /// `fs.writeFile` does. Only while holding the lock, so any temporary file already there
    /// was left by a writer that died: it is removed.
    fn write_locked(&self, map: &Map<String, Value>) -> Result<()> {
        let target = self.target()?;
        let dir = parent_of(&target);
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "models.json".into());
        let prefix = format!(".{name}.");
        if let Ok(entries) = std::fs::read_dir(&dir) {
            for e in entries.flatten() {
                let n = e.file_name();
                let n = n.to_string_lossy();
                if n.starts_with(&prefix) && n.ends_with(".tmp") {
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
        let existing = match std::fs::metadata(&target) {
            Ok(m) if !m.is_file() => return Err(self.not_regular(&target)),
            Ok(m) => Some(m),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(io_err("read", &target, e)),
        };
        let mut text = serde_json::to_string_pretty(map)
            .map_err(|e| Error::new(ErrorCode::Internal, e.to_string()))?;
        text.push('\n');
        let (tmp_path, mut file) = create_temp(&dir, &prefix)?;
        let written = (|| -> std::io::Result<()> {
            if let Some(m) = &existing {
                keep_owner_and_mode(&file, m)?;
            }
            file.write_all(text.as_bytes())?;
            file.sync_all()
        })();
        drop(file);
        let renamed = written
            .map_err(|e| io_err("write", &tmp_path, e))
            .and_then(|_| {
                std::fs::rename(&tmp_path, &target).map_err(|e| io_err("replace", &target, e))
            });
        if let Err(e) = renamed {
            let _ = std::fs::remove_file(&tmp_path);
            return Err(e);
        }
        if let Ok(d) = File::open(&dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }
}

/// The registry path: the option, else `FINE_TUNED_MODELS_PATH`, else `fine-tuned/models.json`.
pub fn registry_path(option: Option<String>) -> PathBuf {
    PathBuf::from(
        non_empty(option)
            .or_else(|| non_empty(std::env::var("FINE_TUNED_MODELS_PATH").ok()))
            .unwrap_or_else(|| DEFAULT_REGISTRY_PATH.to_string()),
    )
}

/// The registered models, in file order, optionally only those of one agent
/// (`fineTune.agentName`). Parses the file only when it changed (see [`Registry::read_cached`]).
pub fn list(
    path: Option<String>,
    agent_name: Option<&str>,
) -> Result<Vec<(String, RegistryEntry)>> {
    let reg = Registry::new(registry_path(path));
    Ok(reg
        .entries()?
        .into_iter()
        .filter(|(_, e)| {
            agent_name.is_none_or(|a| e.fine_tune.as_ref().is_some_and(|f| f.agent_name == a))
        })
        .collect())
}

/// The entry of `key` in the registry at `path` (option, env, default), if any.
pub fn get(path: Option<String>, key: &str) -> Result<Option<RegistryEntry>> {
    Registry::new(registry_path(path)).get(key)
}

/// A registered modelKey gives its model's name (the `ft:` id); anything else comes back as
/// it is, so agents can pass either.
pub fn resolve_model(model_or_key: &str, path: Option<String>) -> Result<String> {
    let reg = Registry::new(registry_path(path));
    Ok(reg
        .get(model_or_key)?
        .map(|e| e.model.name)
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| model_or_key.to_string()))
}

/// How many registry paths [`Registry::read_cached`] keeps parsed.
const CACHE_PATHS: usize = 4;

type Cache = Vec<(PathBuf, Stamp, Arc<Map<String, Value>>)>;
static CACHE: Mutex<Cache> = Mutex::new(Vec::new());

/// What tells one version of a file from another without reading it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    dev: u64,
    ino: u64,
    len: u64,
    modified: Option<SystemTime>,
    changed: (i64, i64),
}

impl Stamp {
    fn of(m: &std::fs::Metadata) -> Stamp {
        #[cfg(unix)]
        let (dev, ino, changed) = {
            use std::os::unix::fs::MetadataExt;
            (m.dev(), m.ino(), (m.ctime(), m.ctime_nsec()))
        };
        #[cfg(not(unix))]
        let (dev, ino, changed) = (0, 0, (0, 0));
        Stamp {
            dev,
            ino,
            len: m.len(),
            modified: m.modified().ok(),
            changed,
        }
    }
}

fn parent_of(p: &Path) -> PathBuf {
    match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// A new file `<prefix><random>.tmp` in `dir`, created exclusively with the default mode
/// (`0666` less the umask).
fn create_temp(dir: &Path, prefix: &str) -> Result<(PathBuf, File)> {
    use rand::Rng;
    let mut last = None;
    for _ in 0..16 {
        let n: u64 = rand::rng().random();
        let p = dir.join(format!("{prefix}{n:016x}.tmp"));
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&p)
        {
            Ok(f) => return Ok((p, f)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last = Some(e),
            Err(e) => return Err(io_err("create a temporary file in", dir, e)),
        }
    }
    Err(io_err(
        "create a temporary file in",
        dir,
        last.unwrap_or_else(|| std::io::Error::other("name clash")),
    ))
}

/// Gives the new file the old one's permissions, and its owner and group where allowed (as
/// root, or a group the process is in); otherwise the new file is the process's.
fn keep_owner_and_mode(file: &File, old: &std::fs::Metadata) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let new = file.metadata()?;
        if (new.uid() != old.uid() || new.gid() != old.gid())
            && std::os::unix::fs::fchown(file, Some(old.uid()), Some(old.gid())).is_err()
        {
            let _ = std::os::unix::fs::fchown(file, None, Some(old.gid()));
        }
    }
    // After chown, which may clear set-id bits.
    file.set_permissions(old.permissions())
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
    use crate::types::entry::ModelRef;
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

    #[cfg(unix)]
    #[test]
    fn writes_through_a_link_keeping_mode_and_owner() {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let dir = tempfile::tempdir().unwrap();
        let real_dir = dir.path().join("shared");
        std::fs::create_dir_all(&real_dir).unwrap();
        let real = real_dir.join("registry.json");
        std::fs::write(&real, r#"{"old": {"model": {"name": "ft:old"}}}"#).unwrap();
        std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o644)).unwrap();
        let link_dir = dir.path().join("fine-tuned");
        std::fs::create_dir_all(&link_dir).unwrap();
        let link = link_dir.join("models.json");
        std::os::unix::fs::symlink("../shared/registry.json", &link).unwrap();
        let before = std::fs::metadata(&real).unwrap();
        Registry::new(&link)
            .insert_new("new", &named("ft:new"))
            .unwrap();
        // The link is still a link, and the file it points to has both entries.
        assert!(std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        let map = Registry::new(&real).read().unwrap();
        assert_eq!(map.keys().collect::<Vec<_>>(), ["old", "new"]);
        let after = std::fs::metadata(&real).unwrap();
        assert_eq!(after.permissions().mode() & 0o7777, 0o644);
        assert_eq!((after.uid(), after.gid()), (before.uid(), before.gid()));
        // A dangling link names the file to create.
        let dangling = link_dir.join("other.json");
        std::os::unix::fs::symlink("../shared/created.json", &dangling).unwrap();
        Registry::new(&dangling)
            .insert_new("k", &named("x"))
            .unwrap();
        assert!(std::fs::symlink_metadata(&dangling)
            .unwrap()
            .file_type()
            .is_symlink());
        assert!(Registry::new(real_dir.join("created.json"))
            .contains("k")
            .unwrap());
        // No temporary or stray files were left beside the link.
        let names: Vec<_> = std::fs::read_dir(&link_dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(names.iter().all(|n| !n.ends_with(".tmp")), "{names:?}");
    }

    #[cfg(unix)]
    #[test]
    fn a_new_file_gets_the_umask_mode_and_a_0600_one_stays_0600() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("models.json");
        Registry::new(&path).insert_new("a", &named("x")).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        // What a file created the ordinary way gets here (0666 less the umask).
        let probe = dir.path().join("probe");
        std::fs::write(&probe, "").unwrap();
        let expected = std::fs::metadata(&probe).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, expected);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        Registry::new(&path).insert_new("b", &named("y")).unwrap();
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }

    #[cfg(unix)]
    #[test]
    fn refuses_a_path_that_is_not_a_regular_file() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("models.json");
        let ok = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            eprintln!("mkfifo not available; skipped");
            return;
        }
        // A FIFO would block a read forever: run it on a thread with a deadline.
        let (tx, rx) = std::sync::mpsc::channel();
        let f = fifo.clone();
        std::thread::spawn(move || {
            let reg = Registry::new(&f);
            let _ = tx.send((reg.insert_new("a", &named("x")), reg.read().map(|_| ())));
        });
        let (write, read) = rx
            .recv_timeout(std::time::Duration::from_secs(5))
            .expect("the registry call hung on a FIFO");
        assert_eq!(write.unwrap_err().code, ErrorCode::RegistryIo);
        let e = read.unwrap_err();
        assert_eq!(e.code, ErrorCode::RegistryIo);
        assert!(e.message.contains("not a regular file"), "{}", e.message);
        use std::os::unix::fs::FileTypeExt;
        assert!(std::fs::symlink_metadata(&fifo)
            .unwrap()
            .file_type()
            .is_fifo());
        // The same through a link.
        let link = dir.path().join("link.json");
        std::os::unix::fs::symlink(&fifo, &link).unwrap();
        let e = Registry::new(&link)
            .insert_new("a", &named("x"))
            .unwrap_err();
        assert_eq!(e.code, ErrorCode::RegistryIo);
        assert!(std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
    }

    #[test]
    fn reads_parse_once_per_change() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("models.json");
        let reg = Registry::new(&path);
        reg.insert_new("a", &named("ft:a")).unwrap();
        let first = reg.read_cached().unwrap();
        let again = reg.read_cached().unwrap();
        assert!(Arc::ptr_eq(&first, &again), "parsed again without a change");
        reg.insert_new("b", &named("ft:b")).unwrap();
        assert!(reg.get("b").unwrap().is_some(), "a change is seen at once");
        // An edit in place (same inode) is seen too.
        std::fs::write(&path, r#"{"c": {"model": {"name": "ft:c"}}}"#).unwrap();
        assert!(reg.contains("c").unwrap());
        assert!(!reg.contains("a").unwrap());
        // Removed: empty.
        std::fs::remove_file(&path).unwrap();
        assert!(reg.entries().unwrap().is_empty());
    }
}
