//! The exported calls other than a run: a run's job ([`job`]: get, cancel, pause, resume),
//! versions of a modelKey ([`versions`]), the registry's reads ([`registry`]), its health
//! ([`doctor`]), an evaluation as a
//! call ([`evaluate`]) and the data check ([`validate`]). Imports types, calc, infra and stages.

pub mod doctor;
pub mod evaluate;
pub mod job;
pub mod registry;
pub mod validate;
pub mod versions;
