//! Heka's plugin type names (Heka 0.10's documentation), so a config error can tell a Heka
//! plugin hekad does not implement yet from a misspelling, and suggest the closest name.

/// Every plugin type Heka 0.10 documents, implemented here or not.
pub const HEKA_PLUGIN_TYPES: &[&str] = &[
    "AMQPInput",
    "DockerEventInput",
    "DockerLogInput",
    "DockerStatsInput",
    "FilePollingInput",
    "HttpInput",
    "HttpListenInput",
    "KafkaInput",
    "LogstreamerInput",
    "ProcessDirectoryInput",
    "ProcessInput",
    "SandboxInput",
    "StatAccumInput",
    "StatsdInput",
    "TcpInput",
    "UdpInput",
    "HekaFramingSplitter",
    "NullSplitter",
    "PatternGroupingSplitter",
    "RegexSplitter",
    "TokenSplitter",
    "GeoIpDecoder",
    "MultiDecoder",
    "PayloadRegexDecoder",
    "PayloadXmlDecoder",
    "ProtobufDecoder",
    "SandboxDecoder",
    "ScribbleDecoder",
    "StatsToFieldsDecoder",
    "CounterFilter",
    "SandboxFilter",
    "SandboxManagerFilter",
    "StatFilter",
    "ESJsonEncoder",
    "ESLogstashV0Encoder",
    "PayloadEncoder",
    "ProtobufEncoder",
    "RstEncoder",
    "SandboxEncoder",
    "AMQPOutput",
    "CarbonOutput",
    "DashboardOutput",
    "ElasticSearchOutput",
    "FileOutput",
    "HttpOutput",
    "IrcOutput",
    "KafkaOutput",
    "LogOutput",
    "NagiosOutput",
    "SandboxOutput",
    "SmtpOutput",
    "TcpOutput",
    "UdpOutput",
    "WhisperOutput",
];

/// Whether `name` is one of Heka's plugin types.
pub fn is_heka_type(name: &str) -> bool {
    HEKA_PLUGIN_TYPES.contains(&name)
}

/// The candidate closest to `name` (case-insensitive edit distance), if it is close enough
/// to be a likely misspelling: at most 2 edits, and at most a quarter of the name.
pub fn closest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let lower = name.to_ascii_lowercase();
    let limit = (name.len() / 4).clamp(1, 2);
    candidates
        .into_iter()
        .map(|c| (strsim::levenshtein(&lower, &c.to_ascii_lowercase()), c))
        .filter(|&(d, _)| d <= limit)
        .min_by_key(|&(d, _)| d)
        .map(|(_, c)| c)
}

/// "; did you mean X?" for the closest of `candidates`, or nothing.
pub fn suggestion<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    closest(name, candidates).map_or_else(String::new, |c| format!("; did you mean {c}?"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_names_only() {
        let heka = HEKA_PLUGIN_TYPES.iter().copied();
        assert_eq!(
            closest("SandboxDecoderX", heka.clone()),
            Some("SandboxDecoder")
        );
        assert_eq!(closest("tcpinput", heka.clone()), Some("TcpInput"));
        assert_eq!(
            closest("LogStreamerInput", heka.clone()),
            Some("LogstreamerInput")
        );
        assert_eq!(closest("UdpInput1", heka.clone()), Some("UdpInput"));
        assert_eq!(closest("FileOutptu", heka.clone()), Some("FileOutput"));
        assert_eq!(closest("WhatOutput", heka.clone()), None);
        assert_eq!(closest("Zz", heka), None);
    }
}
