//! `POST /chat/completions` for fine-tuned models of succeeded jobs (and base models), as
//! OpenAI's spec describes it: learned answers (see [`crate::learned`]), tools and
//! `tool_choice`, `response_format`, `n`, `seed`, `stop`, token limits, `logprobs`, streaming
//! ([`stream`]), `usage` counted with the model's tokenizer, and rate limits
//! ([`crate::ratelimit`]); `GET /models` and `GET /models/{model}`.

mod answer;
mod request;
mod schema;
mod stream;

use crate::errors::{ApiError, ApiResult};
use crate::jobs::fine_tuned_models;
use crate::learned::text_of;
use crate::models::is_base_chat_model;
use crate::server::{Flavor, OnAzure};
use crate::state::AppState;
use crate::util::{now_ms, random_id, secs};
use axum::body::Bytes;
use axum::extract::{Extension, Path, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};

/// `system_fingerprint` of every answer (the same backend: seeded answers repeat).
const FINGERPRINT: &str = "fp_emulator";

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

/// The request body as a JSON object.
fn body_object(body: &Bytes) -> ApiResult<Map<String, Value>> {
    match crate::util::parse_json::<Value>(body)? {
        Value::Object(o) => Ok(o),
        _ => Err(ApiError::invalid("The body must be a JSON object.", None)),
    }
}

/// `POST /chat/completions`.
pub(crate) async fn completions(
    State(state): State<AppState>,
    on_azure: Option<Extension<OnAzure>>,
    body: Bytes,
) -> ApiResult<Response> {
    let on_azure = on_azure.is_some_and(|Extension(OnAzure(a))| a);
    let req = body_object(&body)?;
    let model = req
        .get("model")
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| ApiError::invalid("Missing required parameter: 'model'.", Some("model")))?;
    let params = request::parse(&req)?;
    let model = through_deployment(&state, on_azure, &model)?;
    chat_answer(&state, &model, &params)
}

/// Azure `POST /openai/deployments/{deployment}/chat/completions`: the deployment is the model.
pub(crate) async fn deployment_completions(
    State(state): State<AppState>,
    Path(deployment): Path<String>,
    body: Bytes,
) -> ApiResult<Response> {
    let req = body_object(&body)?;
    let params = request::parse(&req)?;
    let model = through_deployment(&state, true, &deployment)?;
    chat_answer(&state, &model, &params)
}

/// Prompt tokens as the API counts them (OpenAI's cookbook): 3 per message plus the tokens
/// of its role, content, name (plus 1) and tool calls, 3 to prime the answer, and the tools'
/// definitions.
fn prompt_tokens(model: &str, p: &request::ChatParams, raw_tools: Option<&Value>) -> u64 {
    let encoding = fine_tune_dataset::encoding_for_model(model);
    let tokens = |t: &str| fine_tune_dataset::count_tokens(t, encoding) as u64;
    let mut n = 3;
    for m in &p.messages {
        n += 3;
        n += tokens(m.get("role").and_then(Value::as_str).unwrap_or(""));
        n += tokens(&m.get("content").map(text_of).unwrap_or_default());
        if let Some(name) = m.get("name").and_then(Value::as_str) {
            n += tokens(name) + 1;
        }
        for c in m
            .get("tool_calls")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            n += tokens(
                c.pointer("/function/name")
                    .and_then(Value::as_str)
                    .unwrap_or(""),
            );
            n += tokens(
                c.pointer("/function/arguments")
                    .and_then(Value::as_str)
                    .unwrap_or(""),
            );
            n += 3;
        }
    }
    if let Some(t) = raw_tools {
        n += tokens(&t.to_string());
    }
    n
}

fn chat_answer(state: &AppState, model: &str, p: &request::ChatParams) -> ApiResult<Response> {
    if model_exists(state, model).is_none() {
        return Err(model_not_found(model));
    }
    let choices: Vec<answer::Choice> = (0..p.n)
        .map(|i| answer::answer(state, model, p, i))
        .collect();
    let tools: Vec<Value> = p
        .tools
        .iter()
        .map(|t| json!({"name": t.name, "description": t.description, "parameters": t.parameters}))
        .collect();
    let prompt = prompt_tokens(
        model,
        p,
        (!tools.is_empty()).then_some(&Value::Array(tools)),
    );
    let completion: u64 = choices.iter().map(|c| c.completion_tokens).sum();
    let usage = json!({
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0, "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0},
    });
    let limits = state
        .0
        .rate_limiter
        .admit(&state.0.organization, model, prompt + completion)?;
    state.count(|s| s.chat_completions += 1);
    let id = random_id("chatcmpl-", 29);
    let created = secs(now_ms());
    let mut resp = if p.stream {
        let head = stream::Head {
            id,
            created,
            model: model.to_string(),
            include_usage: p.include_usage,
            include_obfuscation: p.include_obfuscation,
        };
        stream::response(&head, &choices, &usage)
    } else {
        let choices: Vec<Value> = choices
            .iter()
            .enumerate()
            .map(|(i, c)| {
                json!({
                    "index": i,
                    "message": c.message,
                    "logprobs": c.logprobs.as_ref().map(|l| json!({"content": l, "refusal": null})),
                    "finish_reason": c.finish_reason,
                })
            })
            .collect();
        Json(json!({
            "id": id,
            "object": "chat.completion",
            "created": created,
            "model": model,
            "choices": choices,
            "usage": usage,
            "service_tier": "default",
            "system_fingerprint": FINGERPRINT,
        }))
        .into_response()
    };
    limits.apply(resp.headers_mut());
    Ok(resp)
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
