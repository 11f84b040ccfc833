//! `POST /chat/completions` for fine-tuned models of succeeded jobs (and base models), with
//! learned answers (see [`crate::learned`]) and token counts in `usage`; `GET /models` and `GET /models/{model}`.

use crate::errors::{ApiError, ApiResult};
use crate::jobs::fine_tuned_models;
use crate::models::is_base_chat_model;
use crate::state::AppState;
use crate::util::{now_ms, parse_json, random_id, secs};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

#[derive(Deserialize)]
struct ChatRequest {
    model: Option<String>,
    messages: Option<Vec<Value>>,
    n: Option<u32>,
}

fn model_not_found(model: &str) -> ApiError {
    ApiError::not_found(
        format!("The model `{model}` does not exist or you do not have access to it."),
        None,
    )
    .code("model_not_found")
}

/// Whether `model` can answer chats now.
fn model_exists(state: &AppState, model: &str) -> Option<i64> {
    if is_base_chat_model(model) {
        return Some(0);
    }
    let store = state.store();
    fine_tuned_models(&store, now_ms())
        .into_iter()
        .find(|(m, _)| m == model)
        .map(|(_, at)| at)
}

fn text_of(content: &Value) -> String {
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

/// `POST /chat/completions`.
pub(crate) async fn completions(
    State(state): State<AppState>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let req: ChatRequest = parse_json(&body)?;
    let model = req
        .model
        .ok_or_else(|| ApiError::invalid("Missing required parameter: 'model'.", Some("model")))?;
    let messages = req.messages.ok_or_else(|| {
        ApiError::invalid("Missing required parameter: 'messages'.", Some("messages"))
    })?;
    if messages.is_empty() {
        return Err(ApiError::invalid(
            "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.",
            Some("messages"),
        ));
    }
    chat_answer(&state, &model, &messages, req.n.unwrap_or(1).clamp(1, 8))
}

/// Azure `POST /openai/deployments/{deployment}/chat/completions`: the deployment is the model.
pub(crate) async fn deployment_completions(
    State(state): State<AppState>,
    Path(deployment): Path<String>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let req: ChatRequest = parse_json(&body)?;
    let messages = req.messages.unwrap_or_default();
    chat_answer(
        &state,
        &deployment,
        &messages,
        req.n.unwrap_or(1).clamp(1, 8),
    )
}

fn chat_answer(
    state: &AppState,
    model: &str,
    messages: &[Value],
    n: u32,
) -> ApiResult<Json<Value>> {
    if model_exists(state, model).is_none() {
        return Err(model_not_found(model));
    }
    let message = answer_message(state, model, messages);
    let encoding = fine_tune_dataset::encoding_for_model(model);
    let tokens = |t: &str| fine_tune_dataset::count_tokens(t, encoding) as u64;
    // As the API counts them: each message's content plus 3, plus 3 to prime the answer.
    let prompt_tokens: u64 = messages
        .iter()
        .map(|m| tokens(&m.get("content").map(text_of).unwrap_or_default()) + 3)
        .sum::<u64>()
        + 3;
    let completion_tokens = tokens(&message.get("content").map(text_of).unwrap_or_default())
        + message
            .get("tool_calls")
            .map(|t| tokens(&t.to_string()))
            .unwrap_or(0);
    let choices: Vec<Value> = (0..n)
        .map(|i| {
            json!({
                "index": i,
                "message": message,
                "logprobs": null,
                "finish_reason": if message.get("tool_calls").is_some() { "tool_calls" } else { "stop" },
            })
        })
        .collect();
    state.count(|s| s.chat_completions += 1);
    Ok(Json(json!({
        "id": random_id("chatcmpl-", 29),
        "object": "chat.completion",
        "created": secs(now_ms()),
        "model": model,
        "choices": choices,
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens * n as u64,
            "total_tokens": prompt_tokens + completion_tokens * n as u64,
        },
        "service_tier": "default",
        "system_fingerprint": "fp_emulator",
    })))
}

/// The assistant message a model answers with: a judge's score for a score-model prompt
/// (base models), a learned answer for a prompt close to a fine-tuned model's training data,
/// else the base model's generic answer (`[base model] <last user message>`).
fn answer_message(state: &AppState, model: &str, messages: &[Value]) -> Value {
    let content = |text: String| json!({"role": "assistant", "content": text, "refusal": null, "annotations": []});
    if !model.starts_with("ft:") {
        if let Some(score) = crate::learned::judge_answer(messages) {
            return content(score);
        }
    }
    let mut base = model.to_string();
    if model.starts_with("ft:") {
        if let Some(msg) =
            crate::learned::learned_of(state, model).and_then(|l| l.answer(model, messages))
        {
            return msg;
        }
        if let Some((_, b)) = crate::jobs::job_of_model(&state.store(), model) {
            base = b;
        }
    }
    let last_user = messages
        .iter()
        .rev()
        .find(|m| m.get("role").and_then(Value::as_str) == Some("user"))
        .and_then(|m| m.get("content"))
        .map(text_of)
        .unwrap_or_default();
    content(format!("[{base}] {last_user}"))
}

/// `GET /models`: the fine-tuned models created so far.
pub(crate) async fn list_models(State(state): State<AppState>) -> Json<Value> {
    let store = state.store();
    let org = state.0.organization.clone();
    let data: Vec<Value> = fine_tuned_models(&store, now_ms())
        .into_iter()
        .map(|(id, created)| json!({"id": id, "object": "model", "created": created, "owned_by": org}))
        .collect();
    Json(json!({"object": "list", "data": data}))
}

/// `GET /models/{model}`.
pub(crate) async fn retrieve_model(
    State(state): State<AppState>,
    Path(model): Path<String>,
) -> ApiResult<Json<Value>> {
    let created = model_exists(&state, &model).ok_or_else(|| model_not_found(&model))?;
    let owned_by = if model.starts_with("ft:") {
        state.0.organization.clone()
    } else {
        "system".into()
    };
    Ok(Json(
        json!({"id": model, "object": "model", "created": created, "owned_by": owned_by}),
    ))
}
