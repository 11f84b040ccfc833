//! The answer store: every answer an evaluation was given, kept so that a rerun with the same
//! settings asks only for what is missing, and an interrupted evaluation resumes.
//!
//! The store is a folder (by default `.eval-cache/` beside the registry) of JSONL files, one per
//! API and model (`<model>-<hash of the API's URL>.jsonl`). Each line is one answer:
//! `{"key", "model", "message", "usage": {"prompt_tokens", "completion_tokens"}, "at"}`, where
//! `key` is the SHA-256 of the API's URL (without secrets) and the request body (model,
//! messages, tools, temperature, seed, answer cap): the same request gets the same key.
//! Answers are appended as they arrive, one write per line; a line cut short by a crash is
//! skipped when read, and the next write starts on a new line. Later lines win.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

use crate::infra::task::blocking;
use crate::types::error::{Error, ErrorCode, Result};

/// One answer, as the API gave it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredAnswer {
    /// The first choice's message.
    pub message: Value,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
}

impl StoredAnswer {
    /// The answer in a chat completion's JSON.
    pub fn of_completion(v: &Value) -> StoredAnswer {
        let u = |k: &str| v["usage"][k].as_u64().unwrap_or(0);
        StoredAnswer {
            message: v["choices"][0]["message"].clone(),
            prompt_tokens: u("prompt_tokens"),
            completion_tokens: u("completion_tokens"),
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The key of a request: SHA-256 of the API and the body.
pub fn key(api: &str, body: &Value) -> String {
    let mut h = Sha256::new();
    h.update(api.as_bytes());
    h.update(b"\n");
    h.update(body.to_string().as_bytes());
    hex(&h.finalize())
}

/// The file of one API's answers of one model.
pub fn file_of(dir: &Path, api: &str, model: &str) -> PathBuf {
    let safe: String = model
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let api_hash = hex(&Sha256::digest(api.as_bytes())[..4]);
    dir.join(format!("{safe}-{api_hash}.jsonl"))
}

fn io_error(what: &str, path: &Path, e: std::io::Error) -> Error {
    Error::new(
        ErrorCode::RegistryIo,
        format!("cannot {what} the answer store {}: {e}", path.display()),
    )
}

/// Reads one file's answers (missing file: none).
fn read_file(path: &Path, into: &mut HashMap<String, StoredAnswer>) -> Result<()> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io_error("read", path, e)),
    };
    for line in text.lines() {
        let Ok(v) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        let (Some(k), Some(message)) = (v["key"].as_str(), v.get("message")) else {
            continue;
        };
        let u = |name: &str| v["usage"][name].as_u64().unwrap_or(0);
        into.insert(
            k.to_string(),
            StoredAnswer {
                message: message.clone(),
                prompt_tokens: u("prompt_tokens"),
                completion_tokens: u("completion_tokens"),
            },
        );
    }
    Ok(())
}

/// Appends lines to their files, opening each once; a file that does not end with a newline
/// (a write cut short) gets one first. Errors are ignored: an answer not kept is asked again.
fn write_lines(mut rx: mpsc::UnboundedReceiver<(PathBuf, String)>) {
    let mut files: HashMap<PathBuf, std::fs::File> = HashMap::new();
    while let Some((path, line)) = rx.blocking_recv() {
        if !files.contains_key(&path) {
            let torn = std::fs::read(&path)
                .map(|b| b.last().is_some_and(|c| *c != b'\n'))
                .unwrap_or(false);
            let Ok(mut f) = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
            else {
                continue;
            };
            if torn {
                let _ = f.write_all(b"\n");
            }
            files.insert(path.clone(), f);
        }
        if let Some(f) = files.get_mut(&path) {
            // One write per line: appends of whole lines do not interleave.
            let _ = f.write_all(line.as_bytes());
        }
    }
    for f in files.values() {
        let _ = f.sync_data();
    }
}

/// An open store: the answers of some models, and a writer for new ones.
pub struct AnswerStore {
    dir: PathBuf,
    api: String,
    known: HashMap<String, StoredAnswer>,
    tx: Option<mpsc::UnboundedSender<(PathBuf, String)>>,
    writer: Option<tokio::task::JoinHandle<()>>,
}

impl AnswerStore {
    /// Opens the store in `dir` for `api` (a URL without secrets), creating the folder, and
    /// reads the answers of `models` unless `read` is false (answers are then only added).
    pub async fn open(dir: PathBuf, api: String, models: Vec<String>, read: bool) -> Result<Self> {
        let (d, a) = (dir.clone(), api.clone());
        let known = blocking(move || {
            std::fs::create_dir_all(&d).map_err(|e| io_error("create", &d, e))?;
            let mut known = HashMap::new();
            if read {
                for m in &models {
                    read_file(&file_of(&d, &a, m), &mut known)?;
                }
            }
            Ok(known)
        })
        .await?;
        let (tx, rx) = mpsc::unbounded_channel();
        let writer = tokio::task::spawn_blocking(move || write_lines(rx));
        Ok(AnswerStore {
            dir,
            api,
            known,
            tx: Some(tx),
            writer: Some(writer),
        })
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The key of a request body.
    pub fn key(&self, body: &Value) -> String {
        key(&self.api, body)
    }

    /// The answer kept for a request, if any.
    pub fn get(&self, key: &str) -> Option<&StoredAnswer> {
        self.known.get(key)
    }

    /// Keeps a new answer of `model` (written at once, in the background).
    pub fn put(&self, model: &str, key: &str, answer: &StoredAnswer) {
        let line = json!({
            "key": key,
            "model": model,
            "message": answer.message,
            "usage": {"prompt_tokens": answer.prompt_tokens, "completion_tokens": answer.completion_tokens},
            "at": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        });
        if let Some(tx) = &self.tx {
            let _ = tx.send((file_of(&self.dir, &self.api, model), format!("{line}\n")));
        }
    }

    /// Waits until every answer kept so far is written.
    pub async fn close(mut self) {
        self.tx.take();
        if let Some(w) = self.writer.take() {
            let _ = w.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn answers_are_kept_and_read_back_by_key() {
        let dir = tempfile::tempdir().unwrap();
        let api = "http://127.0.0.1:1/v1".to_string();
        let body = json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]});
        let a = StoredAnswer {
            message: json!({"role": "assistant", "content": "hello"}),
            prompt_tokens: 9,
            completion_tokens: 1,
        };
        let store = AnswerStore::open(dir.path().into(), api.clone(), vec!["m".into()], true)
            .await
            .unwrap();
        let k = store.key(&body);
        assert_eq!(k, key(&api, &body));
        assert!(store.get(&k).is_none());
        store.put("m", &k, &a);
        store.close().await;

        // A crash cut the last line short: it is skipped, and the next line starts anew.
        let file = file_of(dir.path(), &api, "m");
        let mut text = std::fs::read_to_string(&file).unwrap();
        text.push_str("{\"key\":\"torn");
        std::fs::write(&file, text).unwrap();
        let store = AnswerStore::open(dir.path().into(), api.clone(), vec!["m".into()], true)
            .await
            .unwrap();
        assert_eq!(store.get(&k), Some(&a));
        let body2 = json!({"model": "m", "messages": [{"role": "user", "content": "again"}]});
        let k2 = store.key(&body2);
        store.put("m", &k2, &a);
        store.close().await;
        let store = AnswerStore::open(dir.path().into(), api.clone(), vec!["m".into()], true)
            .await
            .unwrap();
        assert_eq!(store.get(&k2), Some(&a));
        // Another API's answers are apart; `read: false` reads none.
        let other = AnswerStore::open(
            dir.path().into(),
            "http://x/v1".into(),
            vec!["m".into()],
            true,
        )
        .await
        .unwrap();
        assert!(other.get(&other.key(&body)).is_none());
        let fresh = AnswerStore::open(dir.path().into(), api, vec!["m".into()], false)
            .await
            .unwrap();
        assert!(fresh.get(&k).is_none());
    }
}
