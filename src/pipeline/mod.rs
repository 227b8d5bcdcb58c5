//! The runtime: packs and their pool, queues, router, plugin runners, reports, shutdown.

pub mod pack;
