//! The bridge to the dataset checker (`fine-tune-dataset`).

use std::path::Path;

use serde_json::{json, Value};

use crate::error::{Error, ErrorCode, Result};
use crate::options::Method;

/// What the pipeline needs of a dataset report.
pub struct Checked {
    pub valid: bool,
    /// A one-line summary of the first errors.
    pub summary: String,
    /// The whole report, for the caller.
    pub json: Value,
}

/// Checks one data file. Blocking.
pub fn check_file(path: &Path, _base_model: &str, _method: Method) -> Result<Checked> {
    // TEMPORARY minimal check until the dataset crate's validate_path lands.
    let text = std::fs::read_to_string(path).map_err(|e| {
        Error::new(ErrorCode::SourceNotFound, format!("cannot read the data: {e}"))
    })?;
    let mut bad_json = vec![];
    let mut bad_type = vec![];
    let mut examples = 0u64;
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Value>(line) {
            Ok(Value::Object(_)) => examples += 1,
            Ok(_) => bad_type.push(i as u64 + 1),
            Err(_) => bad_json.push(i as u64 + 1),
        }
    }
    let mut errors = vec![];
    if !bad_json.is_empty() {
        errors.push(json!({"kind": "invalid_json", "lines": bad_json, "count": bad_json.len(), "message": "not JSON"}));
    }
    if !bad_type.is_empty() {
        errors.push(json!({"kind": "data_type", "lines": bad_type, "count": bad_type.len(), "message": "not an object"}));
    }
    let valid = errors.is_empty();
    Ok(Checked {
        valid,
        summary: format!("{errors:?}"),
        json: json!({"valid": valid, "examples": examples, "errors": errors, "warnings": []}),
    })
}
