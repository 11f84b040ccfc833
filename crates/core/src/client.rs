//! A small OpenAI client for the Files, Uploads and Fine-tuning APIs, with openai-node's retry
//! policy: connection errors, timeouts, 408, 409, 429 and 5xx are retried with jittered
//! exponential backoff, honouring `retry-after-ms` and `retry-after`.

use std::path::Path;
use std::time::{Duration, SystemTime};

use futures::StreamExt;
use rand::Rng;
use reqwest::{header, Method, RequestBuilder, Response, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::api::{
    CreateJobRequest, CreateUploadRequest, FileObject, Job, JobEvent, List, Upload, UploadPart,
};
use crate::error::{Error, ErrorCode, Result};
use crate::options::Connection;
use crate::source::error_chain;

fn aborted() -> Error {
    Error::aborted()
}

const INITIAL_RETRY_DELAY: Duration = Duration::from_millis(500);
const MAX_RETRY_DELAY: Duration = Duration::from_secs(8);
/// A `retry-after` longer than this is not honoured (the default backoff is used instead).
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(600);

/// Told the bytes of a file sent so far (from 0 again when an attempt is retried).
pub type SentFn = std::sync::Arc<dyn Fn(u64) + Send + Sync>;

/// How one attempt went wrong.
enum Failure {
    /// Worth another attempt; `ambiguous` when the request may have been acted upon.
    Retry {
        error: Error,
        after: Option<Duration>,
        ambiguous: bool,
    },
    /// Final.
    Fatal(Error),
}

/// A success answer.
struct Answer {
    status: StatusCode,
    body: bytes::Bytes,
    request_id: Option<String>,
}

impl Answer {
    /// The body as JSON of type `T`.
    fn json<T: DeserializeOwned>(self) -> Result<T> {
        let with_rid = |mut e: Error| {
            e.status = Some(self.status.as_u16());
            e.request_id = self.request_id.clone();
            e
        };
        let value: Value = serde_json::from_slice(&self.body).map_err(|e| {
            with_rid(Error::new(
                ErrorCode::Api,
                format!(
                    "the API answered {} with a body that is not JSON: {e}",
                    self.status
                ),
            ))
        })?;
        serde_json::from_value(value).map_err(|e| {
            with_rid(Error::new(
                ErrorCode::Api,
                format!("unexpected answer from the API: {e}"),
            ))
        })
    }
}

/// The client. Cheap to clone.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    conn: Connection,
}

impl Client {
    /// A client for this connection.
    pub fn new(conn: Connection) -> Result<Client> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("taskforce-fine-tune/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(30))
            .timeout(REQUEST_TIMEOUT)
            .build()
            .map_err(|e| Error::new(ErrorCode::Internal, format!("HTTP client: {e}")))?;
        Ok(Client { http, conn })
    }

    /// The base URL (never the key).
    pub fn base_url(&self) -> &str {
        &self.conn.base_url
    }

    fn request(&self, method: Method, path: &str) -> RequestBuilder {
        let mut rb = self
            .http
            .request(method, format!("{}{}", self.conn.base_url, path));
        rb = match &self.conn.azure_api_version {
            Some(version) => rb
                .header("api-key", &self.conn.api_key)
                .query(&[("api-version", version.as_str())]),
            None => rb.bearer_auth(&self.conn.api_key),
        };
        if let Some(org) = &self.conn.organization {
            rb = rb.header("OpenAI-Organization", org);
        }
        if let Some(p) = &self.conn.project {
            rb = rb.header("OpenAI-Project", p);
        }
        rb
    }

    async fn attempt(&self, rb: RequestBuilder) -> std::result::Result<Answer, Failure> {
        let resp = match rb.send().await {
            Ok(r) => r,
            Err(e) => {
                let ambiguous = !e.is_connect();
                let mut error = Error::new(
                    ErrorCode::Network,
                    format!("could not reach the OpenAI API: {}", error_chain(&e)),
                );
                error.status = e.status().map(|s| s.as_u16());
                return Err(Failure::Retry {
                    error,
                    after: None,
                    ambiguous,
                });
            }
        };
        let status = resp.status();
        let request_id = header_str(&resp, "x-request-id");
        let should_retry = header_str(&resp, "x-should-retry");
        let after = retry_after(&resp);
        if status.is_success() {
            let body = resp.bytes().await.map_err(|e| Failure::Retry {
                error: Error::new(
                    ErrorCode::Network,
                    format!("the answer broke off: {}", error_chain(&e)),
                ),
                after: None,
                ambiguous: true,
            })?;
            return Ok(Answer {
                status,
                body,
                request_id,
            });
        }
        let body = resp.bytes().await.unwrap_or_default();
        let error = api_error(status, &body, request_id);
        let quota = matches!(error.code, ErrorCode::Quota);
        let retry = match should_retry.as_deref() {
            Some("true") => true,
            Some("false") => false,
            _ => !quota && (matches!(status.as_u16(), 408 | 409 | 429) || status.is_server_error()),
        };
        if retry {
            Err(Failure::Retry {
                error,
                after,
                ambiguous: status.is_server_error() || status.as_u16() == 408,
            })
        } else {
            Err(Failure::Fatal(error))
        }
    }

    /// The one request path: sends a request built afresh for each attempt, retrying what
    /// [`Error::is_retryable`]-style rules allow (and the API's `x-should-retry`), and turns a
    /// success's body into `T` with `parse`. `recover` is asked, after an ambiguous failure,
    /// whether the action already happened; if it says so, its answer wins.
    async fn execute<T, B, P, R, RF>(
        &self,
        build: B,
        parse: P,
        cancel: &CancellationToken,
        recover: Option<R>,
    ) -> Result<T>
    where
        B: Fn() -> Result<RequestBuilder>,
        P: Fn(Answer) -> Result<T>,
        R: Fn() -> RF,
        RF: std::future::Future<Output = Result<Option<T>>>,
    {
        let mut retries = 0u32;
        loop {
            let rb = build()?;
            let outcome = tokio::select! {
                _ = cancel.cancelled() => return Err(aborted()),
                o = self.attempt(rb) => o,
            };
            match outcome {
                Ok(answer) => return parse(answer),
                Err(Failure::Fatal(e)) => return Err(e),
                Err(Failure::Retry {
                    error,
                    after,
                    ambiguous,
                }) => {
                    if ambiguous {
                        if let Some(recover) = &recover {
                            // The action may have happened. It is sent again only once a
                            // look-up has answered that it did not; a look-up that cannot get
                            // an answer ends the call (the caller looks up again next time).
                            match recover().await {
                                Ok(Some(found)) => return Ok(found),
                                Ok(None) => {}
                                Err(e) if e.is_abort() => return Err(e),
                                Err(e) => return Err(unconfirmed(&error, &e)),
                            }
                        }
                    }
                    if retries >= self.conn.max_retries {
                        return Err(error);
                    }
                    let delay = after.unwrap_or_else(|| backoff(retries));
                    retries += 1;
                    tokio::select! {
                        _ = cancel.cancelled() => return Err(aborted()),
                        _ = tokio::time::sleep(delay) => {}
                    }
                }
            }
        }
    }

    /// [`Self::execute`] for a JSON answer.
    async fn send_with<T, B, R, RF>(
        &self,
        build: B,
        cancel: &CancellationToken,
        recover: Option<R>,
    ) -> Result<T>
    where
        T: DeserializeOwned,
        B: Fn() -> Result<RequestBuilder>,
        R: Fn() -> RF,
        RF: std::future::Future<Output = Result<Option<T>>>,
    {
        self.execute(build, Answer::json, cancel, recover).await
    }

    async fn send<T: DeserializeOwned>(
        &self,
        build: impl Fn() -> Result<RequestBuilder>,
        cancel: &CancellationToken,
    ) -> Result<T> {
        self.send_with(
            build,
            cancel,
            None::<fn() -> std::future::Ready<Result<Option<T>>>>,
        )
        .await
    }

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
        let bytes = std::fs::metadata(path).map(|m| m.len()).ok();
        // A lost answer: the file is found by its name (unique to the run) and size.
        let recover = || async move {
            let files = self.list_files(cancel).await?;
            Ok(files
                .into_iter()
                .find(|f| f.filename.as_deref() == Some(filename) && f.bytes == bytes))
        };
        self.send_with(build, cancel, Some(recover)).await
    }

    /// `GET /files?purpose=fine-tune`, every page.
    pub async fn list_files(&self, cancel: &CancellationToken) -> Result<Vec<FileObject>> {
        let mut out: Vec<FileObject> = Vec::new();
        for _ in 0..100 {
            let after = out.last().map(|f| f.id.clone());
            let page: List<FileObject> = self
                .send(
                    || {
                        let mut rb = self
                            .request(Method::GET, "/files")
                            .query(&[("purpose", "fine-tune"), ("limit", "10000")]);
                        if let Some(a) = &after {
                            rb = rb.query(&[("after", a.as_str())]);
                        }
                        Ok(rb)
                    },
                    cancel,
                )
                .await?;
            let n = page.data.len();
            out.extend(page.data);
            if !page.has_more || n == 0 {
                break;
            }
        }
        Ok(out)
    }

    /// `DELETE /files/{id}`; a file that is already gone counts as deleted.
    pub async fn delete_file(&self, id: &str, cancel: &CancellationToken) -> Result<()> {
        match self
            .send::<Value>(
                || Ok(self.request(Method::DELETE, &format!("/files/{id}"))),
                cancel,
            )
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.status == Some(404) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// `POST /uploads/{id}/cancel`; an Upload already cancelled, completed or expired counts
    /// as done.
    pub async fn cancel_upload(&self, id: &str, cancel: &CancellationToken) -> Result<()> {
        match self
            .send::<Value>(
                || Ok(self.request(Method::POST, &format!("/uploads/{id}/cancel"))),
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
                .request(Method::POST, &format!("/uploads/{upload_id}/parts"))
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
                    .request(Method::POST, &format!("/uploads/{upload_id}/complete"))
                    .json(&body))
            },
            cancel,
        )
        .await
    }

    /// `GET /files/{id}`.
    pub async fn retrieve_file(&self, id: &str, cancel: &CancellationToken) -> Result<FileObject> {
        self.send(
            || Ok(self.request(Method::GET, &format!("/files/{id}"))),
            cancel,
        )
        .await
    }

    /// `GET /files/{id}/content` as text, through the same retries as every request.
    pub async fn file_content(&self, id: &str, cancel: &CancellationToken) -> Result<String> {
        self.execute(
            || Ok(self.request(Method::GET, &format!("/files/{id}/content"))),
            |a: Answer| Ok(String::from_utf8_lossy(&a.body).into_owned()),
            cancel,
            None::<fn() -> std::future::Ready<Result<Option<String>>>>,
        )
        .await
    }

    /// `POST /fine_tuning/jobs`. After an ambiguous failure the job is looked up by its
    /// metadata ([`Self::find_job`]) and sent again only if that look-up answers that there is
    /// none: a lost answer never creates a second job.
    pub async fn create_job(
        &self,
        body: &CreateJobRequest,
        cancel: &CancellationToken,
    ) -> Result<Job> {
        let run_id = body.metadata.get("run_id").cloned().unwrap_or_default();
        let key = body.metadata.get(IDEMPOTENCY_KEY).cloned();
        let recover = || {
            let (run_id, key) = (run_id.clone(), key.clone());
            async move {
                match key {
                    Some(k) => self.find_job(&k, &run_id, cancel).await,
                    None => Ok(None),
                }
            }
        };
        self.send_with(
            || Ok(self.request(Method::POST, "/fine_tuning/jobs").json(body)),
            cancel,
            Some(recover),
        )
        .await
    }

    /// Every job whose `metadata[name]` is `value`, newest first (at most 100).
    pub async fn jobs_by_metadata(
        &self,
        name: &str,
        value: &str,
        cancel: &CancellationToken,
    ) -> Result<Vec<Job>> {
        let filter = format!("metadata[{name}]");
        let list: List<Job> = self
            .send(
                || {
                    Ok(self
                        .request(Method::GET, "/fine_tuning/jobs")
                        .query(&[(filter.as_str(), value), ("limit", "100")]))
                },
                cancel,
            )
            .await?;
        Ok(list
            .data
            .into_iter()
            .filter(|j| j.metadata_value(name) == Some(value))
            .collect())
    }

    /// The job of idempotency key `key` to use instead of creating one: the one this run
    /// created (`run_id`), whatever its status; else the first created of the others that did
    /// not fail and were not cancelled (another process or machine training the same thing).
    /// `Ok(None)` only when the API answered that there is none.
    pub async fn find_job(
        &self,
        key: &str,
        run_id: &str,
        cancel: &CancellationToken,
    ) -> Result<Option<Job>> {
        let jobs = self.jobs_by_metadata(IDEMPOTENCY_KEY, key, cancel).await?;
        Ok(pick_job(jobs, run_id))
    }

    /// `GET /fine_tuning/jobs/{id}`.
    pub async fn retrieve_job(&self, id: &str, cancel: &CancellationToken) -> Result<Job> {
        self.send(
            || Ok(self.request(Method::GET, &format!("/fine_tuning/jobs/{id}"))),
            cancel,
        )
        .await
        .map_err(|e| e.with_job(id))
    }

    /// `POST /fine_tuning/jobs/{id}/{action}` (`cancel`, `pause`, `resume`): the job as it is
    /// after.
    pub(crate) async fn job_action(
        &self,
        id: &str,
        action: &str,
        cancel: &CancellationToken,
    ) -> Result<Job> {
        self.send(
            || Ok(self.request(Method::POST, &format!("/fine_tuning/jobs/{id}/{action}"))),
            cancel,
        )
        .await
        .map_err(|e| e.with_job(id))
    }

    /// `POST /fine_tuning/jobs/{id}/cancel`.
    pub async fn cancel_job(&self, id: &str, cancel: &CancellationToken) -> Result<Job> {
        self.job_action(id, "cancel", cancel).await
    }

    /// The events after `after` (an event id), oldest first. The API lists newest first and
    /// pages by `after`, so this reads pages until it meets `after` or runs out.
    pub async fn events_since(
        &self,
        id: &str,
        after: Option<&str>,
        cancel: &CancellationToken,
    ) -> Result<Vec<JobEvent>> {
        let mut out: Vec<JobEvent> = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..50 {
            let page: List<JobEvent> = self
                .send(
                    || {
                        let mut rb = self
                            .request(Method::GET, &format!("/fine_tuning/jobs/{id}/events"))
                            .query(&[("limit", "100")]);
                        if let Some(c) = &cursor {
                            rb = rb.query(&[("after", c.as_str())]);
                        }
                        Ok(rb)
                    },
                    cancel,
                )
                .await
                .map_err(|e| e.with_job(id))?;
            let n = page.data.len();
            let mut met = false;
            for ev in page.data {
                if Some(ev.id.as_str()) == after {
                    met = true;
                    break;
                }
                out.push(ev);
            }
            if met || !page.has_more || n == 0 {
                break;
            }
            cursor = out.last().map(|e| e.id.clone());
        }
        out.reverse();
        Ok(out)
    }

    /// `POST /chat/completions` with `body` (OpenAI's request, as JSON); the answer as JSON.
    /// Retried like every request (429s honour `retry-after`).
    pub async fn chat_completion(&self, body: &Value, cancel: &CancellationToken) -> Result<Value> {
        self.send(
            || Ok(self.request(Method::POST, "/chat/completions").json(body)),
            cancel,
        )
        .await
    }

    /// `DELETE /models/{model}`: deletes a fine-tuned model. Returns whether it was deleted
    /// (`false`: the API no longer has it, 404).
    pub async fn delete_model(&self, model: &str, cancel: &CancellationToken) -> Result<bool> {
        let path = format!("/models/{}", urlencode_segment(model));
        let answer: Result<Value> = self
            .send(|| Ok(self.request(Method::DELETE, &path)), cancel)
            .await;
        match answer {
            Ok(v) => Ok(v.get("deleted").and_then(Value::as_bool).unwrap_or(true)),
            Err(e) if e.status == Some(404) => Ok(false),
            Err(e) => Err(e),
        }
    }
}

/// A path segment with the characters that would change the URL's meaning escaped (model
/// names hold `:`, which is fine in a segment).
fn urlencode_segment(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '/' | '?' | '#' | '%' | ' ' => format!("%{:02X}", c as u32),
            c => c.to_string(),
        })
        .collect()
}

/// A request that may have been acted on, whose look-up failed too: `ERR_NETWORK`, not sent
/// again.
fn unconfirmed(error: &Error, lookup: &Error) -> Error {
    let mut e = Error::new(
        ErrorCode::Network,
        format!(
            "the request may have reached the API ({}), and looking up whether it did failed too ({}); it was not sent again: call again with the same options, which looks it up first",
            error.message, lookup.message
        ),
    );
    e.status = lookup.status.or(error.status);
    e.request_id = lookup.request_id.clone().or(error.request_id.clone());
    e
}

/// The metadata key carrying a run's idempotency key (see [`crate::stages::job::idempotency_key`]).
pub const IDEMPOTENCY_KEY: &str = "idempotency_key";

/// See [`Client::find_job`]. `jobs` in the API's order (newest first). Among other runs'
/// jobs, the first created (the last listed) wins, so that every process racing on one key
/// agrees on the same job.
pub fn pick_job(jobs: Vec<Job>, run_id: &str) -> Option<Job> {
    if let Some(own) = jobs
        .iter()
        .find(|j| !run_id.is_empty() && j.metadata_value("run_id") == Some(run_id))
    {
        return Some(own.clone());
    }
    jobs.into_iter()
        .rfind(|j| !matches!(j.status.as_str(), "failed" | "cancelled"))
}

fn header_str(resp: &Response, name: &str) -> Option<String> {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// openai-node's backoff: 0.5 s doubling to 8 s, minus up to 25 % jitter.
fn backoff(retries: u32) -> Duration {
    let base = INITIAL_RETRY_DELAY.saturating_mul(1u32 << retries.min(10));
    let base = base.min(MAX_RETRY_DELAY);
    let jitter = 1.0 - rand::rng().random::<f64>() * 0.25;
    base.mul_f64(jitter)
}

/// `retry-after-ms`, then `retry-after` in seconds or as an HTTP date; ignored when absurd.
fn retry_after(resp: &Response) -> Option<Duration> {
    let h = resp.headers();
    let parsed = h
        .get("retry-after-ms")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<f64>().ok())
        .map(|ms| Duration::from_secs_f64(ms.max(0.0) / 1000.0))
        .or_else(|| {
            let v = h
                .get(header::RETRY_AFTER)?
                .to_str()
                .ok()?
                .trim()
                .to_string();
            match v.parse::<f64>() {
                Ok(secs) => Some(Duration::from_secs_f64(secs.max(0.0))),
                Err(_) => {
                    let when = httpdate_parse(&v)?;
                    Some(when.duration_since(SystemTime::now()).unwrap_or_default())
                }
            }
        })?;
    (parsed <= MAX_RETRY_AFTER).then_some(parsed)
}

/// Parses an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), the form `retry-after` dates take.
fn httpdate_parse(s: &str) -> Option<SystemTime> {
    let dt = chrono::DateTime::parse_from_rfc2822(s).ok()?;
    let secs = u64::try_from(dt.timestamp()).ok()?;
    Some(SystemTime::UNIX_EPOCH + Duration::from_secs(secs))
}

/// Turns an error answer into an [`Error`] with OpenAI's code, type, param and message.
pub fn api_error(status: StatusCode, body: &[u8], request_id: Option<String>) -> Error {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    let e = parsed.as_ref().and_then(|v| v.get("error"));
    let s = |k: &str| {
        e.and_then(|e| e.get(k))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let api_message = s("message").unwrap_or_else(|| {
        let text = String::from_utf8_lossy(body);
        let text = text.trim();
        if text.is_empty() {
            status
                .canonical_reason()
                .unwrap_or("no message")
                .to_string()
        } else {
            text.chars().take(300).collect()
        }
    });
    let api_code = s("code");
    let api_type = s("type");
    let is_quota = |v: &Option<String>| {
        matches!(
            v.as_deref(),
            Some("insufficient_quota") | Some("daily_rate_limit_exceeded")
        )
    };
    let code = match status.as_u16() {
        401 | 403 => ErrorCode::Authentication,
        429 if is_quota(&api_code) || is_quota(&api_type) => ErrorCode::Quota,
        429 => ErrorCode::RateLimited,
        _ => ErrorCode::Api,
    };
    let mut err = Error::new(
        code,
        format!("OpenAI API answered {}: {api_message}", status.as_u16()),
    );
    err.status = Some(status.as_u16());
    err.request_id = request_id;
    err.api_code = api_code;
    err.api_type = api_type;
    err.param = s("param");
    err
}

/// Lifecycle, pause/resume and Azure control-plane requests (see `lifecycle.rs`, `azure.rs`).
impl Client {
    /// Whether this client talks to Azure OpenAI's data plane (`api-key`, `api-version`).
    pub fn is_azure(&self) -> bool {
        self.conn.azure_api_version.is_some()
    }

    /// `GET /models/{model}` (OpenAI's `Model`, with its optional `shutdown_date`).
    pub async fn retrieve_model(&self, model: &str, cancel: &CancellationToken) -> Result<Value> {
        let path = format!("/models/{}", path_segment(model));
        self.send(|| Ok(self.request(Method::GET, &path)), cancel)
            .await
    }

    /// `GET /models`: every model (Azure: with `deprecation` and `lifecycle_status`).
    pub async fn list_models(&self, cancel: &CancellationToken) -> Result<List<Value>> {
        self.send(|| Ok(self.request(Method::GET, "/models")), cancel)
            .await
    }

    /// A JSON request to `path` with `query` (the control plane: a client whose key is the
    /// Entra token and whose base URL is the management endpoint; always Bearer auth).
    pub async fn json_request(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
        cancel: &CancellationToken,
    ) -> Result<Value> {
        self.send(
            || {
                let mut rb = self
                    .http
                    .request(method.clone(), format!("{}{}", self.conn.base_url, path))
                    .bearer_auth(&self.conn.api_key)
                    .query(query);
                if let Some(b) = body {
                    rb = rb.json(b);
                }
                Ok(rb)
            },
            cancel,
        )
        .await
    }
}

/// A path segment with `/`, `?`, `#` and `%` escaped (model ids hold `:` and `.`, kept).
fn path_segment(s: &str) -> String {
    s.replace('%', "%25")
        .replace('/', "%2F")
        .replace('?', "%3F")
        .replace('#', "%23")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        for r in 0..12 {
            let d = backoff(r);
            assert!(d <= MAX_RETRY_DELAY, "{d:?}");
            assert!(
                d >= INITIAL_RETRY_DELAY
                    .mul_f64(0.75)
                    .min(MAX_RETRY_DELAY.mul_f64(0.75))
            );
        }
        assert!(backoff(3) > backoff(0));
    }

    #[test]
    fn quota_429_is_not_rate_limit() {
        let body = br#"{"error":{"message":"You exceeded your current quota","type":"insufficient_quota","param":null,"code":"insufficient_quota"}}"#;
        let e = api_error(StatusCode::TOO_MANY_REQUESTS, body, Some("req_1".into()));
        assert_eq!(e.code, ErrorCode::Quota);
        assert_eq!(e.request_id.as_deref(), Some("req_1"));
        let body =
            br#"{"error":{"message":"slow down","type":"requests","code":"rate_limit_exceeded"}}"#;
        assert_eq!(
            api_error(StatusCode::TOO_MANY_REQUESTS, body, None).code,
            ErrorCode::RateLimited
        );
        assert_eq!(
            api_error(StatusCode::UNAUTHORIZED, b"", None).code,
            ErrorCode::Authentication
        );
    }

    #[test]
    fn parses_http_dates() {
        let t = httpdate_parse("Sun, 06 Nov 1994 08:49:37 GMT").unwrap();
        assert_eq!(
            t.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs(),
            784111777
        );
    }
}
