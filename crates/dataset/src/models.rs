//! The one table of base models: encoding, training context limit, training price, tool
//! support and the context window the fine-tuned model serves (used by the registry too).
//!
//! | family        | encoding    | training context | USD / 1M training tokens |
//! |---------------|-------------|------------------|--------------------------|
//! | gpt-4.1       | o200k_base  | 65,536           | 25.00                    |
//! | gpt-4.1-mini  | o200k_base  | 65,536           | 5.00                     |
//! | gpt-4.1-nano  | o200k_base  | 65,536           | 1.50                     |
//! | gpt-4o        | o200k_base  | 65,536           | 25.00                    |
//! | gpt-4o-mini   | o200k_base  | 65,536           | 3.00                     |
//! | o4-mini       | o200k_base  | unknown          | none (billed per hour)   |
//! | gpt-4         | cl100k_base | 8,192            | none published           |
//! | gpt-3.5-turbo-0613 | cl100k_base | 4,096       | 8.00                     |
//! | gpt-3.5-turbo | cl100k_base | 16,385           | 8.00                     |
//! | davinci-002   | cl100k_base | 16,384           | 6.00                     |
//! | babbage-002   | cl100k_base | 16,384           | 0.40                     |
//! | gpt-5, o-series, gpt-4-turbo | (see the table) | unknown | none published         |
//!
//! Prices are OpenAI's published per-token training prices as of [`PRICE_DATE`]; update the
//! table and the date together. Fine-tuned names (`ft:gpt-4o-mini-2024-07-18:org::id`) resolve to
//! their base model.

use crate::tokenize::Encoding;

/// The date the prices in the table were taken.
pub const PRICE_DATE: &str = "2025-06-01";

/// What the checker knows about a base model.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ModelInfo {
    /// The family the model name resolved to, e.g. `gpt-4o-mini`.
    pub family: &'static str,
    pub encoding: Encoding,
    /// Maximum tokens per training example; `None` when not published.
    pub training_context_limit: Option<u32>,
    /// USD per 1M training tokens; `None` when there is no per-token price.
    pub price_per_million_tokens: Option<f64>,
    pub price_date: &'static str,
    pub supports_tools: bool,
    /// True for the legacy completion models (`prompt`/`completion` lines).
    pub completion_format: bool,
    /// The context window the (fine-tuned) model serves, in tokens: what TaskForce's
    /// `maxContextTokens` records.
    pub max_context_tokens: u32,
}

struct Row {
    prefix: &'static str,
    encoding: Encoding,
    context: Option<u32>,
    price: Option<f64>,
    tools: bool,
    completion: bool,
    serving: u32,
}

const fn row(
    prefix: &'static str,
    encoding: Encoding,
    context: Option<u32>,
    price: Option<f64>,
    tools: bool,
    completion: bool,
    serving: u32,
) -> Row {
    Row {
        prefix,
        encoding,
        context,
        price,
        tools,
        completion,
        serving,
    }
}

use Encoding::{Cl100kBase as CL, O200kBase as O2};

/// Longest prefixes first: the first row whose prefix matches (followed by the end of the name or
/// `-`) wins. Columns: prefix, encoding, training context, training price, tools, completion
/// format, serving context window.
#[rustfmt::skip]
const MODELS: &[Row] = &[
    row("gpt-4.1-nano",       O2, Some(65_536), Some(1.50),  true,  false, 1_047_576),
    row("gpt-4.1-mini",       O2, Some(65_536), Some(5.00),  true,  false, 1_047_576),
    row("gpt-4.1",            O2, Some(65_536), Some(25.00), true,  false, 1_047_576),
    row("gpt-4o-mini",        O2, Some(65_536), Some(3.00),  true,  false, 128_000),
    row("gpt-4o",             O2, Some(65_536), Some(25.00), true,  false, 128_000),
    row("gpt-5-nano",         O2, None,         None,        true,  false, 400_000),
    row("gpt-5-mini",         O2, None,         None,        true,  false, 400_000),
    row("gpt-5",              O2, None,         None,        true,  false, 400_000),
    row("o4-mini",            O2, None,         None,        true,  false, 200_000),
    row("o3-mini",            O2, None,         None,        true,  false, 200_000),
    row("o3",                 O2, None,         None,        true,  false, 200_000),
    row("o1-mini",            O2, None,         None,        false, false, 128_000),
    row("o1",                 O2, None,         None,        true,  false, 200_000),
    row("gpt-3.5-turbo-0613", CL, Some(4_096),  Some(8.00),  true,  false, 4_096),
    row("gpt-3.5-turbo",      CL, Some(16_385), Some(8.00),  true,  false, 16_385),
    row("gpt-4-turbo",        CL, None,         None,        true,  false, 128_000),
    row("gpt-4",              CL, Some(8_192),  None,        true,  false, 8_192),
    row("davinci-002",        CL, Some(16_384), Some(6.00),  false, true,  16_384),
    row("babbage-002",        CL, Some(16_384), Some(0.40),  false, true,  16_384),
];

/// The base model a (possibly fine-tuned) model name refers to.
fn base_name(model: &str) -> &str {
    let model = model.trim();
    match model.strip_prefix("ft:") {
        Some(rest) => rest.split(':').next().unwrap_or(rest),
        None => model,
    }
}

/// What the table knows about `model`, or `None` for a model not in the table.
pub fn model_info(model: &str) -> Option<ModelInfo> {
    let name = base_name(model).to_ascii_lowercase();
    MODELS
        .iter()
        .find(|r| {
            name.strip_prefix(r.prefix)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('-'))
        })
        .map(|r| ModelInfo {
            family: r.prefix,
            encoding: r.encoding,
            training_context_limit: r.context,
            price_per_million_tokens: r.price,
            price_date: PRICE_DATE,
            supports_tools: r.tools,
            completion_format: r.completion,
            max_context_tokens: r.serving,
        })
}

/// The encoding of `model`: the table's, else tiktoken's prefix rules, else `o200k_base`.
pub fn encoding_for_model(model: &str) -> Encoding {
    if let Some(info) = model_info(model) {
        return info.encoding;
    }
    let name = base_name(model).to_ascii_lowercase();
    const CL100K: &[&str] = &[
        "gpt-3.5",
        "gpt-35",
        "gpt-4-",
        "text-embedding-ada-002",
        "text-embedding-3",
        "davinci-002",
        "babbage-002",
    ];
    if name == "gpt-4" || CL100K.iter().any(|p| name.starts_with(p)) {
        Encoding::Cl100kBase
    } else {
        Encoding::O200kBase
    }
}
