//! Azure's control plane (Azure Resource Manager) for deployments, as facts §4 records it.
//! Each `strict_not_lenient!` test passes on the default emulator and fails on `azure_lenient`.

mod azure_common;

use azure_common::*;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

fn deployment(sku: &str, model: &str) -> Value {
    json!({
        "sku": {"name": sku, "capacity": 1},
        "properties": {"model": {"format": "OpenAI", "name": model, "version": "1"}},
    })
}

const BASE: &str = "gpt-4o-mini-2024-07-18";

/// facts §4: `2024-10-21` is not a Microsoft.CognitiveServices version; 2026-03-01 (newest
/// GA) and 2024-10-01 are.
async fn api_versions(az: &Az) -> Check {
    let a = az
        .put_arm(&az.arm("d1", "2024-10-21"), deployment("Standard", BASE))
        .await?;
    ensure!(a.status == 400, "2024-10-21: {} {}", a.status, a.body);
    ensure!(a.body["error"]["code"].is_string(), "{}", a.body);
    let g = az.get_arm(&az.arm("d1", "2024-10-21")).await?;
    ensure!(g.status == 400, "GET with 2024-10-21: {}", g.status);
    for (name, v) in [
        ("d2", ARM_VERSION),
        ("d3", "2024-10-01"),
        ("d4", "2026-03-15-preview"),
    ] {
        let a = az
            .put_arm(&az.arm(name, v), deployment("Standard", BASE))
            .await?;
        ensure!(a.status == 201, "{v}: {} {}", a.status, a.body);
    }
    Ok(())
}
strict_not_lenient!(
    an_unpublished_control_plane_version_is_refused,
    api_versions
);

/// facts §4: "**201** create with `Azure-AsyncOperation` + `Retry-After`"; ready when the
/// deployment shows `provisioningState: Succeeded`; an unchanged PUT is 200.
async fn long_running(az: &Az) -> Check {
    let url = az.arm("writer", ARM_VERSION);
    let a = az.put_arm(&url, deployment("Standard", BASE)).await?;
    ensure!(a.status == 201, "create: {} {}", a.status, a.body);
    ensure!(
        a.body["properties"]["provisioningState"] == "Creating",
        "{}",
        a.body
    );
    let op = a
        .header("azure-asyncoperation")
        .ok_or("no Azure-AsyncOperation")?;
    ensure!(op.starts_with("http://"), "not an absolute URL: {op}");
    let retry: u64 = a
        .header("retry-after")
        .ok_or("no Retry-After")?
        .parse()
        .map_err(|e| format!("Retry-After: {e}"))?;
    ensure!(retry >= 1, "Retry-After {retry}");
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut statuses = Vec::new();
    loop {
        let s = az.get_arm(&op).await?;
        ensure!(s.status == 200, "operation: {} {}", s.status, s.body);
        let st = s.body["status"].as_str().unwrap_or("").to_string();
        if statuses.last() != Some(&st) {
            statuses.push(st.clone());
        }
        if st == "Succeeded" {
            break;
        }
        ensure!(st == "InProgress", "operation status {st}");
        ensure!(Instant::now() < deadline, "{statuses:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let d = az.get_arm(&url).await?;
    ensure!(
        d.body["properties"]["provisioningState"] == "Succeeded",
        "{}",
        d.body
    );
    // Without the Bearer token the operation is not readable either.
    let anon = az.send(az.http.get(&op)).await?;
    ensure!(
        anon.status == 401,
        "operation without a token: {}",
        anon.status
    );
    let again = az.put_arm(&url, deployment("Standard", BASE)).await?;
    ensure!(again.status == 200, "unchanged PUT: {}", again.status);
    Ok(())
}
strict_not_lenient!(a_new_deployment_is_a_long_running_operation, long_running);

/// SKUs as Microsoft names them (facts §4, D-TYPES): `DeveloperTier`, not `Developer`.
async fn skus(az: &Az) -> Check {
    for (name, sku) in [
        ("s1", "Standard"),
        ("s2", "GlobalStandard"),
        ("s3", "DeveloperTier"),
        // facts.md: case-insensitivity not confirmed; accepted (lenient), as D-TEST's sample.
        ("s4", "developertier"),
    ] {
        let a = az
            .put_arm(&az.arm(name, ARM_VERSION), deployment(sku, BASE))
            .await?;
        ensure!(a.status == 201, "{sku}: {} {}", a.status, a.body);
    }
    let d = az.get_arm(&az.arm("s3", ARM_VERSION)).await?;
    ensure!(d.body["sku"]["name"] == "DeveloperTier", "{}", d.body);
    let a = az
        .put_arm(&az.arm("s5", ARM_VERSION), deployment("Developer", BASE))
        .await?;
    ensure!(a.status == 400, "Developer: {} {}", a.status, a.body);
    Ok(())
}
strict_not_lenient!(skus_are_microsofts_names, skus);

/// facts §4: ARM takes a bearer token (`azure_auth`), not `api-key`.
#[tokio::test]
async fn the_control_plane_takes_a_bearer_token_only() {
    for lenient in [false, true] {
        let az = Az::start(lenient).await;
        let url = az.arm("dep-1", ARM_VERSION);
        let by_key = az
            .send(
                az.http
                    .put(&url)
                    .header("api-key", az.emu.api_key())
                    .json(&deployment("Standard", BASE)),
            )
            .await
            .unwrap();
        assert_eq!(by_key.status, 401, "{}", by_key.body);
        let wrong = az
            .send(
                az.http
                    .put(&url)
                    .bearer_auth("not-the-token")
                    .json(&deployment("Standard", BASE)),
            )
            .await
            .unwrap();
        assert_eq!(wrong.status, 401);
        assert!(!wrong.body.to_string().contains("not-the-token"));
        let ok = az
            .put_arm(&url, deployment("Standard", BASE))
            .await
            .unwrap();
        assert_eq!(ok.status, 201, "{}", ok.body);
        az.emu.close().await;
    }
}

/// The lenient emulator keeps the old control plane: any api-version, `Developer`, no
/// operation headers.
#[tokio::test]
async fn the_lenient_control_plane_is_the_old_one() {
    let az = Az::start(true).await;
    let a = az
        .put_arm(&az.arm("old", "2024-10-21"), deployment("Developer", BASE))
        .await
        .unwrap();
    assert_eq!(a.status, 201, "{}", a.body);
    assert!(a.header("azure-asyncoperation").is_none());
    az.emu.close().await;
}
