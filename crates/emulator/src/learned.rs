//! What a fine-tuned model "learned": the emulator answers a chat to a model its job produced
//! like a model that learned its training data. For a prompt close to a training example
//! (word-set Jaccard similarity of the prompts at least [`MATCH_THRESHOLD`]) it returns that
//! example's assistant answer, tool calls included; with seeded noise (a hash of the model and
//! the prompt), about [`NOISE_RATE`] of the answers come from the second-closest example
//! instead. A prompt close to nothing it learned gets its base model's generic answer, so a
//! model trained on unrelated data answers exactly like its base.
//!
//! It also answers score-model (judge) prompts that carry `<reference>` and `<answer>`
//! blocks with `{"result": r}`, r the Levenshtein ratio of the two, and serves
//! `DELETE /models/{model}`.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;

use axum::extract::{Path as UrlPath, State};
use axum::Json;
use serde_json::{json, Value};

use crate::errors::{ApiError, ApiResult};
use crate::state::{lock, AppState};

/// Prompts at least this similar (Jaccard over lower-cased words) count as the same task.
pub const MATCH_THRESHOLD: f64 = 0.3;
/// Share of learned answers taken from the second-closest example instead.
pub const NOISE_RATE: f64 = 0.1;

/// One thing a training example taught: the prompt up to one of its assistant messages, and
/// that message.
struct Example {
    /// Lower-cased words of the prompt (for similarity).
    words: HashSet<String>,
    /// The prompt's tokens in order (for carrying values over, see [`substitute`]).
    seq: Vec<String>,
    /// Tokens that are values: in tool results, or arguments of tool calls.
    values: HashSet<String>,
    /// The assistant message.
    answer: Value,
    /// The prompt ends with a tool result.
    after_tool: bool,
}

/// The training examples of one fine-tuned model.
pub(crate) struct Learned {
    examples: Vec<Example>,
}

/// Lower-cased alphanumeric words.
fn words(text: &str) -> HashSet<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// The text of a message's `content`: the string, or its parts' `text` joined by spaces.
pub(crate) fn text_of(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join(" "),
        _ => String::new(),
    }
}

/// A message's `role` (empty when absent).
pub(crate) fn role(m: &Value) -> &str {
    m.get("role").and_then(Value::as_str).unwrap_or("")
}

/// The prompt's text: every non-assistant message's content (the system prompt and tool
/// results included).
fn prompt_text(messages: &[Value]) -> String {
    messages
        .iter()
        .filter(|m| role(m) != "assistant")
        .map(|m| m.get("content").map(text_of).unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Where a token ends: spaces and JSON punctuation.
fn splits(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '"' | '{' | '}' | '[' | ']' | ',' | ':' | ';' | '(' | ')' | '`'
        )
}

/// A token without the sentence punctuation around it.
fn core(token: &str) -> &str {
    token.trim_matches(|c: char| matches!(c, '.' | '?' | '!' | '\'' | '*'))
}

/// The tokens of a text, in order (see [`splits`] and [`core`]).
fn tokens(text: &str) -> Vec<String> {
    text.split(splits)
        .map(core)
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect()
}

/// The string and number leaves of a JSON value, as tokens.
fn leaf_tokens(v: &Value, out: &mut HashSet<String>) {
    match v {
        Value::String(s) => out.extend(tokens(s)),
        Value::Number(n) => {
            out.insert(n.to_string());
        }
        Value::Array(a) => a.iter().for_each(|x| leaf_tokens(x, out)),
        Value::Object(o) => o.values().for_each(|x| leaf_tokens(x, out)),
        _ => {}
    }
}

/// The argument values of an assistant message's tool calls, as tokens.
fn argument_tokens(msg: &Value, out: &mut HashSet<String>) {
    for call in msg
        .get("tool_calls")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let args = call
            .pointer("/function/arguments")
            .and_then(Value::as_str)
            .unwrap_or("");
        if let Ok(v) = serde_json::from_str::<Value>(args) {
            leaf_tokens(&v, out);
        }
    }
}

fn jaccard(a: &HashSet<String>, b: &HashSet<String>) -> f64 {
    if a.is_empty() && b.is_empty() {
        return 0.0;
    }
    let inter = a.iter().filter(|w| b.contains(*w)).count();
    inter as f64 / (a.len() + b.len() - inter) as f64
}

/// splitmix64 of a string: the seeded noise.
pub(crate) fn hash(s: &str) -> u64 {
    let mut z: u64 = 0x9E37_79B9_7F4A_7C15;
    for b in s.bytes() {
        z = (z ^ b as u64).wrapping_mul(0x100_0000_01B3);
    }
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Whether a token can be a value carried from the prompt into the answer.
fn is_value(token: &str, values: &HashSet<String>) -> bool {
    token.chars().any(|c| c.is_ascii_digit()) || values.contains(token)
}

/// Which values of the training prompt became which in this prompt: the two token sequences
/// are aligned (a diff); a value replaced one-for-one maps to its replacement.
fn value_map(example: &Example, query: &[String]) -> HashMap<String, String> {
    let mut map = HashMap::new();
    // A diff is quadratic at worst: long conversations keep their training values.
    if example.seq.len().saturating_mul(query.len()) > 4_000_000 {
        return map;
    }
    for op in similar::capture_diff_slices(similar::Algorithm::Myers, &example.seq, query) {
        if let similar::DiffOp::Replace {
            old_index,
            old_len,
            new_index,
            new_len,
        } = op
        {
            if old_len != new_len {
                continue;
            }
            for k in 0..old_len {
                let from = &example.seq[old_index + k];
                if is_value(from, &example.values) {
                    map.insert(from.clone(), query[new_index + k].clone());
                }
            }
        }
    }
    map
}

/// `text` with each mapped token replaced (spacing and punctuation kept).
fn replace_tokens(text: &str, map: &HashMap<String, String>) -> String {
    if map.is_empty() {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut token_start: Option<usize> = None;
    let flush = |out: &mut String, piece: &str| {
        let c = core(piece);
        match map.get(c) {
            Some(to) => {
                let lead = piece.find(c).unwrap_or(0);
                out.push_str(&piece[..lead]);
                out.push_str(to);
                out.push_str(&piece[lead + c.len()..]);
            }
            None => out.push_str(piece),
        }
    };
    for (i, ch) in text.char_indices() {
        if splits(ch) {
            if let Some(s) = token_start.take() {
                flush(&mut out, &text[s..i]);
            }
            out.push(ch);
        } else if token_start.is_none() {
            token_start = Some(i);
        }
    }
    if let Some(s) = token_start {
        flush(&mut out, &text[s..]);
    }
    out
}

fn replace_in_json(v: &mut Value, map: &HashMap<String, String>) {
    match v {
        Value::String(s) => *s = replace_tokens(s, map),
        Value::Number(n) => {
            if let Some(to) = map.get(&n.to_string()) {
                if let Ok(x) = to.parse::<serde_json::Number>() {
                    *n = x;
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|x| replace_in_json(x, map)),
        Value::Object(o) => o.values_mut().for_each(|x| replace_in_json(x, map)),
        _ => {}
    }
}

/// The learned answer with the values of the training prompt (ids, dates, tool results…)
/// replaced by those in the same places of this prompt, as a model that learned the task
/// (not the example) answers. Tool-call arguments are replaced only where the result still
/// passes `args_ok` (a label from an `enum` stays a label).
fn substitute(
    answer: &mut Value,
    map: &HashMap<String, String>,
    args_ok: &dyn Fn(&str, &Value) -> bool,
) {
    if map.is_empty() {
        return;
    }
    if let Some(Value::String(c)) = answer.get_mut("content") {
        *c = replace_tokens(c, map);
    }
    for call in answer
        .get_mut("tool_calls")
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
    {
        let name = call
            .pointer("/function/name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        if let Some(Value::String(args)) = call.pointer_mut("/function/arguments") {
            if let Ok(mut v) = serde_json::from_str::<Value>(args) {
                replace_in_json(&mut v, map);
                if args_ok(&name, &v) {
                    *args = v.to_string();
                }
            }
        }
    }
}

impl Learned {
    /// Reads a chat-format JSONL training file: each assistant message (not weighted 0) with
    /// the messages before it is one thing learned. Lines that are not chat examples are
    /// skipped.
    pub fn read(path: &Path) -> Learned {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let mut examples = Vec::new();
        for line in text.lines() {
            let Ok(v) = serde_json::from_str::<Value>(line) else {
                continue;
            };
            let Some(messages) = v.get("messages").and_then(Value::as_array) else {
                continue;
            };
            for (k, m) in messages.iter().enumerate() {
                if role(m) != "assistant" || m.get("weight").and_then(Value::as_u64) == Some(0) {
                    continue;
                }
                let prefix = &messages[..k];
                let prompt = prompt_text(prefix);
                let mut values = HashSet::new();
                for p in prefix {
                    match role(p) {
                        "tool" => values
                            .extend(tokens(&p.get("content").map(text_of).unwrap_or_default())),
                        "assistant" => argument_tokens(p, &mut values),
                        _ => {}
                    }
                }
                argument_tokens(m, &mut values);
                examples.push(Example {
                    words: words(&prompt),
                    seq: tokens(&prompt),
                    values,
                    answer: m.clone(),
                    after_tool: prefix.last().is_some_and(|p| role(p) == "tool"),
                });
            }
        }
        Learned { examples }
    }

    /// The learned answer (an assistant message) to `messages`, if the prompt is close to a
    /// training example whose answer `allowed` accepts. `salt` varies the seeded noise (the
    /// request's `seed` and the choice's index); `args_ok` tells whether arguments with this
    /// prompt's values fit the function.
    pub fn answer(
        &self,
        model: &str,
        messages: &[Value],
        salt: &str,
        allowed: impl Fn(&Value) -> bool,
        args_ok: impl Fn(&str, &Value) -> bool,
    ) -> Option<Value> {
        let prompt = prompt_text(messages);
        let query = words(&prompt);
        let after_tool = messages.last().is_some_and(|m| role(m) == "tool");
        let rank = |same_stage: bool| {
            let mut best: [(f64, usize); 2] = [(-1.0, usize::MAX); 2];
            for (i, e) in self.examples.iter().enumerate() {
                if (same_stage && e.after_tool != after_tool) || !allowed(&e.answer) {
                    continue;
                }
                let s = jaccard(&query, &e.words);
                if s > best[0].0 {
                    best[1] = best[0];
                    best[0] = (s, i);
                } else if s > best[1].0 {
                    best[1] = (s, i);
                }
            }
            best
        };
        // Examples at the same step of the task first (answering a tool result, or not).
        let mut best = rank(true);
        if best[0].0 < MATCH_THRESHOLD {
            best = rank(false);
        }
        if best[0].0 < MATCH_THRESHOLD {
            return None;
        }
        let noisy =
            (hash(&format!("{model}\n{prompt}{salt}")) % 10_000) as f64 / 10_000.0 < NOISE_RATE;
        let pick = if noisy && best[1].1 != usize::MAX {
            best[1].1
        } else {
            best[0].1
        };
        let example = &self.examples[pick];
        let mut msg = example.answer.clone();
        substitute(&mut msg, &value_map(example, &tokens(&prompt)), &args_ok);
        if let Some(m) = msg.as_object_mut() {
            m.remove("weight");
            m.entry("content").or_insert(Value::Null);
            m.insert("refusal".into(), Value::Null);
            m.insert("annotations".into(), json!([]));
        }
        Some(msg)
    }
}

/// The learned examples of `model`, read once from its job's training file.
pub(crate) fn learned_of(state: &AppState, model: &str) -> Option<Arc<Learned>> {
    if let Some(l) = lock(&state.0.learned).get(model) {
        return Some(l.clone());
    }
    let path = {
        let store = state.store();
        let (file, _) = crate::jobs::job_of_model(&store, model)?;
        store.files.get(&file)?.path.clone()
    };
    let learned = Arc::new(Learned::read(&path));
    lock(&state.0.learned).insert(model.to_string(), learned.clone());
    Some(learned)
}

/// A score-model (judge) prompt: `{"result": r}` with r the Levenshtein ratio of the
/// `<reference>` and `<answer>` blocks, rounded to 2 decimals.
pub(crate) fn judge_answer(messages: &[Value]) -> Option<String> {
    let all = messages
        .iter()
        .map(|m| m.get("content").map(text_of).unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n");
    let between = |open: &str, close: &str| -> Option<String> {
        let start = all.find(open)? + open.len();
        let end = start + all[start..].find(close)?;
        Some(all[start..end].trim().to_string())
    };
    let reference = between("<reference>", "</reference>")?;
    let answer = between("<answer>", "</answer>")?;
    let r = strsim::normalized_levenshtein(&reference, &answer);
    Some(json!({"result": (r * 100.0).round() / 100.0, "steps": []}).to_string())
}

/// `DELETE /models/{model}`: deletes a fine-tuned model (OpenAI's `DeleteModelResponse`).
pub(crate) async fn delete_model(
    State(state): State<AppState>,
    UrlPath(model): UrlPath<String>,
) -> ApiResult<Json<Value>> {
    let exists = {
        let store = state.store();
        crate::jobs::fine_tuned_models(&store, crate::util::now_ms())
            .iter()
            .any(|(m, _)| *m == model)
    };
    if !exists {
        return Err(ApiError::not_found(
            format!("The model `{model}` does not exist or you do not have access to it."),
            None,
        )
        .code("model_not_found"));
    }
    lock(&state.0.store).deleted_models.insert(model.clone());
    lock(&state.0.learned).remove(&model);
    Ok(Json(
        json!({"id": model, "object": "model", "deleted": true}),
    ))
}

/// Learned-model cache, by model name.
pub(crate) type LearnedCache = HashMap<String, Arc<Learned>>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_prompts_get_the_learned_answer_and_far_ones_none() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.jsonl");
        let mut text = String::new();
        for i in 0..20 {
            text.push_str(&json!({"messages": [
                {"role": "user", "content": format!("refund request number {i} for my order")},
                {"role": "assistant", "tool_calls": [{"id": "c", "type": "function", "function": {"name": "refund", "arguments": "{}"}}]}
            ]}).to_string());
            text.push('\n');
        }
        std::fs::write(&path, text).unwrap();
        let l = Learned::read(&path);
        let a = l
            .answer(
                "m",
                &[json!({"role": "user", "content": "refund request number 99 for my order"})],
                "",
                |_| true,
                |_, _| true,
            )
            .unwrap();
        assert_eq!(a["tool_calls"][0]["function"]["name"], "refund");
        assert!(l
            .answer(
                "m",
                &[json!({"role": "user", "content": "write a poem about autumn"})],
                "",
                |_| true,
                |_, _| true,
            )
            .is_none());
    }

    /// An order-lookup agent: a call with the order's id, then an answer from the tool's result.
    fn orders() -> Learned {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.jsonl");
        let mut text = String::new();
        for (i, status) in ["shipped", "delayed", "delivered"]
            .iter()
            .cycle()
            .take(12)
            .enumerate()
        {
            let id = format!("A-{}", 1000 + i);
            text.push_str(&json!({"messages": [
                {"role": "system", "content": "You are an order support agent."},
                {"role": "user", "content": format!("Where is my order {id}? Please check.")},
                {"role": "assistant", "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "lookup_order", "arguments": json!({"order_id": id}).to_string()}}]},
                {"role": "tool", "tool_call_id": "call_1", "content": json!({"order_id": id, "status": status}).to_string()},
                {"role": "assistant", "content": format!("Order {id} is {status}.")}
            ]}).to_string());
            text.push('\n');
        }
        std::fs::write(&path, text).unwrap();
        Learned::read(&path)
    }

    #[test]
    fn calls_with_this_prompts_values_then_answers_from_the_tool_result() {
        let l = orders();
        let mut messages = vec![
            json!({"role": "system", "content": "You are an order support agent."}),
            json!({"role": "user", "content": "Where is my order B-7731? Please check."}),
        ];
        let call = l.answer("m", &messages, "", |_| true, |_, _| true).unwrap();
        assert_eq!(call["tool_calls"][0]["function"]["name"], "lookup_order");
        assert_eq!(
            call["tool_calls"][0]["function"]["arguments"],
            r#"{"order_id":"B-7731"}"#
        );
        // Text only: the nearest text answer.
        let text = l
            .answer(
                "m",
                &messages,
                "",
                |a| a.get("tool_calls").is_none(),
                |_, _| true,
            )
            .unwrap();
        assert!(text["content"].is_string());
        messages
            .push(json!({"role": "assistant", "content": null, "tool_calls": call["tool_calls"]}));
        messages.push(json!({"role": "tool", "tool_call_id": "call_1", "content": r#"{"order_id":"B-7731","status":"lost"}"#}));
        let answer = l.answer("m", &messages, "", |_| true, |_, _| true).unwrap();
        assert_eq!(answer["content"], "Order B-7731 is lost.");
        assert!(answer.get("tool_calls").is_none());
    }

    #[test]
    fn replaces_whole_tokens_only() {
        let map = HashMap::from([("A-1".to_string(), "B-2".to_string())]);
        assert_eq!(
            replace_tokens("Order A-1, not A-10: (A-1).", &map),
            "Order B-2, not A-10: (B-2)."
        );
    }

    #[test]
    fn judges_by_levenshtein_ratio() {
        let m =
            [json!({"role": "user", "content": "<reference>abc</reference><answer>abc</answer>"})];
        assert_eq!(judge_answer(&m).unwrap(), r#"{"result":1.0,"steps":[]}"#);
    }
}
