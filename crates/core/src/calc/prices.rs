//! What an evaluation's requests cost: chat-completion prices per model, and the tokens of a
//! request counted with the model's real tokenizer (`fine_tune_dataset`). The training prices
//! are the dataset crate's; these are inference prices, used only by the evaluation.

use serde_json::Value;

use crate::calc::graders::content_text;

/// USD per 1M input and output tokens of chat completions, base and fine-tuned, taken from
/// OpenAI's price page on [`INFERENCE_PRICE_DATE`].
const INFERENCE_PRICES: &[(&str, [f64; 2], [f64; 2])] = &[
    ("gpt-4o-mini", [0.15, 0.60], [0.30, 1.20]),
    ("gpt-4o", [2.50, 10.00], [3.75, 15.00]),
    ("gpt-4.1-nano", [0.10, 0.40], [0.20, 0.80]),
    ("gpt-4.1-mini", [0.40, 1.60], [0.80, 3.20]),
    ("gpt-4.1", [2.00, 8.00], [3.00, 12.00]),
    ("gpt-3.5-turbo", [0.50, 1.50], [3.00, 6.00]),
];
/// When [`INFERENCE_PRICES`] were taken.
pub const INFERENCE_PRICE_DATE: &str = "2025-06-01";

/// Input and output price per 1M tokens of `model`, if known.
pub fn price(model: &str) -> Option<[f64; 2]> {
    let (ft, base) = match model.strip_prefix("ft:") {
        Some(rest) => (true, rest.split(':').next().unwrap_or(rest)),
        None => (false, model),
    };
    INFERENCE_PRICES
        .iter()
        .find(|(p, _, _)| base.starts_with(p))
        .map(|(_, b, f)| if ft { *f } else { *b })
}

/// The cost in USD of `prompt` input and `completion` output tokens of `model`, if its price
/// is known.
pub fn cost(model: &str, prompt: u64, completion: u64) -> Option<f64> {
    let [i, o] = price(model)?;
    Some((prompt as f64 * i + completion as f64 * o) / 1e6)
}

fn tokens(model: &str, text: &str) -> u64 {
    fine_tune_dataset::count_tokens(text, fine_tune_dataset::encoding_for_model(model)) as u64
}

/// The text of a message as tokens are counted: its content (a string or text parts) and its
/// tool calls as JSON.
fn message_text(m: &Value) -> String {
    let mut s = content_text(m);
    for key in ["tool_calls", "function_call"] {
        if let Some(v) = m.get(key).filter(|v| !v.is_null()) {
            s.push_str(&v.to_string());
        }
    }
    s
}

/// The input tokens of a chat request to `model`, as OpenAI counts them: each message's text
/// plus 3, plus 3 to prime the answer, plus the tools' definitions (counted as their JSON,
/// which is more than the API's own rendering).
pub fn prompt_tokens(model: &str, messages: &[Value], tools: Option<&Value>) -> u64 {
    messages
        .iter()
        .map(|m| tokens(model, &message_text(m)) + 3)
        .sum::<u64>()
        + 3
        + tools.map_or(0, |t| tokens(model, &t.to_string()))
}

/// The output tokens of an assistant message (its content and tool calls as JSON).
pub fn answer_tokens(model: &str, message: &Value) -> u64 {
    tokens(model, &message_text(message))
}

/// The default cap of an answer: twice the longest reference answer, at least 256 tokens.
pub fn default_answer_cap(model: &str, references: &[&Value]) -> u32 {
    let longest = references
        .iter()
        .map(|m| answer_tokens(model, m))
        .max()
        .unwrap_or(0);
    (2 * longest).clamp(256, u32::MAX as u64) as u32
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn prices_know_fine_tuned_models() {
        assert_eq!(
            price("ft:gpt-4o-mini-2024-07-18:org::x"),
            Some([0.30, 1.20])
        );
        assert_eq!(price("gpt-4o-2024-08-06"), Some([2.50, 10.00]));
        assert_eq!(price("claude"), None);
        assert_eq!(cost("gpt-4o-mini", 1_000_000, 1_000_000), Some(0.75));
    }

    #[test]
    fn tokens_are_counted_with_the_tokenizer() {
        let m = "gpt-4o-mini";
        let msgs = [json!({"role": "user", "content": "hello world"})];
        // "hello world" is 2 tokens in o200k_base: 2 + 3 + 3.
        assert_eq!(prompt_tokens(m, &msgs, None), 8);
        let call = json!({"role": "assistant", "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}]});
        assert!(answer_tokens(m, &call) > 10);
        assert_eq!(default_answer_cap(m, &[&call]), 256);
        let long = json!({"role": "assistant", "content": "word ".repeat(300)});
        let n = answer_tokens(m, &long) as u32;
        assert!(n >= 300);
        assert_eq!(default_answer_cap(m, &[&call, &long]), 2 * n);
    }
}
