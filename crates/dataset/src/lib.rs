//! Checks fine-tuning training files before anything is uploaded.

mod models;
mod tokenize;

pub use models::{encoding_for_model, model_info, ModelInfo, PRICE_DATE};
pub use tokenize::{count_tokens, for_each_piece, Encoding};
