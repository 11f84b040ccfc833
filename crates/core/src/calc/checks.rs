//! The checks of the options that need no disk, no network and no environment: each refuses a
//! bad value with `ERR_INVALID_OPTION` (or `ERR_MISSING_OPTION`) naming the option, before
//! anything is read, uploaded or paid for.

use std::time::Duration;

use crate::types::error::{Error, ErrorCode, Result};
use crate::types::models;
use crate::types::options::{
    Auto, DownloadLimits, Integration, Method, Promote, TrainOptions,
    DEFAULT_FILE_PROCESSING_TIMEOUT_MS, DEFAULT_UPLOAD_THRESHOLD_BYTES, MAX_METADATA_KEYS,
    MAX_PART_BYTES, MAX_SUFFIX_LEN, RESERVED_METADATA,
};

/// The value trimmed, `None` when blank.
pub fn non_empty(v: Option<String>) -> Option<String> {
    v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

fn suffix_char_ok(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.'
}

/// The suffix TaskForce derives from an agent name (lower case, spaces to `-`), cleaned to the
/// characters OpenAI accepts and cut to 64.
pub fn derive_suffix(agent_name: &str) -> String {
    let lowered = agent_name
        .trim()
        .to_lowercase()
        .replace(char::is_whitespace, "-");
    let mut out = String::new();
    for c in lowered.chars() {
        let c = if suffix_char_ok(c) { c } else { '-' };
        if c == '-' && out.ends_with('-') {
            continue;
        }
        out.push(c);
    }
    let out: String = out.trim_matches('-').chars().take(MAX_SUFFIX_LEN).collect();
    let out = out.trim_end_matches('-');
    if out.chars().any(|c| c.is_ascii_alphanumeric()) {
        return out.to_string();
    }
    // Nothing usable (an all-emoji or all-CJK name): a stable suffix from the name's digest,
    // so different names still get different models.
    use sha2::Digest;
    let digest = sha2::Sha256::digest(agent_name.trim().as_bytes());
    let hex: String = digest[..4].iter().map(|b| format!("{b:02x}")).collect();
    format!("agent-{hex}")
}

/// Checks a user-given suffix.
pub fn check_suffix(suffix: &str) -> Result<()> {
    if suffix.chars().count() > MAX_SUFFIX_LEN {
        return Err(Error::new(
            ErrorCode::InvalidOption,
            format!(
                "suffix is {} characters long; OpenAI allows at most {MAX_SUFFIX_LEN}",
                suffix.chars().count()
            ),
        )
        .with_param("suffix"));
    }
    if let Some(bad) = suffix.chars().find(|c| !suffix_char_ok(*c)) {
        return Err(Error::new(
            ErrorCode::InvalidOption,
            format!(
                "suffix {suffix:?} contains {bad:?}; use only letters, digits, '-', '_' and '.'"
            ),
        )
        .with_param("suffix"));
    }
    Ok(())
}

/// Checks a modelKey: it becomes a JSON key and a file name stem, so no control characters,
/// no path separators and at most 128 characters.
pub fn check_model_key(key: &str) -> Result<()> {
    let bad = key.chars().count() > 128
        || key.chars().any(|c| c.is_control() || c == '/' || c == '\\')
        || key == "."
        || key == ".."
        || key.trim() != key;
    if bad {
        return Err(Error::new(
            ErrorCode::InvalidOption,
            format!(
                "modelKey {key:?} is not allowed: use at most 128 characters, no '/' or '\\', no control characters and no surrounding spaces"
            ),
        )
        .with_param("modelKey"));
    }
    Ok(())
}

/// `ERR_INVALID_OPTION` naming `param`.
pub fn invalid(param: &str, msg: String) -> Error {
    Error::new(ErrorCode::InvalidOption, msg).with_param(param)
}

fn check_range_u32(param: &str, v: Option<Auto<u32>>, lo: u32, hi: u32) -> Result<()> {
    match v {
        Some(Auto::Value(n)) if n < lo || n > hi => Err(invalid(
            param,
            format!("{param} is {n}; allowed: \"auto\" or an integer from {lo} to {hi}"),
        )),
        _ => Ok(()),
    }
}

fn check_range_f64(param: &str, v: Option<Auto<f64>>, hi: f64) -> Result<()> {
    match v {
        Some(Auto::Value(x)) if !(x > 0.0 && x <= hi) => Err(invalid(
            param,
            format!("{param} is {x}; allowed: \"auto\" or a number above 0 and at most {hi}"),
        )),
        _ => Ok(()),
    }
}

/// Checks the hyperparameters, method and metadata limits of the API.
pub fn check_knobs(o: &TrainOptions) -> Result<()> {
    let h = &o.hyperparameters;
    check_range_u32("hyperparameters.nEpochs", h.n_epochs, 1, 50)?;
    check_range_u32("hyperparameters.batchSize", h.batch_size, 1, 256)?;
    check_range_f64(
        "hyperparameters.learningRateMultiplier",
        h.learning_rate_multiplier,
        10.0,
    )?;
    check_range_f64("hyperparameters.beta", h.beta, 2.0)?;
    if h.beta.is_some() && o.method != Method::Dpo {
        return Err(invalid(
            "hyperparameters.beta",
            "hyperparameters.beta applies only to method \"dpo\"".into(),
        ));
    }
    if let Some(seed) = o.seed {
        if !(0..=2_147_483_647).contains(&seed) {
            return Err(invalid(
                "seed",
                format!("seed is {seed}; allowed: an integer from 0 to 2147483647"),
            ));
        }
    }
    for (i, Integration::Wandb { wandb: w }) in o.integrations.iter().enumerate() {
        if w.project.trim().is_empty() {
            return Err(invalid(
                "integrations",
                format!("integrations[{i}].wandb.project is required"),
            ));
        }
        if w.tags.len() > 50
            || w.tags
                .iter()
                .any(|t| t.is_empty() || t.chars().count() > 64)
        {
            return Err(invalid(
                "integrations",
                format!("integrations[{i}].wandb.tags: at most 50 tags of 1 to 64 characters"),
            ));
        }
    }
    // Ours take some of OpenAI's 16 metadata keys.
    let allowed = MAX_METADATA_KEYS - RESERVED_METADATA.len();
    if o.metadata.len() > allowed {
        return Err(invalid(
            "metadata",
            format!(
                "metadata has {} keys; allowed: at most {allowed} (OpenAI's limit is {MAX_METADATA_KEYS} and this library uses {}: {})",
                o.metadata.len(),
                RESERVED_METADATA.len(),
                RESERVED_METADATA.join(", ")
            ),
        ));
    }
    for (k, v) in &o.metadata {
        if k.is_empty() || k.chars().count() > 64 || v.chars().count() > 512 {
            return Err(invalid(
                "metadata",
                format!(
                    "metadata key {k:?}: keys must be 1 to 64 characters and values at most 512"
                ),
            ));
        }
        if RESERVED_METADATA.contains(&k.as_str()) {
            return Err(invalid(
                "metadata",
                format!("metadata key {k:?} is reserved by this library"),
            ));
        }
    }
    Ok(())
}

/// `ERR_MISSING_OPTION` naming every required option (name, value) whose value is empty or
/// blank, in the order given; `Ok` when none is.
pub fn require(required: &[(&str, &String)]) -> Result<()> {
    let missing: Vec<&str> = required
        .iter()
        .filter(|(_, value)| value.trim().is_empty())
        .map(|(name, _)| *name)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(Error::new(
        ErrorCode::MissingOption,
        format!("missing required option(s): {}", missing.join(", ")),
    )
    .with_param(missing.join(",")))
}

/// The download limits from their options (defaults for those left out).
pub fn download_limits(
    max_bytes: Option<u64>,
    idle_timeout_ms: Option<u64>,
    min_bytes_per_second: Option<u64>,
) -> Result<DownloadLimits> {
    let d = DownloadLimits::default();
    let idle_timeout = match idle_timeout_ms {
        Some(0) => {
            return Err(invalid(
                "downloadIdleTimeoutMs",
                "downloadIdleTimeoutMs must be above 0".into(),
            ))
        }
        Some(ms) => Duration::from_millis(ms),
        None => d.idle_timeout,
    };
    // 0 would let a source that drips a byte now and then run forever: every download has a
    // minimum rate.
    if min_bytes_per_second == Some(0) {
        return Err(invalid(
            "downloadMinBytesPerSecond",
            "downloadMinBytesPerSecond must be at least 1 (a download always has a minimum rate)"
                .into(),
        ));
    }
    Ok(DownloadLimits {
        max_bytes: max_bytes.unwrap_or(d.max_bytes),
        idle_timeout,
        min_bytes_per_second: min_bytes_per_second.unwrap_or(d.min_bytes_per_second),
        rate_window: d.rate_window,
    })
}

/// What the checks of a run's options make of them (the rest of `infra::resolve::Resolved`).
#[derive(Debug, Clone)]
pub struct RunSettings {
    pub suffix: String,
    pub poll_interval: Duration,
    pub timeout: Option<Duration>,
    pub file_processing_timeout: Duration,
    pub limits: DownloadLimits,
    pub upload_threshold_bytes: u64,
    pub upload_part_bytes: u64,
}

/// Every check of a run's options that needs no disk, no network and no environment, in the
/// order a user would want the answers; trims what is trimmed.
pub fn check_run(o: &mut TrainOptions) -> Result<RunSettings> {
    require(&[
        ("agentName", &o.agent_name),
        ("modelKey", &o.model_key),
        ("baseModel", &o.base_model),
        ("source", &o.source),
    ])?;
    o.base_model = o.base_model.trim().to_string();
    o.source = o.source.trim().to_string();
    o.validation = non_empty(o.validation.take());
    check_model_key(&o.model_key)?;
    if !models::is_openai_model(&o.base_model) {
        return Err(Error::new(
            ErrorCode::UnsupportedBaseModel,
            format!(
                "baseModel {:?} is not an OpenAI model; only OpenAI models (e.g. gpt-4o-mini-2024-07-18, gpt-4.1-mini, gpt-3.5-turbo, or an ft: model) can be fine-tuned",
                o.base_model
            ),
        )
        .with_param("baseModel"));
    }
    let suffix = match non_empty(o.suffix.clone()) {
        Some(s) => {
            check_suffix(&s)?;
            s
        }
        None => derive_suffix(&o.agent_name),
    };
    check_knobs(o)?;
    check_evaluation(o)?;
    let poll_interval = Duration::from_millis(o.poll_interval_ms.unwrap_or(5_000).max(10));
    let timeout = match o.timeout_ms {
        Some(0) => return Err(invalid("timeoutMs", "timeoutMs must be above 0".into())),
        t => t.map(Duration::from_millis),
    };
    let file_processing_timeout = match o.file_processing_timeout_ms {
        Some(0) => {
            return Err(invalid(
                "fileProcessingTimeoutMs",
                "fileProcessingTimeoutMs must be above 0".into(),
            ))
        }
        t => Duration::from_millis(t.unwrap_or(DEFAULT_FILE_PROCESSING_TIMEOUT_MS)),
    };
    let limits = download_limits(
        o.max_download_bytes,
        o.download_idle_timeout_ms,
        o.download_min_bytes_per_second,
    )?;
    let upload_part_bytes = o.upload_part_bytes.unwrap_or(MAX_PART_BYTES);
    if upload_part_bytes == 0 || upload_part_bytes > MAX_PART_BYTES {
        return Err(invalid(
            "uploadPartBytes",
            format!(
                "uploadPartBytes is {upload_part_bytes}; allowed: 1 to {MAX_PART_BYTES} (64 MiB)"
            ),
        ));
    }
    Ok(RunSettings {
        suffix,
        poll_interval,
        timeout,
        file_processing_timeout,
        limits,
        upload_threshold_bytes: o
            .upload_threshold_bytes
            .unwrap_or(DEFAULT_UPLOAD_THRESHOLD_BYTES),
        upload_part_bytes,
    })
}

/// `validationSplit` and `promote: "ifBetter"` (which needs `evaluate`).
fn check_evaluation(o: &TrainOptions) -> Result<()> {
    if let Some(x) = o.validation_split {
        if !(x > 0.0 && x <= 0.5) {
            return Err(invalid(
                "validationSplit",
                format!("validationSplit is {x}; allowed: a fraction above 0 and at most 0.5"),
            ));
        }
    }
    let settings = o.evaluate.as_ref().and_then(|e| e.settings());
    if o.promote == Promote::IfBetter && settings.is_none() {
        return Err(invalid(
            "promote",
            "promote \"ifBetter\" needs evaluate (the evaluation decides whether it is better)"
                .into(),
        ));
    }
    // Known before anything is uploaded: an evaluation without data could only fail after
    // the job has been paid for.
    if settings.is_some_and(|s| s.data.is_none())
        && o.validation.is_none()
        && o.validation_split.is_none()
    {
        return Err(invalid(
            "evaluate",
            "evaluate needs data: pass validation, validationSplit or evaluate.data".into(),
        ));
    }
    Ok(())
}
