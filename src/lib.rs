//! A fast, bounded session cache for Vendure. Everything but `binding` is plain Rust and knows
//! nothing of N-API.

pub mod binding;
pub mod counters;
pub mod duration;
pub mod expiry;
pub mod generation;
pub mod policy;
pub mod presence;
pub mod redis;
pub mod registry;
pub mod shared_tier;
pub mod store;
pub mod sweeper;
pub mod time;
