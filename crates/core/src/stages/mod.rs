//! The stages of a run, one file each, in the order they run:
//! [`load`] → [`check`] → [`base_model`] → [`upload`] → [`job`] → [`deploy`] (Azure) →
//! [`evaluate`] → [`register`]. Each is a small async fn over a [`Run`] (the resolved options,
//! journal, client and context) that returns what the next needs and journals what it did. A
//! stage never imports another: the pipeline passes what one returns to the next.

pub mod base_model;
pub mod check;
pub mod deploy;
pub mod evaluate;
pub mod job;
pub mod load;
pub mod register;
pub mod upload;

use crate::infra::client::Client;
use crate::infra::journal::Journal;
use crate::infra::registry::Registry;
use crate::infra::resolve::Resolved;
use crate::types::progress::RunContext;

/// What every stage of one run works with.
pub struct Run<'a> {
    pub r: &'a Resolved,
    pub registry: &'a Registry,
    pub journal: &'a Journal,
    pub client: &'a Client,
    pub ctx: &'a RunContext,
}
