//! The pipeline end to end against the emulator, from Rust (the Jest suite covers the package).

use fine_tune_core::{train_and_register, ErrorCode, RunContext, TrainOptions};
use fine_tune_emulator::{Emulator, EmulatorOptions};

mod common;
use common::examples;

/// [`common::options`], polling every 30 ms.
fn options(emu: &Emulator, dir: &std::path::Path, key: &str) -> TrainOptions {
    TrainOptions {
        poll_interval_ms: Some(30),
        ..common::options(emu, dir, key)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trains_registers_and_refuses_a_duplicate_before_uploading() {
    let emu = Emulator::start(EmulatorOptions {
        job_duration_ms: Some(200),
        ..Default::default()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();

    let model = train_and_register(options(&emu, dir.path(), "k1"), RunContext::default())
        .await
        .unwrap();
    assert!(model
        .fine_tuned_model
        .starts_with("ft:gpt-4o-mini-2024-07-18:"));
    let registry: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("fine-tuned/models.json")).unwrap())
            .unwrap();
    assert_eq!(
        registry["k1"]["model"]["name"],
        model.fine_tuned_model.as_str()
    );
    assert_eq!(registry["k1"]["model"]["provider"], "openai");
    assert_eq!(emu.stats().files_created, 1);
    assert_eq!(emu.stats().jobs_created, 1);

    let err = train_and_register(options(&emu, dir.path(), "k1"), RunContext::default())
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::DuplicateModelKey);
    assert_eq!(
        emu.stats().files_created,
        1,
        "nothing uploaded for a refused call"
    );
    emu.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_data_is_refused_with_its_report_before_uploading() {
    let emu = Emulator::start(EmulatorOptions::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut opts = options(&emu, dir.path(), "k2");
    std::fs::write(&opts.source, format!("{}\n[1]\n", examples(12))).unwrap();
    opts.source = dir.path().join("train.jsonl").display().to_string();
    let err = train_and_register(opts, RunContext::default())
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidTrainingData);
    let report = err.report.clone().unwrap();
    assert_eq!(report["errors"][0]["kind"], "data_type");
    assert_eq!(report["errors"][0]["lines"][0], 13);
    assert_eq!(emu.stats().files_created, 0);
    emu.close().await;
}
