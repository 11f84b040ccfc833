//! One choice of a chat completion: what the model says (a learned answer, a judge's score,
//! or its base model's generic answer), shaped by the request: the tool rules of
//! `tool_choice`, `response_format`, `stop`, the token limit; its tokens and log
//! probabilities.

use crate::chat::request::{ChatParams, Format, Tool, ToolChoice};
use crate::chat::schema::{conform, fits, Fill};
use crate::learned::{hash, role, text_of};
use crate::state::AppState;
use crate::util::random_id;
use fine_tune_dataset::{token_bytes, Encoding};
use serde_json::{json, Value};

/// One generated choice.
pub(crate) struct Choice {
    /// The assistant message (`ChatCompletionResponseMessage`).
    pub message: Value,
    /// `stop`, `length` or `tool_calls`.
    pub finish_reason: &'static str,
    /// The content's tokens (empty without content).
    pub content_tokens: Vec<Vec<u8>>,
    /// Each tool call's argument tokens.
    pub argument_tokens: Vec<Vec<Vec<u8>>>,
    /// Tokens generated.
    pub completion_tokens: u64,
    /// `logprobs.content` entries, one per content token, when asked for.
    pub logprobs: Option<Vec<Value>>,
}

/// The names of the functions an assistant message calls (`None`: it calls none).
fn called(msg: &Value) -> Option<Vec<&str>> {
    let calls = msg.get("tool_calls")?.as_array()?;
    if calls.is_empty() {
        return None;
    }
    Some(
        calls
            .iter()
            .map(|c| {
                c.pointer("/function/name")
                    .and_then(Value::as_str)
                    .unwrap_or("")
            })
            .collect(),
    )
}

/// Whether the request lets the model answer with `msg` (a learned answer).
fn allowed(p: &ChatParams, msg: &Value) -> bool {
    let offered = |n: &str| p.tools.iter().any(|t| t.name == n);
    match called(msg) {
        None => matches!(p.tool_choice, ToolChoice::None | ToolChoice::Auto),
        Some(names) => match &p.tool_choice {
            ToolChoice::None => false,
            ToolChoice::Auto | ToolChoice::Required => names.iter().all(|n| offered(n)),
            ToolChoice::Named(want) => names.contains(&want.as_str()),
        },
    }
}

fn words(text: &str) -> std::collections::HashSet<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

fn last_of<'a>(messages: &'a [Value], r: &str) -> Option<&'a Value> {
    messages.iter().rev().find(|m| role(m) == r)
}

/// The tool a model that must call one picks: the named one, else the one whose name and
/// description share the most words with the conversation.
fn pick_tool(p: &ChatParams) -> Option<&Tool> {
    if let ToolChoice::Named(n) = &p.tool_choice {
        return p.tools.iter().find(|t| t.name == *n);
    }
    let prompt = words(
        &p.messages
            .iter()
            .map(|m| m.get("content").map(text_of).unwrap_or_default())
            .collect::<Vec<_>>()
            .join(" "),
    );
    let mut best: Option<(&Tool, usize)> = None;
    for t in &p.tools {
        let w = words(&format!(
            "{} {}",
            t.name.replace(['_', '-'], " "),
            t.description
        ));
        let shared = w.iter().filter(|x| prompt.contains(*x)).count();
        if best.is_none_or(|(_, b)| shared > b) {
            best = Some((t, shared));
        }
    }
    best.map(|(t, _)| t)
}

/// The message before the request's shaping: learned, a judge's score, a call the request
/// forces, or the base model's generic answer.
fn raw_message(state: &AppState, model: &str, p: &ChatParams, salt: &str) -> Value {
    let text = |t: String| json!({"role": "assistant", "content": t});
    let fine_tuned = model.starts_with("ft:");
    if !fine_tuned
        && p.tool_choice != ToolChoice::Required
        && !matches!(p.tool_choice, ToolChoice::Named(_))
    {
        if let Some(score) = crate::learned::judge_answer(&p.messages) {
            return text(score);
        }
    }
    let mut base = model.to_string();
    if fine_tuned {
        if let Some(msg) = crate::learned::learned_of(state, model).and_then(|l| {
            l.answer(
                model,
                &p.messages,
                salt,
                |a| allowed(p, a),
                |name, args| {
                    p.tools
                        .iter()
                        .find(|t| t.name == name)
                        .is_none_or(|t| fits(args, &t.parameters, &t.parameters))
                },
            )
        }) {
            return msg;
        }
        if let Some((_, b)) = crate::jobs::job_of_model(&state.store(), model) {
            base = b;
        }
    }
    if matches!(p.tool_choice, ToolChoice::Required | ToolChoice::Named(_)) {
        if let Some(tool) = pick_tool(p) {
            let hint = last_of(&p.messages, "user")
                .and_then(|m| m.get("content"))
                .map(text_of)
                .unwrap_or_default();
            let hint: String = hint.chars().take(200).collect();
            let args = conform(None, &tool.parameters, &tool.parameters, &Fill::new(&hint));
            return json!({"role": "assistant", "content": null, "tool_calls": [
                {"id": "", "type": "function", "function": {"name": tool.name, "arguments": args.to_string()}}
            ]});
        }
    }
    // After a tool's result, the generic answer passes the result on.
    let last = p.messages.last();
    let said = match last {
        Some(m) if role(m) == "tool" => m.get("content").map(text_of).unwrap_or_default(),
        _ => last_of(&p.messages, "user")
            .and_then(|m| m.get("content"))
            .map(text_of)
            .unwrap_or_default(),
    };
    text(format!("[{base}] {said}"))
}

/// The content as `response_format` wants it.
fn formatted(content: String, format: &Format) -> String {
    match format {
        Format::Text => content,
        Format::JsonObject => match serde_json::from_str::<Value>(&content) {
            Ok(Value::Object(_)) => content,
            Ok(other) => json!({ "answer": other }).to_string(),
            Err(_) => json!({ "answer": content }).to_string(),
        },
        Format::JsonSchema { schema } => {
            let parsed = serde_json::from_str::<Value>(&content).ok();
            let hint = if parsed.is_some() {
                ""
            } else {
                content.as_str()
            };
            let v = conform(parsed.as_ref(), schema, schema, &Fill::new(hint));
            if parsed.as_ref() == Some(&v) {
                content
            } else {
                v.to_string()
            }
        }
    }
}

/// The longest prefix of `tokens` that is whole UTF-8 text.
fn text_of_tokens(tokens: &[Vec<u8>]) -> String {
    let bytes = tokens.concat();
    match std::str::from_utf8(&bytes) {
        Ok(s) => s.to_string(),
        Err(e) => String::from_utf8_lossy(&bytes[..e.valid_up_to()]).into_owned(),
    }
}

/// `logprobs.content` entries for `tokens`: a seeded probability near 1 for each token, and
/// up to `top` alternatives (case and spacing variants of the token, less likely).
fn logprob_entries(tokens: &[Vec<u8>], salt: &str, top: u32) -> Vec<Value> {
    tokens
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let text = String::from_utf8_lossy(t).into_owned();
            let lp = -((hash(&format!("{salt}\n{i}\n{text}")) % 2_000) as f64) / 10_000.0;
            let mut alts = vec![text.clone()];
            let trimmed = text.trim_start();
            for v in [
                if text.starts_with(' ') {
                    trimmed.to_string()
                } else {
                    format!(" {text}")
                },
                {
                    let mut c = trimmed.chars();
                    match c.next() {
                        Some(f) if f.is_lowercase() => f.to_uppercase().chain(c).collect(),
                        Some(f) => f.to_lowercase().chain(c).collect(),
                        None => String::new(),
                    }
                },
                text.to_uppercase(),
                text.to_lowercase(),
            ] {
                if !v.is_empty() && !alts.contains(&v) {
                    alts.push(v);
                }
            }
            let top_logprobs: Vec<Value> = alts
                .iter()
                .take(top as usize)
                .enumerate()
                .map(|(k, a)| {
                    let p = if k == 0 {
                        lp
                    } else {
                        lp - 2.0 - k as f64 * 0.75
                    };
                    json!({"token": a, "logprob": p, "bytes": a.as_bytes()})
                })
                .collect();
            json!({"token": text, "logprob": lp, "bytes": t, "top_logprobs": top_logprobs})
        })
        .collect()
}

/// Choice `index` of the answer of `model` to the request.
pub(crate) fn answer(state: &AppState, model: &str, p: &ChatParams, index: u32) -> Choice {
    let salt = match (p.seed, index) {
        (None, 0) => String::new(),
        (seed, i) => format!("\n{seed:?}\n{i}"),
    };
    let encoding: Encoding = fine_tune_dataset::encoding_for_model(model);
    let raw = raw_message(state, model, p, &salt);
    let mut message =
        json!({"role": "assistant", "content": null, "refusal": null, "annotations": []});
    let mut budget = Budget::new(p.max_tokens);
    let (calls, argument_tokens) = tool_calls(p, &raw, encoding, &mut budget);
    let mut content_tokens = Vec::new();
    let mut logprobs = p.logprobs.then(Vec::new);
    if let Some(raw_text) = content_text(p, &raw, calls.is_empty()) {
        let text;
        (text, content_tokens) = limit_text(raw_text, &p.stop, encoding, &mut budget);
        if let Some(l) = logprobs.as_mut() {
            *l = logprob_entries(&content_tokens, &format!("{model}{salt}"), p.top_logprobs);
        }
        if !text.is_empty() || calls.is_empty() {
            message["content"] = json!(text);
        }
    }
    let finish_reason = if budget.cut {
        "length"
    } else if !calls.is_empty() {
        "tool_calls"
    } else {
        "stop"
    };
    if !calls.is_empty() {
        message["tool_calls"] = Value::Array(calls);
    }
    Choice {
        message,
        finish_reason,
        content_tokens,
        argument_tokens,
        completion_tokens: budget.used,
        logprobs,
    }
}

/// The tokens a choice may still generate (`max_completion_tokens`), and what it generated.
struct Budget {
    left: u64,
    used: u64,
    /// The limit cut the answer short.
    cut: bool,
}

impl Budget {
    fn new(max_tokens: Option<u64>) -> Self {
        Budget {
            left: max_tokens.unwrap_or(u64::MAX),
            used: 0,
            cut: false,
        }
    }

    /// Spends a call's name and arguments; cuts the arguments to what is left. Returns
    /// whether they were cut.
    fn spend_call(&mut self, name_tokens: u64, args_tokens: &mut Vec<Vec<u8>>) -> bool {
        let cost = name_tokens + args_tokens.len() as u64;
        if cost > self.left {
            args_tokens.truncate(self.left.saturating_sub(name_tokens) as usize);
            self.cut = true;
            self.used += self.left;
            self.left = 0;
            true
        } else {
            self.left -= cost;
            self.used += cost;
            false
        }
    }
}

/// Tool calls: offered functions only, as `tool_choice` and `parallel_tool_calls` allow, with
/// arguments that fit the function's parameters, within the budget. Returns the calls and
/// each one's argument tokens.
fn tool_calls(
    p: &ChatParams,
    raw: &Value,
    encoding: Encoding,
    budget: &mut Budget,
) -> (Vec<Value>, Vec<Vec<Vec<u8>>>) {
    let mut calls: Vec<Value> = Vec::new();
    let mut argument_tokens = Vec::new();
    if p.tool_choice == ToolChoice::None {
        return (calls, argument_tokens);
    }
    for c in raw
        .get("tool_calls")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let Some((call, args_tokens)) = tool_call(p, c, encoding, budget) else {
            continue;
        };
        calls.push(call);
        argument_tokens.push(args_tokens);
        if budget.cut || !p.parallel_tool_calls || matches!(p.tool_choice, ToolChoice::Named(_)) {
            break;
        }
    }
    (calls, argument_tokens)
}

/// One call of the raw message as the request allows it (`None`: not allowed), its arguments
/// made to fit the function and cut at the budget; with its argument tokens.
fn tool_call(
    p: &ChatParams,
    c: &Value,
    encoding: Encoding,
    budget: &mut Budget,
) -> Option<(Value, Vec<Vec<u8>>)> {
    let name = c
        .pointer("/function/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    let tool = p.tools.iter().find(|t| t.name == name)?;
    if matches!(&p.tool_choice, ToolChoice::Named(n) if n != name) {
        return None;
    }
    let given = c
        .pointer("/function/arguments")
        .and_then(Value::as_str)
        .and_then(|a| serde_json::from_str::<Value>(a).ok());
    let args = conform(
        given.as_ref(),
        &tool.parameters,
        &tool.parameters,
        &Fill::new(""),
    );
    let mut args_tokens = token_bytes(&args.to_string(), encoding);
    let name_tokens = token_bytes(name, encoding).len() as u64;
    let arguments = if budget.spend_call(name_tokens, &mut args_tokens) {
        text_of_tokens(&args_tokens)
    } else {
        args.to_string()
    };
    let call = json!({
        "id": random_id("call_", 24),
        "type": "function",
        "function": {"name": name, "arguments": arguments},
    });
    Some((call, args_tokens))
}

/// The text of the answer, formatted as `response_format` wants it when no tool is called
/// (`None`: no text).
fn content_text(p: &ChatParams, raw: &Value, no_calls: bool) -> Option<String> {
    let raw_text = raw.get("content").filter(|c| !c.is_null()).map(text_of);
    match raw_text {
        Some(t) if no_calls => Some(formatted(t, &p.format)),
        // A learned answer that calls a tool the request does not allow: its words instead.
        None if no_calls => Some(formatted(String::new(), &p.format)),
        other => other.filter(|t| !t.is_empty()),
    }
}

/// The text stopped at the first stop sequence and cut at the budget (emptied when the calls
/// used it up); with its tokens.
fn limit_text(
    mut text: String,
    stop: &[String],
    encoding: Encoding,
    budget: &mut Budget,
) -> (String, Vec<Vec<u8>>) {
    if let Some(at) = stop
        .iter()
        .filter(|s| !s.is_empty())
        .filter_map(|s| text.find(s.as_str()))
        .min()
    {
        text.truncate(at);
    }
    let mut tokens = token_bytes(&text, encoding);
    if !budget.cut && tokens.len() as u64 > budget.left {
        tokens.truncate(budget.left as usize);
        budget.cut = true;
        budget.used += budget.left;
        text = text_of_tokens(&tokens);
    } else if budget.cut {
        tokens.clear();
        text.clear();
    } else {
        budget.used += tokens.len() as u64;
    }
    (text, tokens)
}
