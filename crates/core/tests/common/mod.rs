//! Helpers the emulator tests share: a chat data set and a run's options against an emulator.

use std::path::Path;
use std::time::Duration;

use fine_tune_core::options::{ConnectionOptions, RetryDelays};
use fine_tune_core::TrainOptions;
use fine_tune_emulator::Emulator;

/// `n` valid chat examples, one JSONL line each.
pub fn examples(n: usize) -> String {
    (0..n)
        .map(|i| {
            format!(
                r#"{{"messages":[{{"role":"user","content":"Tagline {i}?"}},{{"role":"assistant","content":"Product {i}: better."}}]}}"#
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The options of a run of `key` against `emu`, with its training data (12 examples, written
/// to `dir/train.jsonl` unless it is there) and its registry in `dir`, polling every 20 ms,
/// retrying after 1 to 20 ms.
pub fn options(emu: &Emulator, dir: &Path, key: &str) -> TrainOptions {
    let source = dir.join("train.jsonl");
    if !source.exists() {
        std::fs::write(&source, examples(12)).unwrap();
    }
    TrainOptions {
        agent_name: "Writer".into(),
        model_key: key.into(),
        base_model: "gpt-4o-mini-2024-07-18".into(),
        source: source.display().to_string(),
        connection: ConnectionOptions {
            api_key: Some(emu.api_key()),
            base_url: Some(emu.url()),
            // Retries wait milliseconds, not seconds: the faults are the emulator's.
            retry_delays: Some(RetryDelays {
                initial: Duration::from_millis(1),
                max: Duration::from_millis(20),
            }),
            ..Default::default()
        },
        registry_path: Some(dir.join("fine-tuned/models.json").display().to_string()),
        poll_interval_ms: Some(20),
        ..Default::default()
    }
}
