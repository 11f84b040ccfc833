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

/// One training example: the words of its prompt and its last assistant message.
struct Example {
    words: HashSet<String>,
    answer: Value,
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

/// The prompt's text: every non-assistant message's content (the system prompt included).
fn prompt_text(messages: &[Value]) -> String {
    messages
        .iter()
        .filter(|m| m.get("role").and_then(Value::as_str) != Some("assistant"))
        .map(|m| m.get("content").map(text_of).unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n")
}

fn jaccard(a: &HashSet<String>, b: &HashSet<String>) -> f64 {
    if a.is_empty() && b.is_empty() {
        return 0.0;
    }
    let inter = a.iter().filter(|w| b.contains(*w)).count();
    inter as f64 / (a.len() + b.len() - inter) as f64
}

/// splitmix64 of a string: the seeded noise.
fn hash(s: &str) -> u64 {
    let mut z: u64 = 0x9E37_79B9_7F4A_7C15;
    for b in s.bytes() {
        z = (z ^ b as u64).wrapping_mul(0x100_0000_01B3);
    }
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Learned {
    /// Reads a chat-format JSONL training file; lines that are not chat examples are skipped.
    pub fn read(path: &Path) -> Learned {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let examples = text
            .lines()
            .filter_map(|line| {
                let v: Value = serde_json::from_str(line).ok()?;
                let messages = v.get("messages")?.as_array()?;
                let last = messages
                    .iter()
                    .rposition(|m| m.get("role").and_then(Value::as_str) == Some("assistant"))?;
                let answer = messages[last].clone();
                Some(Example {
                    words: words(&prompt_text(&messages[..last])),
                    answer,
                })
            })
            .collect();
        Learned { examples }
    }

    /// The learned answer (an assistant message) to `messages`, if the prompt is close to a
    /// training example.
    pub fn answer(&self, model: &str, messages: &[Value]) -> Option<Value> {
        let prompt = prompt_text(messages);
        let query = words(&prompt);
        let mut best: [(f64, usize); 2] = [(-1.0, usize::MAX); 2];
        for (i, e) in self.examples.iter().enumerate() {
            let s = jaccard(&query, &e.words);
            if s > best[0].0 {
                best[1] = best[0];
                best[0] = (s, i);
            } else if s > best[1].0 {
                best[1] = (s, i);
            }
        }
        if best[0].0 < MATCH_THRESHOLD {
            return None;
        }
        let noisy = (hash(&format!("{model}\n{prompt}")) % 10_000) as f64 / 10_000.0 < NOISE_RATE;
        let pick = if noisy && best[1].1 != usize::MAX {
            best[1].1
        } else {
            best[0].1
        };
        let mut msg = self.examples[pick].answer.clone();
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
            )
            .unwrap();
        assert_eq!(a["tool_calls"][0]["function"]["name"], "refund");
        assert!(l
            .answer(
                "m",
                &[json!({"role": "user", "content": "write a poem about autumn"})]
            )
            .is_none());
    }

    #[test]
    fn judges_by_levenshtein_ratio() {
        let m =
            [json!({"role": "user", "content": "<reference>abc</reference><answer>abc</answer>"})];
        assert_eq!(judge_answer(&m).unwrap(), r#"{"result":1.0,"steps":[]}"#);
    }
}
