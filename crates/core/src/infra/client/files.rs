//! The Files API: upload (streamed from disk), list, retrieve, read and delete files.

use crate::calc::ids::path_segment;
use std::path::Path;

use futures::StreamExt;
use reqwest::Method;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::transport::{Answer, Client, SentFn};
use crate::types::api::{FileObject, List};
use crate::types::error::{Error, ErrorCode, Result};

impl Client {
    /// `POST /files` with `purpose=fine-tune`, streamed from disk (the file is reopened for
    /// every attempt, so a retry restarts from its first byte).
    pub async fn upload_file(
        &self,
        path: &Path,
        filename: &str,
        on_sent: Option<SentFn>,
        cancel: &CancellationToken,
    ) -> Result<FileObject> {
        let build = || {
            let file = std::fs::File::open(path).map_err(|e| {
                Error::new(
                    ErrorCode::SourceNotFound,
                    format!("cannot read {}: {e}", path.display()),
                )
            })?;
            let len = file.metadata().map(|m| m.len()).unwrap_or(0);
            let mut sent = 0u64;
            let on_sent = on_sent.clone();
            let stream = tokio_util::io::ReaderStream::with_capacity(
                tokio::fs::File::from_std(file),
                256 * 1024,
            )
            .inspect(move |chunk| {
                if let (Ok(c), Some(f)) = (chunk, &on_sent) {
                    sent += c.len() as u64;
                    f(sent);
                }
            });
            let part = reqwest::multipart::Part::stream_with_length(
                reqwest::Body::wrap_stream(stream),
                len,
            )
            .file_name(filename.to_string())
            .mime_str("application/jsonl")
            .map_err(|e| Error::new(ErrorCode::Internal, e.to_string()))?;
            let form = reqwest::multipart::Form::new()
                .text("purpose", "fine-tune")
                .part("file", part);
            Ok(self.request(Method::POST, "/files").multipart(form))
        };
        let bytes = std::fs::metadata(path)
            .ok()
            .and_then(|m| i64::try_from(m.len()).ok());
        // A lost answer: the file is found by its name (unique to the run) and size.
        let recover = || async move {
            let files = self.list_files(cancel).await?;
            Ok(files
                .into_iter()
                .find(|f| f.filename.as_deref() == Some(filename) && f.bytes == bytes))
        };
        self.send_with(build, cancel, Some(recover)).await
    }

    /// `GET /files?purpose=fine-tune`, every page. Azure declares no paging for it (A1021
    /// and V1 list files by `purpose` only, facts §2): one request, nothing else in its query.
    pub async fn list_files(&self, cancel: &CancellationToken) -> Result<Vec<FileObject>> {
        if self.is_azure() {
            let page: List<FileObject> = self
                .page("/files", &[("purpose", "fine-tune")], None, cancel)
                .await?;
            return Ok(page.data);
        }
        let query = [("purpose", "fine-tune"), ("limit", "10000")];
        self.all_pages("/files", &query, 100, |f: &FileObject| &f.id, cancel)
            .await
    }

    /// `DELETE /files/{id}`; a file that is already gone counts as deleted.
    pub async fn delete_file(&self, id: &str, cancel: &CancellationToken) -> Result<()> {
        match self
            .send::<Value>(
                || Ok(self.request(Method::DELETE, &format!("/files/{}", path_segment(id)))),
                cancel,
            )
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.status == Some(404) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// `GET /files/{id}`.
    pub async fn retrieve_file(&self, id: &str, cancel: &CancellationToken) -> Result<FileObject> {
        self.send(
            || Ok(self.request(Method::GET, &format!("/files/{}", path_segment(id)))),
            cancel,
        )
        .await
    }

    /// `GET /files/{id}/content` as text, through the same retries as every request.
    pub async fn file_content(&self, id: &str, cancel: &CancellationToken) -> Result<String> {
        self.execute(
            || Ok(self.request(Method::GET, &format!("/files/{}/content", path_segment(id)))),
            |a: Answer| Ok(String::from_utf8_lossy(&a.body).into_owned()),
            cancel,
            None::<fn() -> std::future::Ready<Result<Option<String>>>>,
        )
        .await
    }
}
