//! The graders of an evaluation, each scoring one answer against the reference in [0, 1],
//! with OpenAI's grader semantics where one exists:
//!
//! - `exact`: OpenAI's `string_check` with `eq`: 1 when the answer's final content equals the
//!   reference's content, character for character, else 0.
//! - `contains`: `string_check` with `like`: 1 when the answer's content contains the
//!   reference's content (case-sensitive), else 0.
//! - `json`: 1 when both contents parse as JSON and the values are equal (object key order
//!   ignored), else 0. Only for references whose content is JSON.
//! - `toolCalls`: 1 when the answer calls the same functions as the reference (same names,
//!   order ignored) with JSON-equal arguments, else 0. Only for references with tool calls.
//! - `similarity`: `text_similarity` with `fuzzy_match`, computed as the normalized
//!   Levenshtein ratio `1 - distance / max(len)` over characters (`strsim`), 1 for equal texts.
//! - `judge`: `score_model`: a model reads a rubric, the reference and the answer and returns
//!   `{"result": r}`, r in [0, 1] (see [`judge_messages`]).
//!
//! `exact`, `contains` and `similarity` apply to references with text content; an example a
//! grader does not apply to is left out of that grader's scores.

use serde_json::{json, Value};

/// One grader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grader {
    Exact,
    Contains,
    Json,
    ToolCalls,
    Similarity,
    Judge,
}

impl Grader {
    /// Every grader, by name.
    pub const ALL: [Grader; 6] = [
        Grader::Exact,
        Grader::Contains,
        Grader::Json,
        Grader::ToolCalls,
        Grader::Similarity,
        Grader::Judge,
    ];

    /// Its name in options and reports.
    pub fn name(self) -> &'static str {
        match self {
            Grader::Exact => "exact",
            Grader::Contains => "contains",
            Grader::Json => "json",
            Grader::ToolCalls => "toolCalls",
            Grader::Similarity => "similarity",
            Grader::Judge => "judge",
        }
    }

    /// The grader of a name.
    pub fn parse(name: &str) -> Option<Grader> {
        Grader::ALL.into_iter().find(|g| g.name() == name)
    }

    /// Whether this grader scores examples with this reference.
    pub fn applies(self, reference: &Answer) -> bool {
        match self {
            Grader::ToolCalls => !reference.tool_calls.is_empty(),
            Grader::Json => {
                reference.tool_calls.is_empty()
                    && serde_json::from_str::<Value>(&reference.content).is_ok()
            }
            _ => !reference.content.is_empty(),
        }
    }

    /// The score of `answer` (not for `judge`, which asks a model).
    pub fn score(self, reference: &Answer, answer: &Answer) -> f64 {
        let b = |x: bool| if x { 1.0 } else { 0.0 };
        match self {
            Grader::Exact => b(answer.content == reference.content),
            Grader::Contains => b(answer.content.contains(&reference.content)),
            Grader::Json => b(
                match (
                    serde_json::from_str::<Value>(&reference.content),
                    serde_json::from_str::<Value>(&answer.content),
                ) {
                    (Ok(r), Ok(a)) => r == a,
                    _ => false,
                },
            ),
            Grader::ToolCalls => b(same_calls(&reference.tool_calls, &answer.tool_calls)),
            Grader::Similarity => {
                strsim::normalized_levenshtein(&answer.content, &reference.content)
            }
            Grader::Judge => 0.0,
        }
    }
}

/// A chat message's `content` as text: the string, or its text parts joined (`""` for
/// none).
pub fn content_text(m: &Value) -> String {
    match m.get("content") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(parts)) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join(""),
        _ => String::new(),
    }
}

/// One answer: the final content and the tool calls (name, arguments parsed as JSON, or the
/// raw string when they are not JSON).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Answer {
    pub content: String,
    pub tool_calls: Vec<(String, Value)>,
}

impl Answer {
    /// An assistant message (`content` as a string or text parts, `tool_calls`, or the legacy
    /// `function_call`).
    pub fn from_message(m: &Value) -> Answer {
        let content = content_text(m);
        let call = |f: &Value| {
            let name = f
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            let args = match f.get("arguments") {
                Some(Value::String(s)) => {
                    serde_json::from_str(s).unwrap_or_else(|_| Value::String(s.clone()))
                }
                Some(v) => v.clone(),
                None => Value::Null,
            };
            (name, args)
        };
        let mut tool_calls: Vec<(String, Value)> = m
            .get("tool_calls")
            .and_then(Value::as_array)
            .map(|calls| {
                calls
                    .iter()
                    .filter_map(|c| c.get("function"))
                    .map(call)
                    .collect()
            })
            .unwrap_or_default();
        if let Some(f) = m.get("function_call").filter(|f| f.is_object()) {
            tool_calls.push(call(f));
        }
        Answer {
            content,
            tool_calls,
        }
    }

    /// As JSON for the answers file: `{ content, toolCalls: [{ name, arguments }] }`.
    pub fn to_json(&self) -> Value {
        json!({
            "content": self.content,
            "toolCalls": self.tool_calls.iter().map(|(n, a)| json!({"name": n, "arguments": a})).collect::<Vec<_>>(),
        })
    }

    /// The text a judge reads: the content, then each call as `name(arguments)`.
    pub fn shown(&self) -> String {
        let mut s = self.content.clone();
        for (n, a) in &self.tool_calls {
            if !s.is_empty() {
                s.push('\n');
            }
            s.push_str(&format!("{n}({a})"));
        }
        s
    }
}

fn same_calls(a: &[(String, Value)], b: &[(String, Value)]) -> bool {
    // A multiset match; `Value`'s equality ignores object key order.
    if a.len() != b.len() {
        return false;
    }
    let mut used = vec![false; b.len()];
    a.iter().all(|x| {
        let found = b
            .iter()
            .enumerate()
            .find(|(j, y)| !used[*j] && *y == x)
            .map(|(j, _)| j);
        found.map(|j| used[j] = true).is_some()
    })
}

/// The default rubric of `judge`.
pub const DEFAULT_RUBRIC: &str = "Score how well the answer matches the reference answer in meaning, correctness and form: 1 for an answer as good as the reference, 0 for a wrong or unrelated one.";

/// The messages of a `judge` request, in the shape of OpenAI's `score_model` grader: a
/// developer-style system message with the rubric and the output format, and a user message
/// with the conversation's last user turn, the reference and the answer.
pub fn judge_messages(rubric: &str, question: &str, reference: &Answer, answer: &Answer) -> Value {
    json!([
        {"role": "system", "content": format!(
            "You are a grader. {rubric}\nReturn only a JSON object {{\"result\": <number from 0 to 1>, \"steps\": [<short reasoning steps>]}}."
        )},
        {"role": "user", "content": format!(
            "<question>\n{question}\n</question>\n<reference>\n{}\n</reference>\n<answer>\n{}\n</answer>",
            reference.shown(), answer.shown()
        )},
    ])
}

/// The score in a judge's reply: `result` of a JSON object, else the first number; clamped
/// to [0, 1]. `None` when the reply holds no number.
pub fn parse_judge(reply: &str) -> Option<f64> {
    let from_json = serde_json::from_str::<Value>(reply.trim())
        .ok()
        .and_then(|v| v.get("result").and_then(Value::as_f64));
    let x = from_json.or_else(|| {
        let start = reply.find(|c: char| c.is_ascii_digit())?;
        let end = reply[start..]
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .map_or(reply.len(), |e| start + e);
        reply[start..end].parse().ok()
    })?;
    Some(x.clamp(0.0, 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> Answer {
        Answer {
            content: s.into(),
            tool_calls: vec![],
        }
    }

    #[test]
    fn graders_follow_their_definitions() {
        let r = text("Paris");
        assert_eq!(Grader::Exact.score(&r, &text("Paris")), 1.0);
        assert_eq!(Grader::Exact.score(&r, &text("paris")), 0.0);
        assert_eq!(Grader::Contains.score(&r, &text("It is Paris.")), 1.0);
        assert!((Grader::Similarity.score(&r, &text("Pari")) - 0.8).abs() < 1e-9);
        let j = text(r#"{"a": 1, "b": [2]}"#);
        assert!(Grader::Json.applies(&j));
        assert!(!Grader::Json.applies(&r));
        assert_eq!(Grader::Json.score(&j, &text(r#"{"b":[2],"a":1}"#)), 1.0);
        let call = |name: &str, args: &str| {
            Answer::from_message(&json!({"role": "assistant", "tool_calls": [
                {"id": "x", "type": "function", "function": {"name": name, "arguments": args}}
            ]}))
        };
        let t = call("route", r#"{"queue": "billing", "p": 1}"#);
        assert!(Grader::ToolCalls.applies(&t) && !Grader::Exact.applies(&t));
        assert_eq!(
            Grader::ToolCalls.score(&t, &call("route", r#"{"p":1,"queue":"billing"}"#)),
            1.0
        );
        assert_eq!(
            Grader::ToolCalls.score(&t, &call("route", r#"{"queue":"sales","p":1}"#)),
            0.0
        );
        assert_eq!(Grader::ToolCalls.score(&t, &text("route it")), 0.0);
    }

    #[test]
    fn judge_replies_parse() {
        assert_eq!(parse_judge(r#"{"result": 0.75, "steps": []}"#), Some(0.75));
        assert_eq!(parse_judge("Score: 3"), Some(1.0));
        assert_eq!(parse_judge("no idea"), None);
    }
}
