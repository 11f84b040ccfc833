//! The data of an evaluation: where it comes from (a path, a URL, or a file id of the API)
//! and its examples (each line's messages up to its last assistant message are the prompt,
//! that message the reference).

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::calc::graders::Answer;
use crate::infra::client::Client;
use crate::infra::registry::Registry;
use crate::infra::source;
use crate::infra::task::blocking;
use crate::types::error::{Error, ErrorCode, Result};
use crate::types::options::DownloadLimits;
use crate::types::progress::RunContext;
use crate::types::redact::redact_url;

/// One example of the data set.
#[derive(Debug, Clone)]
pub struct Example {
    pub line: usize,
    pub prompt: Vec<Value>,
    pub tools: Option<Value>,
    pub reference: Answer,
    pub reference_message: Value,
}

/// Reads chat examples from JSONL text: each line's messages up to its last assistant message
/// are the prompt, that message the reference. Lines without an assistant message are
/// skipped; a line that is not a JSON object with `messages` is `ERR_INVALID_TRAINING_DATA`.
pub fn parse_examples(text: &str) -> Result<Vec<Example>> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let bad = |why: &str| {
            Error::new(
                ErrorCode::InvalidTrainingData,
                format!("evaluation data, line {}: {why}", i + 1),
            )
            .with_param("data")
        };
        let v: Value = serde_json::from_str(line).map_err(|e| bad(&format!("not JSON ({e})")))?;
        let messages = v
            .get("messages")
            .and_then(Value::as_array)
            .ok_or_else(|| bad("no \"messages\" array (chat format is required)"))?;
        let Some(last) = messages
            .iter()
            .rposition(|m| m.get("role").and_then(Value::as_str) == Some("assistant"))
        else {
            continue;
        };
        if last == 0 {
            continue;
        }
        let prompt: Vec<Value> = messages[..last]
            .iter()
            .map(|m| {
                let mut m = m.clone();
                if let Some(o) = m.as_object_mut() {
                    o.remove("weight");
                }
                m
            })
            .collect();
        out.push(Example {
            line: i + 1,
            prompt,
            tools: v.get("tools").filter(|t| t.is_array()).cloned(),
            reference: Answer::from_message(&messages[last]),
            reference_message: messages[last].clone(),
        });
    }
    Ok(out)
}

impl Example {
    /// As a caller's grader sees it: `{ line, prompt, reference, tools }`.
    pub fn to_json(&self) -> Value {
        json!({
            "line": self.line,
            "prompt": self.prompt,
            "reference": self.reference.to_json(),
            "tools": self.tools,
        })
    }
}

/// Loads the data: a path, a URL, or a file id of the API (`file-…`).
pub async fn load_data(
    client: &Client,
    data: &str,
    dir: &Path,
    ctx: &RunContext,
) -> Result<(String, String)> {
    if data.starts_with("file-") && !Path::new(data).exists() {
        let text = client.file_content(data, &ctx.cancel).await?;
        return Ok((text, data.to_string()));
    }
    let local = if source::is_url(data) {
        std::fs::create_dir_all(dir).ok();
        source::download("data", data, dir, &DownloadLimits::default(), &ctx.cancel).await?
    } else {
        source::open_local("data", data)?
    };
    let path = local.path.clone();
    let text = blocking(move || {
        std::fs::read_to_string(&path).map_err(|e| {
            Error::new(ErrorCode::SourceNotFound, format!("cannot read data: {e}"))
                .with_param("data")
        })
    })
    .await?;
    let shown = if source::is_url(data) {
        redact_url(data)
    } else {
        data.to_string()
    };
    Ok((text, shown))
}

/// The answers file when `outputPath` is not given: `evaluations/<name>-<time>.jsonl` beside
/// the registry.
pub fn default_output(registry: &Registry, name: &str) -> PathBuf {
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%3fZ");
    registry
        .dir()
        .join("evaluations")
        .join(format!("{safe}-{stamp}.jsonl"))
}
