//! The options of a fine-tuning run, their checks, and their fallbacks to the environment.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use crate::error::{Error, ErrorCode, Result};
use crate::models;

/// The OpenAI API's default base URL.
pub const DEFAULT_BASE_URL: &str = "https://api.openai.com/v1";
/// The registry's default location, relative to the current directory (as in TaskForce).
pub const DEFAULT_REGISTRY_PATH: &str = "fine-tuned/models.json";

/// A hyperparameter that is either chosen by OpenAI (`"auto"`) or set.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Auto<T> {
    /// OpenAI chooses.
    Auto,
    /// This value.
    Value(T),
}

impl<T: serde::Serialize> serde::Serialize for Auto<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        match self {
            Auto::Auto => s.serialize_str("auto"),
            Auto::Value(v) => v.serialize(s),
        }
    }
}

/// Training hyperparameters; unset ones are left to OpenAI.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Hyperparameters {
    /// Epochs, 1..=50.
    pub n_epochs: Option<Auto<u32>>,
    /// Batch size, 1..=256.
    pub batch_size: Option<Auto<u32>>,
    /// Learning-rate multiplier, > 0 and <= 10.
    pub learning_rate_multiplier: Option<Auto<f64>>,
    /// DPO only: beta, > 0 and <= 2.
    pub beta: Option<Auto<f64>>,
}

/// The fine-tuning method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Method {
    /// Supervised fine-tuning on chat (or completion) examples.
    #[default]
    Supervised,
    /// Direct preference optimisation on preference pairs.
    Dpo,
}

impl Method {
    /// The API's name for it.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Supervised => "supervised",
            Method::Dpo => "dpo",
        }
    }
}

/// A Weights & Biases integration: training metrics are logged to this project.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct WandbIntegration {
    pub project: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entity: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
}

/// Everything a caller can set for one run. Connection fields left `None` fall back to the
/// environment variables openai-node reads.
#[derive(Debug, Clone, Default)]
pub struct TrainOptions {
    pub agent_name: String,
    pub model_key: String,
    pub base_model: String,
    pub source: String,
    pub validation: Option<String>,
    pub suffix: Option<String>,
    pub api_key: Option<String>,
    pub base_url: Option<String>,
    pub organization: Option<String>,
    pub project: Option<String>,
    /// Azure OpenAI endpoint (see [`connection`]).
    pub azure_endpoint: Option<String>,
    /// Azure `api-version`.
    pub api_version: Option<String>,
    pub registry_path: Option<String>,
    pub poll_interval_ms: Option<u64>,
    pub timeout_ms: Option<u64>,
    pub max_retries: Option<u32>,
    pub cancel_on_abort: bool,
    pub hyperparameters: Hyperparameters,
    pub method: Method,
    pub seed: Option<i64>,
    pub metadata: BTreeMap<String, String>,
    /// Weights & Biases integrations, as the API's `integrations` array.
    pub integrations: Vec<WandbIntegration>,
    /// URL sources larger than this are refused.
    pub max_download_bytes: Option<u64>,
    /// Files larger than this go up through the Uploads API in parts.
    pub upload_threshold_bytes: Option<u64>,
    /// Size of each part (at most 64 MiB, OpenAI's limit).
    pub upload_part_bytes: Option<u64>,
}

/// How to reach the API, after the environment fallbacks. `Debug` hides the key.
#[derive(Clone)]
pub struct Connection {
    pub api_key: String,
    pub base_url: String,
    pub organization: Option<String>,
    pub project: Option<String>,
    pub max_retries: u32,
    /// Set for Azure OpenAI: its `api-version`.
    pub azure_api_version: Option<String>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("api_key", &"<redacted>")
            .field("base_url", &self.base_url)
            .field("organization", &self.organization)
            .field("project", &self.project)
            .field("max_retries", &self.max_retries)
            .field("azure_api_version", &self.azure_api_version)
            .finish()
    }
}

/// Options after every check: what the pipeline runs with.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub opts: TrainOptions,
    pub suffix: String,
    pub registry_path: PathBuf,
    pub poll_interval: Duration,
    pub timeout: Option<Duration>,
    pub connection: Connection,
    pub max_download_bytes: u64,
    pub upload_threshold_bytes: u64,
    pub upload_part_bytes: u64,
}

fn non_empty(v: Option<String>) -> Option<String> {
    v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

fn env(name: &str) -> Option<String> {
    non_empty(std::env::var(name).ok())
}

/// The most characters OpenAI takes in a suffix.
pub const MAX_SUFFIX_LEN: usize = 64;

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
    out.trim_end_matches('-').to_string()
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

fn invalid(param: &str, msg: String) -> Error {
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
    for (i, w) in o.integrations.iter().enumerate() {
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
    // Ours take 3 of OpenAI's 16 metadata keys.
    if o.metadata.len() > 13 {
        return Err(invalid(
            "metadata",
            format!(
                "metadata has {} keys; allowed: at most 13 (OpenAI's limit is 16 and this library uses 3)",
                o.metadata.len()
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
        if crate::pipeline::RESERVED_METADATA.contains(&k.as_str()) {
            return Err(invalid(
                "metadata",
                format!("metadata key {k:?} is reserved by this library"),
            ));
        }
    }
    Ok(())
}

/// Runs every check that needs no disk and no network, in the order a user would want the
/// answers, and fills in the environment fallbacks.
pub fn resolve(mut o: TrainOptions) -> Result<Resolved> {
    let mut missing = Vec::new();
    for (name, value) in [
        ("agentName", &o.agent_name),
        ("modelKey", &o.model_key),
        ("baseModel", &o.base_model),
        ("source", &o.source),
    ] {
        if value.trim().is_empty() {
            missing.push(name);
        }
    }
    if !missing.is_empty() {
        return Err(Error::new(
            ErrorCode::MissingOption,
            format!("missing required option(s): {}", missing.join(", ")),
        )
        .with_param(missing.join(",")));
    }
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
    check_knobs(&o)?;
    let poll_interval = Duration::from_millis(o.poll_interval_ms.unwrap_or(5_000).max(10));
    let timeout = match o.timeout_ms {
        Some(0) => return Err(invalid("timeoutMs", "timeoutMs must be above 0".into())),
        t => t.map(Duration::from_millis),
    };
    let registry_path = registry_path(o.registry_path.clone());
    let connection = connection(ConnectionOptions {
        api_key: o.api_key.take(),
        base_url: o.base_url.clone(),
        organization: o.organization.clone(),
        project: o.project.clone(),
        max_retries: o.max_retries,
        azure_endpoint: o.azure_endpoint.clone(),
        api_version: o.api_version.clone(),
    })?;
    let max_download_bytes = o.max_download_bytes.unwrap_or(DEFAULT_MAX_DOWNLOAD_BYTES);
    let upload_part_bytes = o.upload_part_bytes.unwrap_or(MAX_PART_BYTES);
    if upload_part_bytes == 0 || upload_part_bytes > MAX_PART_BYTES {
        return Err(invalid(
            "uploadPartBytes",
            format!(
                "uploadPartBytes is {upload_part_bytes}; allowed: 1 to {MAX_PART_BYTES} (64 MiB)"
            ),
        ));
    }
    let upload_threshold_bytes = o
        .upload_threshold_bytes
        .unwrap_or(DEFAULT_UPLOAD_THRESHOLD_BYTES);
    Ok(Resolved {
        upload_threshold_bytes,
        upload_part_bytes,
        opts: o,
        suffix,
        registry_path,
        poll_interval,
        timeout,
        connection,
        max_download_bytes,
    })
}

/// The connection options a caller can set; unset ones fall back to the environment.
#[derive(Clone, Default)]
pub struct ConnectionOptions {
    pub api_key: Option<String>,
    pub base_url: Option<String>,
    pub organization: Option<String>,
    pub project: Option<String>,
    pub max_retries: Option<u32>,
    /// Azure OpenAI resource endpoint, e.g. `https://my-resource.openai.azure.com`.
    pub azure_endpoint: Option<String>,
    /// Azure's `api-version`.
    pub api_version: Option<String>,
}

/// Azure OpenAI's default `api-version` for fine-tuning.
pub const DEFAULT_AZURE_API_VERSION: &str = "2024-10-21";

/// How to reach the API. An explicit `baseUrl` wins; else an Azure endpoint (option, then
/// `AZURE_OPENAI_ENDPOINT` unless `OPENAI_BASE_URL` is set) selects Azure OpenAI (`api-key`
/// header, `api-version` query, `/openai/...` paths, key from `AZURE_OPENAI_API_KEY`); else
/// `OPENAI_BASE_URL`, else OpenAI. Keys: the option, else `OPENAI_API_KEY`.
pub fn connection(o: ConnectionOptions) -> Result<Connection> {
    let explicit_base = non_empty(o.base_url);
    let azure_endpoint = if explicit_base.is_some() {
        None
    } else {
        non_empty(o.azure_endpoint).or_else(|| {
            if env("OPENAI_BASE_URL").is_some() {
                None
            } else {
                env("AZURE_OPENAI_ENDPOINT")
            }
        })
    };
    let (base_url, azure) = match azure_endpoint {
        Some(ep) => {
            let version = non_empty(o.api_version)
                .or_else(|| env("OPENAI_API_VERSION"))
                .unwrap_or_else(|| DEFAULT_AZURE_API_VERSION.to_string());
            let ep = check_base_url(&ep)?;
            (format!("{ep}/openai"), Some(version))
        }
        None => (
            explicit_base
                .or_else(|| env("OPENAI_BASE_URL"))
                .unwrap_or_else(|| DEFAULT_BASE_URL.to_string()),
            None,
        ),
    };
    let key_env = if azure.is_some() {
        "AZURE_OPENAI_API_KEY"
    } else {
        "OPENAI_API_KEY"
    };
    let api_key = non_empty(o.api_key)
        .or_else(|| env(key_env))
        .ok_or_else(|| {
            Error::new(
                ErrorCode::MissingApiKey,
                format!("no API key: pass apiKey or set {key_env}"),
            )
            .with_param("apiKey")
        })?;
    Ok(Connection {
        api_key,
        base_url: check_base_url(&base_url)?,
        organization: non_empty(o.organization).or_else(|| env("OPENAI_ORG_ID")),
        project: non_empty(o.project).or_else(|| env("OPENAI_PROJECT_ID")),
        max_retries: o.max_retries.unwrap_or(2).min(10),
        azure_api_version: azure,
    })
}

/// The registry path: the option, else `FINE_TUNED_MODELS_PATH`, else `fine-tuned/models.json`.
pub fn registry_path(option: Option<String>) -> PathBuf {
    PathBuf::from(
        non_empty(option)
            .or_else(|| env("FINE_TUNED_MODELS_PATH"))
            .unwrap_or_else(|| DEFAULT_REGISTRY_PATH.to_string()),
    )
}

/// The Uploads API's largest part.
pub const MAX_PART_BYTES: u64 = 64 * 1024 * 1024;
/// Files above this size go up in parts (the Files API takes at most 512 MB in one request, and
/// large single requests are where uploads fail silently).
pub const DEFAULT_UPLOAD_THRESHOLD_BYTES: u64 = 100 * 1024 * 1024;

/// URL sources above this size are refused unless `maxDownloadBytes` says otherwise (the Files
/// API's own limit is 512 MB).
pub const DEFAULT_MAX_DOWNLOAD_BYTES: u64 = 1024 * 1024 * 1024;

fn check_base_url(raw: &str) -> Result<String> {
    let parsed = url::Url::parse(raw)
        .map_err(|e| invalid("baseUrl", format!("baseUrl {raw:?} is not a URL: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(invalid(
            "baseUrl",
            format!("baseUrl {raw:?} must be an http(s) URL"),
        ));
    }
    Ok(raw.trim_end_matches('/').to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> TrainOptions {
        TrainOptions {
            agent_name: "Content Writer".into(),
            model_key: "cw".into(),
            base_model: "gpt-4o-mini-2024-07-18".into(),
            source: "data.jsonl".into(),
            api_key: Some("sk-test".into()),
            ..Default::default()
        }
    }

    #[test]
    fn names_every_missing_field() {
        let e = resolve(TrainOptions::default()).unwrap_err();
        assert_eq!(e.code, ErrorCode::MissingOption);
        for f in ["agentName", "modelKey", "baseModel", "source"] {
            assert!(e.message.contains(f), "{}", e.message);
        }
    }

    #[test]
    fn derives_suffix_like_taskforce_but_clean() {
        assert_eq!(derive_suffix("Content Writer"), "content-writer");
        assert_eq!(derive_suffix("  Ünïcode  Agent!! "), "n-code-agent");
        assert_eq!(derive_suffix(&"a".repeat(100)).len(), 64);
        assert_eq!(resolve(base()).unwrap().suffix, "content-writer");
    }

    #[test]
    fn refuses_bad_suffix() {
        let mut o = base();
        o.suffix = Some("x".repeat(65));
        assert_eq!(resolve(o).unwrap_err().code, ErrorCode::InvalidOption);
        let mut o = base();
        o.suffix = Some("has space".into());
        assert_eq!(resolve(o).unwrap_err().code, ErrorCode::InvalidOption);
    }

    #[test]
    fn refuses_other_vendors() {
        let mut o = base();
        o.base_model = "claude-3-haiku".into();
        assert_eq!(
            resolve(o).unwrap_err().code,
            ErrorCode::UnsupportedBaseModel
        );
    }

    #[test]
    fn refuses_path_like_keys() {
        for k in ["../x", "a/b", "..", "a\\b", " x"] {
            let mut o = base();
            o.model_key = k.into();
            assert_eq!(
                resolve(o).unwrap_err().code,
                ErrorCode::InvalidOption,
                "{k}"
            );
        }
    }

    #[test]
    fn range_checks_name_the_field() {
        let mut o = base();
        o.hyperparameters.n_epochs = Some(Auto::Value(0));
        let e = resolve(o).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("hyperparameters.nEpochs"));
        let mut o = base();
        o.hyperparameters.learning_rate_multiplier = Some(Auto::Value(-1.0));
        assert_eq!(resolve(o).unwrap_err().code, ErrorCode::InvalidOption);
    }

    #[test]
    fn debug_hides_the_key() {
        let r = resolve(base()).unwrap();
        assert!(!format!("{r:?}").contains("sk-test"));
    }
}
