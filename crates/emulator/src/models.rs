//! Which models can be fine-tuned, and how fine-tuned model names are made.

/// Aliases that OpenAI resolves to a dated snapshot when a job is created.
const ALIASES: &[(&str, &str)] = &[
    ("gpt-4o-mini", "gpt-4o-mini-2024-07-18"),
    ("gpt-4o", "gpt-4o-2024-08-06"),
    ("gpt-4.1", "gpt-4.1-2025-04-14"),
    ("gpt-4.1-mini", "gpt-4.1-mini-2025-04-14"),
    ("gpt-4.1-nano", "gpt-4.1-nano-2025-04-14"),
    ("gpt-3.5-turbo", "gpt-3.5-turbo-0125"),
    ("o4-mini", "o4-mini-2025-04-16"),
];

/// Prefixes of fine-tunable snapshots (a prefix rule rather than an exhaustive list).
const PREFIXES: &[&str] = &[
    "gpt-4o-mini-20",
    "gpt-4o-20",
    "gpt-4.1-20",
    "gpt-4.1-mini-20",
    "gpt-4.1-nano-20",
    "gpt-3.5-turbo-",
    "o4-mini-20",
    "gpt-4-0613",
    "davinci-002",
    "babbage-002",
];

/// A model accepted for fine-tuning: the name shown in the job and the base used in the
/// fine-tuned model's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Tunable {
    /// `model` of the job (aliases resolved; `ft:` names kept).
    pub model: String,
    /// The base snapshot (`ft:` names: their base).
    pub base: String,
}

/// Whether a base (non-`ft:`) name is fine-tunable, and its snapshot.
fn base_snapshot(name: &str) -> Option<String> {
    if let Some((_, snap)) = ALIASES.iter().find(|(a, _)| *a == name) {
        return Some(snap.to_string());
    }
    PREFIXES
        .iter()
        .any(|p| name.starts_with(p))
        .then(|| name.to_string())
}

/// Resolves a `model` of `POST /fine_tuning/jobs`; `None`: not available for fine-tuning.
pub(crate) fn resolve(model: &str) -> Option<Tunable> {
    if is_fine_tuned(model) {
        // Continuous fine-tuning: a fine-tuned model as `model` (Azure: facts §3, D-FT).
        let base = base_snapshot(&base_of(model)?)?;
        return Some(Tunable {
            model: model.to_string(),
            base,
        });
    }
    let snap = base_snapshot(model)?;
    Some(Tunable {
        model: snap.clone(),
        base: snap,
    })
}

/// The base models this emulator serves (every alias's snapshot, and the completion models).
pub(crate) fn base_models() -> Vec<String> {
    ALIASES
        .iter()
        .map(|(_, snap)| snap.to_string())
        .chain(["davinci-002".to_string(), "babbage-002".to_string()])
        .collect()
}

/// Whether a model name can be used by `POST /chat/completions` without being a fine-tuned
/// model of this emulator (the base models).
pub(crate) fn is_base_chat_model(model: &str) -> bool {
    !is_fine_tuned(model) && base_snapshot(model).is_some()
}

/// Whether a model id is a fine-tuned model's: OpenAI's `ft:{base}:…`, or Azure's
/// `{base}.ft-{32 hex}` (facts §3).
pub(crate) fn is_fine_tuned(model: &str) -> bool {
    model.starts_with("ft:") || model.contains(".ft-")
}

/// The base named in a fine-tuned model's id (`ft:{base}:…` or `{base}.ft-…`).
pub(crate) fn base_of(model: &str) -> Option<String> {
    if let Some(rest) = model.strip_prefix("ft:") {
        return rest.split(':').next().map(str::to_string);
    }
    model.split_once(".ft-").map(|(base, _)| base.to_string())
}

/// Whether a base model takes prompt/completion examples (the dataset crate's model table).
pub(crate) fn is_completion_model(base: &str) -> bool {
    fine_tune_dataset::model_info(base).is_some_and(|i| i.completion_format)
}

/// `ft:{base}:{org}:{suffix}:{id}`, or `ft:{base}:{org}::{id}` without a suffix (as OpenAI).
pub(crate) fn fine_tuned_name(base: &str, org: &str, suffix: Option<&str>, id: &str) -> String {
    format!("ft:{base}:{org}:{}:{id}", suffix.unwrap_or(""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves() {
        assert_eq!(
            resolve("gpt-4o-mini").unwrap().model,
            "gpt-4o-mini-2024-07-18"
        );
        assert_eq!(
            resolve("gpt-4o-mini-2024-07-18").unwrap().base,
            "gpt-4o-mini-2024-07-18"
        );
        assert_eq!(
            resolve("gpt-4.1-nano-2025-04-14").unwrap().base,
            "gpt-4.1-nano-2025-04-14"
        );
        assert!(resolve("davinci-002").is_some());
        assert!(resolve("gpt-5-unknown").is_none());
        assert!(resolve("whisper-1").is_none());
        let ft = resolve("ft:gpt-4o-mini-2024-07-18:org::abc").unwrap();
        assert_eq!(ft.base, "gpt-4o-mini-2024-07-18");
        assert!(resolve("ft:nope:org::abc").is_none());
        let azure = resolve("gpt-4.1-mini-2025-04-14.ft-b044a9d3cf9c4228b5d393567f693b83").unwrap();
        assert_eq!(azure.base, "gpt-4.1-mini-2025-04-14");
        assert!(!is_base_chat_model(
            "gpt-4o-mini-2024-07-18.ft-0e208cf33a6a466994aff31a08aba678"
        ));
        assert!(is_base_chat_model("gpt-4o-mini-2024-07-18"));
        assert_eq!(base_of("ft:b:o::x").as_deref(), Some("b"));
        assert_eq!(base_of("gpt-4o.ft-1").as_deref(), Some("gpt-4o"));
        assert_eq!(base_of("gpt-4o"), None);
        assert_eq!(fine_tuned_name("b", "o", None, "x"), "ft:b:o::x");
        assert_eq!(fine_tuned_name("b", "o", Some("s"), "x"), "ft:b:o:s:x");
    }
}
