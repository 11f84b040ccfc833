//! Helpers shared by the integration tests.
#![allow(dead_code)]

use fine_tune_emulator::{Emulator, EmulatorOptions};
use reqwest::multipart::{Form, Part};
use serde_json::{json, Value};
use std::time::Duration;

pub struct Api {
    pub emu: Emulator,
    pub http: reqwest::Client,
}

pub const GOOD: &str = r#"{"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hi"},{"role":"assistant","content":"Hello"}]}"#;

pub fn jsonl(n: usize) -> String {
    (0..n).map(|_| format!("{GOOD}\n")).collect()
}

impl Api {
    pub async fn start(options: EmulatorOptions) -> Api {
        let emu = Emulator::start(options).await.expect("start");
        Api {
            emu,
            http: reqwest::Client::new(),
        }
    }

    pub async fn quick() -> Api {
        Self::start(EmulatorOptions {
            job_duration_ms: Some(400),
            ..Default::default()
        })
        .await
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.emu.url())
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(self.url(path))
            .bearer_auth(self.emu.api_key())
            .send()
            .await
            .unwrap()
    }

    pub async fn post(&self, path: &str, body: Value) -> reqwest::Response {
        self.http
            .post(self.url(path))
            .bearer_auth(self.emu.api_key())
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    pub async fn upload_raw(
        &self,
        content: &str,
        purpose: &str,
    ) -> reqwest::Result<reqwest::Response> {
        let form = Form::new().text("purpose", purpose.to_string()).part(
            "file",
            Part::bytes(content.as_bytes().to_vec()).file_name("train.jsonl"),
        );
        self.http
            .post(self.url("/files"))
            .bearer_auth(self.emu.api_key())
            .multipart(form)
            .send()
            .await
    }

    pub async fn upload(&self, content: &str) -> Value {
        let r = self.upload_raw(content, "fine-tune").await.unwrap();
        assert_eq!(r.status(), 200);
        r.json().await.unwrap()
    }

    pub async fn create_job(&self, body: Value) -> Value {
        let r = self.post("/fine_tuning/jobs", body).await;
        let status = r.status();
        let v: Value = r.json().await.unwrap();
        assert_eq!(status, 200, "{v}");
        v
    }

    /// Polls the job until it is final.
    pub async fn wait_job(&self, id: &str) -> Value {
        for _ in 0..200 {
            let v: Value = self
                .get(&format!("/fine_tuning/jobs/{id}"))
                .await
                .json()
                .await
                .unwrap();
            if ["succeeded", "failed", "cancelled"].contains(&v["status"].as_str().unwrap()) {
                return v;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("job {id} did not finish");
    }

    pub async fn job_with_examples(&self, n: usize, extra: Value) -> Value {
        let file = self.upload(&jsonl(n)).await;
        let mut body = json!({"model": "gpt-4o-mini", "training_file": file["id"]});
        if let Value::Object(m) = extra {
            for (k, v) in m {
                body[k] = v;
            }
        }
        self.create_job(body).await
    }
}
