//! Data only, no I/O: the API's wire types, the options schema, the registry entry, errors,
//! progress events and results. Imports nothing from the rest of the crate.

pub mod api;
pub mod entry;
pub mod error;
pub mod evaluation;
pub mod models;
pub mod options;
pub mod progress;
pub mod redact;
pub mod results;
