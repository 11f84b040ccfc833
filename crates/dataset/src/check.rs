//! The per-line rules. Each line is checked on its own; what spans lines (counts, epochs) is in
//! the engine.

use std::borrow::Cow;

use crate::rules::ROLES;
use crate::tokenize::Counter;
use crate::value::Val;

/// Every issue type, errors first. The snake_case names are the report's `kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(usize)]
pub(crate) enum Kind {
    ByteOrderMark,
    LineTooLong,
    InvalidUtf8,
    InvalidJson,
    DataType,
    UnsupportedFormat,
    MissingMessagesList,
    MessageDataType,
    MessageMissingKey,
    MessageUnrecognizedKey,
    UnrecognizedRole,
    MissingContent,
    ExampleMissingAssistantMessage,
    InvalidWeight,
    InvalidToolCalls,
    InvalidToolCallArguments,
    InvalidFunctionCall,
    UnknownToolCallId,
    InvalidTools,
    InvalidFunctions,
    InvalidParallelToolCalls,
    MissingInputMessages,
    InvalidPreferredOutput,
    InvalidNonPreferredOutput,
    MissingPromptCompletion,
    ExampleTooLong,
    TooFewExamples,
    // warnings
    MissingSystemMessage,
    MissingUserMessage,
    UnrecognizedKey,
    FewExamples,
}

pub(crate) const KIND_COUNT: usize = Kind::FewExamples as usize + 1;

impl Kind {
    pub(crate) const ALL: [Kind; KIND_COUNT] = [
        Kind::ByteOrderMark,
        Kind::LineTooLong,
        Kind::InvalidUtf8,
        Kind::InvalidJson,
        Kind::DataType,
        Kind::UnsupportedFormat,
        Kind::MissingMessagesList,
        Kind::MessageDataType,
        Kind::MessageMissingKey,
        Kind::MessageUnrecognizedKey,
        Kind::UnrecognizedRole,
        Kind::MissingContent,
        Kind::ExampleMissingAssistantMessage,
        Kind::InvalidWeight,
        Kind::InvalidToolCalls,
        Kind::InvalidToolCallArguments,
        Kind::InvalidFunctionCall,
        Kind::UnknownToolCallId,
        Kind::InvalidTools,
        Kind::InvalidFunctions,
        Kind::InvalidParallelToolCalls,
        Kind::MissingInputMessages,
        Kind::InvalidPreferredOutput,
        Kind::InvalidNonPreferredOutput,
        Kind::MissingPromptCompletion,
        Kind::ExampleTooLong,
        Kind::TooFewExamples,
        Kind::MissingSystemMessage,
        Kind::MissingUserMessage,
        Kind::UnrecognizedKey,
        Kind::FewExamples,
    ];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Kind::ByteOrderMark => "byte_order_mark",
            Kind::LineTooLong => "line_too_long",
            Kind::InvalidUtf8 => "invalid_utf8",
            Kind::InvalidJson => "invalid_json",
            Kind::DataType => "data_type",
            Kind::UnsupportedFormat => "unsupported_format",
            Kind::MissingMessagesList => "missing_messages_list",
            Kind::MessageDataType => "message_data_type",
            Kind::MessageMissingKey => "message_missing_key",
            Kind::MessageUnrecognizedKey => "message_unrecognized_key",
            Kind::UnrecognizedRole => "unrecognized_role",
            Kind::MissingContent => "missing_content",
            Kind::ExampleMissingAssistantMessage => "example_missing_assistant_message",
            Kind::InvalidWeight => "invalid_weight",
            Kind::InvalidToolCalls => "invalid_tool_calls",
            Kind::InvalidToolCallArguments => "invalid_tool_call_arguments",
            Kind::InvalidFunctionCall => "invalid_function_call",
            Kind::UnknownToolCallId => "unknown_tool_call_id",
            Kind::InvalidTools => "invalid_tools",
            Kind::InvalidFunctions => "invalid_functions",
            Kind::InvalidParallelToolCalls => "invalid_parallel_tool_calls",
            Kind::MissingInputMessages => "missing_input_messages",
            Kind::InvalidPreferredOutput => "invalid_preferred_output",
            Kind::InvalidNonPreferredOutput => "invalid_non_preferred_output",
            Kind::MissingPromptCompletion => "missing_prompt_completion",
            Kind::ExampleTooLong => "example_too_long",
            Kind::TooFewExamples => "too_few_examples",
            Kind::MissingSystemMessage => "missing_system_message",
            Kind::MissingUserMessage => "missing_user_message",
            Kind::UnrecognizedKey => "unrecognized_key",
            Kind::FewExamples => "few_examples",
        }
    }

    pub(crate) fn is_error(self) -> bool {
        (self as usize) <= Kind::TooFewExamples as usize
    }
}

/// The line format the options ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    Chat,
    Preference,
    Completion,
}

impl Format {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Format::Chat => "chat",
            Format::Preference => "preference",
            Format::Completion => "completion",
        }
    }
}

/// One issue found on a line: its kind, the 1-based message index, the detail text.
#[derive(Debug, Clone)]
pub(crate) struct Found {
    pub kind: Kind,
    pub message: Option<u32>,
    pub detail: String,
}

/// The tokens of one example.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ExampleTokens {
    pub total: u64,
    pub assistant: u64,
}

pub(crate) struct Checker<'c> {
    pub counter: &'c mut Counter,
    pub format: Format,
    pub found: Vec<Found>,
}

fn allowed_keys(role: &str) -> &'static [&'static str] {
    match role {
        "system" | "developer" | "user" => &["role", "content", "name"],
        "assistant" => &[
            "role",
            "content",
            "refusal",
            "name",
            "audio",
            "tool_calls",
            "function_call",
            "weight",
        ],
        "tool" => &["role", "content", "tool_call_id"],
        "function" => &["role", "content", "name"],
        _ => &[],
    }
}

fn is_valid_json(s: &str) -> Result<(), String> {
    serde_json::from_str::<serde::de::IgnoredAny>(s)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

fn valid_function_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Tokens and role flags of a list of messages.
#[derive(Default)]
struct MessagesSummary {
    tokens: ExampleTokens,
    system: bool,
    user: bool,
    assistant: bool,
}

impl Checker<'_> {
    fn add(&mut self, kind: Kind, message: Option<u32>, detail: impl Into<String>) {
        self.found.push(Found {
            kind,
            message,
            detail: detail.into(),
        });
    }

    fn count(&mut self, s: &str) -> u64 {
        self.counter.count(s)
    }

    /// Checks one parsed line; returns its tokens when they could be counted.
    pub(crate) fn check_line(&mut self, v: &Val) -> Option<ExampleTokens> {
        let Some(fields) = v.as_obj() else {
            self.add(
                Kind::DataType,
                None,
                format!("each line must be a JSON object, got {}", v.type_name()),
            );
            return None;
        };
        let has = |k: &str| fields.iter().any(|(key, _)| key == k);
        match self.format {
            Format::Chat => {
                if !has("messages") {
                    if has("prompt") || has("completion") {
                        self.add(Kind::UnsupportedFormat, None, "prompt/completion examples are only accepted by babbage-002 and davinci-002; use a `messages` list");
                        return None;
                    }
                    if has("input") || has("preferred_output") || has("preferred_completion") {
                        self.add(
                            Kind::UnsupportedFormat,
                            None,
                            "a preference (DPO) example, but the method is supervised",
                        );
                        return None;
                    }
                }
                self.check_chat(v, fields)
            }
            Format::Preference => {
                if !has("input") && has("messages") {
                    self.add(Kind::UnsupportedFormat, None, "a chat example, but the method is dpo: expected `input`, `preferred_output` and `non_preferred_output`");
                    return None;
                }
                self.check_preference(v, fields)
            }
            Format::Completion => {
                if has("messages") {
                    self.add(
                        Kind::UnsupportedFormat,
                        None,
                        "a chat example, but babbage-002 and davinci-002 take `prompt`/`completion` examples",
                    );
                    return None;
                }
                self.check_completion(v, fields)
            }
        }
    }

    fn unknown_top_level_keys(&mut self, fields: &[(std::borrow::Cow<str>, Val)], known: &[&str]) {
        for (k, _) in fields {
            if !known.contains(&k.as_ref()) {
                self.add(
                    Kind::UnrecognizedKey,
                    None,
                    format!("unrecognized key `{k}`"),
                );
                break;
            }
        }
    }

    fn check_chat(
        &mut self,
        v: &Val,
        fields: &[(std::borrow::Cow<str>, Val)],
    ) -> Option<ExampleTokens> {
        self.unknown_top_level_keys(
            fields,
            &["messages", "tools", "functions", "parallel_tool_calls"],
        );
        let mut tokens = self.check_tools(v);
        let messages = match v.get("messages") {
            Some(Val::Arr(m)) if !m.is_empty() => m,
            Some(Val::Arr(_)) => {
                self.add(Kind::MissingMessagesList, None, "`messages` is empty");
                return None;
            }
            Some(other) => {
                self.add(
                    Kind::MissingMessagesList,
                    None,
                    format!("`messages` must be a list, got {}", other.type_name()),
                );
                return None;
            }
            None => {
                self.add(Kind::MissingMessagesList, None, "missing `messages` list");
                return None;
            }
        };
        let mut called = Vec::new();
        let s = self.check_messages(messages, 0, true, &mut called);
        if !s.assistant {
            self.add(
                Kind::ExampleMissingAssistantMessage,
                None,
                "no assistant message to train on",
            );
        }
        self.role_warnings(s.system, s.user);
        tokens.total += s.tokens.total + 3;
        tokens.assistant += s.tokens.assistant;
        Some(tokens)
    }

    fn role_warnings(&mut self, system: bool, user: bool) {
        if !system {
            self.add(Kind::MissingSystemMessage, None, "no system message");
        }
        if !user {
            self.add(Kind::MissingUserMessage, None, "no user message");
        }
    }

    fn check_preference(
        &mut self,
        v: &Val,
        fields: &[(std::borrow::Cow<str>, Val)],
    ) -> Option<ExampleTokens> {
        self.unknown_top_level_keys(
            fields,
            &[
                "input",
                "preferred_output",
                "non_preferred_output",
                "preferred_completion",
                "non_preferred_completion",
            ],
        );
        let input = self.preference_input(v);
        let (mut tokens, next_index) = input.unwrap_or_default();
        for (keys, kind) in [
            (
                ["preferred_output", "preferred_completion"],
                Kind::InvalidPreferredOutput,
            ),
            (
                ["non_preferred_output", "non_preferred_completion"],
                Kind::InvalidNonPreferredOutput,
            ),
        ] {
            let value = v.get(keys[0]).or_else(|| v.get(keys[1]));
            if let Some(t) = self.preference_output(value, keys[0], kind, next_index) {
                tokens.total += t.total;
                tokens.assistant += t.assistant;
            }
        }
        input.map(|_| tokens)
    }

    /// A preference example's `input` (tools and messages): its tokens and the number of its
    /// messages, when it has any.
    fn preference_input(&mut self, v: &Val) -> Option<(ExampleTokens, u32)> {
        let Some(input @ Val::Obj(_)) = v.get("input") else {
            self.add(
                Kind::MissingInputMessages,
                None,
                "missing `input` object with a `messages` list",
            );
            return None;
        };
        let mut tokens = self.check_tools(input);
        match input.get("messages") {
            Some(Val::Arr(m)) if !m.is_empty() => {
                let mut called = Vec::new();
                let s = self.check_messages(m, 0, true, &mut called);
                self.role_warnings(s.system, s.user);
                tokens.total += s.tokens.total + 3;
                tokens.assistant += s.tokens.assistant;
                Some((tokens, m.len() as u32))
            }
            _ => {
                self.add(
                    Kind::MissingInputMessages,
                    None,
                    "`input.messages` must be a non-empty list",
                );
                None
            }
        }
    }

    /// One of a preference example's outputs (`key`): a list of one assistant message,
    /// numbered after the input's `next_index` messages; its tokens.
    fn preference_output(
        &mut self,
        value: Option<&Val>,
        key: &str,
        kind: Kind,
        next_index: u32,
    ) -> Option<ExampleTokens> {
        match value {
            Some(Val::Arr(out)) if out.len() == 1 => {
                if out[0].get("role").and_then(Val::as_str) != Some("assistant") {
                    self.add(
                        kind,
                        None,
                        format!("`{key}` must hold one assistant message"),
                    );
                    return None;
                }
                let mut called = Vec::new();
                Some(
                    self.check_messages(out, next_index, false, &mut called)
                        .tokens,
                )
            }
            Some(Val::Arr(out)) => {
                self.add(
                    kind,
                    None,
                    format!(
                        "`{key}` must hold exactly one assistant message, got {}",
                        out.len()
                    ),
                );
                None
            }
            Some(other) => {
                self.add(
                    kind,
                    None,
                    format!(
                        "`{key}` must be a list with one assistant message, got {}",
                        other.type_name()
                    ),
                );
                None
            }
            None => {
                self.add(kind, None, format!("missing `{key}`"));
                None
            }
        }
    }

    fn check_completion(
        &mut self,
        v: &Val,
        fields: &[(std::borrow::Cow<str>, Val)],
    ) -> Option<ExampleTokens> {
        self.unknown_top_level_keys(fields, &["prompt", "completion"]);
        let prompt = v.get("prompt").and_then(Val::as_str);
        let completion = v.get("completion").and_then(Val::as_str);
        match (prompt, completion) {
            (Some(p), Some(c)) => {
                let pt = self.count(p);
                let ct = self.count(c);
                Some(ExampleTokens {
                    total: pt + ct,
                    assistant: ct,
                })
            }
            _ => {
                let which = if prompt.is_none() {
                    "prompt"
                } else {
                    "completion"
                };
                self.add(
                    Kind::MissingPromptCompletion,
                    None,
                    format!("`{which}` must be a string"),
                );
                None
            }
        }
    }

    /// `tools`, `functions`, `parallel_tool_calls` of `holder`; returns the tokens of the
    /// definitions (name, description and the compact JSON of the parameters of each).
    fn check_tools(&mut self, holder: &Val) -> ExampleTokens {
        let mut t = 0u64;
        if let Some(tools) = holder.get("tools") {
            t += self.tools(tools);
        }
        if let Some(functions) = holder.get("functions") {
            t += self.functions(functions);
        }
        if let Some(p) = holder.get("parallel_tool_calls") {
            if !matches!(p, Val::Bool(_)) {
                self.add(
                    Kind::InvalidParallelToolCalls,
                    None,
                    format!(
                        "`parallel_tool_calls` must be a boolean, got {}",
                        p.type_name()
                    ),
                );
            }
        }
        ExampleTokens {
            total: t,
            assistant: 0,
        }
    }

    /// Checks `tools` (function tools); their tokens, up to the first one at fault.
    fn tools(&mut self, tools: &Val) -> u64 {
        let Some(list) = tools.as_arr() else {
            self.add(
                Kind::InvalidTools,
                None,
                format!("`tools` must be a list, got {}", tools.type_name()),
            );
            return 0;
        };
        let mut t = 0;
        for (i, tool) in list.iter().enumerate() {
            let n = i + 1;
            let problem = if tool.get("type").and_then(Val::as_str) != Some("function") {
                format!("tool {n}: `type` must be \"function\"")
            } else {
                match tool.get("function") {
                    Some(f @ Val::Obj(_)) => match self.function_definition(f) {
                        Ok(x) => {
                            t += x;
                            continue;
                        }
                        Err(e) => format!("tool {n}: {e}"),
                    },
                    _ => format!("tool {n}: missing `function` object"),
                }
            };
            self.add(Kind::InvalidTools, None, problem);
            break;
        }
        t
    }

    /// Checks the legacy `functions` (1 to 128 definitions); their tokens, up to the first one
    /// at fault.
    fn functions(&mut self, functions: &Val) -> u64 {
        let mut t = 0;
        match functions.as_arr() {
            Some(list) if !list.is_empty() && list.len() <= 128 => {
                for (i, f) in list.iter().enumerate() {
                    match self.function_definition(f) {
                        Ok(x) => t += x,
                        Err(e) => {
                            self.add(
                                Kind::InvalidFunctions,
                                None,
                                format!("function {}: {e}", i + 1),
                            );
                            break;
                        }
                    }
                }
            }
            _ => self.add(
                Kind::InvalidFunctions,
                None,
                "`functions` must be a list of 1 to 128 function definitions",
            ),
        }
        t
    }

    fn function_definition(&mut self, f: &Val) -> Result<u64, String> {
        if f.as_obj().is_none() {
            return Err(format!("must be an object, got {}", f.type_name()));
        }
        let name = match f.get("name") {
            Some(Val::Str(s)) if valid_function_name(s) => s,
            Some(Val::Str(s)) => {
                return Err(format!(
                    "invalid function name {s:?} (a-z, A-Z, 0-9, _ and -, at most 64)"
                ))
            }
            _ => return Err("missing `function.name`".into()),
        };
        let mut t = self.count(name);
        match f.get("description") {
            None => {}
            Some(Val::Str(d)) => t += self.count(d),
            Some(_) => return Err("`description` must be a string".into()),
        }
        match f.get("parameters") {
            None => {}
            Some(p @ Val::Obj(_)) => {
                let json = serde_json::to_string(p).unwrap_or_default();
                t += self.count(&json);
            }
            Some(_) => return Err("`parameters` must be a JSON Schema object".into()),
        }
        if let Some(s) = f.get("strict") {
            if !matches!(s, Val::Bool(_) | Val::Null) {
                return Err("`strict` must be a boolean".into());
            }
        }
        Ok(t)
    }

    /// Checks a list of messages; `offset` is the number of messages before them in the example
    /// (for 1-based message numbers).
    fn check_messages<'v>(
        &mut self,
        messages: &'v [Val<'v>],
        offset: u32,
        allow_weight: bool,
        called: &mut Vec<&'v str>,
    ) -> MessagesSummary {
        let mut s = MessagesSummary::default();
        for (i, m) in messages.iter().enumerate() {
            let idx = Some(offset + i as u32 + 1);
            self.check_message(m, idx, allow_weight, called, &mut s);
        }
        s
    }

    /// Checks message number `idx`, adding its tokens and roles to `s`.
    fn check_message<'v>(
        &mut self,
        m: &'v Val<'v>,
        idx: Option<u32>,
        allow_weight: bool,
        called: &mut Vec<&'v str>,
        s: &mut MessagesSummary,
    ) {
        let Some(fields) = m.as_obj() else {
            self.add(
                Kind::MessageDataType,
                idx,
                format!("each message must be an object, got {}", m.type_name()),
            );
            return;
        };
        let role = self.role(m, idx);
        let mut t = 3u64;
        let mut assistant_t = 0u64;
        if let Some(role) = role {
            self.check_keys(fields, role, idx);
            match role {
                "system" | "developer" => s.system = true,
                "user" => s.user = true,
                "assistant" => s.assistant = true,
                _ => {}
            }
            t += self.count(role);
        }
        let is_assistant = role == Some("assistant");
        if is_assistant {
            self.check_weight(m, idx, allow_weight);
        }
        t += self.name(m, role, idx);
        let mut has_calls = false;
        if let Some(tc) = m.get("tool_calls") {
            has_calls = true;
            assistant_t += self.tool_calls(tc, idx, called);
        }
        if let Some(fc) = m.get("function_call") {
            if !matches!(fc, Val::Null) {
                has_calls = true;
                assistant_t += self.function_call(fc, idx);
            }
        }
        let content_t = self.content(m, role, has_calls, idx);
        if let Some(Val::Str(r)) = m.get("refusal") {
            assistant_t += self.count(r);
        }
        if role == Some("tool") {
            t += self.tool_answer(m, idx, called);
        }
        if is_assistant {
            assistant_t += content_t;
            s.tokens.assistant += assistant_t;
            t += assistant_t;
        } else {
            t += content_t + assistant_t;
        }
        s.tokens.total += t;
    }

    /// The message's role, when it is one OpenAI knows.
    fn role<'v>(&mut self, m: &'v Val<'v>, idx: Option<u32>) -> Option<&'v str> {
        match m.get("role") {
            None => {
                self.add(Kind::MessageMissingKey, idx, "missing key `role`");
                None
            }
            Some(Val::Str(r)) if ROLES.contains(&r.as_ref()) => Some(r.as_ref()),
            Some(Val::Str(r)) => {
                self.add(
                    Kind::UnrecognizedRole,
                    idx,
                    format!("unrecognized role {r:?}"),
                );
                None
            }
            Some(other) => {
                self.add(
                    Kind::UnrecognizedRole,
                    idx,
                    format!("`role` must be a string, got {}", other.type_name()),
                );
                None
            }
        }
    }

    /// The keys a message of `role` may have (`weight` on assistant messages only).
    fn check_keys(&mut self, fields: &[(Cow<'_, str>, Val<'_>)], role: &str, idx: Option<u32>) {
        let allowed = allowed_keys(role);
        for (k, _) in fields {
            if k == "weight" && role != "assistant" {
                self.add(
                    Kind::InvalidWeight,
                    idx,
                    format!("`weight` is only allowed on assistant messages, not {role}"),
                );
            } else if !allowed.contains(&k.as_ref()) {
                self.add(
                    Kind::MessageUnrecognizedKey,
                    idx,
                    format!("unrecognized key `{k}` in a {role} message"),
                );
            }
        }
    }

    /// An assistant message's `weight`: 0 or 1, and not in preference outputs.
    fn check_weight(&mut self, m: &Val, idx: Option<u32>, allow_weight: bool) {
        let Some(w) = m.get("weight") else { return };
        if !allow_weight {
            self.add(
                Kind::InvalidWeight,
                idx,
                "`weight` is not allowed in preference outputs",
            );
        } else if !matches!(w, Val::Int(0) | Val::Int(1)) {
            self.add(
                Kind::InvalidWeight,
                idx,
                format!(
                    "`weight` must be 0 or 1, got {}",
                    serde_json::to_string(w).unwrap_or_default()
                ),
            );
        }
    }

    /// Checks `name` (required on function messages); returns its tokens.
    fn name(&mut self, m: &Val, role: Option<&str>, idx: Option<u32>) -> u64 {
        match m.get("name") {
            Some(Val::Str(n)) => return self.count(n) + 1,
            Some(other) => self.add(
                Kind::MessageDataType,
                idx,
                format!("`name` must be a string, got {}", other.type_name()),
            ),
            None if role == Some("function") => self.add(
                Kind::MessageMissingKey,
                idx,
                "missing key `name` in a function message",
            ),
            None => {}
        }
        0
    }

    /// Checks a tool message's `tool_call_id` (it answers an earlier call); returns its tokens.
    fn tool_answer(&mut self, m: &Val, idx: Option<u32>, called: &[&str]) -> u64 {
        match m.get("tool_call_id") {
            None => self.add(
                Kind::MessageMissingKey,
                idx,
                "missing key `tool_call_id` in a tool message",
            ),
            Some(Val::Str(id)) => {
                if !called.contains(&id.as_ref()) {
                    self.add(
                        Kind::UnknownToolCallId,
                        idx,
                        format!("tool_call_id {id:?} does not answer an earlier tool call"),
                    );
                }
                return self.count(id);
            }
            Some(other) => self.add(
                Kind::MessageDataType,
                idx,
                format!("`tool_call_id` must be a string, got {}", other.type_name()),
            ),
        }
        0
    }

    /// Checks `content`; returns its tokens.
    fn content(&mut self, m: &Val, role: Option<&str>, has_calls: bool, idx: Option<u32>) -> u64 {
        let assistant = role == Some("assistant");
        match m.get("content") {
            None | Some(Val::Null) => {
                if assistant && !has_calls {
                    self.add(
                        Kind::MessageMissingKey,
                        idx,
                        "an assistant message needs `content`, `tool_calls` or `function_call`",
                    );
                } else if matches!(role, Some("function")) {
                    // content is nullable in function messages
                } else if !assistant && role.is_some() {
                    if m.get("content").is_none() {
                        self.add(Kind::MessageMissingKey, idx, "missing key `content`");
                    } else {
                        self.add(Kind::MissingContent, idx, "`content` is null");
                    }
                }
                0
            }
            Some(Val::Str(c)) => {
                if c.is_empty() && !has_calls {
                    self.add(Kind::MissingContent, idx, "`content` is empty");
                }
                self.count(c)
            }
            Some(Val::Arr(parts)) => self.content_parts(parts, role, idx),
            Some(other) => {
                self.add(
                    Kind::MissingContent,
                    idx,
                    format!(
                        "`content` must be a string or a list of content parts, got {}",
                        other.type_name()
                    ),
                );
                0
            }
        }
    }

    /// Checks a list of content parts (the types `role` may send); returns their tokens, up
    /// to the first part at fault.
    fn content_parts(&mut self, parts: &[Val], role: Option<&str>, idx: Option<u32>) -> u64 {
        if parts.is_empty() {
            self.add(Kind::MissingContent, idx, "`content` is an empty list");
            return 0;
        }
        if role == Some("function") {
            self.add(
                Kind::MissingContent,
                idx,
                "function message content must be a string",
            );
            return 0;
        }
        let allowed: &[&str] = match role {
            Some("user") => &["text", "image_url", "input_audio", "file"],
            Some("assistant") => &["text", "refusal"],
            _ => &["text"],
        };
        let mut t = 0;
        for (j, part) in parts.iter().enumerate() {
            match self.content_part(part, j + 1, allowed, role, idx) {
                Ok(n) => t += n,
                Err(()) => return t,
            }
        }
        t
    }

    /// Checks content part number `n`; its tokens, or `Err` once its issue is added.
    fn content_part(
        &mut self,
        part: &Val,
        n: usize,
        allowed: &[&str],
        role: Option<&str>,
        idx: Option<u32>,
    ) -> Result<u64, ()> {
        let problem = match part.get("type").and_then(Val::as_str) {
            Some(ty) if allowed.contains(&ty) => match ty {
                "text" | "refusal" => match part.get(ty) {
                    Some(Val::Str(s)) => return Ok(self.count(s)),
                    _ => format!("content part {n}: `{ty}` must be a string"),
                },
                // The part holds a value named after its type (`image_url`…).
                _ if part.get(ty).is_none() => format!("content part {n}: missing `{ty}`"),
                _ => return Ok(0),
            },
            Some(ty) => format!(
                "content part {n}: type {ty:?} is not allowed in a {} message",
                role.unwrap_or("")
            ),
            None => format!("content part {n}: missing `type`"),
        };
        self.add(Kind::MissingContent, idx, problem);
        Err(())
    }

    fn tool_calls<'v>(
        &mut self,
        tc: &'v Val<'v>,
        idx: Option<u32>,
        called: &mut Vec<&'v str>,
    ) -> u64 {
        let Some(calls) = tc.as_arr() else {
            self.add(
                Kind::InvalidToolCalls,
                idx,
                format!("`tool_calls` must be a list, got {}", tc.type_name()),
            );
            return 0;
        };
        let mut t = 0;
        for (j, call) in calls.iter().enumerate() {
            let n = j + 1;
            let problem = match call {
                Val::Obj(_) => match (call.get("id"), call.get("type"), call.get("function")) {
                    (Some(Val::Str(id)), Some(Val::Str(ty)), Some(f @ Val::Obj(_))) => {
                        called.push(id);
                        if ty != "function" {
                            Some(format!("`type` must be \"function\", got {ty:?}"))
                        } else {
                            match (f.get("name"), f.get("arguments")) {
                                (Some(Val::Str(name)), Some(Val::Str(args)))
                                    if !name.is_empty() =>
                                {
                                    t += self.count(name) + self.count(args);
                                    if let Err(e) = is_valid_json(args) {
                                        self.add(
                                            Kind::InvalidToolCallArguments,
                                            idx,
                                            format!(
                                                "tool call {n} ({name}): `function.arguments` is not valid JSON: {e}"
                                            ),
                                        );
                                    }
                                    None
                                }
                                (Some(Val::Str(name)), _) if !name.is_empty() => {
                                    Some("`function.arguments` must be a string".to_string())
                                }
                                _ => Some("missing `function.name`".to_string()),
                            }
                        }
                    }
                    (None | Some(Val::Null), _, _) => Some("missing `id`".to_string()),
                    (Some(Val::Str(_)), None, _) => Some("missing `type`".to_string()),
                    (Some(Val::Str(_)), Some(_), None) => Some("missing `function`".to_string()),
                    (Some(Val::Str(_)), Some(Val::Str(_)), Some(_)) => {
                        Some("`function` must be an object".to_string())
                    }
                    (Some(Val::Str(_)), Some(_), Some(_)) => {
                        Some("`type` must be \"function\"".to_string())
                    }
                    (Some(_), _, _) => Some("`id` must be a string".to_string()),
                },
                other => Some(format!("must be an object, got {}", other.type_name())),
            };
            if let Some(p) = problem {
                self.add(Kind::InvalidToolCalls, idx, format!("tool call {n}: {p}"));
            }
        }
        t
    }

    fn function_call(&mut self, fc: &Val, idx: Option<u32>) -> u64 {
        match (fc.get("name"), fc.get("arguments")) {
            (Some(Val::Str(name)), Some(Val::Str(args))) if !name.is_empty() => {
                let t = self.count(name) + self.count(args);
                if let Err(e) = is_valid_json(args) {
                    self.add(
                        Kind::InvalidFunctionCall,
                        idx,
                        format!("`function_call.arguments` is not valid JSON: {e}"),
                    );
                }
                t
            }
            _ => {
                self.add(
                    Kind::InvalidFunctionCall,
                    idx,
                    "`function_call` needs a string `name` and a string `arguments`",
                );
                0
            }
        }
    }
}
