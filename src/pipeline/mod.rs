//! The runtime: packs and their pool, per-core executors, the router, plugin runners,
//! counters and shutdown. See `docs/ARCHITECTURE.md`.

pub mod ack;
pub mod deadline;
pub mod executors;
pub mod inbox;
pub mod inject;
pub mod local_executor;
pub mod pack;
pub mod pool;
pub mod queue;
pub mod ring;
pub mod router;
pub mod shutdown;
pub mod signals;
pub mod stats;
pub mod supervise;
pub mod ticker;
