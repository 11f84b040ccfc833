#![deny(clippy::all)]
use napi_derive::napi;

/// The package version.
#[napi]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}
