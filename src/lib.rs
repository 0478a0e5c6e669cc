//! # clearwater
//!
//! Project Clearwater's IMS core re-imagined as layered Rust library crates.
//! This umbrella crate re-exports each crate behind a cargo feature:
//!
//! | feature | module | crate |
//! |---|---|---|
//! | `sip` (default) | [`sip`] | `clearwater-sip`: SIP message layer, transactions, proxy core |
//! | `runtime` | `sip::runtime` | tokio UDP/TCP/WebSocket transports and the proxy server |
//! | `store` | [`store`] | `clearwater-store`: the `Store` trait, memory, redb, memcached (replicated) and Redis backends |
//! | `diameter` | [`diameter`] | `clearwater-diameter`: RFC 6733 codec, base/Cx/Rf dictionary, Result-Code mapping |
//! | `hss` | [`hss`] | `clearwater-hss`: Milenage/AKA vectors and SQN resync, IMS subscription XML |
//! | `timers` | [`timers`] | `clearwater-timers`: the `TimerService` trait, local timer wheel, Chronos-compatible clustered service |
//!
//! Further crates (transactions and transports, store, timers, HSS, registrar,
//! routing, charging) join as they land; see the repository's README.

#[cfg(feature = "sip")]
pub use clearwater_sip as sip;

#[cfg(feature = "store")]
pub use clearwater_store as store;

#[cfg(feature = "timers")]
pub use clearwater_timers as timers;

#[cfg(feature = "diameter")]
pub use clearwater_diameter as diameter;

#[cfg(feature = "hss")]
pub use clearwater_hss as hss;
