//! `CreateChatCompletionRequest`, read and checked as OpenAI checks it: each bad parameter is a
//! 400 `invalid_request_error` naming it (`param`), worded like OpenAI's.

// The roles a message may have: the same as a training example's (OpenAI's spec).
use crate::chat::schema::strict_violation;
use crate::errors::{ApiError, ApiResult};
use fine_tune_dataset::rules::ROLES;
use serde_json::{Map, Value};

/// A function the request offers (`tools[].function`).
#[derive(Debug, Clone)]
pub(crate) struct Tool {
    pub name: String,
    pub description: String,
    /// Its `parameters` schema (`{"type":"object","properties":{}}` when absent).
    pub parameters: Value,
}

/// `tool_choice`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ToolChoice {
    None,
    Auto,
    Required,
    Named(String),
}

/// `response_format`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Format {
    Text,
    JsonObject,
    JsonSchema { schema: Value },
}

/// A checked chat request (the model is read by the handler).
#[derive(Debug, Clone)]
pub(crate) struct ChatParams {
    pub messages: Vec<Value>,
    pub n: u32,
    pub stream: bool,
    pub include_usage: bool,
    pub include_obfuscation: bool,
    /// `max_completion_tokens`, else `max_tokens`.
    pub max_tokens: Option<u64>,
    /// Function tools offered (custom tools are accepted and never called).
    pub tools: Vec<Tool>,
    pub tool_choice: ToolChoice,
    pub parallel_tool_calls: bool,
    pub format: Format,
    pub seed: Option<i64>,
    pub logprobs: bool,
    pub top_logprobs: u32,
    pub stop: Vec<String>,
}

fn invalid(message: impl Into<String>, param: &str) -> ApiError {
    ApiError::invalid(message, Some(param))
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_f64() => "a decimal",
        Value::Number(_) => "an integer",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn wrong_type(param: &str, expected: &str, got: &Value) -> ApiError {
    invalid(
        format!(
            "Invalid type for '{param}': expected {expected}, but got {} instead.",
            type_name(got)
        ),
        param,
    )
    .code("invalid_type")
}

/// A present, non-null parameter.
fn get<'a>(req: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    req.get(key).filter(|v| !v.is_null())
}

fn boolean(req: &Map<String, Value>, key: &str) -> ApiResult<Option<bool>> {
    match get(req, key) {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(v) => Err(wrong_type(key, "a boolean", v)),
    }
}

fn integer(req: &Map<String, Value>, key: &str, min: i64, max: i64) -> ApiResult<Option<i64>> {
    let Some(v) = get(req, key) else {
        return Ok(None);
    };
    let Some(i) = v.as_i64() else {
        return Err(if v.is_u64() {
            invalid(
                format!("Invalid '{key}': integer above maximum value. Expected a value <= {max}, but got {v} instead."),
                key,
            )
            .code("integer_above_max_value")
        } else {
            wrong_type(key, "an integer", v)
        });
    };
    if i < min {
        return Err(invalid(
            format!("Invalid '{key}': integer below minimum value. Expected a value >= {min}, but got {i} instead."),
            key,
        )
        .code("integer_below_min_value"));
    }
    if i > max {
        return Err(invalid(
            format!("Invalid '{key}': integer above maximum value. Expected a value <= {max}, but got {i} instead."),
            key,
        )
        .code("integer_above_max_value"));
    }
    Ok(Some(i))
}

fn decimal(req: &Map<String, Value>, key: &str, min: f64, max: f64) -> ApiResult<()> {
    let Some(v) = get(req, key) else {
        return Ok(());
    };
    let Some(x) = v.as_f64() else {
        return Err(wrong_type(key, "a decimal", v));
    };
    if x < min {
        return Err(invalid(
            format!("Invalid '{key}': decimal below minimum value. Expected a value >= {min}, but got {x} instead."),
            key,
        )
        .code("decimal_below_min_value"));
    }
    if x > max {
        return Err(invalid(
            format!("Invalid '{key}': decimal above maximum value. Expected a value <= {max}, but got {x} instead."),
            key,
        )
        .code("decimal_above_max_value"));
    }
    Ok(())
}

/// Roles, required fields, and tool messages answering exactly the calls before them.
fn check_messages(messages: &[Value]) -> ApiResult<()> {
    // The ids of the calls still to answer, and the index of the message that made them.
    let mut pending: Vec<String> = Vec::new();
    let mut pending_at = 0;
    for (i, m) in messages.iter().enumerate() {
        let (obj, role) = message_role(i, m)?;
        if role != "tool" && !pending.is_empty() {
            return Err(unanswered(&pending, pending_at));
        }
        match role {
            "tool" => answer_call(&mut pending, obj, i)?,
            "assistant" => {
                if let Some(calls) = obj.get("tool_calls").and_then(Value::as_array) {
                    pending = calls
                        .iter()
                        .filter_map(|c| c.get("id").and_then(Value::as_str).map(str::to_string))
                        .collect();
                    pending_at = i;
                }
            }
            _ => {
                if obj.get("content").is_none() {
                    return Err(missing(&format!("messages[{i}].content")));
                }
            }
        }
    }
    if !pending.is_empty() {
        return Err(unanswered(&pending, pending_at));
    }
    Ok(())
}

/// A required parameter that is missing.
fn missing(param: &str) -> ApiError {
    invalid(format!("Missing required parameter: '{param}'."), param)
        .code("missing_required_parameter")
}

/// `messages[i]` as an object, and its role (one of [`ROLES`]).
fn message_role(i: usize, m: &Value) -> ApiResult<(&Map<String, Value>, &str)> {
    let Some(obj) = m.as_object() else {
        return Err(wrong_type(&format!("messages[{i}]"), "an object", m));
    };
    let role = match obj.get("role") {
        Some(Value::String(r)) => r.as_str(),
        Some(v) => return Err(wrong_type(&format!("messages[{i}].role"), "a string", v)),
        None => return Err(missing(&format!("messages[{i}].role"))),
    };
    if !ROLES.contains(&role) {
        return Err(invalid(
            format!("Invalid value: '{role}'. Supported values are: 'system', 'assistant', 'user', 'function', 'tool', and 'developer'."),
            &format!("messages[{i}].role"),
        )
        .code("invalid_value"));
    }
    Ok((obj, role))
}

/// Tool calls of message `pending_at` that no tool message answered.
fn unanswered(pending: &[String], pending_at: usize) -> ApiError {
    invalid(
        format!("An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. The following tool_call_ids did not have response messages: {}", pending.join(", ")),
        &format!("messages.[{pending_at}].role"),
    )
}

/// Tool message `i` answers one of the pending calls, which is then no longer pending.
fn answer_call(pending: &mut Vec<String>, obj: &Map<String, Value>, i: usize) -> ApiResult<()> {
    let Some(Value::String(id)) = obj.get("tool_call_id") else {
        return Err(missing(&format!("messages[{i}].tool_call_id")));
    };
    match pending.iter().position(|p| p == id) {
        Some(k) => {
            pending.remove(k);
            Ok(())
        }
        None => Err(invalid(
            "Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls'.",
            &format!("messages.[{i}].role"),
        )),
    }
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// `tools`: (whether given, the function tools).
fn parse_tools(req: &Map<String, Value>) -> ApiResult<(bool, Vec<Tool>)> {
    let Some(v) = get(req, "tools") else {
        return Ok((false, Vec::new()));
    };
    let Some(list) = v.as_array() else {
        return Err(wrong_type("tools", "an array", v));
    };
    if list.is_empty() {
        return Err(invalid(
            "Invalid 'tools': empty array. Expected an array with minimum length 1, but got an empty array instead.",
            "tools",
        )
        .code("empty_array"));
    }
    let mut tools = Vec::new();
    for (i, t) in list.iter().enumerate() {
        if let Some(tool) = parse_tool(i, t, &tools)? {
            tools.push(tool);
        }
    }
    Ok((true, tools))
}

/// `tools[i]`, after the function tools `earlier`: a function tool, or `None` for a custom
/// tool (accepted, never called).
fn parse_tool(i: usize, t: &Value, earlier: &[Tool]) -> ApiResult<Option<Tool>> {
    let kind = t.get("type").and_then(Value::as_str).unwrap_or("");
    match kind {
        "function" => {}
        "custom" => return Ok(None),
        other => {
            return Err(invalid(
                format!("Invalid value: '{other}'. Supported values are: 'function' and 'custom'."),
                &format!("tools[{i}].type"),
            )
            .code("invalid_value"))
        }
    }
    let Some(f) = t.get("function").and_then(Value::as_object) else {
        return Err(missing(&format!("tools[{i}].function")));
    };
    let name = f.get("name").and_then(Value::as_str).unwrap_or("");
    if !valid_name(name) {
        return Err(invalid(
            format!("Invalid 'tools[{i}].function.name': string does not match pattern. Expected a string that matches the pattern '^[a-zA-Z0-9_-]+$'."),
            &format!("tools[{i}].function.name"),
        )
        .code("invalid_value"));
    }
    if earlier.iter().any(|t| t.name == name) {
        return Err(invalid(
            format!("Invalid 'tools': duplicate function name '{name}'."),
            "tools",
        ));
    }
    Ok(Some(Tool {
        name: name.to_string(),
        description: f
            .get("description")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
        parameters: function_parameters(i, f, name)?,
    }))
}

/// `tools[i].function.parameters`: an object (an empty object schema when absent), a valid
/// strict schema when `strict`.
fn function_parameters(i: usize, f: &Map<String, Value>, name: &str) -> ApiResult<Value> {
    let parameters = f
        .get("parameters")
        .filter(|p| !p.is_null())
        .cloned()
        .unwrap_or_else(|| serde_json::json!({"type": "object", "properties": {}}));
    if !parameters.is_object() {
        return Err(wrong_type(
            &format!("tools[{i}].function.parameters"),
            "an object",
            &parameters,
        ));
    }
    if f.get("strict") == Some(&Value::Bool(true)) {
        if let Some(why) = strict_violation(&parameters) {
            return Err(invalid(
                format!("Invalid schema for function '{name}': {why}"),
                &format!("tools[{i}].function.parameters"),
            )
            .code("invalid_function_parameters"));
        }
    }
    Ok(parameters)
}

fn parse_tool_choice(
    req: &Map<String, Value>,
    has_tools: bool,
    tools: &[Tool],
) -> ApiResult<ToolChoice> {
    let Some(v) = get(req, "tool_choice") else {
        return Ok(if has_tools {
            ToolChoice::Auto
        } else {
            ToolChoice::None
        });
    };
    if !has_tools {
        return Err(invalid(
            "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified.",
            "tool_choice",
        ));
    }
    match v {
        Value::String(s) => match s.as_str() {
            "none" => Ok(ToolChoice::None),
            "auto" => Ok(ToolChoice::Auto),
            "required" => Ok(ToolChoice::Required),
            other => Err(invalid(
                format!("Invalid value: '{other}'. Supported values are: 'none', 'auto', and 'required'."),
                "tool_choice",
            )
            .code("invalid_value")),
        },
        Value::Object(o) => {
            let name = o
                .get("function")
                .and_then(|f| f.get("name"))
                .and_then(Value::as_str)
                .ok_or_else(|| {
                    invalid(
                        "Missing required parameter: 'tool_choice.function.name'.",
                        "tool_choice.function.name",
                    )
                    .code("missing_required_parameter")
                })?;
            if !tools.iter().any(|t| t.name == name) {
                return Err(invalid(
                    format!("Invalid value for 'tool_choice': function '{name}' is not one of the functions in 'tools'."),
                    "tool_choice",
                ));
            }
            Ok(ToolChoice::Named(name.to_string()))
        }
        other => Err(wrong_type("tool_choice", "a string or an object", other)),
    }
}

fn mentions_json(messages: &[Value]) -> bool {
    messages.iter().any(|m| {
        let text = match m.get("content") {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Array(parts)) => parts
                .iter()
                .filter_map(|p| p.get("text").and_then(Value::as_str))
                .collect::<Vec<_>>()
                .join(" "),
            _ => String::new(),
        };
        text.to_lowercase().contains("json")
    })
}

fn parse_format(req: &Map<String, Value>, messages: &[Value]) -> ApiResult<Format> {
    let Some(v) = get(req, "response_format") else {
        return Ok(Format::Text);
    };
    let kind = v.get("type").and_then(Value::as_str).ok_or_else(|| {
        invalid(
            "Missing required parameter: 'response_format.type'.",
            "response_format.type",
        )
        .code("missing_required_parameter")
    })?;
    match kind {
        "text" => Ok(Format::Text),
        "json_object" => {
            if !mentions_json(messages) {
                return Err(invalid(
                    "'messages' must contain the word 'json' in some form, to use 'response_format' of type 'json_object'.",
                    "messages",
                ));
            }
            Ok(Format::JsonObject)
        }
        "json_schema" => {
            let js = v.get("json_schema").and_then(Value::as_object).ok_or_else(|| {
                invalid(
                    "Missing required parameter: 'response_format.json_schema'.",
                    "response_format.json_schema",
                )
                .code("missing_required_parameter")
            })?;
            let name = js.get("name").and_then(Value::as_str).ok_or_else(|| {
                invalid(
                    "Missing required parameter: 'response_format.json_schema.name'.",
                    "response_format.json_schema.name",
                )
                .code("missing_required_parameter")
            })?;
            if !valid_name(name) {
                return Err(invalid(
                    "Invalid 'response_format.json_schema.name': string does not match pattern. Expected a string that matches the pattern '^[a-zA-Z0-9_-]+$'.",
                    "response_format.json_schema.name",
                )
                .code("invalid_value"));
            }
            let schema = js
                .get("schema")
                .filter(|s| !s.is_null())
                .cloned()
                .unwrap_or_else(|| serde_json::json!({}));
            if !schema.is_object() {
                return Err(wrong_type("response_format.json_schema.schema", "an object", &schema));
            }
            if js.get("strict") == Some(&Value::Bool(true)) {
                if let Some(why) = strict_violation(&schema) {
                    return Err(invalid(
                        format!("Invalid schema for response_format '{name}': {why}"),
                        "response_format",
                    )
                    .code("invalid_json_schema"));
                }
            }
            Ok(Format::JsonSchema { schema })
        }
        other => Err(invalid(
            format!("Invalid value: '{other}'. Supported values are: 'text', 'json_object', and 'json_schema'."),
            "response_format.type",
        )
        .code("invalid_value")),
    }
}

fn parse_stop(req: &Map<String, Value>) -> ApiResult<Vec<String>> {
    match get(req, "stop") {
        None => Ok(Vec::new()),
        Some(Value::String(s)) => Ok(vec![s.clone()]),
        Some(Value::Array(list)) => {
            if list.len() > 4 {
                return Err(invalid(
                    format!("Invalid 'stop': array too long. Expected an array with maximum length 4, but got an array with length {} instead.", list.len()),
                    "stop",
                )
                .code("array_above_max_length"));
            }
            list.iter()
                .enumerate()
                .map(|(i, s)| {
                    s.as_str()
                        .map(str::to_string)
                        .ok_or_else(|| wrong_type(&format!("stop[{i}]"), "a string", s))
                })
                .collect()
        }
        Some(v) => Err(wrong_type("stop", "a string or an array", v)),
    }
}

/// Reads and checks the request's parameters (`model` aside).
pub(crate) fn parse(req: &Map<String, Value>) -> ApiResult<ChatParams> {
    let messages = parse_messages(req)?;
    refuse_deprecated(req)?;
    let n = integer(req, "n", 1, 128)?.unwrap_or(1) as u32;
    let stream = boolean(req, "stream")?.unwrap_or(false);
    let (include_usage, include_obfuscation) = parse_stream_options(req, stream)?;
    let max_completion = integer(req, "max_completion_tokens", 1, i64::MAX)?;
    let max_tokens = integer(req, "max_tokens", 1, i64::MAX)?;
    let (has_tools, tools) = parse_tools(req)?;
    let tool_choice = parse_tool_choice(req, has_tools, &tools)?;
    let parallel_tool_calls = boolean(req, "parallel_tool_calls")?.unwrap_or(true);
    let format = parse_format(req, &messages)?;
    let seed = integer(req, "seed", i64::MIN, i64::MAX)?;
    let (logprobs, top_logprobs) = parse_logprobs(req)?;
    check_sampling(req)?;
    let stop = parse_stop(req)?;
    Ok(ChatParams {
        messages,
        n,
        stream,
        include_usage,
        include_obfuscation,
        max_tokens: max_completion.or(max_tokens).map(|m| m as u64),
        tools,
        tool_choice,
        parallel_tool_calls,
        format,
        seed,
        logprobs,
        top_logprobs,
        stop,
    })
}

/// `messages`: a non-empty array of checked messages.
fn parse_messages(req: &Map<String, Value>) -> ApiResult<Vec<Value>> {
    let messages = match get(req, "messages") {
        None => return Err(missing("messages")),
        Some(Value::Array(m)) => m.clone(),
        Some(v) => return Err(wrong_type("messages", "an array", v)),
    };
    if messages.is_empty() {
        return Err(invalid(
            "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.",
            "messages",
        )
        .code("empty_array"));
    }
    check_messages(&messages)?;
    Ok(messages)
}

/// The deprecated `functions` and `function_call` are refused.
fn refuse_deprecated(req: &Map<String, Value>) -> ApiResult<()> {
    for key in ["functions", "function_call"] {
        if get(req, key).is_some() {
            return Err(invalid(
                format!("The emulator does not support the deprecated '{key}' parameter: use 'tools' and 'tool_choice'."),
                key,
            )
            .code("unsupported_parameter"));
        }
    }
    Ok(())
}

/// `stream_options` (only with `stream`): (`include_usage`, `include_obfuscation`).
fn parse_stream_options(req: &Map<String, Value>, stream: bool) -> ApiResult<(bool, bool)> {
    match get(req, "stream_options") {
        None => Ok((false, true)),
        Some(_) if !stream => Err(invalid(
            "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
            "stream_options",
        )),
        Some(Value::Object(o)) => {
            let flag = |k: &str, default: bool| -> ApiResult<bool> {
                match o.get(k) {
                    None | Some(Value::Null) => Ok(default),
                    Some(Value::Bool(b)) => Ok(*b),
                    Some(v) => Err(wrong_type(&format!("stream_options.{k}"), "a boolean", v)),
                }
            };
            Ok((
                flag("include_usage", false)?,
                flag("include_obfuscation", true)?,
            ))
        }
        Some(v) => Err(wrong_type("stream_options", "an object", v)),
    }
}

/// `logprobs` and `top_logprobs` (0 to 20, only with `logprobs`).
fn parse_logprobs(req: &Map<String, Value>) -> ApiResult<(bool, u32)> {
    let logprobs = boolean(req, "logprobs")?.unwrap_or(false);
    let top_logprobs = integer(req, "top_logprobs", 0, 20)?;
    if top_logprobs.is_some() && !logprobs {
        return Err(invalid(
            "Invalid value for 'top_logprobs': 'logprobs' must be set to true if 'top_logprobs' is used.",
            "top_logprobs",
        ));
    }
    Ok((logprobs, top_logprobs.unwrap_or(0) as u32))
}

/// The sampling parameters' ranges (the emulator does not sample: they are only checked).
fn check_sampling(req: &Map<String, Value>) -> ApiResult<()> {
    decimal(req, "temperature", 0.0, 2.0)?;
    decimal(req, "top_p", 0.0, 1.0)?;
    decimal(req, "frequency_penalty", -2.0, 2.0)?;
    decimal(req, "presence_penalty", -2.0, 2.0)
}
