//! The options schema: every option a caller can pass, as data (the run's [`TrainOptions`] and
//! the [`OPTIONS`] table the CLI is made from, the options of the other calls, and every
//! option enum). Their checks are in `calc::checks`, their resolution (environment fallbacks)
//! in `infra::resolve` and `infra::connection`.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::error::{Error, ErrorCode, Result};

/// The OpenAI API's default base URL.
pub const DEFAULT_BASE_URL: &str = "https://api.openai.com/v1";
/// The registry's default location, relative to the current directory (as in TaskForce).
pub const DEFAULT_REGISTRY_PATH: &str = "fine-tuned/models.json";

pub use super::api::{Auto, Hyperparameters, Integration, Method, WandbIntegration};

/// Everything a caller can set for one run, as JavaScript passes it (camelCase keys; `null`
/// is the same as absent; unknown keys are refused).
/// Connection fields left `None` fall back to the environment variables openai-node reads.
/// Every field is listed in [`OPTIONS`], from which the CLI's flags and `--config` keys are
/// made.
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
    /// How to reach the API (`apiKey`, `baseUrl`… at the top level of the object).
    #[serde(flatten)]
    pub connection: ConnectionOptions,
    pub registry_path: Option<String>,
    pub poll_interval_ms: Option<u64>,
    pub timeout_ms: Option<u64>,
    /// How long an uploaded file may stay unprocessed (default 30 minutes).
    pub file_processing_timeout_ms: Option<u64>,
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
    /// …or when it brings fewer bytes per second than this over 30 s (at least 1).
    pub download_min_bytes_per_second: Option<u64>,
    /// Files larger than this go up through the Uploads API in parts.
    pub upload_threshold_bytes: Option<u64>,
    /// Size of each part (at most 64 MiB, OpenAI's limit).
    pub upload_part_bytes: Option<u64>,
    /// Azure OpenAI: deploy the fine-tuned model so that it answers (see `calc::azure`).
    pub azure_deployment: Option<AzureDeploymentOptions>,
    /// What to do when the modelKey is registered: refuse (default) or train a new version.
    #[serde(default)]
    pub on_existing: OnExisting,
    /// Evaluate the new model against its baseline after the job succeeds.
    pub evaluate: Option<EvaluateSetting>,
    /// Whether the new model becomes the key's model always (default) or only if better.
    #[serde(default)]
    pub promote: Promote,
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
    serde_path_to_error::deserialize(serde_json::Value::Object(map.clone())).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner().to_string();
        if path == "." {
            top_level_error(&map, &inner, what)
        } else {
            Error::new(ErrorCode::InvalidOption, format!("option {path}: {inner}")).with_param(path)
        }
    })
}

/// An error serde reports at the top level: an unknown key, or a wrong value of a field of a
/// flattened group ([`ConnectionOptions`], [`EvalSettings`]: serde loses its path, so the key
/// is found again here).
fn top_level_error(
    map: &serde_json::Map<String, serde_json::Value>,
    inner: &str,
    what: &str,
) -> Error {
    if let Some(key) = unknown_field(inner) {
        return Error::new(ErrorCode::InvalidOption, format!("option {key}: {inner}"))
            .with_param(key);
    }
    fn wrong<T: serde::de::DeserializeOwned>(one: &serde_json::Value) -> Option<String> {
        let e = serde_json::from_value::<T>(one.clone()).err()?.to_string();
        unknown_field(&e).is_none().then_some(e)
    }
    for (key, value) in map {
        let one = serde_json::Value::Object([(key.clone(), value.clone())].into_iter().collect());
        if let Some(e) = wrong::<ConnectionOptions>(&one).or_else(|| wrong::<EvalSettings>(&one)) {
            return Error::new(ErrorCode::InvalidOption, format!("option {key}: {e}"))
                .with_param(key.as_str());
        }
    }
    Error::new(ErrorCode::InvalidOption, format!("{what}: {inner}"))
}

fn unknown_field(msg: &str) -> Option<String> {
    let rest = msg.strip_prefix("unknown field `")?;
    Some(rest[..rest.find('`')?].to_string())
}

/// How an option is written on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(rename = "FineTuneOptionKind"))]
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
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(rename = "FineTuneOptionSpec"))]
#[serde(rename_all = "camelCase")]
pub struct OptionSpec {
    /// The option's name; hyperparameters are `hyperparameters.nEpochs` and so on.
    pub name: &'static str,
    pub kind: OptionKind,
    /// The value's placeholder in help texts.
    pub arg: &'static str,
    /// One line of help.
    pub help: &'static str,
    /// The call refuses to start without it.
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
    opt("apiVersion", K::String, "VERSION", "Azure api-version: v1 (default), 2025-04-01-preview or 2024-10-21 (default: env OPENAI_API_VERSION, else v1)", false),
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
    opt("downloadMinBytesPerSecond", K::Number, "N", "cut a URL source off below this rate over 30 s (default 1024, at least 1)", false),
    opt("uploadThresholdBytes", K::Number, "N", "files above this go up in parts (default 100 MiB)", false),
    opt("uploadPartBytes", K::Number, "N", "size of each part (default and maximum 64 MiB)", false),
    opt("azureDeployment", K::Json, "JSON", "Azure OpenAI: deploy the model: {subscriptionId, resourceGroup, resourceName, deploymentName?, sku?, capacity?, managementUrl?, apiVersion?} (token: env AZURE_ACCESS_TOKEN)", false),
    opt("onExisting", K::String, "error|newVersion", "when the modelKey is registered: refuse (error, default) or train a new version", false),
    opt("evaluate", K::Json, "true|JSON", "after training, evaluate the model against its baseline (true, or evaluation settings as JSON)", false),
    opt("promote", K::String, "always|ifBetter", "make the new model current always (default) or only if its evaluation says better", false),
    opt("validationSplit", K::Number, "X", "without --validation, hold out this fraction of the training data (above 0, at most 0.5)", true),
];

/// The connection options a caller can set; unset ones fall back to the environment (see
/// `infra::connection`, the one place that reads it). Every call that reaches the API embeds
/// this struct once, flattened (`#[serde(flatten)]`), so JavaScript passes `apiKey`, `baseUrl`…
/// at the top level of its options object (each embedding struct refuses unknown keys).
/// `Debug` hides the key.
#[derive(Clone, Default, Deserialize)]
#[cfg_attr(test, derive(serde::Serialize))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConnectionOptions {
    pub api_key: Option<String>,
    pub base_url: Option<String>,
    pub organization: Option<String>,
    pub project: Option<String>,
    /// Azure OpenAI resource endpoint, e.g. `https://my-resource.openai.azure.com`.
    pub azure_endpoint: Option<String>,
    /// Azure's `api-version`.
    pub api_version: Option<String>,
    pub max_retries: Option<u32>,
    /// The delays between retries: a client setting for Rust callers and tests (to shorten
    /// them), not an option JavaScript passes (`None`: openai-node's, 0.5 s doubling to 8 s).
    #[serde(skip)]
    pub retry_delays: Option<RetryDelays>,
    /// Gives a Microsoft Entra ID token for a scope (JavaScript's `azureToken`): Azure OpenAI's
    /// data plane when no API key is given (`https://cognitiveservices.azure.com/.default`),
    /// and Azure's control plane (`https://management.azure.com/.default`; else
    /// `AZURE_ACCESS_TOKEN` is read) for deployments. Not read from JSON: the binding sets it
    /// from the callback.
    #[serde(skip)]
    pub token: Option<TokenFn>,
}

/// Gives an access token for the scope it is called with (a secret: never logged or stored).
pub type TokenFn = std::sync::Arc<
    dyn Fn(&str) -> futures::future::BoxFuture<'static, Result<String>> + Send + Sync,
>;

/// The options of a call that talks to the API: each embeds one [`ConnectionOptions`].
pub trait Connected {
    /// The call's connection options.
    fn connection_mut(&mut self) -> &mut ConnectionOptions;
}

macro_rules! connected {
    ($($t:ty),*) => {$(
        impl Connected for $t {
            fn connection_mut(&mut self) -> &mut ConnectionOptions {
                &mut self.connection
            }
        }
    )*};
}
connected!(
    RemoteOptions,
    CheckOptions,
    RemoveOptions,
    ImportOptions,
    EvaluateOptions
);

/// The delays between retries of a request: the first, doubling up to the longest (each minus
/// up to 25 % jitter).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryDelays {
    pub initial: Duration,
    pub max: Duration,
}

impl Default for RetryDelays {
    /// openai-node's: 0.5 s doubling to 8 s.
    fn default() -> Self {
        RetryDelays {
            initial: Duration::from_millis(500),
            max: Duration::from_secs(8),
        }
    }
}

impl std::fmt::Debug for ConnectionOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectionOptions")
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field(
                "base_url",
                &self.base_url.as_deref().map(super::redact::redact_url),
            )
            .field("organization", &self.organization)
            .field("project", &self.project)
            .field("azure_endpoint", &self.azure_endpoint)
            .field("api_version", &self.api_version)
            .field("max_retries", &self.max_retries)
            .field("retry_delays", &self.retry_delays)
            .field("token", &self.token.as_ref().map(|_| "<token provider>"))
            .finish()
    }
}

/// The options of the calls on a job (`getFineTuneJob`, `cancelFineTune`, `pauseFineTune`,
/// `resumeFineTune`): where the registry is, how to reach the API, and how long the whole call
/// may take (`signal` is the binding's).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RemoteOptions {
    /// Path of `models.json` (see `infra::registry::registry_path`).
    pub registry_path: Option<String>,
    /// The whole call gives up after this many ms (`ERR_TIMEOUT`).
    pub timeout_ms: Option<u64>,
    /// How to reach the API.
    #[serde(flatten)]
    pub connection: ConnectionOptions,
}

impl RemoteOptions {
    /// Splits into the registry path and the connection options.
    pub fn split(self) -> (Option<String>, ConnectionOptions) {
        (self.registry_path, self.connection)
    }
}

/// Options of `checkRegisteredModels`: the registry, the window, the connection and the
/// call's bound.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CheckOptions {
    /// Path of `models.json` (see `infra::registry::registry_path`).
    pub registry_path: Option<String>,
    /// A model within this many days of its shutdown is failing (default 90).
    pub within_days: Option<f64>,
    /// The whole call gives up after this many ms (`ERR_TIMEOUT`).
    pub timeout_ms: Option<u64>,
    /// How to reach the API.
    #[serde(flatten)]
    pub connection: ConnectionOptions,
}

/// Options of the registry's reads and local writes (`getRegisteredModel`, `resolveModel`,
/// `listInFlightRuns`, `listModelVersions`, `promoteModelVersion`, `rollbackModel`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RegistryOptions {
    /// Path of `models.json` (see `infra::registry::registry_path`).
    pub registry_path: Option<String>,
}

/// Options of `listRegisteredModels`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListOptions {
    /// Only the models fine-tuned for this agent.
    pub agent_name: Option<String>,
    /// Path of `models.json` (see `infra::registry::registry_path`).
    pub registry_path: Option<String>,
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

/// The most characters OpenAI takes in a suffix.
pub const MAX_SUFFIX_LEN: usize = 64;

/// A download is cut off after this long without a byte (`downloadIdleTimeoutMs`).
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// …or when it brings less than this many bytes per second over [`RATE_WINDOW`]
/// (`downloadMinBytesPerSecond`).
pub const DEFAULT_MIN_BYTES_PER_SECOND: u64 = 1024;
/// The window the minimum rate is measured over.
pub const RATE_WINDOW: Duration = Duration::from_secs(30);

/// What bounds a download: its size, the longest silence, and its slowest rate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DownloadLimits {
    /// Larger sources are refused (`maxDownloadBytes`).
    pub max_bytes: u64,
    /// The longest wait for the answer's headers or for the next bytes.
    pub idle_timeout: Duration,
    /// Fewer bytes per second than this over any `rate_window` cut the download off; 0: no
    /// minimum.
    pub min_bytes_per_second: u64,
    /// [`RATE_WINDOW`], shorter in tests.
    pub rate_window: Duration,
}

impl Default for DownloadLimits {
    fn default() -> Self {
        DownloadLimits {
            max_bytes: DEFAULT_MAX_DOWNLOAD_BYTES,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            min_bytes_per_second: DEFAULT_MIN_BYTES_PER_SECOND,
            rate_window: RATE_WINDOW,
        }
    }
}

/// What a run does when its modelKey is already registered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum OnExisting {
    /// Refuse with `ERR_DUPLICATE_MODEL_KEY` (before anything is uploaded).
    #[default]
    Error,
    /// Train a new version of the key.
    NewVersion,
}

/// Whether a newly trained version becomes the key's model.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Promote {
    /// Always (the default).
    #[default]
    Always,
    /// Only when its evaluation says `better`.
    IfBetter,
}

/// Where and how to deploy the fine-tuned model on Azure (option `azureDeployment`).
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(test, derive(serde::Serialize))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AzureDeploymentOptions {
    /// The Azure subscription id of the Azure OpenAI resource.
    #[serde(default)]
    pub subscription_id: String,
    /// Its resource group.
    #[serde(default)]
    pub resource_group: String,
    /// The Azure OpenAI (Foundry) resource's name.
    #[serde(default)]
    pub resource_name: String,
    /// The deployment's name, which is the model agents send (default: from the modelKey).
    pub deployment_name: Option<String>,
    /// `Standard` (default), `GlobalStandard` or `DeveloperTier` (`Developer` is taken for it).
    pub sku: Option<String>,
    /// Capacity, in thousands of tokens per minute (default 1).
    pub capacity: Option<u32>,
    /// Azure Resource Manager's URL (default `https://management.azure.com`).
    pub management_url: Option<String>,
    /// The control plane's api-version (default `calc::azure::MANAGEMENT_API_VERSION`).
    pub api_version: Option<String>,
}

/// How an evaluation runs (shared by `evaluateModel` and the pipeline's `evaluate`).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EvalSettings {
    /// Chat-format JSONL (path or URL); default the entry's validation data.
    pub data: Option<String>,
    /// The model to compare against (a model name or a modelKey).
    pub baseline: Option<String>,
    /// Grader names (`exact`, `contains`, `json`, `toolCalls`, `similarity`, `judge`).
    pub graders: Option<Vec<String>>,
    /// The grader `better` is decided on.
    pub primary_grader: Option<String>,
    /// The model `judge` asks (default `gpt-4o-mini`).
    pub judge_model: Option<String>,
    /// The rubric `judge` grades with.
    pub judge_rubric: Option<String>,
    /// Requests in flight at once (default 8).
    pub concurrency: Option<u32>,
    /// Refuse to start when the estimated cost is above this.
    pub max_cost_usd: Option<f64>,
    /// Only the first N examples.
    pub max_examples: Option<u64>,
    /// Seed of the bootstrap (and of the requests' `seed`), default 0.
    pub seed: Option<u64>,
    /// Bootstrap resamples (default 2000).
    pub bootstrap_samples: Option<u32>,
    /// Where the answers file goes (default beside the registry, in `evaluations/`).
    pub output_path: Option<String>,
    /// Sampling temperature of both models (default 0).
    pub temperature: Option<f64>,
    /// Reuse answers kept from earlier evaluations with the same model, request and settings
    /// (default true); `false` asks again (the new answers are kept).
    pub cache: Option<bool>,
    /// Where a JUnit XML report goes (one testcase per grader).
    pub junit_path: Option<String>,
    /// Per-grader minimum of the candidate's mean score (0 to 1), for the JUnit report.
    pub min_scores: Option<BTreeMap<String, f64>>,
    /// The most tokens an answer may have (`max_completion_tokens` of every request; the
    /// worst case of the cost limit). Default: twice the longest reference, at least 256.
    pub max_answer_tokens: Option<u32>,
    /// Graders written by the caller (the binding fills this; never read from JSON).
    #[serde(skip)]
    pub custom_graders: Vec<super::evaluation::CustomGrader>,
}

/// Options of `evaluateModel`: the candidate, the settings, the registry and the connection.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EvaluateOptions {
    /// The modelKey whose model is the candidate.
    pub model_key: Option<String>,
    /// A model name (or modelKey) as the candidate, instead of `modelKey`.
    pub model: Option<String>,
    /// How the evaluation runs (`data`, `baseline`, `graders`… at the top level of the
    /// object).
    #[serde(flatten)]
    pub settings: EvalSettings,
    /// Path of `models.json` (see `infra::registry::registry_path`).
    pub registry_path: Option<String>,
    /// How to reach the API.
    #[serde(flatten)]
    pub connection: ConnectionOptions,
}

/// The pipeline's `evaluate`: `true` or the settings.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(untagged)]
pub enum EvaluateSetting {
    On(bool),
    With(Box<EvalSettings>),
}

impl EvaluateSetting {
    /// The settings, when evaluation is on.
    pub fn settings(&self) -> Option<EvalSettings> {
        match self {
            EvaluateSetting::On(true) => Some(EvalSettings::default()),
            EvaluateSetting::On(false) => None,
            EvaluateSetting::With(s) => Some((**s).clone()),
        }
    }
}

/// Options of `removeRegisteredModel`: the registry, `deleteRemote`, and how to reach the API
/// (only used with `deleteRemote`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RemoveOptions {
    #[serde(default)]
    pub delete_remote: bool,
    /// Path of `models.json` (see `infra::registry::registry_path`).
    pub registry_path: Option<String>,
    /// The whole call gives up after this many ms (`ERR_TIMEOUT`).
    pub timeout_ms: Option<u64>,
    /// How to reach the API.
    #[serde(flatten)]
    pub connection: ConnectionOptions,
}

/// Options of `importFineTuneJob`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ImportOptions {
    #[serde(default)]
    pub agent_name: String,
    #[serde(default)]
    pub model_key: String,
    /// What to do when the key is registered (default `error`).
    #[serde(default)]
    pub on_existing: OnExisting,
    /// Path of `models.json` (see `infra::registry::registry_path`).
    pub registry_path: Option<String>,
    /// The whole call gives up after this many ms (`ERR_TIMEOUT`).
    pub timeout_ms: Option<u64>,
    /// How to reach the API.
    #[serde(flatten)]
    pub connection: ConnectionOptions,
}

/// Options of `validateTrainingData`, as JavaScript passes them (camelCase; `null` is
/// absent; unknown keys are refused).
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ValidateDataOptions {
    pub base_model: Option<String>,
    #[serde(default)]
    pub method: Method,
    pub price_per_million_tokens: Option<f64>,
    pub n_epochs: Option<u32>,
    pub max_download_bytes: Option<u64>,
    /// A URL source is cut off after this long without a byte (default 60000).
    pub download_idle_timeout_ms: Option<u64>,
    /// …or below this rate over 30 s (default 1024, at least 1).
    pub download_min_bytes_per_second: Option<u64>,
    /// The whole call gives up after this many ms (`ERR_TIMEOUT`).
    pub timeout_ms: Option<u64>,
}
