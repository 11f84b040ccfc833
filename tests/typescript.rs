//! The TypeScript declarations of what the exported calls return, generated from the core's
//! own types (ts-rs), so that a field added to one cannot be missing from `index.d.ts`.
//!
//! They live in `types/header.d.ts` (napi's `dtsHeaderFile`, which `napi build` puts at the top
//! of `index.d.ts`) between two markers. This test regenerates them: when the file differs, it
//! writes the new text (outside CI) and fails, so the change shows in `git diff` and the next
//! run passes.

use std::path::Path;

use fine_tune_core as core;
use fine_tune_dataset as ds;
use ts_rs::{Config, TS};

const BEGIN: &str =
    "// ---- generated from the core's types by tests/typescript.rs: do not edit below ----\n";
const END: &str = "// ---- end of generated types ----\n";

/// One declaration: its doc comment and `export type Name = …;`, one field a line.
fn decl<T: TS>(cfg: &Config) -> String {
    let mut out = T::docs().unwrap_or_default();
    out.push_str("export ");
    out.push_str(&layout(&T::decl(cfg)));
    out.push_str("\n\n");
    out
}

/// ts-rs writes a declaration on few lines; this puts each field of a top-level object (and
/// each member of a union of objects) on a line of its own, indented, with its doc comment
/// above it. Nested objects stay inline; comments are copied as they are.
fn layout(decl: &str) -> String {
    let mut out = String::new();
    let mut depth = 0usize;
    let mut rest = decl;
    let newline = |out: &mut String, indent: usize| {
        while out.ends_with(' ') {
            out.pop();
        }
        out.push('\n');
        out.push_str(&"  ".repeat(indent));
    };
    while let Some(c) = rest.chars().next() {
        if rest.starts_with("/*") {
            let end = rest.find("*/").map_or(rest.len(), |i| i + 2);
            for (i, line) in rest[..end].lines().enumerate() {
                if i > 0 {
                    newline(&mut out, depth);
                    out.push(' ');
                }
                out.push_str(line.trim());
            }
            newline(&mut out, depth);
            rest = rest[end..].trim_start();
            continue;
        }
        rest = &rest[c.len_utf8()..];
        match c {
            '{' if depth == 0 => {
                depth = 1;
                out.push('{');
                newline(&mut out, 1);
                rest = rest.trim_start();
            }
            '}' if depth == 1 => {
                depth = 0;
                // The line holds only the indentation.
                out.truncate(out.trim_end().len());
                newline(&mut out, 0);
                out.push('}');
            }
            ',' if depth == 1 => {
                out.push(',');
                newline(&mut out, 1);
                rest = rest.trim_start();
            }
            '|' if depth == 0 && out.ends_with("} ") => {
                newline(&mut out, 1);
                out.push('|');
            }
            '{' | '<' | '(' | '[' => {
                depth += usize::from(depth > 0);
                out.push(c);
            }
            '}' | '>' | ')' | ']' => {
                depth -= usize::from(depth > 1);
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    out
}

/// Every output type, dependencies included.
fn generated() -> String {
    // JavaScript numbers: every integer this package returns fits in 2^53.
    let cfg = Config::new().with_large_int("number");
    use core::types::{entry, progress, results};
    [
        decl::<results::RegisteredModel>(&cfg),
        decl::<entry::ModelRef>(&cfg),
        decl::<results::MetricsSummary>(&cfg),
        decl::<results::Deployment>(&cfg),
        decl::<results::EntryInfo>(&cfg),
        decl::<entry::FineTuneRecord>(&cfg),
        decl::<results::StopsAnswering>(&cfg),
        decl::<results::VersionInfo>(&cfg),
        decl::<results::Removed>(&cfg),
        decl::<results::ModelCheck>(&cfg),
        decl::<results::InFlightRun>(&cfg),
        decl::<results::FineTuneJob>(&cfg),
        decl::<results::JobError>(&cfg),
        decl::<results::EvaluationReport>(&cfg),
        decl::<results::GraderScore>(&cfg),
        decl::<results::EvalUsage>(&cfg),
        decl::<core::types::evaluation::GraderError>(&cfg),
        decl::<progress::ProgressEvent>(&cfg),
        decl::<ds::DatasetReport>(&cfg),
        decl::<ds::IssueSummary>(&cfg),
        decl::<ds::TokenStats>(&cfg),
        decl::<core::types::options::OptionSpec>(&cfg),
        decl::<core::types::options::OptionKind>(&cfg),
    ]
    .concat()
}

#[test]
fn the_header_declares_the_core_types() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("types/header.d.ts");
    let text = std::fs::read_to_string(&path).unwrap();
    let head = text.split(BEGIN).next().unwrap_or_default();
    let want = format!("{head}{BEGIN}{}{END}", generated());
    if text == want {
        return;
    }
    if std::env::var_os("CI").is_none() {
        std::fs::write(&path, &want).unwrap();
    }
    panic!(
        "{} was out of date with the core's types{}; run `node scripts/build.js` to refresh index.d.ts",
        path.display(),
        if std::env::var_os("CI").is_none() { " and has been rewritten" } else { "" }
    );
}
