//! Checks fine-tuning training files (JSON Lines) before anything is uploaded: the per-line
//! rules of OpenAI's chat, preference (DPO) and completion formats, exact token counts with the
//! base model's encoding, the default number of epochs and the estimated cost.
//!
//! Data defects are not errors of these functions: they are listed in the [`DatasetReport`].
//! Only an unreadable file is a [`DatasetError`].
//!
//! Token counting follows OpenAI's cookbook ("Data preparation and analysis for chat model
//! fine-tuning"): 3 tokens per message, plus the tokens of each of its strings (role, content or
//! the text of its content parts, refusal, tool_call_id), 1 more for a `name`, and 3 to prime the
//! reply. Tool calls add the tokens of the function name and arguments; tool definitions add the
//! tokens of their name, description and compact JSON parameters. Completion examples count
//! prompt plus completion. A preference example counts its input messages, both outputs and the
//! priming tokens once. Assistant tokens are those of assistant messages (content, refusal, tool
//! calls) or of the completion.

mod check;
mod engine;
mod models;
pub mod rules;
mod tokenize;
mod value;

use std::path::{Path, PathBuf};

use check::{Format, Kind};
use engine::{Config, Scan};

pub use models::{encoding_for_model, model_info, ModelInfo, PRICE_DATE};
pub use rules::{default_epochs, MIN_EXAMPLES, RECOMMENDED_MIN_EXAMPLES};
pub use tokenize::{count_tokens, for_each_piece, token_bytes, Encoding};

/// The fine-tuning method the file is for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Method {
    #[default]
    Supervised,
    Dpo,
}

#[derive(Debug, Clone, Default)]
pub struct ValidateOptions {
    /// Picks the encoding, the context limit, the price and the format (completion only for
    /// babbage-002 and davinci-002).
    pub base_model: Option<String>,
    pub method: Method,
    /// USD per 1M training tokens; overrides the price table.
    pub price_per_million_tokens: Option<f64>,
    /// Overrides the default-epochs rule for the estimate.
    pub n_epochs: Option<u32>,
    /// How many example line numbers are kept per issue type (default 10).
    pub max_lines_per_issue: Option<usize>,
    /// Worker threads (default: available parallelism).
    pub threads: Option<usize>,
    /// Lines longer than this many bytes are `line_too_long` errors, found while streaming
    /// without holding the line (default [`MAX_LINE_BYTES`]).
    pub max_line_bytes: Option<usize>,
}

/// The longest line the checker reads: 64 MiB, far above any example OpenAI accepts (the
/// largest context is about a million tokens, a few MB of text). Longer lines are refused
/// without being held in memory.
pub const MAX_LINE_BYTES: usize = 64 << 20;

#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    /// The file cannot be read.
    #[error("cannot read {}: {source}", path.as_ref().map_or("training data".to_string(), |p| p.display().to_string()))]
    Io {
        path: Option<PathBuf>,
        #[source]
        source: std::io::Error,
    },
}

/// One issue type: how often it occurs, where, and its first occurrence.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(rename = "DatasetIssue"))]
#[serde(rename_all = "camelCase")]
pub struct IssueSummary {
    /// snake_case type, e.g. `invalid_json`, `missing_messages_list`.
    pub kind: String,
    /// The first occurrence, e.g. "example 100, message 2: unrecognized role \"bot\"".
    pub message: String,
    /// Number of examples (lines) with this issue.
    pub count: u64,
    /// The 1-based line numbers of the first `max_lines_per_issue` occurrences.
    pub lines: Vec<u64>,
}

/// Tokens per example (of the examples whose tokens could be counted), counted with the base
/// model's encoding as OpenAI's cookbook does.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct TokenStats {
    pub counted_examples: u64,
    pub min: u64,
    /// numpy-style (linear interpolation) median and 90th percentile.
    pub median: f64,
    pub p90: f64,
    pub max: u64,
    pub total: u64,
    pub assistant_min: u64,
    pub assistant_median: f64,
    pub assistant_p90: f64,
    pub assistant_max: u64,
    pub assistant_total: u64,
}

/// What `validateTrainingData` found.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct DatasetReport {
    /// No errors (warnings allowed): OpenAI should accept the file.
    pub valid: bool,
    /// `chat`, `preference`, `completion` or `unknown` (no line was a JSON object).
    pub format: String,
    /// `supervised` or `dpo`.
    pub method: String,
    pub base_model: Option<String>,
    /// The model family the base model resolved to in the table.
    pub model_family: Option<String>,
    /// Non-blank lines.
    pub examples: u64,
    pub lines: u64,
    pub bytes: u64,
    /// Problems that make OpenAI refuse the file.
    pub errors: Vec<IssueSummary>,
    /// Problems worth a look (few examples, no system message…).
    pub warnings: Vec<IssueSummary>,
    /// Tokens per example, counted with the base model's encoding.
    pub tokens: TokenStats,
    /// `cl100k_base` or `o200k_base`.
    #[cfg_attr(feature = "ts", ts(type = "'cl100k_base' | 'o200k_base'"))]
    pub encoding: Encoding,
    /// Training context limit of the base model; `None`: unknown, not checked.
    pub context_limit: Option<u32>,
    /// What OpenAI chooses for this many examples (cookbook rule).
    pub default_epochs: u32,
    /// The epochs the estimate uses (`n_epochs` or the default).
    pub epochs: u32,
    /// epochs x the sum of per-example tokens, each capped at the context limit.
    pub estimated_billed_tokens: u64,
    pub estimated_cost_usd: Option<f64>,
    pub price_per_million_tokens: Option<f64>,
    /// When the price table was taken.
    pub price_date: Option<String>,
    /// Why there is no price, or where it came from.
    pub price_note: Option<String>,
}

/// Checks the file at `path`. Synchronous and CPU bound: run it on a blocking thread.
pub fn validate_path(
    path: &Path,
    options: &ValidateOptions,
) -> Result<DatasetReport, DatasetError> {
    let file = std::fs::File::open(path).map_err(|source| DatasetError::Io {
        path: Some(path.to_path_buf()),
        source,
    })?;
    run(file, options).map_err(|source| DatasetError::Io {
        path: Some(path.to_path_buf()),
        source,
    })
}

/// Checks JSON Lines read from `reader` (streamed; memory does not grow with its size).
pub fn validate_reader<R: std::io::Read + Send>(
    reader: R,
    options: &ValidateOptions,
) -> Result<DatasetReport, DatasetError> {
    run(reader, options).map_err(|source| DatasetError::Io { path: None, source })
}

fn run<R: std::io::Read + Send>(
    reader: R,
    options: &ValidateOptions,
) -> std::io::Result<DatasetReport> {
    let info = options.base_model.as_deref().and_then(model_info);
    let encoding = options
        .base_model
        .as_deref()
        .map_or(Encoding::O200kBase, encoding_for_model);
    let format = match options.method {
        Method::Dpo => Format::Preference,
        Method::Supervised if info.as_ref().is_some_and(|i| i.completion_format) => {
            Format::Completion
        }
        Method::Supervised => Format::Chat,
    };
    let cfg = Config {
        format,
        encoding,
        context_limit: info.as_ref().and_then(|i| i.training_context_limit),
        max_lines: options.max_lines_per_issue.unwrap_or(10),
        max_line_bytes: options.max_line_bytes.unwrap_or(MAX_LINE_BYTES).max(1),
        model: options.base_model.clone(),
    };
    let threads = options
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let scan = engine::scan(reader, &cfg, threads)?;
    Ok(build_report(scan, &cfg, info, options))
}

fn build_report(
    scan: Scan,
    cfg: &Config,
    info: Option<ModelInfo>,
    options: &ValidateOptions,
) -> DatasetReport {
    let (errors, warnings) = issues(&scan);
    let st = &scan.stats;
    let default_epochs = default_epochs(scan.examples);
    let epochs = options.n_epochs.unwrap_or(default_epochs);
    let billed = st.billed_per_epoch * epochs as u64;
    let (price, price_date, price_note) = price(options, info.as_ref());
    DatasetReport {
        valid: errors.is_empty(),
        format: if st.objects == 0 {
            "unknown".to_string()
        } else {
            cfg.format.name().to_string()
        },
        method: match options.method {
            Method::Supervised => "supervised",
            Method::Dpo => "dpo",
        }
        .to_string(),
        base_model: options.base_model.clone(),
        model_family: info.as_ref().map(|i| i.family.to_string()),
        examples: scan.examples,
        lines: scan.lines,
        bytes: scan.bytes,
        errors,
        warnings,
        tokens: token_stats(st),
        encoding: cfg.encoding,
        context_limit: cfg.context_limit,
        default_epochs,
        epochs,
        estimated_billed_tokens: billed,
        estimated_cost_usd: price.map(|p| billed as f64 / 1e6 * p),
        price_per_million_tokens: price,
        price_date,
        price_note,
    }
}

/// The scan's issues as (errors, warnings), with the example count's own.
fn issues(scan: &Scan) -> (Vec<IssueSummary>, Vec<IssueSummary>) {
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    for (kind, acc) in &scan.kinds {
        let message = match &acc.first {
            Some((_, example, Some(m), d)) => format!("example {example}, message {m}: {d}"),
            Some((_, example, None, d)) => format!("example {example}: {d}"),
            None => String::new(),
        };
        let s = IssueSummary {
            kind: kind.name().to_string(),
            message,
            count: acc.count,
            lines: acc.lines.clone(),
        };
        if kind.is_error() {
            errors.push(s);
        } else {
            warnings.push(s);
        }
    }
    let count = |kind: Kind, message: String| IssueSummary {
        kind: kind.name().to_string(),
        message,
        count: 1,
        lines: Vec::new(),
    };
    if scan.examples < MIN_EXAMPLES {
        errors.push(count(
            Kind::TooFewExamples,
            format!(
                "the file has {} examples; fine-tuning needs at least {MIN_EXAMPLES}",
                scan.examples
            ),
        ));
    } else if scan.examples < RECOMMENDED_MIN_EXAMPLES {
        warnings.push(count(
            Kind::FewExamples,
            format!(
                "the file has {} examples; OpenAI recommends at least {RECOMMENDED_MIN_EXAMPLES}",
                scan.examples
            ),
        ));
    }
    (errors, warnings)
}

fn token_stats(st: &engine::Stats) -> TokenStats {
    TokenStats {
        counted_examples: st.total.len(),
        min: st.total.min(),
        median: st.total.quantile(0.5),
        p90: st.total.quantile(0.9),
        max: st.total.max(),
        total: st.token_total,
        assistant_min: st.assistant.min(),
        assistant_median: st.assistant.quantile(0.5),
        assistant_p90: st.assistant.quantile(0.9),
        assistant_max: st.assistant.max(),
        assistant_total: st.assistant_total,
    }
}

/// The training price per 1M tokens (given, else the model's), its date, and a note when
/// there is none.
fn price(
    options: &ValidateOptions,
    info: Option<&ModelInfo>,
) -> (Option<f64>, Option<String>, Option<String>) {
    match (options.price_per_million_tokens, info) {
        (Some(p), _) => (
            Some(p),
            None,
            Some("price given in the options".to_string()),
        ),
        (None, Some(i)) => match i.price_per_million_tokens {
            Some(p) => (Some(p), Some(i.price_date.to_string()), None),
            None => (
                None,
                None,
                Some(format!(
                    "no per-token training price known for {} (family {})",
                    options.base_model.as_deref().unwrap_or_default(),
                    i.family
                )),
            ),
        },
        (None, None) => match &options.base_model {
            Some(m) => (None, None, Some(format!("no price known for model {m}"))),
            None => (
                None,
                None,
                Some("no base model given, so no price".to_string()),
            ),
        },
    }
}
