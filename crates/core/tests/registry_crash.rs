//! A process killed at any moment of a registry write leaves the old file or the new one,
//! never a broken one, and never loses an entry it had finished writing.
//!
//! The test re-runs its own binary as a writer (`FT_REGISTRY_WRITER=<path>`), which registers
//! `k0`, `k1`, … as fast as it can, and SIGKILLs it after a varying delay.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use fine_tune_core::registry::Registry;
use serde_json::json;

fn writer(path: &Path) -> ! {
    let reg = Registry::new(path);
    let start = reg.read().map(|m| m.len()).unwrap_or(0);
    for i in start.. {
        reg.insert_new(&format!("k{i}"), &serde_json::from_value(json!({"model": {"name": format!("ft:x::{i}"), "provider": "openai"}, "pad": "x".repeat(2000)})).unwrap())
            .expect("insert");
    }
    unreachable!()
}

#[test]
fn killed_writers_never_corrupt_the_registry() {
    if let Ok(path) = std::env::var("FT_REGISTRY_WRITER") {
        writer(Path::new(&path));
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("models.json");
    let exe = std::env::current_exe().unwrap();
    let mut last = 0;
    for round in 0..25u64 {
        let mut child = Command::new(&exe)
            .args([
                "--exact",
                "killed_writers_never_corrupt_the_registry",
                "--nocapture",
            ])
            .env("FT_REGISTRY_WRITER", &path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(20 + (round * 7) % 60));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        // Valid JSON every time, holding k0..kN without a hole, and never fewer than before.
        let map = Registry::new(&path)
            .read()
            .expect("the registry must stay valid JSON");
        for i in 0..map.len() {
            assert!(
                map.contains_key(&format!("k{i}")),
                "k{i} lost after round {round}"
            );
        }
        assert!(map.len() >= last, "entries lost: {} < {last}", map.len());
        last = map.len();
    }
    assert!(last > 0, "the writers never wrote anything");
    // The next write clears what killed writers left behind.
    Registry::new(&path)
        .insert_new("after", &Default::default())
        .unwrap();
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}
