//! The fine-tuning pipeline.
