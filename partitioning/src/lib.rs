//! The RustCare partitioning domain. The pure part (everything outside `pg`) does no I/O, never
//! reads the clock (`now` is always a parameter) and builds for wasm32; the sqlx adapters live in
//! `pg`, behind the `postgres` feature.

pub mod calendar;
pub mod catalog;
pub mod config;
pub mod overview;
#[cfg(feature = "postgres")]
pub mod pg;
pub mod policy;
pub mod table;
