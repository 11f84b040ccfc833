//! The Uploads API: a large file sent in parts.

use crate::calc::ids::path_segment;
use std::path::Path;

use reqwest::Method;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::transport::Client;
use crate::types::api::{CreateUploadRequest, Upload, UploadPart};
use crate::types::error::{Error, ErrorCode, Result};

impl Client {
    /// `POST /uploads/{id}/cancel`; an Upload already cancelled, completed or expired counts
    /// as done.
    pub async fn cancel_upload(&self, id: &str, cancel: &CancellationToken) -> Result<()> {
        match self
            .send::<Value>(
                || {
                    Ok(self.request(
                        Method::POST,
                        &format!("/uploads/{}/cancel", path_segment(id)),
                    ))
                },
                cancel,
            )
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if matches!(e.status, Some(400) | Some(404)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// `POST /uploads`: starts an Upload of `bytes` bytes for fine-tuning.
    pub async fn create_upload(
        &self,
        filename: &str,
        bytes: u64,
        cancel: &CancellationToken,
    ) -> Result<Upload> {
        let body = CreateUploadRequest {
            filename,
            purpose: "fine-tune",
            bytes,
            mime_type: "text/jsonl",
        };
        self.send(
            || Ok(self.request(Method::POST, "/uploads").json(&body)),
            cancel,
        )
        .await
    }

    /// `POST /uploads/{id}/parts` with bytes `offset..offset+len` of `path`, streamed from disk
    /// (re-read from the file for every attempt). Returns the part id.
    pub async fn add_upload_part(
        &self,
        upload_id: &str,
        path: &Path,
        offset: u64,
        len: u64,
        cancel: &CancellationToken,
    ) -> Result<String> {
        let build = || {
            use std::io::{Seek, SeekFrom};
            let mut file = std::fs::File::open(path).map_err(|e| {
                Error::new(
                    ErrorCode::SourceNotFound,
                    format!("cannot read {}: {e}", path.display()),
                )
            })?;
            file.seek(SeekFrom::Start(offset)).map_err(|e| {
                Error::new(
                    ErrorCode::SourceNotFound,
                    format!("cannot read {}: {e}", path.display()),
                )
            })?;
            let reader = tokio::io::AsyncReadExt::take(tokio::fs::File::from_std(file), len);
            let stream = tokio_util::io::ReaderStream::with_capacity(reader, 256 * 1024);
            let part = reqwest::multipart::Part::stream_with_length(
                reqwest::Body::wrap_stream(stream),
                len,
            )
            .file_name("part")
            // Both official SDKs send it; a strict multipart parser needs it.
            .mime_str("application/octet-stream")
            .map_err(|e| Error::new(ErrorCode::Internal, e.to_string()))?;
            let form = reqwest::multipart::Form::new().part("data", part);
            Ok(self
                .request(
                    Method::POST,
                    &format!("/uploads/{}/parts", path_segment(upload_id)),
                )
                .multipart(form))
        };
        let part: UploadPart = self.send(build, cancel).await?;
        Ok(part.id)
    }

    /// `POST /uploads/{id}/complete` with the ordered part ids; the Upload's `file` is the
    /// finished File object.
    pub async fn complete_upload(
        &self,
        upload_id: &str,
        part_ids: &[String],
        cancel: &CancellationToken,
    ) -> Result<Upload> {
        let body = serde_json::json!({ "part_ids": part_ids });
        self.send(
            || {
                Ok(self
                    .request(
                        Method::POST,
                        &format!("/uploads/{}/complete", path_segment(upload_id)),
                    )
                    .json(&body))
            },
            cancel,
        )
        .await
    }
}
