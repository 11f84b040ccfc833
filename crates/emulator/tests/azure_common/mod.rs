//! Helpers of the Azure tests: an emulator in strict (default) or lenient mode, requests on
//! its v1 and dated flavours and its control plane, and `check!` to run one check against
//! both modes: it must pass on the strict emulator and fail on the lenient one (the proof
//! that the test can fail where Azure's specs are not followed).
#![allow(dead_code)]

use fine_tune_emulator::{Emulator, EmulatorOptions};
use reqwest::header::HeaderMap;
use reqwest::multipart::{Form, Part};
use reqwest::{RequestBuilder, StatusCode};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// A check's outcome: `Err` says what differed from Azure's behaviour.
pub type Check = Result<(), String>;

/// Fails the check with a message unless `cond`.
#[macro_export]
macro_rules! ensure {
    ($cond:expr, $($msg:tt)+) => {
        if !$cond {
            return Err(format!($($msg)+));
        }
    };
}

/// A `#[tokio::test]` that runs `$check` on a strict emulator (must pass) and on a lenient
/// one (must fail).
#[macro_export]
macro_rules! strict_not_lenient {
    ($name:ident, $check:ident) => {
        #[tokio::test]
        async fn $name() {
            let strict = Az::start(false).await;
            let got = $check(&strict).await;
            strict.emu.close().await;
            if let Err(e) = got {
                panic!("strict emulator: {e}");
            }
            let lenient = Az::start(true).await;
            let got = $check(&lenient).await;
            lenient.emu.close().await;
            assert!(
                got.is_err(),
                "the lenient emulator passes this check too: it proves nothing"
            );
        }
    };
}

/// One training example.
pub const GOOD: &str = r#"{"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hi"},{"role":"assistant","content":"Hello"}]}"#;

/// `n` training examples.
pub fn jsonl(n: usize) -> String {
    (0..n).map(|_| format!("{GOOD}\n")).collect()
}

/// The dated api-version of most tests.
pub const DATED: &str = "2024-10-21";
/// A published control-plane api-version (facts §4: the newest GA).
pub const ARM_VERSION: &str = "2026-03-01";

/// An emulator and a client.
pub struct Az {
    pub emu: Emulator,
    pub http: reqwest::Client,
    /// `http://127.0.0.1:PORT`.
    pub root: String,
}

/// An answer: status, headers, JSON body (`Null` if none).
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    }
}

impl Az {
    pub async fn start(lenient: bool) -> Az {
        Self::with(EmulatorOptions {
            azure_lenient: lenient,
            ..Default::default()
        })
        .await
    }

    pub async fn with(mut options: EmulatorOptions) -> Az {
        options.job_duration_ms = options.job_duration_ms.or(Some(400));
        let emu = Emulator::start(options).await.expect("start");
        let root = emu.url().trim_end_matches("/v1").to_string();
        Az {
            emu,
            http: reqwest::Client::new(),
            root,
        }
    }

    /// A URL of the v1 flavour: `{root}/openai/v1{path}`.
    pub fn v1(&self, path: &str) -> String {
        format!("{}/openai/v1{path}", self.root)
    }

    /// A URL of a dated flavour: `{root}/openai{path}?api-version={version}`.
    pub fn dated_v(&self, version: &str, path: &str) -> String {
        let sep = if path.contains('?') { '&' } else { '?' };
        format!("{}/openai{path}{sep}api-version={version}", self.root)
    }

    /// A URL of the 2024-10-21 flavour.
    pub fn dated(&self, path: &str) -> String {
        self.dated_v(DATED, path)
    }

    /// A control-plane URL of deployment `name`, with `version`.
    pub fn arm(&self, name: &str, version: &str) -> String {
        format!(
            "{}/subscriptions/sub-1/resourceGroups/rg-1/providers/Microsoft.CognitiveServices/accounts/acct-1/deployments/{name}?api-version={version}",
            self.emu.management_url()
        )
    }

    /// Sends `req` and reads the answer.
    pub async fn send(&self, req: RequestBuilder) -> Result<Answer, String> {
        let r = req.send().await.map_err(|e| e.to_string())?;
        let status = r.status();
        let headers = r.headers().clone();
        let text = r.text().await.map_err(|e| e.to_string())?;
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Ok(Answer {
            status,
            headers,
            body,
        })
    }

    /// `GET url` with the `api-key` header.
    pub async fn get(&self, url: &str) -> Result<Answer, String> {
        self.send(self.http.get(url).header("api-key", self.emu.api_key()))
            .await
    }

    /// `POST url` with a JSON body and the `api-key` header.
    pub async fn post(&self, url: &str, body: Value) -> Result<Answer, String> {
        self.send(
            self.http
                .post(url)
                .header("api-key", self.emu.api_key())
                .json(&body),
        )
        .await
    }

    /// `PUT url` (control plane) with a JSON body and the Bearer token.
    pub async fn put_arm(&self, url: &str, body: Value) -> Result<Answer, String> {
        self.send(
            self.http
                .put(url)
                .bearer_auth(self.emu.api_key())
                .json(&body),
        )
        .await
    }

    /// `GET url` (control plane) with the Bearer token.
    pub async fn get_arm(&self, url: &str) -> Result<Answer, String> {
        self.send(self.http.get(url).bearer_auth(self.emu.api_key()))
            .await
    }

    /// `POST {files_url}` of `content` with `purpose`; the answer.
    pub async fn upload_to(
        &self,
        files_url: &str,
        content: &str,
        purpose: &str,
    ) -> Result<Answer, String> {
        let form = Form::new().text("purpose", purpose.to_string()).part(
            "file",
            Part::bytes(content.as_bytes().to_vec()).file_name("train.jsonl"),
        );
        self.send(
            self.http
                .post(files_url)
                .header("api-key", self.emu.api_key())
                .multipart(form),
        )
        .await
    }

    /// Polls `url` (a file) until it is `processed`; the statuses seen, in order, deduplicated.
    pub async fn wait_processed(&self, url: &str) -> Result<Vec<String>, String> {
        let mut seen: Vec<String> = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let a = self.get(url).await?;
            ensure!(a.status == 200, "file read: {} {}", a.status, a.body);
            let s = a.body["status"].as_str().unwrap_or("").to_string();
            if seen.last() != Some(&s) {
                seen.push(s.clone());
            }
            if s == "processed" {
                return Ok(seen);
            }
            ensure!(Instant::now() < deadline, "file still {s}: {seen:?}");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// A processed training file uploaded through `files_url`, whose reads are at
    /// `file_url(id)`; its id.
    pub async fn training_file(
        &self,
        files_url: &str,
        file_url: impl Fn(&str) -> String,
    ) -> Result<String, String> {
        let a = self.upload_to(files_url, &jsonl(10), "fine-tune").await?;
        ensure!(a.status.is_success(), "upload: {} {}", a.status, a.body);
        let id = a.body["id"].as_str().unwrap_or("").to_string();
        self.wait_processed(&file_url(&id)).await?;
        Ok(id)
    }

    /// A processed training file on the v1 flavour.
    pub async fn v1_file(&self) -> Result<String, String> {
        self.training_file(&self.v1("/files"), |id| self.v1(&format!("/files/{id}")))
            .await
    }

    /// A processed training file on the 2024-10-21 flavour.
    pub async fn dated_file(&self) -> Result<String, String> {
        self.training_file(&self.dated("/files"), |id| {
            self.dated(&format!("/files/{id}"))
        })
        .await
    }

    /// Polls the job at `url` until it is final; the statuses seen, in order, deduplicated,
    /// and the last job.
    pub async fn wait_job(&self, url: &str) -> Result<(Vec<String>, Value), String> {
        let mut seen: Vec<String> = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let a = self.get(url).await?;
            ensure!(a.status == 200, "job read: {} {}", a.status, a.body);
            let s = a.body["status"].as_str().unwrap_or("").to_string();
            if seen.last() != Some(&s) {
                seen.push(s.clone());
            }
            if ["succeeded", "failed", "cancelled"].contains(&s.as_str()) {
                return Ok((seen, a.body));
            }
            ensure!(Instant::now() < deadline, "job still {s}: {seen:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Whether `id` is an Azure fine-tuned model id of `base`: `<base>.ft-<32 hex>` (facts §3).
pub fn is_azure_model_id(id: &str, base: &str) -> bool {
    id.strip_prefix(base)
        .and_then(|r| r.strip_prefix(".ft-"))
        .is_some_and(|hex| {
            hex.len() == 32 && hex.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f'))
        })
}

/// The body of a job on `gpt-4o-mini` with `training_file` and `extra` fields.
pub fn job_body(training_file: &str, extra: Value) -> Value {
    let mut body = json!({"model": "gpt-4o-mini", "training_file": training_file});
    if let Value::Object(m) = extra {
        for (k, v) in m {
            body[k] = v;
        }
    }
    body
}

/// `YYYY-MM-DD` at midnight UTC in Unix seconds.
pub fn unix(date: &str) -> i64 {
    chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d")
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap()
        .and_utc()
        .timestamp()
}
