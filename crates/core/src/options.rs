//! The options of a fine-tuning run, their checks, and their fallbacks to the environment.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorCode, Result};
use crate::models;

/// The OpenAI API's default base URL.
pub const DEFAULT_BASE_URL: &str = "https://api.openai.com/v1";
/// The registry's default location, relative to the current directory (as in TaskForce).
pub const DEFAULT_REGISTRY_PATH: &str = "fine-tuned/models.json";

pub use crate::api::{Auto, Hyperparameters, Integration, Method, WandbIntegration};

/// Everything a caller can set for one run, as JavaScript passes it (camelCase keys; `null`
/// is the same as absent; unknown keys are refused). Connection fields left `None` fall back
/// to the environment variables openai-node reads. Every field is listed in [`OPTIONS`], from
/// which the CLI's flags and `--config` keys are made.
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(test, derive(serde::Serialize))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TrainOptions {
    #[serde(default)]
    pub agent_name: String,
    #[serde(default)]
    pub model_key: String,
    #[serde(default)]
    pub base_model: String,
    #[serde(default)]
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
    /// How long an uploaded file may stay unprocessed (default 30 minutes).
    pub file_processing_timeout_ms: Option<u64>,
    pub max_retries: Option<u32>,
    #[serde(default)]
    pub cancel_on_abort: bool,
    #[serde(default)]
    pub hyperparameters: Hyperparameters,
    #[serde(default)]
    pub method: Method,
    pub seed: Option<i64>,
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    /// Weights & Biases integrations, as the API's `integrations` array.
    #[serde(default)]
    pub integrations: Vec<Integration>,
    /// URL sources larger than this are refused.
    pub max_download_bytes: Option<u64>,
    /// A URL source is cut off after this long without a byte.
    pub download_idle_timeout_ms: Option<u64>,
    /// …or when it brings fewer bytes per second than this over 30 s (0: no minimum).
    pub download_min_bytes_per_second: Option<u64>,
    /// Files larger than this go up through the Uploads API in parts.
    pub upload_threshold_bytes: Option<u64>,
    /// Size of each part (at most 64 MiB, OpenAI's limit).
    pub upload_part_bytes: Option<u64>,
    /// Azure OpenAI: deploy the fine-tuned model so that it answers (see [`crate::azure`]).
    pub azure_deployment: Option<crate::azure::AzureDeploymentOptions>,
    /// What to do when the modelKey is registered: refuse (default) or train a new version.
    #[serde(default)]
    pub on_existing: crate::versions::OnExisting,
    /// Evaluate the new model against its baseline after the job succeeds.
    pub evaluate: Option<crate::evaluate::EvaluateSetting>,
    /// Whether the new model becomes the key's model always (default) or only if better.
    #[serde(default)]
    pub promote: crate::versions::Promote,
    /// Without `validation`: hold out this fraction of the training file (seeded by `seed`).
    pub validation_split: Option<f64>,
}

impl TrainOptions {
    /// Reads the options from a JSON object as JavaScript passed it. `null` values count as
    /// absent; a value of the wrong type or an unknown key is `ERR_INVALID_OPTION` naming it.
    pub fn from_json(value: serde_json::Value) -> Result<TrainOptions> {
        from_json_object(value, "options")
    }
}

/// Deserializes `T` from a JSON object, dropping `null`s at the top level and mapping serde's
/// errors to `ERR_INVALID_OPTION` with the path of the field at fault.
pub fn from_json_object<T: serde::de::DeserializeOwned>(
    value: serde_json::Value,
    what: &str,
) -> Result<T> {
    let serde_json::Value::Object(mut map) = value else {
        return Err(Error::new(
            ErrorCode::InvalidOption,
            format!("{what} must be an object"),
        ));
    };
    map.retain(|_, v| !v.is_null());
    serde_path_to_error::deserialize(serde_json::Value::Object(map)).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner().to_string();
        if path == "." {
            // Unknown keys are reported at the top level.
            Error::new(ErrorCode::InvalidOption, format!("{what}: {inner}"))
                .with_param(unknown_field(&inner).unwrap_or_default())
        } else {
            Error::new(ErrorCode::InvalidOption, format!("option {path}: {inner}")).with_param(path)
        }
    })
}

fn unknown_field(msg: &str) -> Option<String> {
    let rest = msg.strip_prefix("unknown field `")?;
    Some(rest[..rest.find('`')?].to_string())
}

/// How an option is written on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum OptionKind {
    /// A string.
    String,
    /// A whole number (or a number, for `seed`).
    Number,
    /// A number or `"auto"` (hyperparameters).
    NumberOrAuto,
    /// A flag.
    Boolean,
    /// `KEY=VALUE` pairs (metadata).
    KeyValue,
    /// A JSON value (integrations).
    Json,
}

/// One option of `trainAndRegisterFineTunedModel`: the single list the CLI's flags and
/// `--config` keys are made from.
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OptionSpec {
    /// The option's name; hyperparameters are `hyperparameters.nEpochs` and so on.
    pub name: &'static str,
    pub kind: OptionKind,
    /// The value's placeholder in help texts.
    pub arg: &'static str,
    /// One line of help.
    pub help: &'static str,
    pub required: bool,
    /// A different value makes a different job (so it cannot resume an earlier run's job).
    pub affects_job: bool,
}

const fn opt(
    name: &'static str,
    kind: OptionKind,
    arg: &'static str,
    help: &'static str,
    affects_job: bool,
) -> OptionSpec {
    OptionSpec {
        name,
        kind,
        arg,
        help,
        required: false,
        affects_job,
    }
}

const fn required(name: &'static str, arg: &'static str, help: &'static str) -> OptionSpec {
    OptionSpec {
        name,
        kind: OptionKind::String,
        arg,
        help,
        required: true,
        affects_job: true,
    }
}

use OptionKind as K;

/// Metadata keys this library sets on every job.
pub const RESERVED_METADATA: [&str; 4] = ["model_key", "agent_name", "run_id", "idempotency_key"];

/// OpenAI's limit on a job's metadata keys.
pub const MAX_METADATA_KEYS: usize = 16;

/// Every option of a run but `signal` and `onProgress` (which are not data).
#[rustfmt::skip]
pub const OPTIONS: &[OptionSpec] = &[
    required("agentName", "NAME", "the agent the model is for"),
    required("modelKey", "KEY", "the key to register the model under"),
    required("baseModel", "MODEL", "the model to fine-tune, e.g. gpt-4o-mini-2024-07-18"),
    required("source", "FILE|URL", "training data, .jsonl"),
    opt("validation", K::String, "FILE|URL", "validation data, .jsonl", true),
    opt("suffix", K::String, "SUFFIX", "the fine-tuned model's suffix (default: from the agent name)", true),
    opt("apiKey", K::String, "KEY", "API key (default: env OPENAI_API_KEY, which is safer: command lines are visible)", false),
    opt("baseUrl", K::String, "URL", "API base URL (default: env OPENAI_BASE_URL, else https://api.openai.com/v1)", true),
    opt("organization", K::String, "ID", "organization id (default: env OPENAI_ORG_ID)", true),
    opt("project", K::String, "ID", "project id (default: env OPENAI_PROJECT_ID)", true),
    opt("azureEndpoint", K::String, "URL", "Azure OpenAI endpoint (default: env AZURE_OPENAI_ENDPOINT)", true),
    opt("apiVersion", K::String, "VERSION", "Azure api-version (default: env OPENAI_API_VERSION, else 2024-10-21)", false),
    opt("registryPath", K::String, "FILE", "the registry (default: env FINE_TUNED_MODELS_PATH, else ./fine-tuned/models.json)", false),
    opt("pollIntervalMs", K::Number, "MS", "how often the job is polled (default 5000)", false),
    opt("timeoutMs", K::Number, "MS", "stop waiting after this long (ERR_TIMEOUT; the job keeps running)", false),
    opt("fileProcessingTimeoutMs", K::Number, "MS", "how long an uploaded file may stay unprocessed (default 30 minutes; ERR_TIMEOUT)", false),
    opt("maxRetries", K::Number, "N", "retries per request (default 2)", false),
    opt("cancelOnAbort", K::Boolean, "", "on abort (Ctrl-C), cancel the OpenAI job too", false),
    opt("hyperparameters.nEpochs", K::NumberOrAuto, "N|auto", "epochs, 1 to 50", true),
    opt("hyperparameters.batchSize", K::NumberOrAuto, "N|auto", "batch size, 1 to 256", true),
    opt("hyperparameters.learningRateMultiplier", K::NumberOrAuto, "X|auto", "learning-rate multiplier, above 0 and at most 10", true),
    opt("hyperparameters.beta", K::NumberOrAuto, "X|auto", "DPO beta, above 0 and at most 2", true),
    opt("method", K::String, "METHOD", "supervised (default) or dpo", true),
    opt("seed", K::Number, "N", "seed for reproducible training", true),
    opt("metadata", K::KeyValue, "KEY=VALUE", "extra job metadata (repeatable)", true),
    opt("integrations", K::Json, "JSON", "Weights & Biases integrations, as a JSON array", true),
    opt("maxDownloadBytes", K::Number, "N", "size cap of URL sources (default 1 GiB)", false),
    opt("downloadIdleTimeoutMs", K::Number, "MS", "cut a URL source off after this long without a byte (default 60000)", false),
    opt("downloadMinBytesPerSecond", K::Number, "N", "cut a URL source off below this rate over 30 s (default 1024; 0: none)", false),
    opt("uploadThresholdBytes", K::Number, "N", "files above this go up in parts (default 100 MiB)", false),
    opt("uploadPartBytes", K::Number, "N", "size of each part (default and maximum 64 MiB)", false),
    opt("azureDeployment", K::Json, "JSON", "Azure OpenAI: deploy the model: {subscriptionId, resourceGroup, resourceName, deploymentName?, sku?, capacity?, managementUrl?} (token: env AZURE_ACCESS_TOKEN)", false),
    opt("onExisting", K::String, "error|newVersion", "when the modelKey is registered: refuse (error, default) or train a new version", false),
    opt("evaluate", K::Json, "true|JSON", "after training, evaluate the model against its baseline (true, or evaluation settings as JSON)", false),
    opt("promote", K::String, "always|ifBetter", "make the new model current always (default) or only if its evaluation says better", false),
    opt("validationSplit", K::Number, "X", "without --validation, hold out this fraction of the training data (above 0, at most 0.5)", true),
];

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
            .field("base_url", &crate::source::redact_url(&self.base_url))
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
    /// See [`TrainOptions::file_processing_timeout_ms`].
    pub file_processing_timeout: Duration,
    pub connection: Connection,
    pub max_download_bytes: u64,
    pub download_idle_timeout: Duration,
    pub download_min_bytes_per_second: u64,
    pub upload_threshold_bytes: u64,
    pub upload_part_bytes: u64,
}

impl Resolved {
    /// What bounds a URL source's download.
    pub fn download_limits(&self) -> crate::source::DownloadLimits {
        crate::source::DownloadLimits {
            max_bytes: self.max_download_bytes,
            idle_timeout: self.download_idle_timeout,
            min_bytes_per_second: self.download_min_bytes_per_second,
            rate_window: crate::source::RATE_WINDOW,
        }
    }
}

/// The download limits from their options (defaults for those left out).
pub fn download_limits(
    max_bytes: Option<u64>,
    idle_timeout_ms: Option<u64>,
    min_bytes_per_second: Option<u64>,
) -> Result<crate::source::DownloadLimits> {
    let d = crate::source::DownloadLimits::default();
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
    Ok(crate::source::DownloadLimits {
        max_bytes: max_bytes.unwrap_or(d.max_bytes),
        idle_timeout,
        min_bytes_per_second: min_bytes_per_second.unwrap_or(d.min_bytes_per_second),
        rate_window: d.rate_window,
    })
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

/// Runs every check that needs no disk and no network, in the order a user would want the
/// answers, and fills in the environment fallbacks.
pub fn resolve(mut o: TrainOptions) -> Result<Resolved> {
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
    check_knobs(&o)?;
    if let Some(x) = o.validation_split {
        if !(x > 0.0 && x <= 0.5) {
            return Err(invalid(
                "validationSplit",
                format!("validationSplit is {x}; allowed: a fraction above 0 and at most 0.5"),
            ));
        }
    }
    if o.promote == crate::versions::Promote::IfBetter
        && o.evaluate.as_ref().and_then(|e| e.settings()).is_none()
    {
        return Err(invalid(
            "promote",
            "promote \"ifBetter\" needs evaluate (the evaluation decides whether it is better)"
                .into(),
        ));
    }
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
    let limits = download_limits(
        o.max_download_bytes,
        o.download_idle_timeout_ms,
        o.download_min_bytes_per_second,
    )?;
    let max_download_bytes = limits.max_bytes;
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
        file_processing_timeout,
        connection,
        max_download_bytes,
        download_idle_timeout: limits.idle_timeout,
        download_min_bytes_per_second: limits.min_bytes_per_second,
    })
}

/// The options of calls that reach a run's job (`cancelFineTune`, `getFineTuneJob`): where
/// the registry is, and how to reach the API. Read like [`TrainOptions`]; the options of
/// other calls that reach the API embed it (see [`remote_options`]).
#[derive(Debug, Clone, Default)]
pub struct RemoteOptions {
    /// Path of `models.json` (see [`registry_path`]).
    pub registry_path: Option<String>,
    /// How to reach the API (see [`connection`]).
    pub connection: ConnectionOptions,
}

impl RemoteOptions {
    /// Splits into the registry path and the connection options.
    pub fn split(self) -> (Option<String>, ConnectionOptions) {
        (self.registry_path, self.connection)
    }
}

/// Declares an options struct whose JavaScript object holds, beside its own keys, the keys of
/// [`RemoteOptions`] (`registryPath`, `apiKey`, `baseUrl`, `organization`, `project`,
/// `azureEndpoint`, `apiVersion`, `maxRetries`): the struct gets them as one field `remote`,
/// and reads them from one flat object, camelCase, unknown keys refused, exactly as one
/// struct listing every field would (serde's `flatten` would not: it loses the path of a
/// field at fault and the list of expected keys). This is the one list of those keys.
macro_rules! remote_options {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $(
                $(#[doc = $doc:literal])*
                $(#[serde $serde:tt])*
                pub $field:ident : $ty:ty,
            )*
        }
    ) => {
        $(#[$meta])*
        pub struct $name {
            $(
                $(#[doc = $doc])*
                pub $field: $ty,
            )*
            /// Where the registry is and how to reach the API.
            pub remote: $crate::options::RemoteOptions,
        }
        $crate::options::remote_options!(@deserialize $name {
            $( $(#[serde $serde])* $field: $ty, )*
        } |remote| Self { $($field,)* remote });
    };
    (@deserialize $name:ident {
        $( $(#[serde $serde:tt])* $field:ident : $ty:ty, )*
    } |$remote:ident| $build:expr) => {
        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(
                d: D,
            ) -> ::std::result::Result<Self, D::Error> {
                // The object as it is written: the struct's own keys, then the remote ones.
                // (Named as the struct is, for serde's messages.)
                #[derive(serde::Deserialize)]
                #[serde(rename_all = "camelCase", deny_unknown_fields)]
                struct $name {
                    $( $(#[serde $serde])* $field: $ty, )*
                    registry_path: Option<String>,
                    api_key: Option<String>,
                    base_url: Option<String>,
                    organization: Option<String>,
                    project: Option<String>,
                    azure_endpoint: Option<String>,
                    api_version: Option<String>,
                    max_retries: Option<u32>,
                }
                let $name {
                    $($field,)*
                    registry_path,
                    api_key,
                    base_url,
                    organization,
                    project,
                    azure_endpoint,
                    api_version,
                    max_retries,
                } = <$name as serde::Deserialize>::deserialize(d)?;
                let $remote = $crate::options::RemoteOptions {
                    registry_path,
                    connection: $crate::options::ConnectionOptions {
                        api_key,
                        base_url,
                        organization,
                        project,
                        max_retries,
                        azure_endpoint,
                        api_version,
                    },
                };
                Ok($build)
            }
        }
    };
}
pub(crate) use remote_options;

remote_options!(@deserialize RemoteOptions {} |remote| remote);

/// The connection options a caller can set; unset ones fall back to the environment.
/// `Debug` hides the key.
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

impl std::fmt::Debug for ConnectionOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectionOptions")
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field(
                "base_url",
                &self.base_url.as_deref().map(crate::source::redact_url),
            )
            .field("organization", &self.organization)
            .field("project", &self.project)
            .field("max_retries", &self.max_retries)
            .field("azure_endpoint", &self.azure_endpoint)
            .field("api_version", &self.api_version)
            .finish()
    }
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
    let organization = non_empty(o.organization).or_else(|| env("OPENAI_ORG_ID"));
    let project = non_empty(o.project).or_else(|| env("OPENAI_PROJECT_ID"));
    check_header_value(
        "organization",
        "OPENAI_ORG_ID",
        organization.as_deref(),
        true,
    )?;
    check_header_value("project", "OPENAI_PROJECT_ID", project.as_deref(), true)?;
    check_header_value("apiKey", key_env, Some(&api_key), false)?;
    Ok(Connection {
        api_key,
        base_url: check_base_url(&base_url)?,
        organization,
        project,
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

/// How long an uploaded file may stay unprocessed unless `fileProcessingTimeoutMs` says
/// otherwise: 30 minutes.
pub const DEFAULT_FILE_PROCESSING_TIMEOUT_MS: u64 = 30 * 60 * 1000;

/// The Uploads API's largest part.
pub const MAX_PART_BYTES: u64 = 64 * 1024 * 1024;
/// Files above this size go up in parts (the Files API takes at most 512 MB in one request, and
/// large single requests are where uploads fail silently).
pub const DEFAULT_UPLOAD_THRESHOLD_BYTES: u64 = 100 * 1024 * 1024;

/// URL sources above this size are refused unless `maxDownloadBytes` says otherwise (the Files
/// API's own limit is 512 MB).
pub const DEFAULT_MAX_DOWNLOAD_BYTES: u64 = 1024 * 1024 * 1024;

/// A value sent as an HTTP header (`OpenAI-Organization`, `OpenAI-Project`, the key) must be
/// visible ASCII or UTF-8 text without control characters: a CR or LF would otherwise fail
/// every request as if the API could not be reached. The key's value is never shown.
fn check_header_value(param: &str, env_name: &str, v: Option<&str>, show: bool) -> Result<()> {
    let Some(v) = v else { return Ok(()) };
    if let Some(c) = v.chars().find(|c| c.is_control()) {
        let shown = if show {
            format!(" {v:?}")
        } else {
            String::new()
        };
        return Err(invalid(
            param,
            format!(
                "{param} (or {env_name}){shown} contains the control character {c:?}; it is sent as an HTTP header, which cannot hold it"
            ),
        ));
    }
    Ok(())
}

fn check_base_url(raw: &str) -> Result<String> {
    let shown = crate::source::redact_url(raw);
    let parsed = url::Url::parse(raw)
        .map_err(|e| invalid("baseUrl", format!("baseUrl is not a URL: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(invalid(
            "baseUrl",
            format!("baseUrl {shown} must be an http(s) URL"),
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
    fn an_agent_name_without_usable_characters_still_gets_a_suffix() {
        let s = derive_suffix("🚀🤖");
        assert!(s.starts_with("agent-") && s.len() == 14, "{s}");
        check_suffix(&s).unwrap();
        assert_ne!(s, derive_suffix("🎉"));
        assert_eq!(s, derive_suffix(" 🚀🤖 "));
        let mut o = base();
        o.agent_name = "🚀🤖".into();
        assert_eq!(resolve(o).unwrap().suffix, s);
        // Only dashes left is no suffix either.
        assert!(derive_suffix("--").starts_with("agent-"));
    }

    #[test]
    fn control_characters_in_headers_are_invalid_options() {
        for (field, value) in [("organization", "org-1\r\nX: y"), ("project", "pr\noj")] {
            let mut o = base();
            match field {
                "organization" => o.organization = Some(value.into()),
                _ => o.project = Some(value.into()),
            }
            let e = resolve(o).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidOption, "{field}");
            assert_eq!(e.param.as_deref(), Some(field));
        }
        let mut o = base();
        o.api_key = Some("sk-sec\nret".into());
        let e = resolve(o).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("apiKey"));
        assert!(!e.message.contains("sk-sec"), "{}", e.message);
    }

    #[test]
    fn base_url_secrets_are_not_shown() {
        let mut o = base();
        o.base_url = Some("ftp://u:hunter2@x.test/v1?k=hunter3".into());
        let e = resolve(o).unwrap_err();
        assert!(!e.message.contains("hunter"), "{}", e.message);
        let mut o = base();
        o.base_url = Some("http://u:hunter2@x.test/v1".into());
        let r = resolve(o).unwrap();
        assert!(!format!("{:?}", r.connection).contains("hunter2"));
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

    /// A value of each option that is valid and differs from [`base`]'s.
    fn example(spec: &OptionSpec) -> serde_json::Value {
        use serde_json::json;
        match (spec.name, spec.kind) {
            ("method", _) => json!("dpo"),
            ("baseModel", _) => json!("gpt-4.1-mini-2025-04-14"),
            ("baseUrl", _) => json!("http://127.0.0.1:9/v1"),
            ("azureEndpoint", _) => json!("https://res.openai.azure.com"),
            ("azureDeployment", _) => {
                json!({"subscriptionId": "s", "resourceGroup": "g", "resourceName": "r"})
            }
            ("onExisting", _) => json!("newVersion"),
            ("promote", _) => json!("always"),
            ("evaluate", _) => json!({"graders": ["exact"]}),
            ("validationSplit", _) => json!(0.2),
            (_, OptionKind::String) => json!("other"),
            (_, OptionKind::Number) => json!(7),
            (_, OptionKind::NumberOrAuto) => json!(2),
            (_, OptionKind::Boolean) => json!(true),
            (_, OptionKind::KeyValue) => json!({"team": "x"}),
            (_, OptionKind::Json) => json!([{"type": "wandb", "wandb": {"project": "p"}}]),
        }
    }

    fn with(mut v: serde_json::Value, spec: &OptionSpec) -> serde_json::Value {
        let value = example(spec);
        match spec.name.split_once('.') {
            Some((outer, inner)) => {
                v[outer][inner] = value;
                if inner == "beta" {
                    v["method"] = "dpo".into();
                }
            }
            None => v[spec.name] = value,
        }
        v
    }

    fn base_json() -> serde_json::Value {
        serde_json::json!({
            "agentName": "Content Writer", "modelKey": "cw",
            "baseModel": "gpt-4o-mini-2024-07-18", "source": "data.jsonl", "apiKey": "sk-test",
            "hyperparameters": {}
        })
    }

    #[test]
    fn the_table_and_the_struct_list_the_same_options() {
        let mut all = base_json();
        for spec in OPTIONS {
            all = with(all, spec);
        }
        // Every name in the table is a field (unknown keys are refused)…
        let o = TrainOptions::from_json(all).unwrap();
        // …and every field is in the table.
        let v = serde_json::to_value(&o).unwrap();
        for (k, inner) in v.as_object().unwrap() {
            if k == "hyperparameters" {
                let n = inner.as_object().unwrap().len();
                let listed = OPTIONS
                    .iter()
                    .filter(|s| s.name.starts_with("hyperparameters."))
                    .count();
                assert_eq!(n, listed, "hyperparameters in the table");
            } else {
                assert!(
                    OPTIONS.iter().any(|s| s.name == k),
                    "{k} is missing from OPTIONS"
                );
            }
        }
    }

    #[test]
    fn the_digest_changes_exactly_with_the_options_that_make_the_job() {
        let digest = |v: serde_json::Value| {
            crate::stages::job::options_digest(
                &resolve(TrainOptions::from_json(v).unwrap()).unwrap(),
            )
        };
        for spec in OPTIONS {
            let mut before = base_json();
            if spec.name == "hyperparameters.beta" {
                before["method"] = "dpo".into();
            }
            let after = with(before.clone(), spec);
            assert_eq!(
                digest(before) != digest(after),
                spec.affects_job,
                "{}: affectsJob says {}",
                spec.name,
                spec.affects_job
            );
        }
    }

    #[test]
    fn wrong_types_and_unknown_keys_name_the_option() {
        use serde_json::json;
        let mut v = base_json();
        v["pollIntervalMs"] = json!(1.5);
        let e = TrainOptions::from_json(v).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidOption);
        assert_eq!(e.param.as_deref(), Some("pollIntervalMs"));
        let mut v = base_json();
        v["hyperparameters"]["nEpochs"] = json!("many");
        let e = TrainOptions::from_json(v).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("hyperparameters.nEpochs"));
        let mut v = base_json();
        v["nEpoch"] = json!(3);
        let e = TrainOptions::from_json(v).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("nEpoch"));
        assert!(e.message.contains("unknown field"), "{}", e.message);
        let mut v = base_json();
        v["integrations"] = json!([{"type": "comet"}]);
        assert_eq!(
            TrainOptions::from_json(v).unwrap_err().param.as_deref(),
            Some("integrations[0].type")
        );
        // null is absent.
        let mut v = base_json();
        v["suffix"] = json!(null);
        v["agentName"] = json!(null);
        let e = resolve(TrainOptions::from_json(v).unwrap()).unwrap_err();
        assert_eq!(e.code, ErrorCode::MissingOption);
    }

    #[test]
    fn debug_hides_the_key() {
        let r = resolve(base()).unwrap();
        assert!(!format!("{r:?}").contains("sk-test"));
    }

    #[test]
    fn remote_options_read_as_one_flat_object() {
        let o: RemoteOptions = from_json_object(
            serde_json::json!({"registryPath": "r.json", "apiKey": "sk-x", "maxRetries": 3, "project": null}),
            "options",
        )
        .unwrap();
        assert_eq!(o.registry_path.as_deref(), Some("r.json"));
        assert_eq!(o.connection.api_key.as_deref(), Some("sk-x"));
        assert_eq!(o.connection.max_retries, Some(3));
        assert!(!format!("{o:?}").contains("sk-x"));
        // A field at fault is named by its path, as in TrainOptions.
        let e =
            from_json_object::<RemoteOptions>(serde_json::json!({"maxRetries": "x"}), "options")
                .unwrap_err();
        assert_eq!(e.param.as_deref(), Some("maxRetries"));
        assert!(
            e.message.starts_with("option maxRetries: invalid type"),
            "{}",
            e.message
        );
        // An unknown key is refused with the list of the keys there are.
        let e = from_json_object::<RemoteOptions>(serde_json::json!({"apikey": "x"}), "options")
            .unwrap_err();
        assert_eq!(e.param.as_deref(), Some("apikey"));
        assert_eq!(
            e.message,
            "option apikey: unknown field `apikey`, expected one of `registryPath`, `apiKey`, `baseUrl`, \
             `organization`, `project`, `azureEndpoint`, `apiVersion`, `maxRetries`"
        );
        // The options that embed it read its keys beside their own, in the same object.
        let o: crate::versions::RemoveOptions = from_json_object(
            serde_json::json!({"deleteRemote": true, "baseUrl": "http://x"}),
            "options",
        )
        .unwrap();
        assert!(o.delete_remote);
        assert_eq!(o.remote.connection.base_url.as_deref(), Some("http://x"));
        let e = from_json_object::<crate::evaluate::EvaluateOptions>(
            serde_json::json!({"model": "m", "apiVersion": 1}),
            "options",
        )
        .unwrap_err();
        assert_eq!(e.param.as_deref(), Some("apiVersion"));
        let Err(e) = from_json_object::<crate::versions::ImportOptions>(
            serde_json::json!({"agentName": "a", "signal": 1}),
            "options",
        ) else {
            panic!("an unknown key is refused")
        };
        assert_eq!(e.param.as_deref(), Some("signal"));
        assert!(
            e.message
                .contains("expected one of `agentName`, `modelKey`, `onExisting`, `registryPath`"),
            "{}",
            e.message
        );
    }
}
