//! The one table of plugin types: Heka type name ⇒ constructor and per-type defaults.
//! Adding a plugin means writing its file and adding one line here.

use super::decoders::{self, Decoder};
use super::encoders::{self, Encoder};
use super::filters::{self, Filter};
use super::inputs::{self, Input};
use super::outputs::{self, Output};
use super::splitters::{self, Splitter};
use crate::config::{ConfigError, PluginSection};

type Built<T> = Result<Box<T>, Vec<ConfigError>>;

/// How to build one plugin type, with the defaults Heka gives that type.
pub enum Builder {
    Input {
        build: fn(&PluginSection, &[&str]) -> Built<dyn Input>,
        default_splitter: &'static str,
        default_decoder: Option<&'static str>,
    },
    Splitter(fn(&PluginSection, u32) -> Built<dyn Splitter>),
    /// Decoders other than MultiDecoder (which the assembler builds from its subs).
    Decoder(fn(&PluginSection) -> Built<dyn Decoder>),
    MultiDecoder,
    Encoder(fn(&PluginSection) -> Built<dyn Encoder>),
    Filter {
        build: fn(&PluginSection, &[&str]) -> Built<dyn Filter>,
        default_matcher: Option<&'static str>,
        default_ticker: u64,
    },
    Output {
        build: fn(&PluginSection, &[&str]) -> Built<dyn Output>,
        default_encoder: Option<&'static str>,
        /// `use_framing` defaults to true when the encoder is ProtobufEncoder.
        frames_protobuf: bool,
        /// Holds each message's acknowledgement until its destination confirmed it
        /// (TcpOutput: the peer's TCP ACK), so its disk queue may pass messages from
        /// replayable sources straight through while it keeps up.
        confirms_delivery: bool,
    },
}

/// Every registered plugin type.
pub static PLUGINS: &[(&str, Builder)] = &[
    (
        "TcpInput",
        Builder::Input {
            build: inputs::tcp::build,
            default_splitter: "HekaFramingSplitter",
            default_decoder: Some("ProtobufDecoder"),
        },
    ),
    (
        "LogstreamerInput",
        Builder::Input {
            build: inputs::logstreamer::build,
            default_splitter: "TokenSplitter",
            default_decoder: None,
        },
    ),
    (
        "UdpInput",
        Builder::Input {
            build: inputs::udp::build,
            default_splitter: "NullSplitter",
            default_decoder: None,
        },
    ),
    (
        "HekaFramingSplitter",
        Builder::Splitter(splitters::heka_framing::from_section),
    ),
    (
        "TokenSplitter",
        Builder::Splitter(splitters::token::from_section),
    ),
    (
        "RegexSplitter",
        Builder::Splitter(splitters::regex::from_section),
    ),
    (
        "PatternGroupingSplitter",
        Builder::Splitter(splitters::pattern_grouping::from_section),
    ),
    (
        "NullSplitter",
        Builder::Splitter(splitters::null::from_section),
    ),
    (
        "ProtobufDecoder",
        Builder::Decoder(decoders::protobuf::from_section),
    ),
    (
        "PayloadRegexDecoder",
        Builder::Decoder(decoders::payload_regex::from_section),
    ),
    (
        "ScribbleDecoder",
        Builder::Decoder(decoders::scribble::from_section),
    ),
    ("MultiDecoder", Builder::MultiDecoder),
    (
        "ProtobufEncoder",
        Builder::Encoder(encoders::protobuf::from_section),
    ),
    (
        "PayloadEncoder",
        Builder::Encoder(encoders::payload::from_section),
    ),
    ("RstEncoder", Builder::Encoder(encoders::rst::from_section)),
    (
        "CounterFilter",
        Builder::Filter {
            build: filters::counter::build,
            default_matcher: Some(filters::counter::DEFAULT_MATCHER),
            default_ticker: filters::counter::DEFAULT_TICKER_SECONDS,
        },
    ),
    (
        "LogOutput",
        Builder::Output {
            build: outputs::log::build,
            default_encoder: None,
            frames_protobuf: false,
            confirms_delivery: false,
        },
    ),
    (
        "FileOutput",
        Builder::Output {
            build: outputs::file::build,
            default_encoder: None,
            frames_protobuf: true,
            confirms_delivery: false,
        },
    ),
    (
        "TcpOutput",
        Builder::Output {
            build: outputs::tcp::build,
            default_encoder: Some("ProtobufEncoder"),
            frames_protobuf: true,
            confirms_delivery: true,
        },
    ),
    (
        "UdpOutput",
        Builder::Output {
            build: outputs::udp::build,
            default_encoder: None,
            frames_protobuf: false,
            confirms_delivery: false,
        },
    ),
];

/// Sections that exist even when the config does not declare them (§4.4).
pub const ALWAYS_REGISTERED: &[&str] = &[
    "ProtobufDecoder",
    "ProtobufEncoder",
    "TokenSplitter",
    "PatternGroupingSplitter",
    "HekaFramingSplitter",
    "NullSplitter",
];

/// The builder for a type name.
pub fn lookup(type_name: &str) -> Option<&'static Builder> {
    PLUGINS
        .iter()
        .find(|(name, _)| *name == type_name)
        .map(|(_, b)| b)
}
