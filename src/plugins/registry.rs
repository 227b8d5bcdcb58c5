//! The one table of plugin types: Heka type name ⇒ constructor and per-type defaults.
//! Adding a plugin means writing its file and adding one line here.

use super::build::BuildContext;
use super::decoders::{self, Decoder};
use super::encoders::{self, Encoder};
use super::filters::{self, Filter};
use super::inputs::{self, Input};
use super::outputs::{self, Output};
use crate::config::common::BufferingConfig;
use crate::config::{ConfigError, PluginSection};
use crate::splitters::{self, Splitter};

type Built<T> = Result<Box<T>, Vec<ConfigError>>;

/// How to build one plugin type, with the defaults Heka gives that type.
pub enum Builder {
    Input {
        build: fn(&BuildContext) -> Built<dyn Input>,
        default_splitter: &'static str,
        default_decoder: Option<&'static str>,
    },
    Splitter(fn(&PluginSection, u32) -> Built<dyn Splitter>),
    Decoder(fn(&BuildContext) -> Built<dyn Decoder>),
    Encoder {
        build: fn(&BuildContext) -> Built<dyn Encoder>,
        /// Outputs that frame protobuf (`frames_protobuf`) frame this encoder's output
        /// unless `use_framing` says otherwise: it writes whole messages.
        writes_messages: bool,
    },
    Filter {
        build: fn(&BuildContext) -> Built<dyn Filter>,
        default_matcher: Option<&'static str>,
        default_ticker: u64,
        /// `can_exit` when the section does not say (SandboxFilter: true, §5.4).
        can_exit: bool,
    },
    Output {
        build: fn(&BuildContext) -> Built<dyn Output>,
        default_encoder: Option<&'static str>,
        /// Whether the output writes through an encoder (`encoder` is required otherwise);
        /// SandboxOutput writes what its script says.
        uses_encoder: bool,
        /// `use_framing` defaults to true when the encoder writes whole messages.
        frames_protobuf: bool,
        /// Holds each message's acknowledgement until its destination confirmed it
        /// (TcpOutput: the peer's TCP ACK), so its disk queue may pass messages from
        /// replayable sources straight through while it keeps up.
        confirms_delivery: bool,
        /// Disk buffering by default, with these settings (TcpOutput, §5.6).
        default_buffering: Option<fn() -> BufferingConfig>,
        /// Accepts `ticker_interval` (SandboxOutput's `timer_event`).
        ticks: bool,
    },
}

/// Every registered plugin type.
pub static PLUGINS: &[(&str, Builder)] = &[
    (
        "TcpInput",
        Builder::Input {
            build: |c| inputs::tcp::build(c.section, c.common_keys, c.globals.dry_run),
            default_splitter: "HekaFramingSplitter",
            default_decoder: Some("ProtobufDecoder"),
        },
    ),
    (
        "AMQPInput",
        Builder::Input {
            build: |c| inputs::amqp::build(c.section, c.common_keys),
            default_splitter: "NullSplitter",
            default_decoder: None,
        },
    ),
    (
        "LogstreamerInput",
        Builder::Input {
            build: |c| inputs::logstreamer::build(c.section, c.common_keys, &c.globals.base_dir),
            default_splitter: "TokenSplitter",
            default_decoder: None,
        },
    ),
    (
        "UdpInput",
        Builder::Input {
            build: |c| inputs::udp::build(c.section, c.common_keys, c.globals.dry_run),
            default_splitter: "NullSplitter",
            default_decoder: None,
        },
    ),
    (
        "FilePollingInput",
        Builder::Input {
            build: |c| inputs::file_polling::build(c.section, c.common_keys),
            default_splitter: "NullSplitter",
            default_decoder: None,
        },
    ),
    (
        "HttpInput",
        Builder::Input {
            build: |c| inputs::http::build(c.section, c.common_keys),
            default_splitter: "NullSplitter",
            default_decoder: None,
        },
    ),
    (
        "HttpListenInput",
        Builder::Input {
            build: |c| inputs::http_listen::build(c.section, c.common_keys, c.globals.dry_run),
            default_splitter: "NullSplitter",
            default_decoder: None,
        },
    ),
    (
        "ProcessInput",
        Builder::Input {
            build: |c| inputs::process::build(c.section, c.common_keys),
            default_splitter: "NullSplitter",
            default_decoder: None,
        },
    ),
    (
        "ProcessDirectoryInput",
        Builder::Input {
            build: |c| {
                inputs::process_directory::build(c.section, c.common_keys, &c.globals.share_dir)
            },
            default_splitter: "NullSplitter",
            default_decoder: None,
        },
    ),
    (
        "StatsdInput",
        Builder::Input {
            build: |c| {
                inputs::statsd::build(c.section, c.common_keys, c.globals.dry_run, |name| {
                    c.stat_sink("stat_accum_name", name)
                })
            },
            default_splitter: "NullSplitter",
            default_decoder: None,
        },
    ),
    (
        "StatAccumInput",
        Builder::Input {
            build: |c| inputs::stat_accum::build(c.section, c.common_keys, c.own_stat_sink()),
            default_splitter: "NullSplitter",
            default_decoder: None,
        },
    ),
    (
        "SystemStatsInput",
        Builder::Input {
            build: |c| inputs::system_stats::build(c.section, c.common_keys),
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
        Builder::Decoder(|c| decoders::protobuf::from_section(c.section)),
    ),
    (
        "PayloadRegexDecoder",
        Builder::Decoder(|c| decoders::payload_regex::from_section(c.section)),
    ),
    (
        "ScribbleDecoder",
        Builder::Decoder(|c| decoders::scribble::from_section(c.section)),
    ),
    (
        "StatsToFieldsDecoder",
        Builder::Decoder(|c| decoders::stats_to_fields::from_section(c.section)),
    ),
    ("MultiDecoder", Builder::Decoder(decoders::multi::build)),
    ("SandboxDecoder", Builder::Decoder(decoders::sandbox::build)),
    (
        "ProtobufEncoder",
        Builder::Encoder {
            build: |c| encoders::protobuf::from_section(c.section),
            writes_messages: true,
        },
    ),
    (
        "PayloadEncoder",
        Builder::Encoder {
            build: |c| encoders::payload::from_section(c.section),
            writes_messages: false,
        },
    ),
    (
        "RstEncoder",
        Builder::Encoder {
            build: |c| encoders::rst::from_section(c.section),
            writes_messages: false,
        },
    ),
    (
        "ESJsonEncoder",
        Builder::Encoder {
            build: |c| encoders::es_json::from_section(c.section),
            writes_messages: false,
        },
    ),
    (
        "InfluxLineEncoder",
        Builder::Encoder {
            build: |c| encoders::influx_line::from_section(c.section),
            writes_messages: false,
        },
    ),
    (
        "SandboxEncoder",
        Builder::Encoder {
            build: encoders::sandbox::build,
            writes_messages: false,
        },
    ),
    (
        "CounterFilter",
        Builder::Filter {
            build: |c| filters::counter::build(c.section, c.common_keys),
            default_matcher: Some(filters::counter::DEFAULT_MATCHER),
            default_ticker: filters::counter::DEFAULT_TICKER_SECONDS,
            can_exit: false,
        },
    ),
    (
        "StatFilter",
        Builder::Filter {
            build: |c| {
                filters::stat::build(c.section, c.common_keys, |name| {
                    c.stat_sink("stat_accum_name", name)
                })
            },
            default_matcher: None,
            default_ticker: 0,
            can_exit: false,
        },
    ),
    (
        "SandboxFilter",
        Builder::Filter {
            build: filters::sandbox::build,
            default_matcher: None,
            default_ticker: 0,
            can_exit: true,
        },
    ),
    (
        "SandboxInput",
        Builder::Input {
            build: inputs::sandbox::build,
            default_splitter: "NullSplitter",
            default_decoder: None,
        },
    ),
    (
        "LogOutput",
        Builder::Output {
            build: |c| outputs::log::build(c.section, c.common_keys),
            default_encoder: None,
            uses_encoder: true,
            frames_protobuf: false,
            confirms_delivery: false,
            default_buffering: None,
            ticks: false,
        },
    ),
    (
        "FileOutput",
        Builder::Output {
            build: |c| outputs::file::build(c.section, c.common_keys),
            default_encoder: None,
            uses_encoder: true,
            frames_protobuf: true,
            confirms_delivery: false,
            default_buffering: None,
            ticks: false,
        },
    ),
    (
        "TcpOutput",
        Builder::Output {
            build: |c| outputs::tcp::build(c.section, c.common_keys),
            default_encoder: Some("ProtobufEncoder"),
            uses_encoder: true,
            frames_protobuf: true,
            confirms_delivery: true,
            default_buffering: Some(outputs::tcp::default_buffering),
            ticks: false,
        },
    ),
    (
        "AMQPOutput",
        Builder::Output {
            build: |c| outputs::amqp::build(c.section, c.common_keys),
            default_encoder: Some("ProtobufEncoder"),
            uses_encoder: true,
            frames_protobuf: true,
            confirms_delivery: true,
            default_buffering: None,
            ticks: false,
        },
    ),
    (
        "CarbonOutput",
        Builder::Output {
            build: |c| outputs::carbon::build(c.section, c.common_keys, c.globals.dry_run),
            default_encoder: None,
            uses_encoder: false,
            frames_protobuf: false,
            confirms_delivery: true,
            default_buffering: None,
            ticks: false,
        },
    ),
    (
        "ElasticSearchOutput",
        Builder::Output {
            build: |c| outputs::elasticsearch::build(c.section, c.common_keys),
            default_encoder: None,
            uses_encoder: true,
            frames_protobuf: false,
            confirms_delivery: true,
            default_buffering: Some(outputs::elasticsearch::default_buffering),
            ticks: false,
        },
    ),
    (
        "HttpOutput",
        Builder::Output {
            build: |c| outputs::http::build(c.section, c.common_keys),
            default_encoder: None,
            uses_encoder: true,
            frames_protobuf: false,
            confirms_delivery: true,
            default_buffering: None,
            ticks: false,
        },
    ),
    (
        "UdpOutput",
        Builder::Output {
            build: |c| outputs::udp::build(c.section, c.common_keys, c.globals.dry_run),
            default_encoder: None,
            uses_encoder: true,
            frames_protobuf: false,
            confirms_delivery: false,
            default_buffering: None,
            ticks: false,
        },
    ),
    (
        "SandboxOutput",
        Builder::Output {
            build: outputs::sandbox::build,
            default_encoder: None,
            uses_encoder: false,
            frames_protobuf: false,
            confirms_delivery: false,
            default_buffering: None,
            ticks: true,
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
