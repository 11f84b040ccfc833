//! Checks fine-tuning training files before anything is uploaded.
