//! The Uploads API and Azure-style routes.

mod common;

use common::{jsonl, Api};
use reqwest::multipart::{Form, Part};
use serde_json::{json, Value};

async fn add_part(api: &Api, upload: &str, bytes: &[u8]) -> reqwest::Response {
    api.http
        .post(api.url(&format!("/uploads/{upload}/parts")))
        .bearer_auth(api.emu.api_key())
        .multipart(Form::new().part("data", Part::bytes(bytes.to_vec()).file_name("blob")))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn upload_in_parts_then_complete() {
    let api = Api::quick().await;
    let content = jsonl(12);
    let (a, b) = content.as_bytes().split_at(content.len() / 2);
    let r = api
        .post(
            "/uploads",
            json!({"filename": "big.jsonl", "purpose": "fine-tune", "bytes": content.len(), "mime_type": "text/jsonl"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let up: Value = r.json().await.unwrap();
    let id = up["id"].as_str().unwrap();
    assert!(id.starts_with("upload_"));
    assert_eq!(up["object"], "upload");
    assert_eq!(up["status"], "pending");
    assert_eq!(
        up["expires_at"].as_i64().unwrap() - up["created_at"].as_i64().unwrap(),
        3600
    );
    assert!(up["file"].is_null());

    let p1: Value = add_part(&api, id, a).await.json().await.unwrap();
    assert_eq!(p1["object"], "upload.part");
    assert_eq!(p1["upload_id"], id);
    assert!(p1["id"].as_str().unwrap().starts_with("part_"));
    let p2: Value = add_part(&api, id, b).await.json().await.unwrap();

    // Missing part: byte count mismatch.
    let r = api
        .post(
            &format!("/uploads/{id}/complete"),
            json!({"part_ids": [p1["id"]]}),
        )
        .await;
    assert_eq!(r.status(), 400);
    let e: Value = r.json().await.unwrap();
    assert!(e["error"]["message"]
        .as_str()
        .unwrap()
        .contains("does not match"));
    // Wrong md5.
    let r = api
        .post(
            &format!("/uploads/{id}/complete"),
            json!({"part_ids": [p1["id"], p2["id"]], "md5": "00"}),
        )
        .await;
    assert_eq!(r.status(), 400);
    // Right order.
    let r = api
        .post(
            &format!("/uploads/{id}/complete"),
            json!({"part_ids": [p1["id"], p2["id"]]}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let done: Value = r.json().await.unwrap();
    assert_eq!(done["status"], "completed");
    let file_id = done["file"]["id"].as_str().unwrap();
    assert_eq!(done["file"]["bytes"], content.len());
    assert_eq!(done["file"]["purpose"], "fine-tune");
    let body = api
        .get(&format!("/files/{file_id}/content"))
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(body, content);
    // A completed Upload takes no more parts.
    assert_eq!(add_part(&api, id, b"x").await.status(), 400);
    // The file trains.
    let job = api
        .create_job(json!({"model": "gpt-4o-mini", "training_file": file_id}))
        .await;
    assert_eq!(
        api.wait_job(job["id"].as_str().unwrap()).await["status"],
        "succeeded"
    );

    let s = api.emu.stats();
    assert_eq!(s.uploads_created, 1);
    assert_eq!(s.upload_parts_created, 2);
    assert_eq!(s.uploads_completed, 1);
    assert_eq!(s.uploads_pending, 0);
    assert_eq!(s.files_created, 1);
    api.emu.close().await;
}

#[tokio::test]
async fn cancel_and_validation() {
    let api = Api::quick().await;
    let r = api
        .post("/uploads", json!({"filename": "x.jsonl", "purpose": "fine-tune", "bytes": 10, "mime_type": "text/jsonl"}))
        .await;
    let up: Value = r.json().await.unwrap();
    let id = up["id"].as_str().unwrap();
    assert_eq!(api.emu.stats().uploads_pending, 1);
    let r = api.post(&format!("/uploads/{id}/cancel"), json!({})).await;
    assert_eq!(r.status(), 200);
    let c: Value = r.json().await.unwrap();
    assert_eq!(c["status"], "cancelled");
    assert_eq!(add_part(&api, id, b"0123456789").await.status(), 400);
    assert_eq!(
        api.post(&format!("/uploads/{id}/cancel"), json!({}))
            .await
            .status(),
        400
    );
    assert_eq!(
        api.post("/uploads/upload_nope/cancel", json!({}))
            .await
            .status(),
        404
    );
    let r = api
        .post(
            "/uploads",
            json!({"filename": "x.jsonl", "purpose": "fine-tune", "bytes": 10}),
        )
        .await;
    assert_eq!(r.status(), 400);
    let r = api
        .post("/uploads", json!({"filename": "x.jsonl", "purpose": "fine-tune", "bytes": 10, "mime_type": "image/png"}))
        .await;
    assert_eq!(r.status(), 400);
    // Completed content is checked as JSONL for fine-tune.
    let r = api
        .post("/uploads", json!({"filename": "x.jsonl", "purpose": "fine-tune", "bytes": 4, "mime_type": "text/jsonl"}))
        .await;
    let up: Value = r.json().await.unwrap();
    let id = up["id"].as_str().unwrap();
    let p: Value = add_part(&api, id, b"[1]\n").await.json().await.unwrap();
    let r = api
        .post(
            &format!("/uploads/{id}/complete"),
            json!({"part_ids": [p["id"]]}),
        )
        .await;
    assert_eq!(r.status(), 400);
    let e: Value = r.json().await.unwrap();
    assert!(e["error"]["message"]
        .as_str()
        .unwrap()
        .contains("Line 1 is not a dictionary"));
    api.emu.close().await;
}

#[tokio::test]
async fn azure_routes() {
    let api = Api::quick().await;
    let base = api.emu.url().replace("/v1", "/openai");
    let r = api
        .http
        .get(format!("{base}/fine_tuning/jobs?api-version=2024-10-21"))
        .header("api-key", api.emu.api_key())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = api
        .http
        .get(format!("{base}/fine_tuning/jobs"))
        .header("api-key", api.emu.api_key())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = api
        .http
        .get(format!("{base}/files?api-version=2024-10-21"))
        .header("api-key", "wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let form = Form::new().text("purpose", "fine-tune").part(
        "file",
        Part::bytes(jsonl(10).into_bytes()).file_name("t.jsonl"),
    );
    let r = api
        .http
        .post(format!("{base}/files?api-version=2024-10-21"))
        .header("api-key", api.emu.api_key())
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let f: Value = r.json().await.unwrap();
    // Azure's files are processed after a while (see tests/azure_files.rs).
    assert_eq!(f["status"], "pending");
    assert_eq!(api.emu.stats().requests["POST /openai/files"], 1);
    api.emu.close().await;
}
