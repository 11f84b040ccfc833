//! `state_dir`: files, jobs and models survive a restart.

mod common;

use common::Api;
use fine_tune_emulator::{Emulator, EmulatorOptions, StartError};
use serde_json::{json, Value};

fn options(dir: &std::path::Path) -> EmulatorOptions {
    EmulatorOptions {
        job_duration_ms: Some(300),
        state_dir: Some(dir.to_path_buf()),
        ..Default::default()
    }
}

#[tokio::test]
async fn files_jobs_and_models_survive_a_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let api = Api::start(options(tmp.path())).await;
    let job = api.job_with_examples(10, json!({})).await;
    let id = job["id"].as_str().unwrap().to_string();
    let done = api.wait_job(&id).await;
    assert_eq!(done["status"], "succeeded");
    let model = done["fine_tuned_model"].as_str().unwrap().to_string();
    let training_file = done["training_file"].as_str().unwrap().to_string();
    let content_before = api
        .get(&format!("/files/{training_file}/content"))
        .await
        .text()
        .await
        .unwrap();
    api.emu.close().await;
    assert!(tmp.path().join("state.json").is_file());
    let saved = std::fs::read_to_string(tmp.path().join("state.json")).unwrap();
    assert!(
        !saved.contains(&api.emu.api_key()),
        "no API key in the state file"
    );

    let api = Api::start(options(tmp.path())).await;
    let files: Value = api.get("/files").await.json().await.unwrap();
    assert!(
        files["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["id"] == training_file.as_str()),
        "{files}"
    );
    let content = api
        .get(&format!("/files/{training_file}/content"))
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(content, content_before);
    let again: Value = api
        .get(&format!("/fine_tuning/jobs/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again["status"], "succeeded");
    assert_eq!(again["fine_tuned_model"], model.as_str());
    assert_eq!(again["created_at"], done["created_at"]);
    assert_eq!(again["finished_at"], done["finished_at"]);
    let r = api
        .post(
            "/chat/completions",
            json!({"model": model, "messages": [{"role": "user", "content": "Hi"}]}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["choices"][0]["message"]["content"], "Hello", "{v}");
    // A deleted file stays deleted.
    let r = api
        .http
        .delete(api.url(&format!("/files/{training_file}")))
        .bearer_auth(api.emu.api_key())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    api.emu.close().await;
    let api = Api::start(options(tmp.path())).await;
    assert_eq!(
        api.get(&format!("/files/{training_file}")).await.status(),
        404
    );
    api.emu.close().await;
    assert!(tmp.path().is_dir(), "the state folder is kept");
}

#[tokio::test]
async fn a_change_is_saved_before_its_answer() {
    let tmp = tempfile::tempdir().unwrap();
    let api = Api::start(options(tmp.path())).await;
    let file = api.upload(&common::jsonl(10)).await;
    // No close: as if the process died right after the answer.
    let saved = std::fs::read_to_string(tmp.path().join("state.json")).unwrap();
    assert!(saved.contains(file["id"].as_str().unwrap()));
    api.emu.close().await;
}

#[tokio::test]
async fn a_corrupt_or_newer_state_file_stops_the_start() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("state.json"), "{ not json").unwrap();
    let err = Emulator::start(options(tmp.path())).await.err().unwrap();
    assert!(matches!(err, StartError::State { .. }), "{err:?}");
    assert!(err.to_string().contains("state.json"), "{err}");

    std::fs::write(
        tmp.path().join("state.json"),
        r#"{"format": 99, "store": {}}"#,
    )
    .unwrap();
    let err = Emulator::start(options(tmp.path())).await.err().unwrap();
    assert!(err.to_string().contains("newer emulator"), "{err}");

    std::fs::write(
        tmp.path().join("state.json"),
        r#"{"format": 1, "store": 5}"#,
    )
    .unwrap();
    let err = Emulator::start(options(tmp.path())).await.err().unwrap();
    assert!(err.to_string().contains("corrupt"), "{err}");
}
