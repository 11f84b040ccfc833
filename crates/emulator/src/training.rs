//! Server-side checks of training and validation files, as OpenAI runs them while a job is
//! `validating_files`: the example count and the format of each example.

use fine_tune_dataset::rules::ROLES;
use serde_json::{Map, Value};
use std::io::BufRead;
use std::path::Path;

/// The shape expected of each example.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DataFormat {
    /// `{"messages":[…]}` with at least one assistant message (supervised chat models).
    Chat,
    /// `{"prompt":…, "completion":…}` (babbage-002, davinci-002).
    Completion,
    /// `{"input":{"messages":[…]}, "preferred_output":[…], "non_preferred_output":[…]}` (DPO).
    Preference,
    /// `{"messages":[…], …}` without the assistant requirement (reinforcement).
    Reinforcement,
}

/// Why a job failed: the `error` object of a failed `fine_tuning.job`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub(crate) struct JobError {
    /// Machine-readable code.
    pub code: String,
    /// Human-readable message.
    pub message: String,
    /// `training_file`, `validation_file` or none.
    pub param: Option<String>,
}

/// What the checks found in one file.
#[derive(Debug, Clone)]
pub(crate) struct Analysis {
    /// Number of non-blank lines.
    pub n_examples: usize,
    /// The first problem, if any.
    pub error: Option<JobError>,
}

fn check_messages(
    messages: Option<&Value>,
    example: usize,
    need_assistant: bool,
) -> Result<(), String> {
    let Some(Value::Array(messages)) = messages else {
        return Err(format!("Example {example}: missing 'messages' list"));
    };
    if messages.is_empty() {
        return Err(format!("Example {example}: 'messages' list is empty"));
    }
    let mut has_assistant = false;
    for (j, m) in messages.iter().enumerate() {
        let at = format!("Example {example}, message {}", j + 1);
        let Value::Object(m) = m else {
            return Err(format!("{at}: not an object"));
        };
        let role = match m.get("role") {
            Some(Value::String(r)) => r.as_str(),
            Some(_) => return Err(format!("{at}: role is not a string")),
            None => return Err(format!("{at}: missing role")),
        };
        if !ROLES.contains(&role) {
            return Err(format!("{at}: unrecognized role '{role}'"));
        }
        let has_call = m.contains_key("tool_calls") || m.contains_key("function_call");
        match m.get("content") {
            Some(Value::String(_)) | Some(Value::Array(_)) => {}
            Some(Value::Null) | None if role == "assistant" && has_call => {}
            Some(Value::Null) | None => return Err(format!("{at}: missing content")),
            Some(_) => return Err(format!("{at}: content must be a string or a list of parts")),
        }
        if let Some(w) = m.get("weight") {
            if role != "assistant" || !(w == 0 || w == 1) {
                return Err(format!(
                    "{at}: weight must be 0 or 1 and only on assistant messages"
                ));
            }
        }
        has_assistant |= role == "assistant";
    }
    if need_assistant && !has_assistant {
        return Err(format!("Example {example}: no assistant message"));
    }
    Ok(())
}

fn check_example(
    obj: &Map<String, Value>,
    example: usize,
    format: DataFormat,
) -> Result<(), String> {
    match format {
        DataFormat::Chat => check_messages(obj.get("messages"), example, true),
        DataFormat::Reinforcement => check_messages(obj.get("messages"), example, false),
        DataFormat::Completion => {
            for key in ["prompt", "completion"] {
                if !matches!(obj.get(key), Some(Value::String(_))) {
                    return Err(format!("Example {example}: missing '{key}' string"));
                }
            }
            Ok(())
        }
        DataFormat::Preference => {
            check_messages(
                obj.get("input").and_then(|i| i.get("messages")),
                example,
                false,
            )
            .map_err(|e| e.replace("'messages'", "'input.messages'"))?;
            for key in ["preferred_output", "non_preferred_output"] {
                match obj.get(key) {
                    Some(Value::Array(out)) if !out.is_empty() => {
                        let ok = out.iter().all(|m| {
                            m.get("role") == Some(&Value::from("assistant"))
                                && m.get("content")
                                    .is_some_and(|c| c.is_string() || c.is_array())
                        });
                        if !ok {
                            return Err(format!("Example {example}: '{key}' must hold assistant messages with content"));
                        }
                    }
                    _ => return Err(format!("Example {example}: missing '{key}' list")),
                }
            }
            Ok(())
        }
    }
}

/// Reads and checks a training (`param` = `training_file`) or validation file.
/// `min_examples`: the count check (training file only).
pub(crate) fn analyze(
    path: &Path,
    format: DataFormat,
    param: &str,
    min_examples: Option<u64>,
) -> std::io::Result<Analysis> {
    let mut reader = std::io::BufReader::with_capacity(1 << 20, std::fs::File::open(path)?);
    let mut buf = Vec::new();
    let mut n = 0usize;
    let mut error = None;
    let code = if param == "training_file" {
        "invalid_training_file"
    } else {
        "invalid_validation_file"
    };
    let which = if param == "training_file" {
        "training"
    } else {
        "validation"
    };
    loop {
        buf.clear();
        let read = reader.read_until(b'\n', &mut buf)?;
        if read == 0 {
            break;
        }
        if buf.iter().all(u8::is_ascii_whitespace) || error.is_some() {
            if error.is_some() && !buf.iter().all(u8::is_ascii_whitespace) {
                n += 1;
            }
            continue;
        }
        n += 1;
        let problem = match serde_json::from_slice::<Value>(&buf) {
            Ok(Value::Object(obj)) => check_example(&obj, n, format).err(),
            _ => Some(format!("Example {n}: not a JSON object")),
        };
        if let Some(p) = problem {
            error = Some(JobError {
                code: code.to_string(),
                message: format!(
                    "The job failed due to an invalid {which} file. Invalid file format. {p}"
                ),
                param: Some(param.to_string()),
            });
        }
    }
    if error.is_none() {
        if let Some(min) = min_examples {
            if (n as u64) < min {
                error = Some(JobError {
                    code: "invalid_n_examples".into(),
                    message: format!(
                        "Training file has {n} example(s), but must have at least {min} examples"
                    ),
                    param: Some(param.to_string()),
                });
            }
        }
    }
    Ok(Analysis {
        n_examples: n,
        error,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use fine_tune_dataset::rules::MIN_EXAMPLES;
    use std::io::Write;

    fn run(lines: &[&str], format: DataFormat) -> Analysis {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        for l in lines {
            writeln!(f, "{l}").unwrap();
        }
        analyze(f.path(), format, "training_file", Some(MIN_EXAMPLES)).unwrap()
    }

    const GOOD: &str =
        r#"{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"hello"}]}"#;

    #[test]
    fn counts_examples() {
        let a = run(&[GOOD; 3], DataFormat::Chat);
        assert_eq!(a.n_examples, 3);
        let e = a.error.unwrap();
        assert_eq!(e.code, "invalid_n_examples");
        assert_eq!(
            e.message,
            "Training file has 3 example(s), but must have at least 10 examples"
        );
        assert!(run(&[GOOD; 10], DataFormat::Chat).error.is_none());
    }

    #[test]
    fn names_the_bad_message() {
        let mut lines = vec![GOOD; 12];
        lines[2] = r#"{"messages":[{"role":"user","content":"hi"},{"role":"assistant"}]}"#;
        let e = run(&lines, DataFormat::Chat).error.unwrap();
        assert_eq!(e.code, "invalid_training_file");
        assert!(
            e.message.contains("Example 3, message 2: missing content"),
            "{}",
            e.message
        );
        lines[2] = r#"{"messages":[{"role":"bot","content":"hi"}]}"#;
        let e = run(&lines, DataFormat::Chat).error.unwrap();
        assert!(e
            .message
            .contains("Example 3, message 1: unrecognized role 'bot'"));
        lines[2] = r#"{"messages":[{"role":"user","content":"hi"}]}"#;
        assert!(run(&lines, DataFormat::Chat)
            .error
            .unwrap()
            .message
            .contains("Example 3: no assistant message"));
        lines[2] = r#"{"prompt":"x"}"#;
        assert!(run(&lines, DataFormat::Chat)
            .error
            .unwrap()
            .message
            .contains("Example 3: missing 'messages' list"));
    }

    #[test]
    fn other_formats() {
        let c = r#"{"prompt":"a","completion":"b"}"#;
        assert!(run(&[c; 10], DataFormat::Completion).error.is_none());
        let p = r#"{"input":{"messages":[{"role":"user","content":"q"}]},"preferred_output":[{"role":"assistant","content":"y"}],"non_preferred_output":[{"role":"assistant","content":"n"}]}"#;
        assert!(run(&[p; 10], DataFormat::Preference).error.is_none());
        assert!(run(&[GOOD; 10], DataFormat::Preference).error.is_some());
    }
}
