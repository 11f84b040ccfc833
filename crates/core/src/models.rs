//! Which base models are OpenAI's, and what TaskForce needs to know about a fine-tuned one.
//!
//! One table: a model family (by name prefix), whether its chat models take tools, and the
//! context window the fine-tuned model serves. The longest matching prefix wins.

/// What the registry records about a model family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModelFamily {
    /// Name prefix, e.g. `gpt-4o-mini`.
    pub prefix: &'static str,
    /// Whether the model takes `tools` (function calling).
    pub supports_tools: bool,
    /// The model's context window in tokens, as served.
    pub max_context_tokens: u32,
}

const FAMILIES: &[ModelFamily] = &[
    fam("gpt-4.1-nano", true, 1_047_576),
    fam("gpt-4.1-mini", true, 1_047_576),
    fam("gpt-4.1", true, 1_047_576),
    fam("gpt-4o-mini", true, 128_000),
    fam("gpt-4o", true, 128_000),
    fam("gpt-4-turbo", true, 128_000),
    fam("gpt-4-0613", true, 8_192),
    fam("gpt-4", true, 8_192),
    fam("gpt-3.5-turbo-0613", true, 4_096),
    fam("gpt-3.5-turbo", true, 16_385),
    fam("o4-mini", true, 200_000),
    fam("o3-mini", true, 200_000),
    fam("o3", true, 200_000),
    fam("o1-mini", false, 128_000),
    fam("o1", true, 200_000),
    fam("gpt-5-nano", true, 400_000),
    fam("gpt-5-mini", true, 400_000),
    fam("gpt-5", true, 400_000),
    fam("davinci-002", false, 16_384),
    fam("babbage-002", false, 16_384),
];

const fn fam(prefix: &'static str, supports_tools: bool, max_context_tokens: u32) -> ModelFamily {
    ModelFamily {
        prefix,
        supports_tools,
        max_context_tokens,
    }
}

/// The base model name behind `ft:` names: `ft:gpt-4o-mini-2024-07-18:org::id` gives `gpt-4o-mini-2024-07-18`.
pub fn base_of(model: &str) -> &str {
    match model.strip_prefix("ft:") {
        Some(rest) => rest.split(':').next().unwrap_or(rest),
        None => model,
    }
}

/// The family of an OpenAI model (snapshots and `ft:` models included), or `None` when the
/// name is not an OpenAI model we know.
pub fn family(model: &str) -> Option<&'static ModelFamily> {
    let base = base_of(model.trim());
    FAMILIES
        .iter()
        .filter(|f| {
            base == f.prefix
                || base
                    .strip_prefix(f.prefix)
                    .is_some_and(|rest| rest.starts_with('-'))
        })
        .max_by_key(|f| f.prefix.len())
}

/// Whether `model` is an OpenAI model this library can fine-tune (or a fine-tuned one).
pub fn is_openai_model(model: &str) -> bool {
    family(model).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshots_and_ft_models_are_openai() {
        for m in [
            "gpt-3.5-turbo",
            "gpt-3.5-turbo-0125",
            "gpt-4o-mini-2024-07-18",
            "gpt-4.1-2025-04-14",
            "gpt-4.1-mini",
            "davinci-002",
            "ft:gpt-4o-mini-2024-07-18:acme:writer:abc123",
        ] {
            assert!(is_openai_model(m), "{m}");
        }
    }

    #[test]
    fn other_vendors_are_not() {
        for m in [
            "claude-3-haiku",
            "meta-llama/Llama-3-8b",
            "gemini-1.5-pro",
            "gpt-4ofoo",
            "mistral-large",
            "",
        ] {
            assert!(!is_openai_model(m), "{m}");
        }
    }

    #[test]
    fn longest_prefix_wins() {
        assert_eq!(
            family("gpt-4o-mini-2024-07-18").unwrap().prefix,
            "gpt-4o-mini"
        );
        assert_eq!(
            family("gpt-4o-2024-08-06").unwrap().max_context_tokens,
            128_000
        );
        assert_eq!(
            family("gpt-3.5-turbo-0125").unwrap().max_context_tokens,
            16_385
        );
        assert!(!family("davinci-002").unwrap().supports_tools);
    }
}
