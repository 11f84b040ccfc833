//! The Files API: `POST /files` (multipart, streamed to disk), list, retrieve, delete, content.

use crate::azure::AzureApi;
use crate::errors::{ApiError, ApiResult};
use crate::server::Flavor;
use crate::state::{AppState, Store};
use crate::util::{now_ms, query_get, query_int, query_pairs, random_id, secs};
use axum::body::Body;
use axum::extract::{Multipart, Path, RawQuery, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde_json::{json, Value};
use std::io::BufRead;
use std::path::{Path as FsPath, PathBuf};
use tokio::io::AsyncWriteExt;

/// Largest file accepted by `POST /files` (OpenAI: 512 MB; Azure: facts §7, "file ≤512 MB via
/// API").
pub(crate) const MAX_FILE_BYTES: u64 = 512 * 1024 * 1024;

/// Purposes accepted by `POST /files`.
pub(crate) const FILE_PURPOSES: &[&str] = &[
    "assistants",
    "batch",
    "fine-tune",
    "vision",
    "user_data",
    "evals",
];

/// A stored file.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(crate) struct FileRecord {
    /// `file-…`.
    pub id: String,
    /// Size in bytes.
    pub bytes: u64,
    /// Creation time in ms.
    pub created_ms: i64,
    /// Creation order.
    pub seq: u64,
    /// Name given by the client.
    pub filename: String,
    /// Purpose (`fine-tune`, `fine-tune-results`…).
    pub purpose: String,
    /// Expiry, Unix seconds.
    pub expires_at: Option<i64>,
    /// Stays in status `uploaded` (fault knob).
    pub stuck: bool,
    /// When processing ends, ms (0: processed at once). Azure files are `pending`, then
    /// `running`, until then.
    #[serde(default)]
    pub ready_ms: i64,
    /// Where the content is.
    pub path: PathBuf,
}

impl FileRecord {
    /// Whether the file can be used (status `processed`).
    pub fn processed(&self) -> bool {
        !self.stuck && now_ms() >= self.ready_ms
    }

    /// The `OpenAIFile` object.
    pub fn to_json(&self, flavor: Flavor) -> Value {
        let now = now_ms();
        // Azure: facts §2, file `status` ∈ uploaded|pending|running|processed|error|…: a file
        // is `pending`, then `running` (the second half of its processing), then `processed`.
        let running = now >= self.ready_ms - (self.ready_ms - self.created_ms) / 2;
        let status = match (self.processed(), flavor) {
            (true, _) => "processed",
            (false, Flavor::OpenAi) => "uploaded",
            (false, Flavor::Azure) if !self.stuck && running => "running",
            (false, Flavor::Azure) => "pending",
        };
        let mut v = json!({
            "id": self.id,
            "object": "file",
            "bytes": self.bytes,
            "created_at": secs(self.created_ms),
            "filename": self.filename,
            "purpose": self.purpose,
            "status": status,
        });
        if let Some(e) = self.expires_at {
            v["expires_at"] = json!(e);
        }
        v
    }
}

/// A file to register with [`insert_file`].
pub(crate) struct NewFile {
    /// `file-…`.
    pub id: String,
    /// Name given by the client.
    pub filename: String,
    /// Purpose.
    pub purpose: String,
    /// Where the content already is.
    pub path: PathBuf,
    /// Size in bytes.
    pub bytes: u64,
    /// Creation time, ms.
    pub created_ms: i64,
    /// Expiry, Unix seconds.
    pub expires_at: Option<i64>,
    /// How long processing takes, ms (0: processed at once).
    pub processing_ms: i64,
}

/// Registers a file whose content is already on disk.
pub(crate) fn insert_file(state: &AppState, store: &mut Store, f: NewFile) -> FileRecord {
    let rec = FileRecord {
        id: f.id.clone(),
        bytes: f.bytes,
        created_ms: f.created_ms,
        seq: store.next_seq(),
        filename: f.filename,
        stuck: state.0.faults.files_stuck_processing && f.purpose != "fine-tune-results",
        ready_ms: if f.processing_ms > 0 {
            f.created_ms + f.processing_ms
        } else {
            0
        },
        purpose: f.purpose,
        expires_at: f.expires_at,
        path: f.path,
    };
    store.files.insert(f.id, rec.clone());
    rec
}

/// Deletes `path` on drop unless disarmed: no half-written file stays behind an error.
pub(crate) struct RemoveOnDrop(pub Option<PathBuf>);

impl RemoveOnDrop {
    /// Keeps the file.
    pub fn disarm(&mut self) {
        self.0 = None;
    }
}

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// The message OpenAI gives for a `fine-tune` file that is not JSONL.
pub(crate) fn jsonl_error(line: usize) -> ApiError {
    ApiError::invalid(
        format!(
            "Expected file to have JSONL format, where every line is a valid JSON dictionary. Line {line} is not a dictionary."
        ),
        Some("file"),
    )
}

/// Checks that every non-blank line of the file is a JSON object (run on a blocking thread).
pub(crate) async fn validate_jsonl(path: &FsPath) -> ApiResult<()> {
    let path = path.to_path_buf();
    tokio::task::spawn_blocking(move || -> ApiResult<()> {
        let mut reader = std::io::BufReader::with_capacity(1 << 20, std::fs::File::open(&path)?);
        let mut buf = Vec::new();
        let mut line = 0usize;
        loop {
            buf.clear();
            if reader.read_until(b'\n', &mut buf)? == 0 {
                return Ok(());
            }
            line += 1;
            if buf.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            match serde_json::from_slice::<Value>(&buf) {
                Ok(Value::Object(_)) => {}
                _ => return Err(jsonl_error(line)),
            }
        }
    })
    .await
    .map_err(|e| ApiError::internal(e.to_string()))?
}

fn multipart_error(e: impl std::fmt::Display) -> ApiError {
    ApiError::invalid(format!("Invalid multipart body: {e}"), None)
}

/// Reads the `expires_after` fields: an expiry `seconds` after creation.
fn expiry(
    purpose: &str,
    created_ms: i64,
    anchor: Option<String>,
    seconds: Option<String>,
) -> ApiResult<Option<i64>> {
    match seconds {
        Some(s) => {
            if anchor.as_deref().unwrap_or("created_at") != "created_at" {
                return Err(ApiError::invalid(
                    "Invalid 'expires_after[anchor]': expected 'created_at'.",
                    Some("expires_after[anchor]"),
                ));
            }
            match s.trim().parse::<i64>() {
                Ok(n) if (3600..=2_592_000).contains(&n) => Ok(Some(secs(created_ms) + n)),
                _ => Err(ApiError::invalid(
                    "Invalid 'expires_after[seconds]': must be between 3600 and 2592000.",
                    Some("expires_after[seconds]"),
                )),
            }
        }
        None if purpose == "batch" => Ok(Some(secs(created_ms) + 30 * 86_400)),
        None => Ok(None),
    }
}

/// `POST /files`.
pub(crate) async fn create(
    State(state): State<AppState>,
    Extension(flavor): Extension<Flavor>,
    Extension(AzureApi(caps)): Extension<AzureApi>,
    mut multipart: Multipart,
) -> ApiResult<Json<Value>> {
    let id = random_id("file-", 24);
    let path = state.0.dir.join(&id);
    let mut guard = RemoveOnDrop(Some(path.clone()));
    let form = read_form(&mut multipart, &path).await?;
    let Some(filename) = form.filename else {
        return Err(ApiError::invalid(
            "Missing required parameter: 'file'.",
            Some("file"),
        ));
    };
    let purpose = form.purpose.ok_or_else(|| {
        ApiError::invalid("Missing required parameter: 'purpose'.", Some("purpose"))
    })?;
    let purposes = caps.and_then(|c| c.file_purposes).unwrap_or(FILE_PURPOSES);
    if !purposes.contains(&purpose.as_str()) {
        return Err(ApiError::invalid(
            format!("'{purpose}' is not one of {purposes:?} - 'purpose'"),
            Some("purpose"),
        ));
    }
    let created_ms = now_ms();
    let expires_at = expiry(&purpose, created_ms, form.anchor, form.seconds)?;
    if purpose == "fine-tune" {
        validate_jsonl(&path).await?;
    }
    let new = NewFile {
        id,
        filename,
        purpose,
        path,
        bytes: form.bytes,
        created_ms,
        expires_at,
        processing_ms: caps.map_or(0, |_| crate::azure::file_processing_ms(&state)),
    };
    let rec = insert_file(&state, &mut state.store(), new);
    guard.disarm();
    state.count(|s| s.files_created += 1);
    Ok(Json(rec.to_json(flavor)))
}

/// The fields of a `POST /files` form.
#[derive(Default)]
struct FileForm {
    /// The `file` field's filename (`file` when it has none); `None`: no `file` field.
    filename: Option<String>,
    /// Bytes received in `file` fields.
    bytes: u64,
    purpose: Option<String>,
    anchor: Option<String>,
    seconds: Option<String>,
}

/// Reads the form, streaming the `file` field to `path`; unknown fields are skipped.
async fn read_form(multipart: &mut Multipart, path: &FsPath) -> ApiResult<FileForm> {
    let mut form = FileForm::default();
    while let Some(mut field) = multipart.next_field().await.map_err(multipart_error)? {
        match field.name().unwrap_or("") {
            "file" => {
                form.filename = Some(field.file_name().unwrap_or("file").to_string());
                save_field(&mut field, path, &mut form.bytes).await?;
            }
            "purpose" => form.purpose = Some(field.text().await.map_err(multipart_error)?),
            "expires_after[anchor]" => {
                form.anchor = Some(field.text().await.map_err(multipart_error)?)
            }
            "expires_after[seconds]" => {
                form.seconds = Some(field.text().await.map_err(multipart_error)?)
            }
            _ => while field.chunk().await.map_err(multipart_error)?.is_some() {},
        }
    }
    Ok(form)
}

/// Streams a field to `path`, counting its bytes in `bytes` (at most [`MAX_FILE_BYTES`]).
async fn save_field(
    field: &mut axum::extract::multipart::Field<'_>,
    path: &FsPath,
    bytes: &mut u64,
) -> ApiResult<()> {
    let mut out = tokio::fs::File::create(path).await?;
    while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
        *bytes += chunk.len() as u64;
        if *bytes > MAX_FILE_BYTES {
            return Err(ApiError::new(
                axum::http::StatusCode::PAYLOAD_TOO_LARGE,
                "invalid_request_error",
                "File is too large. The maximum file size is 512 MB.",
            )
            .code("file_too_large"));
        }
        out.write_all(&chunk).await?;
    }
    out.flush().await?;
    Ok(())
}

/// `GET /files`.
pub(crate) async fn list(
    State(state): State<AppState>,
    Extension(flavor): Extension<Flavor>,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Value>> {
    let pairs = query_pairs(q.as_deref());
    let limit = query_int(&pairs, "limit", 10_000, 1, 10_000)?;
    let order = query_get(&pairs, "order").unwrap_or("desc");
    if order != "asc" && order != "desc" {
        return Err(ApiError::invalid(
            format!("Invalid 'order': expected 'asc' or 'desc', got '{order}'."),
            Some("order"),
        ));
    }
    let purpose = query_get(&pairs, "purpose").filter(|p| !p.is_empty());
    let after = query_get(&pairs, "after").filter(|p| !p.is_empty());
    let store = state.store();
    let mut files: Vec<&FileRecord> = store
        .files
        .values()
        .filter(|f| purpose.is_none_or(|p| f.purpose == p))
        .collect();
    files.sort_by_key(|f| (f.created_ms, f.seq));
    if order == "desc" {
        files.reverse();
    }
    if let Some(after) = after {
        files = match files.iter().position(|f| f.id == after) {
            Some(i) => files.split_off(i + 1),
            None => Vec::new(),
        };
    }
    let has_more = files.len() > limit;
    files.truncate(limit);
    let data: Vec<Value> = files.iter().map(|f| f.to_json(flavor)).collect();
    Ok(Json(json!({
        "object": "list",
        "data": data,
        // Strings, as the spec requires them even for an empty list.
        "first_id": files.first().map(|f| f.id.clone()).unwrap_or_default(),
        "last_id": files.last().map(|f| f.id.clone()).unwrap_or_default(),
        "has_more": has_more,
    })))
}

/// 404 for an unknown file id.
pub(crate) fn no_such_file(id: &str) -> ApiError {
    ApiError::not_found(format!("No such File object: {id}"), Some("id"))
}

/// `GET /files/{file_id}`.
pub(crate) async fn retrieve(
    State(state): State<AppState>,
    Extension(flavor): Extension<Flavor>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let store = state.store();
    let f = store.files.get(&id).ok_or_else(|| no_such_file(&id))?;
    Ok(Json(f.to_json(flavor)))
}

/// `DELETE /files/{file_id}`.
pub(crate) async fn delete(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let rec = state
        .store()
        .files
        .remove(&id)
        .ok_or_else(|| no_such_file(&id))?;
    let _ = tokio::fs::remove_file(&rec.path).await;
    state.count(|s| s.files_deleted += 1);
    Ok(Json(json!({"id": id, "object": "file", "deleted": true})))
}

/// `GET /files/{file_id}/content`: the raw bytes, streamed.
pub(crate) async fn content(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let (path, bytes, filename) = {
        let store = state.store();
        let f = store.files.get(&id).ok_or_else(|| no_such_file(&id))?;
        (f.path.clone(), f.bytes, f.filename.clone())
    };
    let file = tokio::fs::File::open(&path)
        .await
        .map_err(|_| no_such_file(&id))?;
    let body = Body::from_stream(tokio_util::io::ReaderStream::new(file));
    let disposition = format!("attachment; filename=\"{}\"", filename.replace('"', ""));
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_string()),
            (header::CONTENT_LENGTH, bytes.to_string()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        body,
    )
        .into_response())
}
