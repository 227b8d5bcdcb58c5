-- hekad's schema_influx_line encoder (SandboxEncoder): the message as InfluxDB line
-- protocol (InfluxDB 0.9+ HTTP write API), one point per base/dynamic field, one line
-- per point, each ending in "\n". Messages with nothing to write are skipped (-2).
-- Formatting rules: see lua_modules/ts_line_protocol.lua.
--
-- Config:
--   decimal_precision (string, default "6"): digits after the point of every number
--     (numbers are always written as floats: 0.110000).
--   name_prefix (string, default none): prefix of every measurement name; supports
--     `%{...}` interpolation (headers, dynamic fields, strftime at the message time).
--   name_prefix_delimiter (string, default ""): between name_prefix and the field name.
--   skip_fields (string, default none): space separated fields not to write as points;
--     `**all_base**` skips every base field.
--   source_value_field (string, default none): write only this field, as one point
--     named name_prefix.
--   tag_fields (string, default "**all_base**"): space separated fields written as tags
--     of every point; `**all_base**` = Hostname Logger Severity Type, `**all**` = those
--     and every dynamic field.
--   timestamp_precision (string, default "ms"): n, u, ms, s, m or h.
--   value_field_key (string, default "value"): the field key of every point.
--
-- Example: with skip_fields = "**all_base** FilePath NumProcesses Environment
-- TickerInterval", tag_fields = "Hostname Environment", timestamp_precision = "s":
--   5MinAvg,Hostname=myhost,Environment=dev value=0.110000 1434932024

local table = require "table"
local ts_line_protocol = require "ts_line_protocol"

local config = ts_line_protocol.set_config({
    decimal_precision = read_config("decimal_precision"),
    name_prefix = read_config("name_prefix"),
    name_prefix_delimiter = read_config("name_prefix_delimiter"),
    skip_fields = read_config("skip_fields"),
    source_value_field = read_config("source_value_field"),
    tag_fields = read_config("tag_fields"),
    timestamp_precision = read_config("timestamp_precision"),
    value_field_key = read_config("value_field_key"),
})

--- Encodes the current message; -2 (skip) when it has no point to write.
function process_message()
    local lines = ts_line_protocol.influxdb_line_msg(config)
    if #lines == 0 then return -2 end
    inject_payload("txt", "", table.concat(lines, "\n"), "\n")
    return 0
end
