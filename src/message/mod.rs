//! Heka's protobuf `Message` (spec §1) in three shapes:
//! - [`repr`]: owned prost structs, for building and inspecting messages off the hot path;
//! - [`view`]: a validated, zero-copy view over encoded bytes, for routing and matching;
//! - [`writer`]: an allocation-free encoder that writes fields straight into a reused buffer.
//!
//! All three produce and accept the same wire format as Heka's Go code (gogo-protobuf).

pub mod record;
pub mod repr;
pub mod rewrite;
pub mod uuid;
pub mod view;
pub mod wire;
pub mod writer;

pub use repr::{Field, Header, HmacHashFunction, Message, ValueType};
pub use view::{FieldView, MessageView, ScannedMessage, Value};
pub use writer::MessageWriter;

/// Default severity of a message that does not carry one (syslog "debug").
pub const DEFAULT_SEVERITY: i32 = 7;
