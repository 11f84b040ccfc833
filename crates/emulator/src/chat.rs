//! `POST /chat/completions` for fine-tuned models of succeeded jobs (and base models), with
//! learned answers (see [`crate::learned`]) and token counts in `usage`; `GET /models` and `GET /models/{model}`.

use crate::errors::{ApiError, ApiResult};
use crate::jobs::fine_tuned_models;
use crate::models::is_base_chat_model;
use crate::server::{Flavor, OnAzure};
use crate::state::AppState;
use crate::util::{now_ms, parse_json, random_id, secs};
use axum::body::Bytes;
use axum::extract::{Extension, Path, State};
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

/// Whether `model` can answer chats now (a model past its shutdown date, or fine-tuned from
/// one, answers nothing).
fn model_exists(state: &AppState, model: &str) -> Option<i64> {
    if shutdown_date(state, model).is_some_and(|d| is_past(&d)) {
        return None;
    }
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

/// The configured shutdown date of a model, or of the base of an `ft:` model.
pub(crate) fn shutdown_date(state: &AppState, model: &str) -> Option<String> {
    let dates = &state.0.model_shutdown_dates;
    dates.get(model).cloned().or_else(|| {
        let base = model.strip_prefix("ft:")?.split(':').next()?;
        dates.get(base).cloned()
    })
}

/// Whether a `YYYY-MM-DD` date is today or before.
pub(crate) fn is_past(date: &str) -> bool {
    chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d")
        .is_ok_and(|d| d <= chrono::Utc::now().date_naive())
}

/// On an Azure resource, `model` is a deployment's name: the model it serves.
fn through_deployment(state: &AppState, on_azure: bool, model: &str) -> ApiResult<String> {
    if !on_azure {
        return Ok(model.to_string());
    }
    // Azure hook (`crate::azure`): the deployment's model, or Azure's refusal.
    crate::azure::chat_model(state, model)
}

/// `POST /chat/completions`.
pub(crate) async fn completions(
    State(state): State<AppState>,
    on_azure: Option<Extension<OnAzure>>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let on_azure = on_azure.is_some_and(|Extension(OnAzure(a))| a);
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
    let model = through_deployment(&state, on_azure, &model)?;
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
    let model = through_deployment(&state, true, &deployment)?;
    chat_answer(&state, &model, &messages, req.n.unwrap_or(1).clamp(1, 8))
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

/// A model object: OpenAI's `Model` (with `shutdown_date`), or Azure's (with `deprecation`
/// in Unix seconds, `capabilities` and `lifecycle_status`).
fn model_json(state: &AppState, flavor: Flavor, id: &str, created: i64) -> Value {
    let date = shutdown_date(state, id);
    match flavor {
        Flavor::OpenAi => {
            let owned_by = if id.starts_with("ft:") {
                state.0.organization.clone()
            } else {
                "system".into()
            };
            json!({"id": id, "object": "model", "created": created, "owned_by": owned_by, "shutdown_date": date})
        }
        // Azure hook (`crate::azure`): the Azure model object and its retirement dates.
        Flavor::Azure => crate::azure::model_json(state, id, created),
    }
}

/// `GET /models`: the base models, the configured ones and the fine-tuned models created so
/// far, each with its shutdown date.
pub(crate) async fn list_models(
    State(state): State<AppState>,
    Extension(flavor): Extension<Flavor>,
) -> Json<Value> {
    let mut ids: Vec<(String, i64)> = crate::models::base_models()
        .into_iter()
        .chain(state.0.model_shutdown_dates.keys().cloned())
        .map(|m| (m, 0))
        .collect();
    ids.sort();
    ids.dedup();
    ids.extend(fine_tuned_models(&state.store(), now_ms()));
    let data: Vec<Value> = ids
        .iter()
        .map(|(id, created)| model_json(&state, flavor, id, *created))
        .collect();
    Json(json!({"object": "list", "data": data}))
}

/// `GET /models/{model}`. A model past its shutdown date is still described (with its date),
/// as OpenAI lists retired models until they are removed.
pub(crate) async fn retrieve_model(
    State(state): State<AppState>,
    Extension(flavor): Extension<Flavor>,
    Path(model): Path<String>,
) -> ApiResult<Json<Value>> {
    let configured = state.0.model_shutdown_dates.contains_key(&model);
    let created = model_exists(&state, &model)
        .or_else(|| (configured || shutdown_date(&state, &model).is_some()).then_some(0))
        .ok_or_else(|| model_not_found(&model))?;
    Ok(Json(model_json(&state, flavor, &model, created)))
}
