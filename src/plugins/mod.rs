//! Every plugin, one file each, under its kind's folder; [`registry`] maps Heka type names
//! to constructors.

pub mod amqp;
pub mod build;
pub mod decoders;
pub mod encoders;
pub mod filters;
pub mod http;
pub mod inputs;
pub mod outputs;
pub mod registry;
pub mod tls;
