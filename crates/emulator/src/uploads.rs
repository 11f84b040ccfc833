//! The Uploads API: create, add parts (≤ 64 MB each), complete (ordered part ids, byte-count
//! and optional md5 checks) into a File, cancel; Uploads expire an hour after creation.

use crate::errors::{ApiError, ApiResult};
use crate::files::{insert_file, validate_jsonl, NewFile, RemoveOnDrop};
use crate::server::Flavor;
use crate::state::AppState;
use crate::util::{now_ms, parse_json, random_id, secs};
use axum::body::Bytes;
use axum::extract::{Multipart, Path, State};
use axum::{Extension, Json};
use md5::{Digest, Md5};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::PathBuf;
use tokio::io::AsyncWriteExt;

/// Largest part (OpenAI: 64 MB).
pub(crate) const MAX_PART_BYTES: u64 = 64 * 1024 * 1024;
/// Largest Upload (OpenAI: 8 GB).
const MAX_UPLOAD_BYTES: u64 = 8 * 1024 * 1024 * 1024;
/// Lifetime of a pending Upload, seconds.
const UPLOAD_TTL_SECS: i64 = 3600;
/// Largest Upload on Azure's dated API (facts §2: "≤9 GB").
const AZURE_MAX_UPLOAD_BYTES: u64 = 9 * 1024 * 1024 * 1024;
/// Lifetime of a pending Upload on Azure's dated API (facts §2: "expires 2 h").
const AZURE_UPLOAD_TTL_SECS: i64 = 2 * 3600;
const UPLOAD_PURPOSES: &[&str] = &[
    "assistants",
    "batch",
    "fine-tune",
    "vision",
    "user_data",
    "evals",
];
const JSONL_MIME: &[&str] = &[
    "text/jsonl",
    "application/jsonl",
    "application/x-ndjson",
    "application/jsonlines",
    "application/json",
];

/// One received part.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(crate) struct PartRecord {
    /// Size in bytes.
    pub bytes: u64,
    /// Where the bytes are.
    pub path: PathBuf,
}

/// An Upload.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(crate) struct UploadRecord {
    /// `upload_…`.
    pub id: String,
    /// Creation time, ms.
    pub created_ms: i64,
    /// Name of the file to create.
    pub filename: String,
    /// Purpose of the file to create.
    pub purpose: String,
    /// Announced size.
    pub bytes: u64,
    /// `pending`, `completed` or `cancelled` (`expired` is computed).
    #[serde(deserialize_with = "crate::persist::static_str")]
    pub status: crate::persist::Word,
    /// Unix seconds.
    pub expires_at: i64,
    /// Parts by id.
    pub parts: HashMap<String, PartRecord>,
    /// A completion is in progress.
    pub completing: bool,
    /// The File, once completed.
    pub file: Option<Value>,
    /// Folder holding the parts.
    pub dir: PathBuf,
}

impl UploadRecord {
    /// The status at `now_ms` (a pending Upload past `expires_at` is `expired`).
    pub fn status_at(&self, now_ms: i64) -> &'static str {
        if self.status == "pending" && secs(now_ms) >= self.expires_at {
            "expired"
        } else {
            self.status
        }
    }

    /// The `Upload` object.
    pub fn to_json(&self, now_ms: i64) -> Value {
        json!({
            "id": self.id,
            "object": "upload",
            "bytes": self.bytes,
            "created_at": secs(self.created_ms),
            "filename": self.filename,
            "purpose": self.purpose,
            "status": self.status_at(now_ms),
            "expires_at": self.expires_at,
            "file": self.file,
        })
    }

    fn require_pending(&self, now_ms: i64) -> ApiResult<()> {
        match self.status_at(now_ms) {
            "pending" if !self.completing => Ok(()),
            "pending" => Err(ApiError::invalid(
                format!("Upload {} is being completed.", self.id),
                None,
            )),
            s => Err(ApiError::invalid(
                format!(
                    "Cannot modify upload {} because it is already {s}.",
                    self.id
                ),
                None,
            )),
        }
    }
}

fn no_such_upload(id: &str) -> ApiError {
    ApiError::not_found(format!("No such Upload object: {id}"), Some("upload_id"))
}

#[derive(Deserialize)]
struct CreateUpload {
    filename: Option<String>,
    purpose: Option<String>,
    bytes: Option<i64>,
    mime_type: Option<String>,
    #[serde(default)]
    expires_after: Option<Value>,
}

/// `POST /uploads`.
pub(crate) async fn create(
    State(state): State<AppState>,
    Extension(crate::azure::AzureApi(caps)): Extension<crate::azure::AzureApi>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let req: CreateUpload = parse_json(&body)?;
    // facts §2: on A1021 an Upload is "≤9 GB, expires 2 h".
    let (max_bytes, max_label, ttl) = match caps {
        Some(_) => (AZURE_MAX_UPLOAD_BYTES, "9 GB", AZURE_UPLOAD_TTL_SECS),
        None => (MAX_UPLOAD_BYTES, "8 GB", UPLOAD_TTL_SECS),
    };
    let missing =
        |p: &str| ApiError::invalid(format!("Missing required parameter: '{p}'."), Some(p));
    let filename = req.filename.ok_or_else(|| missing("filename"))?;
    let purpose = req.purpose.ok_or_else(|| missing("purpose"))?;
    let bytes = req.bytes.ok_or_else(|| missing("bytes"))?;
    let mime_type = req.mime_type.ok_or_else(|| missing("mime_type"))?;
    let _ = req.expires_after;
    if !UPLOAD_PURPOSES.contains(&purpose.as_str()) {
        return Err(ApiError::invalid(
            format!("'{purpose}' is not one of {UPLOAD_PURPOSES:?} - 'purpose'"),
            Some("purpose"),
        ));
    }
    if bytes < 0 || bytes as u64 > max_bytes {
        return Err(ApiError::invalid(
            format!("Invalid 'bytes': an Upload can be between 0 and {max_label}."),
            Some("bytes"),
        ));
    }
    if (purpose == "fine-tune" || purpose == "batch") && !JSONL_MIME.contains(&mime_type.as_str()) {
        return Err(ApiError::invalid(
            format!(
                "Invalid mime type '{mime_type}' for purpose '{purpose}'. Expected 'text/jsonl'."
            ),
            Some("mime_type"),
        ));
    }
    let id = random_id("upload_", 24);
    let dir = state.0.dir.join(&id);
    tokio::fs::create_dir_all(&dir).await?;
    let created_ms = now_ms();
    let rec = UploadRecord {
        id: id.clone(),
        created_ms,
        filename,
        purpose,
        bytes: bytes as u64,
        status: "pending",
        expires_at: secs(created_ms) + ttl,
        parts: HashMap::new(),
        completing: false,
        file: None,
        dir,
    };
    let v = rec.to_json(created_ms);
    state.store().uploads.insert(id, rec);
    state.count(|s| s.uploads_created += 1);
    Ok(Json(v))
}

fn multipart_error(e: impl std::fmt::Display) -> ApiError {
    ApiError::invalid(format!("Invalid multipart body: {e}"), None)
}

/// `POST /uploads/{upload_id}/parts` (multipart field `data`).
pub(crate) async fn add_part(
    State(state): State<AppState>,
    Path(id): Path<String>,
    mut multipart: Multipart,
) -> ApiResult<Json<Value>> {
    let dir = {
        let store = state.store();
        let u = store.uploads.get(&id).ok_or_else(|| no_such_upload(&id))?;
        u.require_pending(now_ms())?;
        u.dir.clone()
    };
    let part_id = random_id("part_", 24);
    let path = dir.join(&part_id);
    let mut guard = RemoveOnDrop(Some(path.clone()));
    let mut bytes = 0u64;
    let mut got = false;
    while let Some(mut field) = multipart.next_field().await.map_err(multipart_error)? {
        if field.name() != Some("data") {
            while field.chunk().await.map_err(multipart_error)?.is_some() {}
            continue;
        }
        let mut out = tokio::fs::File::create(&path).await?;
        while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
            bytes += chunk.len() as u64;
            if bytes > MAX_PART_BYTES {
                return Err(ApiError::invalid(
                    "Part is too large. Each part can be at most 64 MB.",
                    Some("data"),
                ));
            }
            out.write_all(&chunk).await?;
        }
        out.flush().await?;
        got = true;
    }
    if !got {
        return Err(ApiError::invalid(
            "Missing required parameter: 'data'.",
            Some("data"),
        ));
    }
    let created_ms = now_ms();
    {
        let mut store = state.store();
        let u = store
            .uploads
            .get_mut(&id)
            .ok_or_else(|| no_such_upload(&id))?;
        u.require_pending(created_ms)?;
        u.parts.insert(part_id.clone(), PartRecord { bytes, path });
    }
    guard.disarm();
    state.count(|s| s.upload_parts_created += 1);
    Ok(Json(json!({
        "id": part_id,
        "object": "upload.part",
        "created_at": secs(created_ms),
        "upload_id": id,
    })))
}

#[derive(Deserialize)]
struct CompleteUpload {
    part_ids: Option<Vec<String>>,
    md5: Option<String>,
}

/// `POST /uploads/{upload_id}/complete`.
pub(crate) async fn complete(
    State(state): State<AppState>,
    Extension(flavor): Extension<Flavor>,
    Extension(crate::azure::AzureApi(caps)): Extension<crate::azure::AzureApi>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let req: CompleteUpload = parse_json(&body)?;
    let part_ids = req.part_ids.ok_or_else(|| {
        ApiError::invalid("Missing required parameter: 'part_ids'.", Some("part_ids"))
    })?;
    let (paths, filename, purpose) = start_completing(&state, &id, &part_ids)?;
    let result = assemble(&state, &id, paths, req.md5, &purpose).await;
    // Azure's files go through pending and running (see `crate::azure`).
    let processing_ms = caps.map_or(0, |_| crate::azure::file_processing_ms(&state));
    let (v, dir) = finish(
        &state,
        &id,
        result,
        (filename, purpose),
        processing_ms,
        flavor,
    )?;
    let _ = tokio::fs::remove_dir_all(dir).await;
    state.count(|s| {
        s.uploads_completed += 1;
        s.files_created += 1;
    });
    Ok(Json(v))
}

/// Checks the listed parts against the pending Upload and marks it as completing; returns
/// the parts' paths in order, its filename and its purpose.
fn start_completing(
    state: &AppState,
    id: &str,
    part_ids: &[String],
) -> ApiResult<(Vec<PathBuf>, String, String)> {
    let mut store = state.store();
    let u = store
        .uploads
        .get_mut(id)
        .ok_or_else(|| no_such_upload(id))?;
    u.require_pending(now_ms())?;
    let paths = part_paths(u, part_ids)?;
    u.completing = true;
    Ok((paths, u.filename.clone(), u.purpose.clone()))
}

/// The paths of the listed parts: each listed once, each of this Upload, adding up to the
/// Upload's declared bytes.
fn part_paths(u: &UploadRecord, part_ids: &[String]) -> ApiResult<Vec<PathBuf>> {
    let mut seen = std::collections::HashSet::new();
    let mut paths = Vec::new();
    let mut total = 0u64;
    for pid in part_ids {
        if !seen.insert(pid) {
            return Err(ApiError::invalid(
                format!("Part {pid} is listed more than once."),
                Some("part_ids"),
            ));
        }
        let p = u.parts.get(pid).ok_or_else(|| {
            ApiError::invalid(
                format!("Part {pid} does not belong to Upload {}.", u.id),
                Some("part_ids"),
            )
        })?;
        total += p.bytes;
        paths.push(p.path.clone());
    }
    if total != u.bytes {
        return Err(ApiError::invalid(
            format!(
                "The number of bytes uploaded ({total}) does not match the number of bytes specified when creating the Upload ({}).",
                u.bytes
            ),
            Some("bytes"),
        ));
    }
    Ok(paths)
}

/// Ends the completion: on success the assembled file becomes a File and the Upload
/// `completed` with it. Returns the Upload object and its parts' directory (to remove).
fn finish(
    state: &AppState,
    id: &str,
    assembled: ApiResult<(String, PathBuf, u64)>,
    (filename, purpose): (String, String),
    processing_ms: i64,
    flavor: Flavor,
) -> ApiResult<(Value, PathBuf)> {
    let mut store = state.store();
    let Some(u) = store.uploads.get_mut(id) else {
        return Err(no_such_upload(id));
    };
    u.completing = false;
    let (file_id, path, bytes) = assembled?;
    let dir = u.dir.clone();
    let created_ms = now_ms();
    let new = NewFile {
        id: file_id,
        filename,
        purpose,
        path,
        bytes,
        created_ms,
        expires_at: None,
        processing_ms,
    };
    let rec = insert_file(state, &mut store, new);
    let u = store.uploads.get_mut(id).expect("upload present");
    u.status = "completed";
    u.file = Some(rec.to_json(flavor));
    u.parts.clear();
    Ok((u.to_json(created_ms), dir))
}

/// Concatenates the parts into a new file, checks md5 and (for `fine-tune`) JSONL.
async fn assemble(
    state: &AppState,
    upload_id: &str,
    parts: Vec<PathBuf>,
    md5: Option<String>,
    purpose: &str,
) -> ApiResult<(String, PathBuf, u64)> {
    let file_id = random_id("file-", 24);
    let path = state.0.dir.join(&file_id);
    let mut guard = RemoveOnDrop(Some(path.clone()));
    let out_path = path.clone();
    let (digest, bytes) = tokio::task::spawn_blocking(move || -> std::io::Result<(String, u64)> {
        let mut out = std::io::BufWriter::new(std::fs::File::create(&out_path)?);
        let mut hasher = Md5::new();
        let mut buf = vec![0u8; 1 << 20];
        let mut total = 0u64;
        for p in parts {
            let mut f = std::fs::File::open(p)?;
            loop {
                let n = f.read(&mut buf)?;
                if n == 0 {
                    break;
                }
                hasher.update(&buf[..n]);
                out.write_all(&buf[..n])?;
                total += n as u64;
            }
        }
        out.flush()?;
        let digest: String = hasher
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        Ok((digest, total))
    })
    .await
    .map_err(|e| ApiError::internal(e.to_string()))??;
    if let Some(expected) = md5 {
        if !expected.eq_ignore_ascii_case(&digest) {
            return Err(ApiError::invalid(
                format!("The md5 checksum of Upload {upload_id} ({digest}) does not match the expected checksum ({expected})."),
                Some("md5"),
            ));
        }
    }
    if purpose == "fine-tune" {
        validate_jsonl(&path).await?;
    }
    guard.disarm();
    Ok((file_id, path, bytes))
}

/// `POST /uploads/{upload_id}/cancel`.
pub(crate) async fn cancel(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let now = now_ms();
    let (v, dir) = {
        let mut store = state.store();
        let u = store
            .uploads
            .get_mut(&id)
            .ok_or_else(|| no_such_upload(&id))?;
        u.require_pending(now)?;
        u.status = "cancelled";
        u.parts.clear();
        (u.to_json(now), u.dir.clone())
    };
    let _ = tokio::fs::remove_dir_all(dir).await;
    state.count(|s| s.uploads_cancelled += 1);
    Ok(Json(v))
}
