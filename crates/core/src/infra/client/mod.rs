//! The one request path to the API ([`transport`]: auth, retries, error mapping) and its
//! resources, one file each: [`files`], [`uploads`], [`jobs`], [`models`], [`chat`], and Azure's
//! control plane ([`arm`]); lists are read page by page in `pages`.

pub mod arm;
pub mod chat;
pub mod files;
pub mod jobs;
pub mod models;
mod pages;
pub mod transport;
pub mod uploads;

pub use jobs::{pick_job, KeyedJob, IDEMPOTENCY_KEY};
pub use transport::{api_error, Client, SentFn};
