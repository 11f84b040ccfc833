//! The stages of a run, one file each, in the order they run:
//! [`load`] → [`check`] → [`upload`] → [`job`] → [`deploy`] (Azure) → [`register`]. Each is a small async fn over a
//! [`Run`] (the resolved options, journal, client and context) that returns what the next
//! needs and journals what it did.

pub mod check;
pub mod deploy;
pub mod job;
pub mod load;
pub mod register;
pub mod upload;

use crate::client::Client;
use crate::journal::Journal;
use crate::options::Resolved;
use crate::progress::RunContext;
use crate::registry::Registry;

/// What every stage of one run works with.
pub struct Run<'a> {
    pub r: &'a Resolved,
    pub registry: &'a Registry,
    pub journal: &'a Journal,
    pub client: &'a Client,
    pub ctx: &'a RunContext,
}
