//! `validateTrainingData` and its report types.

use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::convert::{optional, whole, Field};
use fine_tune_core as core;
use fine_tune_dataset as ds;

/// Options of `validateTrainingData`.
#[napi(object, object_to_js = false)]
pub struct ValidateOptions {
    /// The base model: picks the token encoding, the context limit per example, the price and
    /// the allowed format (completion lines only for `babbage-002` / `davinci-002`).
    #[napi(ts_type = "string | null")]
    pub base_model: Option<Field<String>>,
    /// `"supervised"` (default) or `"dpo"` (preference pairs).
    #[napi(ts_type = "'supervised' | 'dpo' | null")]
    pub method: Option<Field<String>>,
    /// USD per 1M training tokens, overriding the built-in price table.
    #[napi(ts_type = "number | null")]
    pub price_per_million_tokens: Option<Field<f64>>,
    /// Epochs for the estimate, overriding OpenAI's default rule.
    #[napi(ts_type = "number | null")]
    pub n_epochs: Option<Field<f64>>,
    /// URL sources larger than this many bytes are refused (default 1 GiB).
    #[napi(ts_type = "number | null")]
    pub max_download_bytes: Option<Field<f64>>,
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
    DatasetIssue {
        kind: i.kind,
        message: i.message,
        count: i.count as f64,
        lines: i.lines.into_iter().map(|l| l as f64).collect(),
    }
}

impl From<ds::DatasetReport> for DatasetReport {
    fn from(r: ds::DatasetReport) -> Self {
        let t = r.tokens;
        DatasetReport {
            valid: r.valid,
            format: r.format,
            method: r.method,
            base_model: r.base_model,
            model_family: r.model_family,
            examples: r.examples as f64,
            lines: r.lines as f64,
            bytes: r.bytes as f64,
            errors: r.errors.into_iter().map(issue).collect(),
            warnings: r.warnings.into_iter().map(issue).collect(),
            tokens: TokenStats {
                counted_examples: t.counted_examples as f64,
                min: t.min as f64,
                median: t.median,
                p90: t.p90,
                max: t.max as f64,
                total: t.total as f64,
                assistant_min: t.assistant_min as f64,
                assistant_median: t.assistant_median,
                assistant_p90: t.assistant_p90,
                assistant_max: t.assistant_max as f64,
                assistant_total: t.assistant_total as f64,
            },
            encoding: r.encoding.name().to_string(),
            context_limit: r.context_limit.map(f64::from),
            default_epochs: r.default_epochs as f64,
            epochs: r.epochs as f64,
            estimated_billed_tokens: r.estimated_billed_tokens as f64,
            estimated_cost_usd: r.estimated_cost_usd,
            price_per_million_tokens: r.price_per_million_tokens,
            price_date: r.price_date,
            price_note: r.price_note,
        }
    }
}

fn options(o: Option<ValidateOptions>) -> core::Result<core::checks::ValidateDataOptions> {
    let Some(o) = o else {
        return Ok(Default::default());
    };
    let method = match optional("method", o.method)?.as_deref() {
        None | Some("supervised") => core::Method::Supervised,
        Some("dpo") => core::Method::Dpo,
        Some(other) => {
            return Err(core::Error::new(
                core::ErrorCode::InvalidOption,
                format!("method {other:?} is not supported; use \"supervised\" or \"dpo\""),
            )
            .with_param("method"))
        }
    };
    Ok(core::checks::ValidateDataOptions {
        base_model: optional("baseModel", o.base_model)?,
        method,
        price_per_million_tokens: optional("pricePerMillionTokens", o.price_per_million_tokens)?,
        n_epochs: whole("nEpochs", o.n_epochs)?.map(|n| n.min(u32::MAX as u64) as u32),
        max_download_bytes: whole("maxDownloadBytes", o.max_download_bytes)?,
    })
}

/// Checks a training file (a local `.jsonl` path or an http(s) URL) the way OpenAI will,
/// without uploading anything: every line's format (chat, preference or completion), the
/// messages, roles, tool calls and weights, the example count, tokens per example with the
/// base model's encoding against its context limit, and the estimated epochs, billed tokens and
/// cost. Streams the file on every core, off the JavaScript thread. Defects are in the report;
/// the promise rejects only when the file cannot be read (`ERR_SOURCE_NOT_FOUND`,
/// `ERR_SOURCE_FETCH`) or an option is wrong (`ERR_INVALID_OPTION`).
#[napi(ts_return_type = "Promise<DatasetReport>")]
pub fn validate_training_data(
    env: Env,
    source: String,
    options: Option<ValidateOptions>,
) -> Result<AsyncBlock<DatasetReport>> {
    let opts = self::options(options);
    crate::settle(&env, async move {
        let token = core::CancellationToken::new();
        core::checks::validate_training_data(&source, opts?, &token).await
    })
}
