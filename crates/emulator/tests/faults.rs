//! Fault injection and job knobs.

mod common;

use common::{jsonl, Api};
use fine_tune_emulator::{EmulatorOptions, FaultKind, FaultOptions};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

fn with_faults(faults: FaultOptions) -> EmulatorOptions {
    EmulatorOptions {
        job_duration_ms: Some(300),
        faults,
        ..Default::default()
    }
}

fn on(endpoint: &str, kind: FaultKind) -> FaultOptions {
    FaultOptions {
        rate: 1.0,
        endpoints: vec![endpoint.into()],
        kinds: vec![kind],
        ..Default::default()
    }
}

#[tokio::test]
async fn rate_limited_with_retry_after_headers() {
    let api = Api::start(with_faults(on(
        "files.create",
        FaultKind::RateLimited {
            retry_after_ms: 1500,
        },
    )))
    .await;
    let r = api.upload_raw(&jsonl(10), "fine-tune").await.unwrap();
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["retry-after-ms"], "1500");
    assert_eq!(r.headers()["retry-after"], "2");
    assert!(r.headers().contains_key("x-request-id"));
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["error"]["type"], "requests");
    assert_eq!(e["error"]["code"], "rate_limit_exceeded");
    // Other endpoints are untouched.
    assert_eq!(api.get("/files").await.status(), 200);
    let s = api.emu.stats();
    assert_eq!(s.faults_injected, 1);
    assert_eq!(s.faults["rate_limited"], 1);
    assert_eq!(s.faults_by_endpoint["files.create"], 1);
    assert_eq!(s.files_created, 0);
    api.emu.close().await;
}

#[tokio::test]
async fn server_errors_and_quota() {
    for (kind, status, code) in [
        (FaultKind::InternalError, 500, Value::Null),
        (FaultKind::Unavailable, 503, Value::Null),
        (
            FaultKind::InsufficientQuota,
            429,
            json!("insufficient_quota"),
        ),
        (
            FaultKind::DailyRateLimit,
            429,
            json!("daily_rate_limit_exceeded"),
        ),
    ] {
        let api = Api::start(with_faults(on("jobs.list", kind))).await;
        let r = api.get("/fine_tuning/jobs").await;
        assert_eq!(r.status(), status);
        let e: Value = r.json().await.unwrap();
        assert_eq!(e["error"]["code"], code);
        api.emu.close().await;
    }
}

#[tokio::test]
async fn dropped_connection_does_not_perform_the_action() {
    let api = Api::start(with_faults(on("files.create", FaultKind::DropConnection))).await;
    let r = api.upload_raw(&jsonl(10), "fine-tune").await;
    assert!(r.is_err(), "{r:?}");
    assert_eq!(api.emu.stats().files_created, 0);
    assert_eq!(api.emu.stats().faults["drop_connection"], 1);
    // The server still answers on a new connection.
    assert_eq!(api.get("/files").await.status(), 200);
    api.emu.close().await;
}

#[tokio::test]
async fn lost_response_performs_the_action() {
    let api = Api::start(with_faults(on("jobs.create", FaultKind::LostResponse))).await;
    let file = api.upload(&jsonl(10)).await;
    let r = api
        .http
        .post(api.url("/fine_tuning/jobs"))
        .bearer_auth(api.emu.api_key())
        .json(&json!({"model": "gpt-4o-mini", "training_file": file["id"], "metadata": {"run": "r1"}}))
        .send()
        .await;
    assert!(r.is_err(), "{r:?}");
    assert_eq!(api.emu.stats().jobs_created, 1);
    let found: Value = api
        .get("/fine_tuning/jobs?metadata[run]=r1")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(found["data"].as_array().unwrap().len(), 1);
    api.emu.close().await;
}

#[tokio::test]
async fn slow_answers_arrive_late() {
    let api = Api::start(with_faults(on(
        "files.list",
        FaultKind::Slow { delay_ms: 300 },
    )))
    .await;
    let t = Instant::now();
    let in_flight = async {
        // Counted while its answer waits (asked for up to 10 s).
        for _ in 0..2000 {
            let n = api.emu.stats().requests_in_flight;
            if n > 0 {
                return n;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        0
    };
    let (r, seen) = tokio::join!(api.get("/files"), in_flight);
    assert_eq!(r.status(), 200);
    assert!(t.elapsed() >= Duration::from_millis(300));
    assert_eq!(seen, 1);
    assert_eq!(api.emu.stats().requests_in_flight, 0);
    api.emu.close().await;
}

#[tokio::test]
async fn seeded_faults_are_deterministic_and_capped() {
    async fn statuses(seed: u64, max: Option<u64>) -> Vec<u16> {
        let api = Api::start(with_faults(FaultOptions {
            seed,
            rate: 0.4,
            max_faults: max,
            ..Default::default()
        }))
        .await;
        let mut out = Vec::new();
        for _ in 0..30 {
            out.push(api.get("/files").await.status().as_u16());
        }
        api.emu.close().await;
        out
    }
    let a = statuses(11, None).await;
    assert_eq!(a, statuses(11, None).await);
    assert!(a.contains(&200) && a.iter().any(|s| *s != 200), "{a:?}");
    let capped = statuses(11, Some(2)).await;
    assert_eq!(capped.iter().filter(|s| **s != 200).count(), 2);
}

#[tokio::test]
async fn jobs_fail_or_get_cancelled_on_demand() {
    let api = Api::start(with_faults(FaultOptions {
        fail_jobs: true,
        ..Default::default()
    }))
    .await;
    let job = api.job_with_examples(10, json!({})).await;
    let done = api.wait_job(job["id"].as_str().unwrap()).await;
    assert_eq!(done["status"], "failed");
    assert_eq!(done["error"]["code"], "server_error");
    api.emu.close().await;

    let api = Api::start(EmulatorOptions {
        job_duration_ms: Some(10_000),
        faults: FaultOptions {
            cancel_jobs_after_ms: Some(200),
            ..Default::default()
        },
        ..Default::default()
    })
    .await;
    let job = api.job_with_examples(10, json!({})).await;
    let done = api.wait_job(job["id"].as_str().unwrap()).await;
    assert_eq!(done["status"], "cancelled");
    let events: Value = api
        .get(&format!(
            "/fine_tuning/jobs/{}/events",
            job["id"].as_str().unwrap()
        ))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(events["data"][0]["message"], "Fine-tuning job cancelled");
    api.emu.close().await;
}

#[tokio::test]
async fn files_stuck_processing() {
    let api = Api::start(with_faults(FaultOptions {
        files_stuck_processing: true,
        ..Default::default()
    }))
    .await;
    let f = api.upload(&jsonl(10)).await;
    assert_eq!(f["status"], "uploaded");
    let got: Value = api
        .get(&format!("/files/{}", f["id"].as_str().unwrap()))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(got["status"], "uploaded");
    let r = api
        .post(
            "/fine_tuning/jobs",
            json!({"model": "gpt-4o-mini", "training_file": f["id"]}),
        )
        .await;
    assert_eq!(r.status(), 400);
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["error"]["param"], "training_file");
    // Azure reports the same file as pending.
    let azure = api.emu.url().replace("/v1", "/openai");
    let r = api
        .http
        .get(format!(
            "{azure}/files/{}?api-version=2024-10-21",
            f["id"].as_str().unwrap()
        ))
        .header("api-key", api.emu.api_key())
        .send()
        .await
        .unwrap();
    let got: Value = r.json().await.unwrap();
    assert_eq!(got["status"], "pending");
    api.emu.close().await;
}
