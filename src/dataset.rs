//! `validateTrainingData` (its report is the dataset crate's `DatasetReport`).

use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::convert::Json;
use fine_tune_core as core;
use fine_tune_dataset as ds;

/// Options of `validateTrainingData`. An unknown option is refused (`ERR_INVALID_OPTION`).
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
    /// than this over any 30 s (default 1024, at least 1).
    #[napi(ts_type = "number | null")]
    pub download_min_bytes_per_second: Option<f64>,
    /// The whole call (download and checks) gives up after this many ms with `ERR_TIMEOUT`.
    /// Default: no bound but the download's own (`downloadIdleTimeoutMs`,
    /// `downloadMinBytesPerSecond`).
    #[napi(ts_type = "number | null")]
    pub timeout_ms: Option<f64>,
    /// Aborting rejects at once with an `AbortError` (`code: "ABORT_ERR"`). Anything but a
    /// real `AbortSignal` is `ERR_INVALID_OPTION`.
    #[napi(ts_type = "AbortSignal | null")]
    pub signal: Option<AbortSignal>,
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
) -> Result<AsyncBlock<Json<ds::DatasetReport>>> {
    let cancel = core::CancellationToken::new();
    let args = crate::read::string_arg(&env, source.raw(), "source").and_then(|source| {
        let o: core::checks::ValidateDataOptions = crate::call_options(&env, options, &cancel)?;
        Ok((source, o))
    });
    crate::settle(&env, async move {
        let (source, opts) = args?;
        let timeout = opts.timeout_ms;
        let call = core::checks::validate_training_data(&source, opts, &cancel);
        core::bounded("validateTrainingData", timeout, &cancel, call).await
    })
}
