//! Which base models are OpenAI's, and what TaskForce needs to know about a fine-tuned one.
//! The facts live in one table, in the dataset checker (`fine_tune_dataset::model_info`); this
//! module only reads it.

pub use fine_tune_dataset::ModelInfo;

/// What the table knows of an OpenAI model (snapshots and `ft:` models included), or `None`
/// when the name is not an OpenAI model we know.
pub fn family(model: &str) -> Option<ModelInfo> {
    fine_tune_dataset::model_info(model.trim())
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
            family("gpt-4o-mini-2024-07-18").unwrap().family,
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
        assert_eq!(
            family("gpt-4-turbo-2024-04-09").unwrap().max_context_tokens,
            128_000
        );
        assert!(!family("davinci-002").unwrap().supports_tools);
    }
}
