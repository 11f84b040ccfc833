//! End-to-end tests of the emulator over HTTP on 127.0.0.1.

mod common;

use common::{jsonl, Api, GOOD};
use fine_tune_emulator::{Emulator, EmulatorOptions};
use serde_json::{json, Value};
use std::time::Duration;

#[tokio::test]
async fn upload_list_retrieve_content_delete() {
    let api = Api::quick().await;
    let content = jsonl(12);
    let f = api.upload(&content).await;
    let id = f["id"].as_str().unwrap();
    assert!(id.starts_with("file-") && id.len() == 29, "{id}");
    assert_eq!(f["object"], "file");
    assert_eq!(f["bytes"], content.len());
    assert_eq!(f["filename"], "train.jsonl");
    assert_eq!(f["purpose"], "fine-tune");
    assert_eq!(f["status"], "processed");
    assert!(f["created_at"].as_i64().unwrap() > 1_600_000_000);

    let list: Value = api
        .get("/files?purpose=fine-tune&limit=5")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["object"], "list");
    assert_eq!(list["data"][0]["id"], id);
    assert_eq!(list["first_id"], id);
    assert_eq!(list["last_id"], id);
    assert_eq!(list["has_more"], false);
    let none: Value = api.get("/files?purpose=batch").await.json().await.unwrap();
    assert_eq!(none["data"].as_array().unwrap().len(), 0);

    let got: Value = api.get(&format!("/files/{id}")).await.json().await.unwrap();
    assert_eq!(got, f);
    let body = api
        .get(&format!("/files/{id}/content"))
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(body, content);

    let r = api
        .http
        .delete(api.url(&format!("/files/{id}")))
        .bearer_auth(api.emu.api_key())
        .send()
        .await
        .unwrap();
    let del: Value = r.json().await.unwrap();
    assert_eq!(del, json!({"id": id, "object": "file", "deleted": true}));
    let r = api.get(&format!("/files/{id}")).await;
    assert_eq!(r.status(), 404);
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["error"]["message"], format!("No such File object: {id}"));
    assert_eq!(e["error"]["type"], "invalid_request_error");
    let stats = api.emu.stats();
    assert_eq!(stats.files_created, 1);
    assert_eq!(stats.files_deleted, 1);
    assert_eq!(stats.files_live, 0);
    assert_eq!(stats.endpoints["files.create"], 1);
    assert_eq!(stats.requests["POST /v1/files"], 1);
    api.emu.close().await;
}

#[tokio::test]
async fn upload_rejects_a_line_that_is_not_a_dictionary() {
    let api = Api::quick().await;
    let content = format!("{GOOD}\n[1, 2]\n{GOOD}\n");
    let r = api.upload_raw(&content, "fine-tune").await.unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .starts_with("req_"));
    let e: Value = r.json().await.unwrap();
    assert_eq!(
        e["error"]["message"],
        "Expected file to have JSONL format, where every line is a valid JSON dictionary. Line 2 is not a dictionary."
    );
    assert_eq!(e["error"]["param"], "file");
    assert_eq!(e["error"]["code"], Value::Null);
    let r = api.upload_raw("not json\n", "fine-tune").await.unwrap();
    assert_eq!(r.status(), 400);
    let r = api.upload_raw(GOOD, "nonsense").await.unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(api.emu.stats().files_created, 0);
    // Other purposes are not checked as JSONL.
    let r = api.upload_raw("plain text", "assistants").await.unwrap();
    assert_eq!(r.status(), 200);
    api.emu.close().await;
}

#[tokio::test]
async fn auth_is_required() {
    let api = Api::quick().await;
    let r = api.http.get(api.url("/files")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.headers().contains_key("x-request-id"));
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["error"]["type"], "invalid_request_error");
    assert!(e["error"]["param"].is_null());
    let r = api
        .http
        .get(api.url("/files"))
        .bearer_auth("sk-wrong-secret")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let text = r.text().await.unwrap();
    assert!(text.contains("invalid_api_key"));
    assert!(!text.contains("sk-wrong-secret"), "the key is never echoed");
    // The Azure-style header is accepted too.
    let r = api
        .http
        .get(api.url("/files"))
        .header("api-key", "sk-emulator")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // Unknown routes: OpenAI's "Invalid URL".
    let r = api.get("/nope").await;
    assert_eq!(r.status(), 404);
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["error"]["message"], "Invalid URL (GET /v1/nope)");
    api.emu.close().await;
}

#[tokio::test]
async fn job_lifecycle_to_succeeded() {
    let api = Api::quick().await;
    let job = api
        .job_with_examples(
            20,
            json!({"suffix": "my-model", "metadata": {"run": "a"}, "seed": 42}),
        )
        .await;
    let id = job["id"].as_str().unwrap();
    assert!(id.starts_with("ftjob-") && id.len() == 30);
    assert_eq!(job["object"], "fine_tuning.job");
    assert_eq!(job["status"], "validating_files");
    assert_eq!(job["model"], "gpt-4o-mini-2024-07-18");
    assert_eq!(job["organization_id"], "org-emulator");
    assert_eq!(job["seed"], 42);
    assert_eq!(job["hyperparameters"]["n_epochs"], "auto");
    assert_eq!(job["method"]["type"], "supervised");
    for k in [
        "fine_tuned_model",
        "finished_at",
        "error",
        "trained_tokens",
        "validation_file",
    ] {
        assert!(job[k].is_null(), "{k} should be null");
    }
    assert_eq!(job["result_files"], json!([]));
    assert_eq!(job["user_provided_suffix"], "my-model");
    assert_eq!(job["metadata"], json!({"run": "a"}));

    let done = api.wait_job(id).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    let model = done["fine_tuned_model"].as_str().unwrap();
    let parts: Vec<&str> = model.split(':').collect();
    assert_eq!(
        parts[..4],
        ["ft", "gpt-4o-mini-2024-07-18", "org-emulator", "my-model"]
    );
    assert_eq!(parts[4].len(), 8);
    assert!(done["trained_tokens"].as_u64().unwrap() > 0);
    assert!(done["finished_at"].as_i64().is_some());
    assert_eq!(done["hyperparameters"]["n_epochs"], 5); // 20 examples: ceil(100/20)
    let result_id = done["result_files"][0].as_str().unwrap();
    let csv = api
        .get(&format!("/files/{result_id}/content"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        csv.starts_with("step,train_loss,train_accuracy,valid_loss,valid_mean_token_accuracy\n")
    );
    let result: Value = api
        .get(&format!("/files/{result_id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(result["purpose"], "fine-tune-results");

    let events: Value = api
        .get(&format!("/fine_tuning/jobs/{id}/events?limit=100"))
        .await
        .json()
        .await
        .unwrap();
    let data = events["data"].as_array().unwrap();
    assert_eq!(events["has_more"], false);
    let messages: Vec<&str> = data
        .iter()
        .map(|e| e["message"].as_str().unwrap())
        .collect();
    assert_eq!(messages[0], "The job has successfully completed");
    assert!(messages
        .last()
        .unwrap()
        .starts_with("Created fine-tuning job"));
    assert!(messages
        .iter()
        .any(|m| m.starts_with("Validating training file: file-")));
    assert!(messages.contains(&"Files validated, moving job to queued state"));
    assert!(messages.contains(&"Fine-tuning job started"));
    assert!(messages
        .iter()
        .any(|m| m.starts_with("New fine-tuned model created")));
    let created: Vec<i64> = data
        .iter()
        .map(|e| e["created_at"].as_i64().unwrap())
        .collect();
    assert!(created.windows(2).all(|w| w[0] >= w[1]), "newest first");
    let metrics: Vec<&Value> = data.iter().filter(|e| e["type"] == "metrics").collect();
    assert!(!metrics.is_empty());
    assert!(metrics[0]["data"]["train_loss"].is_number());
    assert!(metrics[0]["message"].as_str().unwrap().starts_with("Step "));
    for e in data {
        assert_eq!(e["object"], "fine_tuning.job.event");
        assert!(e["id"].as_str().unwrap().starts_with("ftevent-"));
    }
    // Paging: `after` continues the newest-first list.
    let page: Value = api
        .get(&format!("/fine_tuning/jobs/{id}/events?limit=2"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["has_more"], true);
    let after = page["data"][1]["id"].as_str().unwrap();
    let next: Value = api
        .get(&format!(
            "/fine_tuning/jobs/{id}/events?limit=2&after={after}"
        ))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(next["data"][0]["id"], data[2]["id"]);

    let cps: Value = api
        .get(&format!("/fine_tuning/jobs/{id}/checkpoints"))
        .await
        .json()
        .await
        .unwrap();
    let cps = cps["data"].as_array().unwrap();
    assert_eq!(cps.len(), 3);
    assert!(cps[0]["fine_tuned_model_checkpoint"]
        .as_str()
        .unwrap()
        .starts_with(model));
    assert!(cps[0]["step_number"].as_u64() > cps[1]["step_number"].as_u64());

    // The model answers chats; an unknown fine-tuned model does not exist.
    let r = api
        .post(
            "/chat/completions",
            json!({"model": model, "messages": [{"role": "user", "content": "ping"}]}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let c: Value = r.json().await.unwrap();
    assert_eq!(c["object"], "chat.completion");
    assert!(c["choices"][0]["message"]["content"]
        .as_str()
        .unwrap()
        .contains("ping"));
    let r = api
        .post("/chat/completions", json!({"model": "ft:gpt-4o-mini-2024-07-18:org::zzz", "messages": [{"role": "user", "content": "x"}]}))
        .await;
    assert_eq!(r.status(), 404);
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["error"]["code"], "model_not_found");
    api.emu.close().await;
}

#[tokio::test]
async fn too_few_examples_fail_validation() {
    let api = Api::quick().await;
    let job = api.job_with_examples(3, json!({})).await;
    let done = api.wait_job(job["id"].as_str().unwrap()).await;
    assert_eq!(done["status"], "failed");
    assert_eq!(
        done["error"],
        json!({"code": "invalid_n_examples", "message": "Training file has 3 example(s), but must have at least 10 examples", "param": "training_file"})
    );
    assert!(done["fine_tuned_model"].is_null());
    api.emu.close().await;
}

#[tokio::test]
async fn malformed_example_fails_validation() {
    let api = Api::quick().await;
    let mut lines: Vec<String> = (0..12).map(|_| GOOD.to_string()).collect();
    lines[2] = r#"{"messages":[{"role":"user","content":"Hi"},{"role":"assistant"}]}"#.into();
    let file = api.upload(&(lines.join("\n") + "\n")).await;
    let job = api
        .create_job(json!({"model": "gpt-4.1-mini", "training_file": file["id"]}))
        .await;
    let done = api.wait_job(job["id"].as_str().unwrap()).await;
    assert_eq!(done["status"], "failed");
    assert_eq!(done["error"]["code"], "invalid_training_file");
    assert!(done["error"]["message"]
        .as_str()
        .unwrap()
        .contains("Example 3, message 2: missing content"));
    api.emu.close().await;
}

#[tokio::test]
async fn create_job_validation_errors() {
    let api = Api::quick().await;
    let file = api.upload(&jsonl(10)).await;
    let r = api
        .post(
            "/fine_tuning/jobs",
            json!({"model": "gpt-9-turbo", "training_file": file["id"]}),
        )
        .await;
    assert_eq!(r.status(), 400);
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["error"]["code"], "model_not_available");
    assert_eq!(
        e["error"]["message"],
        "Model gpt-9-turbo is not available for fine-tuning or does not exist."
    );
    let r = api
        .post(
            "/fine_tuning/jobs",
            json!({"model": "gpt-4o-mini", "training_file": "file-missing"}),
        )
        .await;
    assert_eq!(r.status(), 400);
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["error"]["param"], "training_file");
    let too_long = "x".repeat(65);
    let r = api
        .post(
            "/fine_tuning/jobs",
            json!({"model": "gpt-4o-mini", "training_file": file["id"], "suffix": too_long}),
        )
        .await;
    assert_eq!(r.status(), 400);
    let meta: serde_json::Map<String, Value> =
        (0..17).map(|i| (format!("k{i}"), json!("v"))).collect();
    let r = api
        .post(
            "/fine_tuning/jobs",
            json!({"model": "gpt-4o-mini", "training_file": file["id"], "metadata": meta}),
        )
        .await;
    assert_eq!(r.status(), 400);
    let r = api
        .post(
            "/fine_tuning/jobs",
            json!({"model": "gpt-4o-mini", "training_file": file["id"], "method": {"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 0}}}}),
        )
        .await;
    assert_eq!(r.status(), 400);
    let e: Value = r.json().await.unwrap();
    assert_eq!(
        e["error"]["param"],
        "method.supervised.hyperparameters.n_epochs"
    );
    let r = api
        .http
        .post(api.url("/fine_tuning/jobs"))
        .bearer_auth(api.emu.api_key())
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(api.emu.stats().jobs_created, 0);
    // A DPO job keeps its method and beta.
    let job = api
        .create_job(json!({"model": "gpt-4o-mini", "training_file": file["id"], "method": {"type": "dpo", "dpo": {"hyperparameters": {"beta": 0.2}}}}))
        .await;
    assert_eq!(job["method"]["dpo"]["hyperparameters"]["beta"], 0.2);
    api.emu.close().await;
}

#[tokio::test]
async fn list_jobs_filters_by_metadata_newest_first() {
    let api = Api::start(EmulatorOptions {
        job_duration_ms: Some(60_000),
        ..Default::default()
    })
    .await;
    let file = api.upload(&jsonl(10)).await;
    let mut ids = Vec::new();
    for (i, run) in ["a", "b", "a"].iter().enumerate() {
        let j = api
            .create_job(json!({"model": "gpt-4o-mini", "training_file": file["id"], "metadata": {"run": run, "i": i.to_string()}}))
            .await;
        ids.push(j["id"].as_str().unwrap().to_string());
    }
    api.create_job(json!({"model": "gpt-4o-mini", "training_file": file["id"]}))
        .await;
    let all: Value = api.get("/fine_tuning/jobs").await.json().await.unwrap();
    assert_eq!(all["object"], "list");
    assert_eq!(all["data"].as_array().unwrap().len(), 4);
    let a: Value = api
        .get("/fine_tuning/jobs?metadata[run]=a")
        .await
        .json()
        .await
        .unwrap();
    let got: Vec<&str> = a["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["id"].as_str().unwrap())
        .collect();
    assert_eq!(got, vec![ids[2].as_str(), ids[0].as_str()]);
    let a0: Value = api
        .get("/fine_tuning/jobs?metadata%5Brun%5D=a&metadata%5Bi%5D=0")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(a0["data"].as_array().unwrap().len(), 1);
    let none: Value = api
        .get("/fine_tuning/jobs?metadata=null")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(none["data"].as_array().unwrap().len(), 1);
    let page: Value = api
        .get("/fine_tuning/jobs?limit=1")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["has_more"], true);
    api.emu.close().await;
}

#[tokio::test]
async fn cancel_a_running_job() {
    let api = Api::start(EmulatorOptions {
        job_duration_ms: Some(60_000),
        ..Default::default()
    })
    .await;
    let job = api.job_with_examples(10, json!({})).await;
    let id = job["id"].as_str().unwrap();
    let r = api
        .post(&format!("/fine_tuning/jobs/{id}/cancel"), json!({}))
        .await;
    assert_eq!(r.status(), 200);
    let c: Value = r.json().await.unwrap();
    assert_eq!(c["status"], "cancelled");
    let again = api
        .post(&format!("/fine_tuning/jobs/{id}/cancel"), json!({}))
        .await;
    assert_eq!(again.status(), 400);
    let got: Value = api
        .get(&format!("/fine_tuning/jobs/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(got["status"], "cancelled");
    let r = api
        .post("/fine_tuning/jobs/ftjob-nope/cancel", json!({}))
        .await;
    assert_eq!(r.status(), 404);
    assert_eq!(api.emu.stats().jobs_cancelled, 1);
    assert_eq!(api.emu.stats().jobs_active, 0);
    api.emu.close().await;
}

#[tokio::test]
async fn close_frees_the_port_and_is_idempotent() {
    let emu = Emulator::start(EmulatorOptions::default()).await.unwrap();
    let url = emu.url();
    assert!(url.starts_with("http://127.0.0.1:") && url.ends_with("/v1"));
    let port = emu.port();
    // A kept-alive connection must not keep the server up.
    let http = reqwest::Client::new();
    let r = http
        .get(format!("{url}/files"))
        .bearer_auth("sk-emulator")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let started = std::time::Instant::now();
    emu.close().await;
    emu.close().await;
    assert!(started.elapsed() < Duration::from_secs(2));
    let again = Emulator::start(EmulatorOptions {
        port: Some(port),
        ..Default::default()
    })
    .await
    .expect("port is free again");
    assert_eq!(again.port(), port);
    assert!(http
        .get(format!("{url}/files"))
        .bearer_auth("sk-emulator")
        .send()
        .await
        .is_ok());
    again.close().await;
    assert!(http.get(format!("{url}/files")).send().await.is_err());
}

#[tokio::test]
async fn accepts_files_larger_than_axum_default_limit() {
    let api = Api::quick().await;
    // About 6 MB, well over axum's 2 MB default body limit.
    let line = format!(
        "{{\"messages\":[{{\"role\":\"user\",\"content\":\"{}\"}},{{\"role\":\"assistant\",\"content\":\"ok\"}}]}}\n",
        "x".repeat(1000)
    );
    let content = line.repeat(6000);
    let f = api.upload(&content).await;
    assert_eq!(f["bytes"], content.len());
    let job = api
        .create_job(json!({"model": "gpt-4o-mini", "training_file": f["id"]}))
        .await;
    let done = api.wait_job(job["id"].as_str().unwrap()).await;
    assert_eq!(done["status"], "succeeded");
    assert_eq!(done["hyperparameters"]["n_epochs"], 3);
    api.emu.close().await;
}

#[tokio::test]
async fn auto_epochs_are_the_checkers_rule() {
    // 12 examples: OpenAI rounds the low side up, ceil(100 / 12) = 9 (not 8).
    let api = Api::quick().await;
    let job = api.job_with_examples(12, json!({})).await;
    let done = api.wait_job(job["id"].as_str().unwrap()).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(done["hyperparameters"]["n_epochs"], 9);
    assert_eq!(fine_tune_dataset::default_epochs(12), 9);
    api.emu.close().await;
}
