//! Keeping the store across restarts ([`crate::EmulatorOptions::state_dir`]): `state.json`
//! (the store, paths relative to the content folder) beside `files/` (file contents and upload
//! parts). The file is rewritten atomically (temporary file, then rename) after every request
//! that may change something and at close. The API key is never written.

use crate::state::{lock, AppState, Store};
use serde::{Deserialize, Deserializer, Serialize};
use std::path::{Path, PathBuf};

/// The format of `state.json` written by this emulator.
pub(crate) const FORMAT: u32 = 1;
/// The state file's name inside the state folder.
pub(crate) const STATE_FILE: &str = "state.json";
/// The content folder's name inside the state folder.
pub(crate) const CONTENT_DIR: &str = "files";

/// What `state.json` holds.
#[derive(Serialize, Deserialize)]
struct Snapshot {
    /// [`FORMAT`] when written.
    format: u32,
    /// The objects.
    store: Store,
}

/// Only the format, read first so that a newer file is told apart from a corrupt one.
#[derive(Deserialize)]
struct FormatOnly {
    format: u32,
}

/// A fixed word (status, level, kind) of a record, read with [`static_str`] (an alias: serde
/// would otherwise require borrowing `&'static str` fields from the input).
pub(crate) type Word = &'static str;

/// Reads a `&'static str` field: the fixed words the emulator uses (statuses, levels, kinds).
pub(crate) fn static_str<'de, D: Deserializer<'de>>(d: D) -> Result<&'static str, D::Error> {
    const KNOWN: [&str; 11] = [
        "info",
        "warn",
        "warning",
        "error",
        "message",
        "metrics",
        "pending",
        "completed",
        "cancelled",
        "expired",
        "",
    ];
    let s = String::deserialize(d)?;
    Ok(match KNOWN.iter().find(|k| **k == s) {
        Some(k) => k,
        // A word of a later version: kept (a few bytes, once per load).
        None => Box::leak(s.into_boxed_str()),
    })
}

fn rel(path: &mut PathBuf, dir: &Path) {
    if let Ok(p) = path.strip_prefix(dir) {
        *path = p.to_path_buf();
    }
}

fn abs(path: &mut PathBuf, dir: &Path) {
    if path.is_relative() {
        *path = dir.join(&*path);
    }
}

/// Rewrites every path of `store` with `f`.
fn map_paths(store: &mut Store, dir: &Path, f: fn(&mut PathBuf, &Path)) {
    for file in store.files.values_mut() {
        f(&mut file.path, dir);
    }
    for u in store.uploads.values_mut() {
        f(&mut u.dir, dir);
        for p in u.parts.values_mut() {
            f(&mut p.path, dir);
        }
    }
}

/// The state file's text for `store`, whose contents are in `dir`.
pub(crate) fn to_json(store: &Store, dir: &Path) -> String {
    let mut store = store.clone();
    map_paths(&mut store, dir, rel);
    let snap = Snapshot {
        format: FORMAT,
        store,
    };
    serde_json::to_string_pretty(&snap).expect("the store serializes")
}

/// The store in a state file's text, its paths in `dir`; `Err`: why it cannot be used.
pub(crate) fn from_json(text: &str, dir: &Path) -> Result<Store, String> {
    let format = serde_json::from_str::<FormatOnly>(text)
        .map_err(|e| format!("it is not an emulator state file ({e})"))?
        .format;
    if format > FORMAT {
        return Err(format!(
            "it was written by a newer emulator (format {format}; this one reads format {FORMAT} and older)"
        ));
    }
    let snap: Snapshot = serde_json::from_str(text).map_err(|e| format!("it is corrupt ({e})"))?;
    let mut store = snap.store;
    map_paths(&mut store, dir, abs);
    // A completion cut short by the previous stop may be asked again.
    for u in store.uploads.values_mut() {
        u.completing = false;
    }
    Ok(store)
}

/// Loads `state_dir/state.json` if present (an empty store otherwise).
pub(crate) fn load(state_dir: &Path, dir: &Path) -> Result<Store, crate::StartError> {
    let path = state_dir.join(STATE_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Store::default()),
        Err(e) => {
            return Err(crate::StartError::State {
                path,
                message: format!("cannot read it: {e}"),
            })
        }
    };
    from_json(&text, dir).map_err(|message| crate::StartError::State { path, message })
}

/// Writes `text` to `path` atomically: a temporary file beside it, flushed, then renamed.
fn write_atomic(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let tmp = path.with_extension("json.tmp");
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(text.as_bytes())?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, path)
}

/// Saves the store now if the emulator keeps its state (blocking; see [`save`]).
pub(crate) fn save_blocking(state: &AppState) {
    let Some(state_dir) = &state.0.state_dir else {
        return;
    };
    // One writer at a time, each writing the store as it is when it holds the lock: the last
    // rename is the newest store.
    let mut last = lock(&state.0.save_lock);
    let text = to_json(&lock(&state.0.store), &state.0.dir);
    if last.as_deref() == Some(text.as_str()) {
        return;
    }
    match write_atomic(&state_dir.join(STATE_FILE), &text) {
        Ok(()) => *last = Some(text),
        Err(e) => eprintln!(
            "fine-tune emulator: cannot save its state in {}: {e}",
            state_dir.display()
        ),
    }
}

/// Saves the store (off the async threads) if the emulator keeps its state.
pub(crate) async fn save(state: &AppState) {
    if state.0.state_dir.is_none() {
        return;
    }
    let state = state.clone();
    let _ = tokio::task::spawn_blocking(move || save_blocking(&state)).await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::files::FileRecord;
    use crate::uploads::{PartRecord, UploadRecord};

    fn sample(dir: &Path) -> Store {
        let mut store = Store {
            seq: 7,
            ..Default::default()
        };
        store.files.insert(
            "file-a".into(),
            FileRecord {
                id: "file-a".into(),
                bytes: 12,
                created_ms: 1_700_000_000_123,
                seq: 3,
                filename: "train.jsonl".into(),
                purpose: "fine-tune".into(),
                expires_at: Some(1_800_000_000),
                stuck: false,
                ready_ms: 0,
                path: dir.join("file-a"),
            },
        );
        store.uploads.insert(
            "upload_b".into(),
            UploadRecord {
                id: "upload_b".into(),
                created_ms: 1_700_000_000_000,
                filename: "big.jsonl".into(),
                purpose: "fine-tune".into(),
                bytes: 5,
                status: "cancelled",
                expires_at: 1_700_003_600,
                parts: [(
                    "part_c".to_string(),
                    PartRecord {
                        bytes: 5,
                        path: dir.join("upload_b").join("part_c"),
                    },
                )]
                .into(),
                completing: false,
                file: None,
                dir: dir.join("upload_b"),
            },
        );
        store.deleted_models.insert("ft:gpt-4o-mini:org::x".into());
        store
    }

    #[test]
    fn the_snapshot_round_trips_with_paths_relative_to_the_content_folder() {
        let old = Path::new("/old/state/files");
        let text = to_json(&sample(old), old);
        assert!(!text.contains("/old/state"), "paths are relative: {text}");
        // Loaded from a moved folder: the paths follow it.
        let new = Path::new("/new/place/files");
        let store = from_json(&text, new).unwrap();
        assert_eq!(store.files["file-a"].path, new.join("file-a"));
        assert_eq!(
            store.uploads["upload_b"].parts["part_c"].path,
            new.join("upload_b/part_c")
        );
        assert_eq!(store.uploads["upload_b"].status, "cancelled");
        let a = serde_json::to_value(&store).unwrap();
        let b = serde_json::to_value(sample(new)).unwrap();
        assert_eq!(a, b);
        assert_eq!(to_json(&store, new), text);
    }

    #[test]
    fn a_newer_or_corrupt_file_is_refused() {
        let dir = Path::new("/d");
        let newer = from_json(r#"{"format": 2, "store": {"what": "next"}}"#, dir).unwrap_err();
        assert!(newer.contains("newer emulator"), "{newer}");
        let corrupt = from_json(r#"{"format": 1, "store": {"seq": "x"}}"#, dir).unwrap_err();
        assert!(corrupt.contains("corrupt"), "{corrupt}");
        let other = from_json("[]", dir).unwrap_err();
        assert!(other.contains("not an emulator state file"), "{other}");
    }
}
