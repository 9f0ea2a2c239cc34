//! The RustCare partitioning domain. The pure part (everything outside `pg`) does no I/O and builds
//! for wasm32; the sqlx adapters live in `pg`, behind the `postgres` feature.

#[cfg(feature = "postgres")]
pub mod pg;
pub mod overview;
pub mod table;
