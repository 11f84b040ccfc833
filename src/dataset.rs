//! `validateTrainingData` and its report types.

use napi::bindgen_prelude::*;
use napi_derive::napi;

use fine_tune_core as core;
use fine_tune_dataset as ds;

/// Options of `validateTrainingData`.
/// (Declares the TypeScript type; the core's `ValidateDataOptions` reads the values.)
#[napi(object, object_to_js = false)]
pub struct ValidateOptions {
    /// The base model: picks the token encoding, the context limit per example, the price and
    /// the allowed format (completion lines only for `babbage-002` / `davinci-002`).
    #[napi(ts_type = "string | null")]
    pub base_model: Option<String>,
    /// `"supervised"` (default) or `"dpo"` (preference pairs).
    #[napi(ts_type = "'supervised' | 'dpo' | null")]
    pub method: Option<String>,
    /// USD per 1M training tokens, overriding the built-in price table.
    #[napi(ts_type = "number | null")]
    pub price_per_million_tokens: Option<f64>,
    /// Epochs for the estimate, overriding OpenAI's default rule.
    #[napi(ts_type = "number | null")]
    pub n_epochs: Option<f64>,
    /// URL sources larger than this many bytes are refused (default 1 GiB).
    #[napi(ts_type = "number | null")]
    pub max_download_bytes: Option<f64>,
    /// A URL source is cut off (`ERR_SOURCE_FETCH`) after this many ms without a byte
    /// (default 60000).
    #[napi(ts_type = "number | null")]
    pub download_idle_timeout_ms: Option<f64>,
    /// A URL source is cut off (`ERR_SOURCE_FETCH`) when it brings fewer bytes per second
    /// than this over any 30 s (default 1024; 0: no minimum).
    #[napi(ts_type = "number | null")]
    pub download_min_bytes_per_second: Option<f64>,
}

/// One kind of problem: how often it occurs, where, and its first occurrence.
#[napi(object, object_from_js = false)]
pub struct DatasetIssue {
    /// snake_case kind, e.g. `invalid_json`, `missing_messages_list`, `example_too_long`.
    pub kind: String,
    /// The first occurrence, e.g. `example 100, message 2: unrecognized role "bot"`.
    pub message: String,
    /// How many lines have it.
    pub count: f64,
    /// The 1-based line numbers of the first occurrences (at most 10).
    pub lines: Vec<f64>,
}

/// Tokens per example, counted with the base model's encoding as OpenAI's cookbook does.
#[napi(object, object_from_js = false)]
pub struct TokenStats {
    pub counted_examples: f64,
    pub min: f64,
    pub median: f64,
    pub p90: f64,
    pub max: f64,
    pub total: f64,
    pub assistant_min: f64,
    pub assistant_median: f64,
    pub assistant_p90: f64,
    pub assistant_max: f64,
    pub assistant_total: f64,
}

/// What `validateTrainingData` found.
#[napi(object, object_from_js = false)]
pub struct DatasetReport {
    /// No errors: OpenAI should accept the file.
    pub valid: bool,
    /// `chat`, `preference`, `completion` or `unknown`.
    pub format: String,
    pub method: String,
    pub base_model: Option<String>,
    pub model_family: Option<String>,
    /// Non-blank lines.
    pub examples: f64,
    pub lines: f64,
    pub bytes: f64,
    /// Problems that make OpenAI refuse the file.
    pub errors: Vec<DatasetIssue>,
    /// Problems worth a look (few examples, no system message…).
    pub warnings: Vec<DatasetIssue>,
    pub tokens: TokenStats,
    /// `cl100k_base` or `o200k_base`.
    pub encoding: String,
    /// Tokens allowed per training example, if known for the model.
    pub context_limit: Option<f64>,
    /// The epochs OpenAI picks by default for this many examples.
    pub default_epochs: f64,
    /// The epochs the estimate uses.
    pub epochs: f64,
    pub estimated_billed_tokens: f64,
    pub estimated_cost_usd: Option<f64>,
    pub price_per_million_tokens: Option<f64>,
    /// When the price table was taken.
    pub price_date: Option<String>,
    /// Why no cost is given, when it is not.
    pub price_note: Option<String>,
}

fn issue(i: ds::IssueSummary) -> DatasetIssue {
    let ds::IssueSummary {
        kind,
        message,
        count,
        lines,
    } = i;
    DatasetIssue {
        kind,
        message,
        count: count as f64,
        lines: lines.into_iter().map(|l| l as f64).collect(),
    }
}

impl From<ds::TokenStats> for TokenStats {
    fn from(t: ds::TokenStats) -> Self {
        let ds::TokenStats {
            counted_examples,
            min,
            median,
            p90,
            max,
            total,
            assistant_min,
            assistant_median,
            assistant_p90,
            assistant_max,
            assistant_total,
        } = t;
        let n = |x: u64| x as f64;
        TokenStats {
            counted_examples: n(counted_examples),
            min: n(min),
            median,
            p90,
            max: n(max),
            total: n(total),
            assistant_min: n(assistant_min),
            assistant_median,
            assistant_p90,
            assistant_max: n(assistant_max),
            assistant_total: n(assistant_total),
        }
    }
}

impl From<ds::DatasetReport> for DatasetReport {
    fn from(r: ds::DatasetReport) -> Self {
        // Destructured whole, so a new field of the report fails to compile here instead of
        // vanishing from `validateTrainingData()`.
        let ds::DatasetReport {
            valid,
            format,
            method,
            base_model,
            model_family,
            examples,
            lines,
            bytes,
            errors,
            warnings,
            tokens,
            encoding,
            context_limit,
            default_epochs,
            epochs,
            estimated_billed_tokens,
            estimated_cost_usd,
            price_per_million_tokens,
            price_date,
            price_note,
        } = r;
        DatasetReport {
            valid,
            format,
            method,
            base_model,
            model_family,
            examples: examples as f64,
            lines: lines as f64,
            bytes: bytes as f64,
            errors: errors.into_iter().map(issue).collect(),
            warnings: warnings.into_iter().map(issue).collect(),
            tokens: tokens.into(),
            encoding: encoding.name().to_string(),
            context_limit: context_limit.map(f64::from),
            default_epochs: f64::from(default_epochs),
            epochs: f64::from(epochs),
            estimated_billed_tokens: estimated_billed_tokens as f64,
            estimated_cost_usd,
            price_per_million_tokens,
            price_date,
            price_note,
        }
    }
}

/// Checks a training file (a local `.jsonl` path or an http(s) URL) the way OpenAI will,
/// without uploading anything: every line's format (chat, preference or completion), the
/// messages, roles, tool calls and weights, the example count, tokens per example with the
/// base model's encoding against its context limit, and the estimated epochs, billed tokens and
/// cost. Streams the file on every core, off the JavaScript thread. Defects are in the report;
/// the promise rejects only when the file cannot be read (`ERR_SOURCE_NOT_FOUND`,
/// `ERR_SOURCE_FETCH`) or an option is wrong (`ERR_INVALID_OPTION`).
#[napi(
    ts_args_type = "source: string, options?: ValidateOptions | null",
    ts_return_type = "Promise<DatasetReport>"
)]
pub fn validate_training_data(
    env: Env,
    source: Unknown,
    options: Option<Object>,
) -> Result<AsyncBlock<DatasetReport>> {
    let args = crate::read::string_arg(&env, source.raw(), "source").and_then(|source| {
        let o = crate::read::options_object(&env, options)?;
        let v = crate::convert::options_json(&env, o.as_ref(), &[])?;
        Ok((source, core::options::from_json_object(v, "options")?))
    });
    crate::settle(&env, async move {
        let (source, opts) = args?;
        let token = core::CancellationToken::new();
        core::checks::validate_training_data(&source, opts, &token).await
    })
}
