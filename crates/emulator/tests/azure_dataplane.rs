//! Azure OpenAI's data plane, per flavour, as `/work/shared/azure/facts.md` records Microsoft's
//! specs. Each `strict_not_lenient!` test passes on the default (strict) emulator and fails on
//! `azure_lenient`, the emulator's behaviour before it followed Azure.

mod azure_common;

use azure_common::*;
use fine_tune_emulator::EmulatorOptions;
use serde_json::{json, Value};

// ---- The dated API 2024-10-21 (facts §2 "Dated A1021") ----

/// Create answers 201 with `Location` and status `pending`; `metadata`, `method` and
/// `integrations` (not in `FineTuningJobCreation`) are not kept.
async fn dated_create(az: &Az) -> Check {
    let file = az.dated_file().await?;
    let body = job_body(
        &file,
        json!({
            "metadata": {"run": "r1"},
            "method": {"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 2}}},
            "integrations": [{"type": "wandb", "wandb": {"project": "p"}}],
        }),
    );
    let a = az.post(&az.dated("/fine_tuning/jobs"), body).await?;
    ensure!(a.status == 201, "create answered {}: {}", a.status, a.body);
    ensure!(a.body["status"] == "pending", "status {}", a.body["status"]);
    let id = a.body["id"].as_str().unwrap_or("");
    for field in ["metadata", "method", "integrations"] {
        ensure!(
            a.body.get(field).is_none(),
            "the job has {field}: {}",
            a.body
        );
    }
    let location = a.header("location").ok_or("no Location header")?;
    ensure!(
        location.ends_with(&format!(
            "/openai/fine_tuning/jobs/{id}?api-version={DATED}"
        )),
        "Location {location}"
    );
    let got = az.get(&location).await?;
    ensure!(
        got.status == 200 && got.body["id"] == id,
        "Location read: {}",
        got.body
    );
    ensure!(got.body.get("metadata").is_none(), "read job has metadata");
    Ok(())
}
strict_not_lenient!(
    dated_create_is_201_pending_and_keeps_no_undeclared_field,
    dated_create
);

/// The statuses are pending/running/succeeded; the model is `<base>.ft-<32 hex>` and is served
/// by `/models` with its base's retirement dates.
async fn dated_statuses(az: &Az) -> Check {
    let file = az.dated_file().await?;
    let a = az
        .post(&az.dated("/fine_tuning/jobs"), job_body(&file, json!({})))
        .await?;
    ensure!(a.status.is_success(), "create: {} {}", a.status, a.body);
    let id = a.body["id"].as_str().unwrap_or("").to_string();
    let (seen, job) = az
        .wait_job(&az.dated(&format!("/fine_tuning/jobs/{id}")))
        .await?;
    for s in &seen {
        // facts §2: "status created|pending|running|succeeded|cancelled|failed".
        ensure!(
            ["pending", "running", "succeeded"].contains(&s.as_str()),
            "status {s} in {seen:?}"
        );
    }
    ensure!(
        seen.first().map(String::as_str) == Some("pending"),
        "{seen:?}"
    );
    ensure!(
        seen.last().map(String::as_str) == Some("succeeded"),
        "{seen:?}"
    );
    let model = job["fine_tuned_model"].as_str().unwrap_or("");
    ensure!(
        is_azure_model_id(model, "gpt-4o-mini-2024-07-18"),
        "fine-tuned model id {model}"
    );
    let m = az.get(&az.dated(&format!("/models/{model}"))).await?;
    ensure!(m.status == 200, "model read: {} {}", m.status, m.body);
    ensure!(
        m.body["deprecation"]["inference"] == unix("2027-10-01"),
        "{}",
        m.body
    );
    ensure!(m.body["model"] == "gpt-4o-mini-2024-07-18", "{}", m.body);
    Ok(())
}
strict_not_lenient!(dated_statuses_and_azure_model_ids, dated_statuses);

/// No pause/resume on 2024-10-21 (facts §2: "paths have **no pause/resume**").
async fn dated_no_pause(az: &Az) -> Check {
    let file = az.dated_file().await?;
    let a = az
        .post(&az.dated("/fine_tuning/jobs"), job_body(&file, json!({})))
        .await?;
    let id = a.body["id"].as_str().unwrap_or("").to_string();
    for action in ["pause", "resume"] {
        let r = az
            .post(
                &az.dated(&format!("/fine_tuning/jobs/{id}/{action}")),
                json!({}),
            )
            .await?;
        ensure!(r.status == 404, "{action}: {} {}", r.status, r.body);
    }
    Ok(())
}
strict_not_lenient!(dated_has_no_pause_or_resume, dated_no_pause);

/// The list keeps no metadata and takes no metadata filter: a filter is ignored.
async fn dated_list(az: &Az) -> Check {
    let file = az.dated_file().await?;
    for metadata in [json!({"key": "k1"}), Value::Null] {
        let a = az
            .post(
                &az.dated("/fine_tuning/jobs"),
                job_body(&file, json!({"metadata": metadata})),
            )
            .await?;
        ensure!(a.status.is_success(), "create: {} {}", a.status, a.body);
    }
    let l = az
        .get(&az.dated("/fine_tuning/jobs?metadata[key]=k1"))
        .await?;
    ensure!(l.status == 200, "list: {} {}", l.status, l.body);
    let data = l.body["data"].as_array().cloned().unwrap_or_default();
    ensure!(
        data.len() == 2,
        "the filter was applied: {} jobs",
        data.len()
    );
    ensure!(
        data.iter().all(|j| j.get("metadata").is_none()),
        "a listed job has metadata"
    );
    Ok(())
}
strict_not_lenient!(dated_list_ignores_a_metadata_filter, dated_list);

/// facts §3: dated suffixes are "up to 40 characters (a-z, A-Z, 0-9, - and _)".
async fn dated_suffix(az: &Az) -> Check {
    let file = az.dated_file().await?;
    for bad in ["a".repeat(41), "with.dot".to_string()] {
        let a = az
            .post(
                &az.dated("/fine_tuning/jobs"),
                job_body(&file, json!({"suffix": bad})),
            )
            .await?;
        ensure!(a.status == 400, "suffix {bad:?}: {} {}", a.status, a.body);
        ensure!(a.body["error"]["param"] == "suffix", "{}", a.body);
    }
    let a = az
        .post(
            &az.dated("/fine_tuning/jobs"),
            job_body(&file, json!({"suffix": "writer_v-2"})),
        )
        .await?;
    ensure!(
        a.status.is_success(),
        "good suffix: {} {}",
        a.status,
        a.body
    );
    Ok(())
}
strict_not_lenient!(dated_suffix_rule, dated_suffix);

/// Only the dated versions in facts.md are emulated; another is refused, not guessed.
async fn dated_versions(az: &Az) -> Check {
    let a = az
        .get(&az.dated_v("2024-02-01", "/fine_tuning/jobs"))
        .await?;
    ensure!(a.status == 400, "2024-02-01: {} {}", a.status, a.body);
    ensure!(a.body["error"]["param"] == "api-version", "{}", a.body);
    let a = az.get(&az.dated("/fine_tuning/jobs")).await?;
    ensure!(a.status == 200, "2024-10-21: {}", a.status);
    Ok(())
}
strict_not_lenient!(an_api_version_not_in_the_specs_is_refused, dated_versions);

/// 2025-04-01-preview (facts §2 "A25P"): 201, `method` (dpo|supervised) and `integrations`
/// kept, no `metadata`, pause and resume with status `paused`.
async fn preview(az: &Az) -> Check {
    const V: &str = "2025-04-01-preview";
    let file = az
        .training_file(&az.dated_v(V, "/files"), |id| {
            az.dated_v(V, &format!("/files/{id}"))
        })
        .await?;
    let rl = az
        .post(
            &az.dated_v(V, "/fine_tuning/jobs"),
            json!({
                "model": "o4-mini",
                "training_file": file,
                "method": {"type": "reinforcement", "reinforcement": {"grader": {"type": "string_check"}}},
            }),
        )
        .await?;
    ensure!(
        rl.status == 400 && rl.body["error"]["param"] == "method.type",
        "reinforcement: {} {}",
        rl.status,
        rl.body
    );
    let a = az
        .post(
            &az.dated_v(V, "/fine_tuning/jobs"),
            job_body(
                &file,
                json!({
                    "metadata": {"run": "r1"},
                    "method": {"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 3}}},
                    "integrations": [{"type": "wandb", "wandb": {"project": "p"}}],
                }),
            ),
        )
        .await?;
    ensure!(a.status == 201, "create: {} {}", a.status, a.body);
    ensure!(a.body.get("metadata").is_none(), "metadata kept");
    ensure!(a.body["method"]["type"] == "supervised", "{}", a.body);
    ensure!(a.body["integrations"][0]["type"] == "wandb", "{}", a.body);
    let id = a.body["id"].as_str().unwrap_or("").to_string();
    let job = az.dated_v(V, &format!("/fine_tuning/jobs/{id}"));
    // Pause needs a running job: wait for it.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let s = az.get(&job).await?.body["status"].clone();
        if s == "running" {
            break;
        }
        ensure!(s == "pending", "status {s} before running");
        ensure!(std::time::Instant::now() < deadline, "never running");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let p = az
        .post(
            &az.dated_v(V, &format!("/fine_tuning/jobs/{id}/pause")),
            json!({}),
        )
        .await?;
    ensure!(
        p.status == 200 && p.body["status"] == "paused",
        "pause: {} {}",
        p.status,
        p.body
    );
    let r = az
        .post(
            &az.dated_v(V, &format!("/fine_tuning/jobs/{id}/resume")),
            json!({}),
        )
        .await?;
    ensure!(r.status == 200, "resume: {} {}", r.status, r.body);
    Ok(())
}
strict_not_lenient!(
    preview_2025_04_01_has_method_integrations_and_pause,
    preview
);

// ---- The v1 API (facts §1, §2) ----

/// Create answers 200 with OpenAI's statuses and keeps `metadata`; the model is
/// `<base>.ft-<32 hex>` and can be fine-tuned again (continuous fine-tuning, facts §3).
async fn v1_create(az: &Az) -> Check {
    let file = az.v1_file().await?;
    let a = az
        .post(
            &az.v1("/fine_tuning/jobs"),
            job_body(&file, json!({"metadata": {"run": "r1"}, "suffix": "a.b"})),
        )
        .await?;
    ensure!(a.status == 200, "create: {} {}", a.status, a.body);
    ensure!(a.body["metadata"]["run"] == "r1", "{}", a.body);
    ensure!(a.body["method"]["type"] == "supervised", "{}", a.body);
    let id = a.body["id"].as_str().unwrap_or("").to_string();
    let (seen, job) = az
        .wait_job(&az.v1(&format!("/fine_tuning/jobs/{id}")))
        .await?;
    for s in &seen {
        // facts §2: "status enum: validating_files|queued|running|succeeded|failed|cancelled".
        ensure!(
            ["validating_files", "queued", "running", "succeeded"].contains(&s.as_str()),
            "status {s}"
        );
    }
    let model = job["fine_tuned_model"].as_str().unwrap_or("").to_string();
    ensure!(
        is_azure_model_id(&model, "gpt-4o-mini-2024-07-18"),
        "fine-tuned model id {model}"
    );
    let again = az
        .post(
            &az.v1("/fine_tuning/jobs"),
            json!({"model": model, "training_file": file}),
        )
        .await?;
    ensure!(
        again.status == 200 && again.body["model"] == model,
        "continuous fine-tuning: {} {}",
        again.status,
        again.body
    );
    let cps = az
        .get(&az.v1(&format!("/fine_tuning/jobs/{id}/checkpoints")))
        .await?;
    let first = cps.body["data"][0]["id"].as_str().unwrap_or("");
    // facts §3: checkpoints are `ftchkpt-<32 hex>`.
    ensure!(
        first.len() == 40 && first.starts_with("ftchkpt-"),
        "checkpoint id {first}"
    );
    Ok(())
}
strict_not_lenient!(
    v1_create_is_200_keeps_metadata_and_makes_azure_ids,
    v1_create
);

/// facts §2: v1's list has "**no metadata filter**": it is ignored.
async fn v1_list(az: &Az) -> Check {
    let file = az.v1_file().await?;
    for metadata in [json!({"key": "k1"}), Value::Null] {
        let a = az
            .post(
                &az.v1("/fine_tuning/jobs"),
                job_body(&file, json!({"metadata": metadata})),
            )
            .await?;
        ensure!(a.status == 200, "create: {} {}", a.status, a.body);
    }
    let l = az.get(&az.v1("/fine_tuning/jobs?metadata[key]=k1")).await?;
    let data = l.body["data"].as_array().cloned().unwrap_or_default();
    ensure!(
        data.len() == 2,
        "the filter was applied: {} jobs",
        data.len()
    );
    ensure!(
        data.iter().any(|j| j["metadata"]["key"] == "k1"),
        "metadata lost"
    );
    Ok(())
}
strict_not_lenient!(v1_list_ignores_a_metadata_filter, v1_list);

/// facts §2: "**No `/uploads` … in V1**"; files go through `/files`.
async fn v1_uploads(az: &Az) -> Check {
    let a = az
        .post(
            &az.v1("/uploads"),
            json!({"filename": "t.jsonl", "purpose": "fine-tune", "bytes": 10, "mime_type": "text/jsonl"}),
        )
        .await?;
    ensure!(a.status == 404, "POST /uploads: {} {}", a.status, a.body);
    ensure!(
        a.body["error"]["message"] == "Invalid URL (POST /openai/v1/uploads)",
        "{}",
        a.body
    );
    // The dated API has them (facts §2: "They exist in A1021").
    let d = az
        .post(
            &az.dated("/uploads"),
            json!({"filename": "t.jsonl", "purpose": "fine-tune", "bytes": 10, "mime_type": "text/jsonl"}),
        )
        .await?;
    ensure!(
        d.status == 200,
        "dated POST /uploads: {} {}",
        d.status,
        d.body
    );
    Ok(())
}
strict_not_lenient!(v1_has_no_uploads, v1_uploads);

/// Files are `pending`, then `running`, then `processed` (facts §2), and a job cannot use one
/// before.
async fn v1_file_states(az: &Az) -> Check {
    let a = az
        .upload_to(&az.v1("/files"), &jsonl(10), "fine-tune")
        .await?;
    ensure!(a.status == 200, "upload: {} {}", a.status, a.body);
    ensure!(a.body["status"] == "pending", "status {}", a.body["status"]);
    let id = a.body["id"].as_str().unwrap_or("").to_string();
    let early = az
        .post(&az.v1("/fine_tuning/jobs"), job_body(&id, json!({})))
        .await?;
    ensure!(
        early.status == 400,
        "job on a pending file: {}",
        early.status
    );
    let seen = az.wait_processed(&az.v1(&format!("/files/{id}"))).await?;
    for s in &seen {
        ensure!(
            ["pending", "running", "processed"].contains(&s.as_str()),
            "file status {s}"
        );
    }
    let bad = az.upload_to(&az.v1("/files"), &jsonl(10), "vision").await?;
    // facts §2: v1's `purpose` ∈ assistants|batch|fine-tune|evals.
    ensure!(bad.status == 400, "purpose vision: {}", bad.status);
    Ok(())
}
strict_not_lenient!(v1_files_go_pending_running_processed, v1_file_states);

/// facts §1: v1's `api-version` is optional, `v1` or `preview`; a dated value is not.
async fn v1_versions(az: &Az) -> Check {
    for ok in ["", "?api-version=v1", "?api-version=preview"] {
        let a = az.get(&az.v1(&format!("/fine_tuning/jobs{ok}"))).await?;
        ensure!(a.status == 200, "{ok:?}: {}", a.status);
    }
    let a = az
        .get(&az.v1("/fine_tuning/jobs?api-version=2024-10-21"))
        .await?;
    ensure!(a.status == 400, "a dated version on v1: {}", a.status);
    Ok(())
}
strict_not_lenient!(v1_takes_no_dated_api_version, v1_versions);

/// Models carry Azure's retirement dates (facts §6, D-RET) as `deprecation.fine_tune` and
/// `deprecation.inference`, on v1 and dated paths.
async fn retirement_dates(az: &Az) -> Check {
    for (model, training, deployment) in [
        ("gpt-4o-mini-2024-07-18", "2027-04-01", "2027-10-01"),
        ("gpt-4.1-mini-2025-04-14", "2027-04-14", "2027-10-14"),
    ] {
        for url in [
            az.v1(&format!("/models/{model}")),
            az.dated(&format!("/models/{model}")),
        ] {
            let a = az.get(&url).await?;
            ensure!(a.status == 200, "{url}: {} {}", a.status, a.body);
            let d = &a.body["deprecation"];
            ensure!(d["fine_tune"] == unix(training), "{url}: {}", a.body);
            ensure!(d["inference"] == unix(deployment), "{url}: {}", a.body);
        }
    }
    let list = az.get(&az.v1("/models")).await?;
    let listed = list.body["data"]
        .as_array()
        .and_then(|d| d.iter().find(|m| m["id"] == "gpt-4o-2024-08-06").cloned())
        .ok_or("gpt-4o-2024-08-06 not listed")?;
    ensure!(
        listed["deprecation"]["fine_tune"] == unix("2027-04-01"),
        "{listed}"
    );
    Ok(())
}
strict_not_lenient!(models_expose_azure_retirement_dates, retirement_dates);

// ---- Auth and chat by deployment name (facts §1, §5) ----

/// Trains on v1, deploys through the control plane, and chats on v1 with `model` = the
/// deployment's name, with `api-key` or `Authorization: Bearer`.
#[tokio::test]
async fn v1_chat_takes_a_deployment_name_with_either_auth_header() {
    let az = Az::start(false).await;
    let file = az.v1_file().await.unwrap();
    let a = az
        .post(&az.v1("/fine_tuning/jobs"), job_body(&file, json!({})))
        .await
        .unwrap();
    let id = a.body["id"].as_str().unwrap().to_string();
    let (_, job) = az
        .wait_job(&az.v1(&format!("/fine_tuning/jobs/{id}")))
        .await
        .unwrap();
    let model = job["fine_tuned_model"].as_str().unwrap().to_string();
    let put = az
        .put_arm(
            &az.arm("writer-prod", ARM_VERSION),
            json!({"sku": {"name": "Standard", "capacity": 1}, "properties": {"model": {"format": "OpenAI", "name": model, "version": "1"}}}),
        )
        .await
        .unwrap();
    assert_eq!(put.status, 201, "{}", put.body);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let d = az
            .get_arm(&az.arm("writer-prod", ARM_VERSION))
            .await
            .unwrap();
        if d.body["properties"]["provisioningState"] == "Succeeded" {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{}", d.body);
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let chat = |deployment: &str| json!({"model": deployment, "messages": [{"role": "user", "content": "A tagline"}]});
    let url = az.v1("/chat/completions");
    let by_key = az
        .send(
            az.http
                .post(&url)
                .header("api-key", az.emu.api_key())
                .json(&chat("writer-prod")),
        )
        .await
        .unwrap();
    assert_eq!(by_key.status, 200, "{}", by_key.body);
    assert_eq!(by_key.body["model"], model.as_str());
    let by_bearer = az
        .send(
            az.http
                .post(&url)
                .bearer_auth(az.emu.api_key())
                .json(&chat("writer-prod")),
        )
        .await
        .unwrap();
    assert_eq!(by_bearer.status, 200, "{}", by_bearer.body);
    let none = az
        .send(az.http.post(&url).json(&chat("writer-prod")))
        .await
        .unwrap();
    assert_eq!(none.status, 401);
    let wrong = az
        .send(
            az.http
                .post(&url)
                .bearer_auth("not-the-key")
                .json(&chat("writer-prod")),
        )
        .await
        .unwrap();
    assert_eq!(wrong.status, 401);
    // The fine-tuned model's own id is not a deployment (facts §5: `model` is the deployment).
    let undeployed = az
        .send(
            az.http
                .post(&url)
                .header("api-key", az.emu.api_key())
                .json(&chat(&model)),
        )
        .await
        .unwrap();
    assert_eq!(undeployed.status, 404, "{}", undeployed.body);
    assert_eq!(undeployed.body["error"]["code"], "DeploymentNotFound");
    // facts §5: v1 has no `/deployments/{name}/chat/completions`; the dated API does.
    let path = az
        .post(
            &az.v1("/deployments/writer-prod/chat/completions"),
            chat("x"),
        )
        .await
        .unwrap();
    assert_eq!(path.status, 404);
    let dated = az
        .post(
            &az.dated("/deployments/writer-prod/chat/completions"),
            chat("x"),
        )
        .await
        .unwrap();
    assert_eq!(dated.status, 200, "{}", dated.body);
    az.emu.close().await;
}

/// A deployment past its inference retirement answers nothing, and a base past its training
/// retirement cannot be fine-tuned on Azure (facts §6).
#[tokio::test]
async fn retired_models_are_refused() {
    let az = Az::with(EmulatorOptions {
        model_shutdown_dates: [(
            "gpt-4.1-nano-2025-04-14".to_string(),
            "2020-01-01".to_string(),
        )]
        .into_iter()
        .collect(),
        ..Default::default()
    })
    .await;
    let file = az.v1_file().await.unwrap();
    let a = az
        .post(
            &az.v1("/fine_tuning/jobs"),
            json!({"model": "gpt-4.1-nano-2025-04-14", "training_file": file}),
        )
        .await
        .unwrap();
    assert_eq!(a.status, 400, "{}", a.body);
    let m = az
        .get(&az.v1("/models/gpt-4.1-nano-2025-04-14"))
        .await
        .unwrap();
    assert_eq!(m.body["deprecation"]["fine_tune"], unix("2020-01-01"));
    assert_eq!(m.body["deprecation"]["inference"], unix("2020-01-01"));
    let put = az
        .put_arm(
            &az.arm("old", ARM_VERSION),
            json!({"sku": {"name": "Standard", "capacity": 1}, "properties": {"model": {"format": "OpenAI", "name": "gpt-4.1-nano-2025-04-14", "version": "1"}}}),
        )
        .await
        .unwrap();
    assert_eq!(put.status, 400, "{}", put.body);
    az.emu.close().await;
}
