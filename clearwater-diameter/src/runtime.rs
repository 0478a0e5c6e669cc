//! The tokio TCP driver (feature `runtime`).
