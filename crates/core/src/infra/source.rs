//! Training data sources: a local `.jsonl` path, or an http(s) URL streamed to a temporary file.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::time::Duration;

use futures::StreamExt;
use tokio::io::AsyncWriteExt;

use crate::types::error::{Error, ErrorCode, Result};
use crate::types::options::DownloadLimits;
use crate::types::redact::{error_chain, redact_url};

/// The most redirects a URL source may take.
pub const MAX_REDIRECTS: usize = 5;

/// Keeps the bytes received over the last window: samples at most every window/30, so its
/// size stays bounded whatever the chunk rate.
struct RateMeter {
    window: Duration,
    samples: VecDeque<(tokio::time::Instant, u64)>,
}

impl RateMeter {
    fn new(window: Duration) -> RateMeter {
        RateMeter {
            window,
            samples: VecDeque::from([(tokio::time::Instant::now(), 0)]),
        }
    }

    /// Records `total` bytes received so far; gives (bytes, seconds) over the last window
    /// once a whole window has passed.
    fn record(&mut self, total: u64) -> Option<(u64, f64)> {
        let now = tokio::time::Instant::now();
        let step = self.window / 30;
        if self
            .samples
            .back()
            .is_some_and(|(t, _)| now.duration_since(*t) >= step)
        {
            self.samples.push_back((now, total));
        }
        let since = now.checked_sub(self.window)?;
        while self.samples.len() >= 2 && self.samples[1].0 <= since {
            self.samples.pop_front();
        }
        let (t0, b0) = *self.samples.front()?;
        let span = now.duration_since(t0);
        (span >= self.window).then(|| (total - b0, span.as_secs_f64()))
    }
}

/// A data file on local disk. A downloaded one is removed when this is dropped, on success
/// and on failure alike.
#[derive(Debug)]
pub struct LocalData {
    /// Where the bytes are.
    pub path: PathBuf,
    /// The file name to upload under.
    pub filename: String,
    /// Its size in bytes.
    pub bytes: u64,
    _temp: Option<tempfile::TempPath>,
}

/// A run's training file and, when given, its validation file, on local disk.
pub struct Loaded {
    pub training: LocalData,
    pub validation: Option<LocalData>,
}

impl LocalData {
    /// A temporary file (removed when this is dropped), uploaded as `filename`.
    pub fn temporary(path: tempfile::TempPath, filename: String) -> LocalData {
        let bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        LocalData {
            path: path.to_path_buf(),
            filename,
            bytes,
            _temp: Some(path),
        }
    }
}

/// True when `source` is a URL rather than a path (a scheme of two or more letters followed by `:`).
pub fn is_url(source: &str) -> bool {
    match source.split_once(':') {
        Some((scheme, _)) => {
            scheme.len() > 1
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '+' || c == '-' || c == '.')
        }
        None => false,
    }
}

/// Checks a source without touching it: a URL must be http(s).
pub fn check_source(param: &str, source: &str) -> Result<()> {
    if is_url(source) {
        let url = url::Url::parse(source).map_err(|e| {
            Error::new(
                ErrorCode::InvalidOption,
                format!("{param} is not a valid URL: {e}"),
            )
            .with_param(param)
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(Error::new(
                ErrorCode::InvalidOption,
                format!(
                    "{param} uses the {}: scheme; only local paths and http(s) URLs are supported",
                    url.scheme()
                ),
            )
            .with_param(param));
        }
    }
    Ok(())
}

/// Opens a local source: it must exist, be a file and be readable.
pub fn open_local(param: &str, source: &str) -> Result<LocalData> {
    let path = PathBuf::from(source);
    let not_found = |why: String| {
        Error::new(
            ErrorCode::SourceNotFound,
            format!("{param} {source:?} {why}"),
        )
        .with_param(param)
    };
    let meta = std::fs::metadata(&path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => not_found("does not exist".into()),
        _ => not_found(format!("cannot be read: {e}")),
    })?;
    if !meta.is_file() {
        return Err(not_found("is not a file".into()));
    }
    std::fs::File::open(&path).map_err(|e| not_found(format!("cannot be read: {e}")))?;
    let filename = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "training.jsonl".into());
    Ok(LocalData {
        path,
        filename,
        bytes: meta.len(),
        _temp: None,
    })
}

/// Downloads a URL source into a temporary file in `dir`, streaming, with a size cap, an
/// idle timeout and a minimum rate (see [`DownloadLimits`]), a redirect limit that refuses
/// non-http(s) targets, and a refusal of HTML pages. Errors never show the URL's user info
/// or query values.
pub async fn download(
    param: &str,
    source: &str,
    dir: &Path,
    limits: &DownloadLimits,
    cancel: &tokio_util::sync::CancellationToken,
) -> Result<LocalData> {
    let fetch = Fetch {
        param,
        shown: redact_url(source),
        limits,
    };
    let client = http_client().map_err(|e| {
        Error::new(
            ErrorCode::SourceFetch,
            format!("cannot build an HTTP client: {e}"),
        )
        .with_param(param)
    })?;
    let resp = tokio::select! {
        _ = cancel.cancelled() => return Err(Error::aborted()),
        r = tokio::time::timeout(limits.idle_timeout, client.get(source).send()) => {
            r.map_err(|_| fetch.idle())?
        }
    }
    .map_err(|e| {
        fetch.err(format!(
            " could not be fetched: {}",
            error_chain(&e.without_url())
        ))
    })?;
    fetch.check_answer(&resp)?;
    let (temp, mut file) = temp_file(dir).await?;
    let mut stream = resp.bytes_stream();
    let mut total: u64 = 0;
    let mut meter = RateMeter::new(limits.rate_window);
    loop {
        let chunk = tokio::select! {
            _ = cancel.cancelled() => return Err(Error::aborted()),
            c = tokio::time::timeout(limits.idle_timeout, stream.next()) => c.map_err(|_| fetch.idle())?,
        };
        let Some(chunk) = chunk else { break };
        let chunk = chunk.map_err(|e| {
            fetch.err(format!(
                ": download broke off: {}",
                error_chain(&e.without_url())
            ))
        })?;
        fetch.check_chunk(&chunk, total, &mut meter)?;
        total += chunk.len() as u64;
        file.write_all(&chunk).await.map_err(temp_write_error)?;
    }
    file.flush().await.map_err(temp_write_error)?;
    drop(file);
    Ok(LocalData {
        path: temp.to_path_buf(),
        filename: filename_of(source),
        bytes: total,
        _temp: Some(temp),
    })
}

/// One download's checks and errors (`ERR_SOURCE_FETCH` naming the option and the URL without
/// its secrets).
struct Fetch<'a> {
    param: &'a str,
    shown: String,
    limits: &'a DownloadLimits,
}

impl Fetch<'_> {
    /// `ERR_SOURCE_FETCH`: "`<param> <url>`" followed by `what` (which starts with its own
    /// separator).
    fn err(&self, what: String) -> Error {
        Error::new(
            ErrorCode::SourceFetch,
            format!("{} {}{what}", self.param, self.shown),
        )
        .with_param(self.param)
    }

    fn idle(&self) -> Error {
        self.err(format!(
            " was cut off: nothing arrived for {} ms (downloadIdleTimeoutMs)",
            self.limits.idle_timeout.as_millis()
        ))
    }

    /// A 2xx answer that is not an HTML page and not announced as too large.
    fn check_answer(&self, resp: &reqwest::Response) -> Result<()> {
        let status = resp.status();
        if !status.is_success() {
            let mut e = self.err(format!(
                " answered HTTP {status}; expected 2xx with JSON Lines"
            ));
            e.status = Some(status.as_u16());
            return Err(e);
        }
        let content_type = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase();
        if content_type.starts_with("text/html") || content_type.contains("xhtml") {
            return Err(self.err(format!(
                " is an HTML page ({content_type}), not JSON Lines training data"
            )));
        }
        let max = self.limits.max_bytes;
        match resp.content_length() {
            Some(len) if len > max => Err(self.err(format!(
                " is {len} bytes, over the limit of {max} (maxDownloadBytes)"
            ))),
            _ => Ok(()),
        }
    }

    /// The next chunk, after `total` bytes: fast enough, not the start of an HTML/XML
    /// document, not over the size cap.
    fn check_chunk(&self, chunk: &[u8], total: u64, meter: &mut RateMeter) -> Result<()> {
        let min_rate = self.limits.min_bytes_per_second;
        if min_rate > 0 {
            if let Some((bytes, secs)) = meter.record(total + chunk.len() as u64) {
                if (bytes as f64) < min_rate as f64 * secs {
                    return Err(self.err(format!(
                        " was cut off: it sent {bytes} bytes in the last {secs:.1} s, under the minimum of {min_rate} bytes/s (downloadMinBytesPerSecond)"
                    )));
                }
            }
        }
        if total == 0 && !chunk.is_empty() {
            let head = String::from_utf8_lossy(&chunk[..chunk.len().min(512)]).to_ascii_lowercase();
            let head = head.trim_start_matches('\u{feff}').trim_start();
            if head.starts_with('<') {
                return Err(
                    self.err(" returned an HTML/XML document, not JSON Lines training data".into())
                );
            }
        }
        let max = self.limits.max_bytes;
        if total + chunk.len() as u64 > max {
            return Err(self.err(format!(
                " is larger than the limit of {max} bytes (maxDownloadBytes)"
            )));
        }
        Ok(())
    }
}

/// The download's HTTP client: at most [`MAX_REDIRECTS`] redirects, to http(s) only.
fn http_client() -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::custom(|attempt| {
            if attempt.previous().len() >= MAX_REDIRECTS {
                attempt.error("too many redirects")
            } else if !matches!(attempt.url().scheme(), "http" | "https") {
                attempt.error("redirect to a non-http(s) URL")
            } else {
                attempt.follow()
            }
        }))
        .connect_timeout(Duration::from_secs(30))
        .build()
}

/// A new temporary file in `dir` (created if needed), removed when the path is dropped.
async fn temp_file(dir: &Path) -> Result<(tempfile::TempPath, tokio::fs::File)> {
    std::fs::create_dir_all(dir).map_err(|e| {
        Error::new(
            ErrorCode::RegistryIo,
            format!("cannot create {}: {e}", dir.display()),
        )
    })?;
    let temp = tempfile::Builder::new()
        .prefix(".download-")
        .suffix(".jsonl")
        .tempfile_in(dir)
        .map_err(|e| {
            Error::new(
                ErrorCode::Internal,
                format!("cannot create a temporary file: {e}"),
            )
        })?
        .into_temp_path();
    let file = tokio::fs::File::create(&temp)
        .await
        .map_err(temp_write_error)?;
    Ok((temp, file))
}

fn temp_write_error(e: std::io::Error) -> Error {
    Error::new(
        ErrorCode::Internal,
        format!("cannot write a temporary file: {e}"),
    )
}

/// The file name to upload a URL source under: its last path segment.
fn filename_of(source: &str) -> String {
    url::Url::parse(source)
        .ok()
        .and_then(|u| {
            u.path_segments()
                .and_then(|mut s| s.next_back().map(str::to_string))
        })
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "training.jsonl".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tells_urls_from_paths() {
        assert!(is_url("https://x.test/a.jsonl"));
        assert!(is_url("file:///etc/passwd"));
        assert!(!is_url("./data/a.jsonl"));
        assert!(!is_url("C:\\data\\a.jsonl"));
        assert!(!is_url("/abs/a.jsonl"));
    }

    #[test]
    fn only_http_urls() {
        assert!(check_source("source", "https://x.test/a.jsonl").is_ok());
        for s in ["file:///etc/passwd", "ftp://x.test/a", "data:text/plain,hi"] {
            assert_eq!(
                check_source("source", s).unwrap_err().code,
                ErrorCode::InvalidOption
            );
        }
    }

    #[test]
    fn missing_file_is_source_not_found() {
        let e = open_local("source", "/nonexistent/x.jsonl").unwrap_err();
        assert_eq!(e.code, ErrorCode::SourceNotFound);
        let e = open_local("source", "/").unwrap_err();
        assert_eq!(e.code, ErrorCode::SourceNotFound);
    }

    /// A loopback server that answers 200 and then sends `body` one byte per `every`.
    async fn drip(body: &'static [u8], every: Duration) -> (String, tokio::task::JoinHandle<()>) {
        use tokio::io::AsyncWriteExt;
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let h = tokio::spawn(async move {
            while let Ok((mut s, _)) = l.accept().await {
                tokio::spawn(async move {
                    let mut req = [0u8; 1024];
                    let _ = tokio::io::AsyncReadExt::read(&mut s, &mut req).await;
                    let head = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/jsonl\r\ncontent-length: {}\r\n\r\n",
                        body.len()
                    );
                    let _ = s.write_all(head.as_bytes()).await;
                    for b in body {
                        if s.write_all(&[*b]).await.is_err() {
                            return;
                        }
                        tokio::time::sleep(every).await;
                    }
                });
            }
        });
        (
            format!("http://u:pw-secret@{addr}/train.jsonl?token=q-secret"),
            h,
        )
    }

    #[tokio::test]
    async fn a_dripping_source_is_cut_off_by_the_minimum_rate() {
        let (url, server) = drip(&[b'{'; 1000], Duration::from_millis(20)).await;
        let dir = tempfile::tempdir().unwrap();
        let limits = DownloadLimits {
            min_bytes_per_second: 1000,
            rate_window: Duration::from_millis(300),
            ..Default::default()
        };
        let started = std::time::Instant::now();
        let e = download("source", &url, dir.path(), &limits, &Default::default())
            .await
            .unwrap_err();
        assert_eq!(e.code, ErrorCode::SourceFetch);
        assert!(
            e.message.contains("downloadMinBytesPerSecond"),
            "{}",
            e.message
        );
        assert!(!e.message.contains("secret"), "{}", e.message);
        assert!(started.elapsed() < Duration::from_secs(5));
        // Within the rate, a short idle timeout cuts it off instead.
        let limits = DownloadLimits {
            idle_timeout: Duration::from_millis(5),
            ..Default::default()
        };
        let e = download("source", &url, dir.path(), &limits, &Default::default())
            .await
            .unwrap_err();
        assert!(e.message.contains("downloadIdleTimeoutMs"), "{}", e.message);
        assert!(!e.message.contains("secret"), "{}", e.message);
        server.abort();
        // A closed port: reqwest's own message names the URL; it is redacted.
        let e = download(
            "source",
            "http://u:pw-secret@127.0.0.1:9/x.jsonl?sig=q-secret",
            dir.path(),
            &DownloadLimits::default(),
            &Default::default(),
        )
        .await
        .unwrap_err();
        assert_eq!(e.code, ErrorCode::SourceFetch);
        assert!(!e.message.contains("secret"), "{}", e.message);
    }
}
