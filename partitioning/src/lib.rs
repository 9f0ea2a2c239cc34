//! The RustCare partitioning domain. The pure part (everything outside `pg`) does no I/O, never
//! reads the clock (`now` is always a parameter) and builds for wasm32; the sqlx adapters live in
//! `pg`, behind the `postgres` feature.

pub mod access;
pub mod approval;
pub mod calendar;
pub mod catalog;
pub mod compliance;
pub mod config;
pub mod fingerprint;
pub mod health;
pub(crate) mod layout;
pub mod metrics;
pub mod overview;
#[cfg(feature = "postgres")]
pub mod pg;
pub mod planner;
pub mod policy;
pub mod schedule;
pub mod table;
