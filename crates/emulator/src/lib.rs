//! An OpenAI-compatible fine-tuning API served on 127.0.0.1.
