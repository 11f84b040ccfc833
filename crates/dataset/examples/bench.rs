//! Measures the checker on a JSONL file:
//!
//!   cargo run --release -p fine-tune-dataset --example bench -- <file.jsonl> [model] [--verify]
//!
//! Prints MB/s and tokens/s (and the report summary). With `--verify`, counts every string of
//! every line with this crate and with tiktoken-rs and reports any disagreement.

use std::time::Instant;

use fine_tune_dataset::{
    count_tokens, encoding_for_model, validate_path, Encoding, ValidateOptions,
};

fn strings<'a>(v: &'a serde_json::Value, out: &mut Vec<&'a str>) {
    match v {
        serde_json::Value::String(s) => out.push(s),
        serde_json::Value::Array(a) => a.iter().for_each(|x| strings(x, out)),
        serde_json::Value::Object(o) => o.values().for_each(|x| strings(x, out)),
        _ => {}
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let path = args
        .first()
        .expect("usage: bench <file.jsonl> [model] [--verify]");
    let model = args
        .get(1)
        .filter(|a| !a.starts_with("--"))
        .cloned()
        .unwrap_or_else(|| "gpt-4o-mini-2024-07-18".to_string());
    let verify = args.iter().any(|a| a == "--verify");
    let options = ValidateOptions {
        base_model: Some(model.clone()),
        ..Default::default()
    };
    let bytes = std::fs::metadata(path).expect("file").len() as f64;
    // Warm the vocabularies and tables so that the timing is the check itself.
    count_tokens("warm up", encoding_for_model(&model));
    for run in 0..3 {
        let start = Instant::now();
        let r = validate_path(std::path::Path::new(path), &options).expect("readable");
        let s = start.elapsed().as_secs_f64();
        println!(
            "run {run}: {:.1} MB in {:.3} s = {:.1} MB/s, {:.2} M tokens/s ({} examples, {} tokens, valid={}, errors={}, warnings={}, encoding={})",
            bytes / 1e6,
            s,
            bytes / 1e6 / s,
            r.tokens.total as f64 / 1e6 / s,
            r.examples,
            r.tokens.total,
            r.valid,
            r.errors.len(),
            r.warnings.len(),
            r.encoding.name()
        );
        if run == 0 {
            println!(
                "tokens: min {} median {} p90 {} max {} assistant {}; epochs {}; billed {}; cost {:?} USD",
                r.tokens.min,
                r.tokens.median,
                r.tokens.p90,
                r.tokens.max,
                r.tokens.assistant_total,
                r.epochs,
                r.estimated_billed_tokens,
                r.estimated_cost_usd
            );
        }
    }
    if verify {
        let text = std::fs::read_to_string(path).expect("utf-8 file");
        for (enc, reference) in [
            (Encoding::O200kBase, tiktoken_rs::o200k_base().unwrap()),
            (Encoding::Cl100kBase, tiktoken_rs::cl100k_base().unwrap()),
        ] {
            let start = Instant::now();
            let (mut n, mut ours, mut theirs, mut bad) = (0u64, 0u64, 0u64, 0u64);
            for line in text.lines().filter(|l| !l.trim().is_empty()) {
                let v: serde_json::Value = serde_json::from_str(line).expect("json");
                let mut ss = Vec::new();
                strings(&v, &mut ss);
                for s in ss {
                    let a = count_tokens(s, enc) as u64;
                    let b = reference.encode_ordinary(s).len() as u64;
                    n += 1;
                    ours += a;
                    theirs += b;
                    if a != b {
                        bad += 1;
                        if bad <= 5 {
                            eprintln!("MISMATCH {}: ours {a} tiktoken-rs {b}: {s:?}", enc.name());
                        }
                    }
                }
            }
            println!(
                "verify {}: {n} strings, ours {ours} tokens, tiktoken-rs {theirs} tokens, {bad} mismatches ({:.1} s)",
                enc.name(),
                start.elapsed().as_secs_f64()
            );
        }
    }
}
