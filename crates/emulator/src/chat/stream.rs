//! `stream: true`: the answer as server-sent events of `chat.completion.chunk` objects, as
//! OpenAI streams them. Per choice: a first chunk with the role, then one chunk per token of
//! content (whole characters: a character split across tokens waits for its last byte), or,
//! per tool call, a chunk with its `index`, `id`, `type` and `function.name` (empty
//! `arguments`) followed by one chunk per argument token; then a chunk with an empty delta and
//! the `finish_reason`. With `stream_options.include_usage`, every chunk carries
//! `"usage": null` and a last chunk has the usage and no choices. Then `data: [DONE]`.

use crate::chat::answer::Choice;
use crate::util::random_lower;
use axum::body::{Body, Bytes};
use axum::http::{header, HeaderValue};
use axum::response::Response;
use serde_json::{json, Map, Value};
use std::convert::Infallible;

/// What every chunk shares.
pub(crate) struct Head {
    pub id: String,
    pub created: i64,
    pub model: String,
    pub include_usage: bool,
    pub include_obfuscation: bool,
}

fn chunk(head: &Head, choices: Value, usage: Option<&Value>) -> String {
    let mut c = Map::new();
    c.insert("id".into(), json!(head.id));
    c.insert("object".into(), json!("chat.completion.chunk"));
    c.insert("created".into(), json!(head.created));
    c.insert("model".into(), json!(head.model));
    c.insert("service_tier".into(), json!("default"));
    c.insert("system_fingerprint".into(), json!(super::FINGERPRINT));
    c.insert("choices".into(), choices);
    if head.include_usage {
        c.insert("usage".into(), usage.cloned().unwrap_or(Value::Null));
    }
    if head.include_obfuscation {
        // Random padding, as OpenAI adds against size side channels.
        let n = 1 + (rand::random::<u8>() % 12) as usize;
        c.insert("obfuscation".into(), json!(random_lower(n)));
    }
    format!("data: {}\n\n", Value::Object(c))
}

fn delta(index: usize, delta: Value, logprobs: Option<Value>, finish: Option<&str>) -> Value {
    json!([{"index": index, "delta": delta, "logprobs": logprobs, "finish_reason": finish}])
}

/// The events of one choice.
fn choice_events(head: &Head, index: usize, choice: &Choice, out: &mut Vec<String>) {
    let calls = choice
        .message
        .get("tool_calls")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let has_content = choice.message.get("content").is_some_and(Value::is_string);
    let first = if has_content || calls.is_empty() {
        json!({"role": "assistant", "content": "", "refusal": null})
    } else {
        json!({"role": "assistant", "content": null, "refusal": null})
    };
    let no_logprobs = choice
        .logprobs
        .as_ref()
        .map(|_| json!({"content": [], "refusal": null}));
    out.push(chunk(
        head,
        delta(index, first, no_logprobs.clone(), None),
        None,
    ));

    // Content, token by token (a character split across tokens is sent whole).
    let mut pending: Vec<u8> = Vec::new();
    let mut pending_lp: Vec<Value> = Vec::new();
    for (i, t) in choice.content_tokens.iter().enumerate() {
        pending.extend_from_slice(t);
        if let Some(lp) = choice.logprobs.as_ref().and_then(|l| l.get(i)) {
            pending_lp.push(lp.clone());
        }
        let Ok(text) = std::str::from_utf8(&pending) else {
            continue;
        };
        let logprobs = choice
            .logprobs
            .as_ref()
            .map(|_| json!({"content": std::mem::take(&mut pending_lp), "refusal": null}));
        out.push(chunk(
            head,
            delta(index, json!({"content": text}), logprobs, None),
            None,
        ));
        pending.clear();
    }

    // Tool calls: the call's head, then its arguments token by token.
    for (k, call) in calls.iter().enumerate() {
        let head_delta = json!({"tool_calls": [{
            "index": k,
            "id": call["id"],
            "type": "function",
            "function": {"name": call["function"]["name"], "arguments": ""},
        }]});
        out.push(chunk(head, delta(index, head_delta, None, None), None));
        let tokens = choice
            .argument_tokens
            .get(k)
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        let mut pending: Vec<u8> = Vec::new();
        for t in tokens {
            pending.extend_from_slice(t);
            let Ok(fragment) = std::str::from_utf8(&pending) else {
                continue;
            };
            let d = json!({"tool_calls": [{"index": k, "function": {"arguments": fragment}}]});
            out.push(chunk(head, delta(index, d, None, None), None));
            pending.clear();
        }
    }
    out.push(chunk(
        head,
        delta(index, json!({}), no_logprobs, Some(choice.finish_reason)),
        None,
    ));
}

/// The streamed answer (`200 text/event-stream`).
pub(crate) fn response(head: &Head, choices: &[Choice], usage: &Value) -> Response {
    let mut events = Vec::new();
    for (i, c) in choices.iter().enumerate() {
        choice_events(head, i, c, &mut events);
    }
    if head.include_usage {
        events.push(chunk(head, json!([]), Some(usage)));
    }
    events.push("data: [DONE]\n\n".to_string());
    let body = Body::from_stream(futures::stream::iter(
        events
            .into_iter()
            .map(|e| Ok::<_, Infallible>(Bytes::from(e))),
    ));
    let mut resp = Response::new(body);
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    resp
}
