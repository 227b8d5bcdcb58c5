-- hekad's schema_carbon_line encoder (SandboxEncoder): the message's numeric fields as
-- Graphite/Carbon plaintext lines, `<path> <value> <unix seconds>\n` each. Numbers print
-- as Lua 5.1 prints them (0.12, 11), booleans as 1/0; string and bytes fields are left
-- out. Messages with nothing to write are skipped (-2). Formatting rules: see
-- lua_modules/ts_line_protocol.lua.
--
-- Config:
--   name_prefix (string, default none): prefix of every metric path; supports `%{...}`
--     interpolation (headers, dynamic fields, strftime at the message time).
--   name_prefix_delimiter (string, default "."): between name_prefix and the field name.
--   skip_fields (string, default none): space separated fields not to write;
--     `**all_base**` skips every base field.
--   source_value_field (string, default none): write only this field, as one line whose
--     path is name_prefix.
--
-- Example: with name_prefix = "%{Environment}.%{Hostname}.%{Type}" and skip_fields =
-- "**all_base** FilePath NumProcesses Environment TickerInterval":
--   dev.myhost.stats.loadavg.1MinAvg 0.12 1434932023

local table = require "table"
local ts_line_protocol = require "ts_line_protocol"

local config = ts_line_protocol.set_config({
    name_prefix = read_config("name_prefix"),
    name_prefix_delimiter = read_config("name_prefix_delimiter") or ".",
    skip_fields = read_config("skip_fields"),
    source_value_field = read_config("source_value_field"),
    tag_fields = "", -- Carbon has no tags
})

--- Encodes the current message; -2 (skip) when it has no numeric field to write.
function process_message()
    local lines = ts_line_protocol.carbon_line_msg(config)
    if #lines == 0 then return -2 end
    inject_payload("txt", "", table.concat(lines, "\n"), "\n")
    return 0
end
