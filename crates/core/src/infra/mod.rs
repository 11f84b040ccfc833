//! What talks to the outside world: the API ([`client`], reached through one [`connection`]),
//! the registry store ([`registry`], [`versions`]), the journal of runs in flight
//! ([`journal`]), data sources ([`source`]), the run's resolved options ([`resolve`]) and
//! blocking work off the async threads ([`task`]). Imports the types and calc layers only.

pub mod answers;
pub mod client;
pub mod connection;
pub mod journal;
pub mod registry;
pub mod resolve;
pub mod source;
pub mod task;
pub mod versions;
