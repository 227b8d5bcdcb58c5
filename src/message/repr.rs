//! Owned, prost-derived Heka messages (`message.proto`, proto2), wire-compatible with Heka.
//!
//! Proto `string` fields are declared as `bytes` here: that is the same wire encoding, keeps
//! invalid UTF-8 from a log line intact (Go's proto2 does not validate either) and re-encodes
//! byte-identically.

/// One Heka message. Field order and labels follow Heka's `message.proto`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Message {
    /// 16 raw bytes, RFC 4122 v4.
    #[prost(bytes = "vec", required, tag = "1")]
    pub uuid: Vec<u8>,
    /// Nanoseconds since the Unix epoch.
    #[prost(int64, required, tag = "2")]
    pub timestamp: i64,
    #[prost(bytes = "vec", optional, tag = "3")]
    pub r#type: Option<Vec<u8>>,
    #[prost(bytes = "vec", optional, tag = "4")]
    pub logger: Option<Vec<u8>>,
    /// Absent reads as 7 ([`super::DEFAULT_SEVERITY`]).
    #[prost(int32, optional, tag = "5")]
    pub severity: Option<i32>,
    #[prost(bytes = "vec", optional, tag = "6")]
    pub payload: Option<Vec<u8>>,
    #[prost(bytes = "vec", optional, tag = "7")]
    pub env_version: Option<Vec<u8>>,
    #[prost(int32, optional, tag = "8")]
    pub pid: Option<i32>,
    #[prost(bytes = "vec", optional, tag = "9")]
    pub hostname: Option<Vec<u8>>,
    #[prost(message, repeated, tag = "10")]
    pub fields: Vec<Field>,
}

/// A dynamic field: a name and an array of values of one [`ValueType`].
#[derive(Clone, PartialEq, prost::Message)]
pub struct Field {
    #[prost(bytes = "vec", required, tag = "1")]
    pub name: Vec<u8>,
    #[prost(enumeration = "ValueType", optional, tag = "2")]
    pub value_type: Option<i32>,
    #[prost(bytes = "vec", optional, tag = "3")]
    pub representation: Option<Vec<u8>>,
    #[prost(bytes = "vec", repeated, tag = "4")]
    pub value_string: Vec<Vec<u8>>,
    #[prost(bytes = "vec", repeated, tag = "5")]
    pub value_bytes: Vec<Vec<u8>>,
    #[prost(int64, repeated, packed = "true", tag = "6")]
    pub value_integer: Vec<i64>,
    #[prost(double, repeated, packed = "true", tag = "7")]
    pub value_double: Vec<f64>,
    #[prost(bool, repeated, packed = "true", tag = "8")]
    pub value_bool: Vec<bool>,
}

/// Which value array of a [`Field`] is meaningful.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum ValueType {
    String = 0,
    Bytes = 1,
    Integer = 2,
    Double = 3,
    Bool = 4,
}

impl ValueType {
    /// Lowercase name as Heka prints it (RstEncoder, heka-cat).
    pub fn name(self) -> &'static str {
        match self {
            ValueType::String => "string",
            ValueType::Bytes => "bytes",
            ValueType::Integer => "integer",
            ValueType::Double => "double",
            ValueType::Bool => "bool",
        }
    }
}

/// Heka stream framing header (§1.3, §2).
#[derive(Clone, PartialEq, prost::Message)]
pub struct Header {
    #[prost(uint32, required, tag = "1")]
    pub message_length: u32,
    #[prost(enumeration = "HmacHashFunction", optional, tag = "3")]
    pub hmac_hash_function: Option<i32>,
    #[prost(string, optional, tag = "4")]
    pub hmac_signer: Option<String>,
    #[prost(uint32, optional, tag = "5")]
    pub hmac_key_version: Option<u32>,
    #[prost(bytes = "vec", optional, tag = "6")]
    pub hmac: Option<Vec<u8>>,
}

/// Hash used by a frame's HMAC signature.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum HmacHashFunction {
    Md5 = 0,
    Sha1 = 1,
}

impl Field {
    /// A STRING field with one value, the way Go's `NewField` builds it (type and
    /// representation always present on the wire).
    pub fn string(name: &str, value: &[u8], representation: &str) -> Field {
        Field {
            name: name.as_bytes().to_vec(),
            value_type: Some(ValueType::String as i32),
            representation: Some(representation.as_bytes().to_vec()),
            value_string: vec![value.to_vec()],
            ..Default::default()
        }
    }
}
