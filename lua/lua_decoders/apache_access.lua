-- Apache access log decoder (hekad's version of Heka's lua_decoders/apache_access.lua).
-- Parses the Payload with a grammar built once from the Apache `LogFormat` directive; the
-- format directives are mapped onto nginx variable names (%h -> remote_addr, %>s -> status,
-- %{User-Agent}i -> http_user_agent, ...) so web filters work with either server. %t
-- (or %{format}t) becomes the Timestamp (ns). Field types: see common_log_format.
--
-- Config:
--   log_format (string, required)        the apache2.conf `LogFormat` string, e.g.
--                                         '%h %l %u %t \"%r\" %>s %O \"%{Referer}i\" \"%{User-Agent}i\"'
--   type (string, default nil)            message Type (nil: keep the input's Type)
--   user_agent_transform (bool, false)    replace http_user_agent by user_agent_browser,
--                                         user_agent_version and user_agent_os
--   user_agent_keep (bool, false)         always keep http_user_agent when transforming
--   user_agent_conditional (bool, false)  keep http_user_agent only if the transform fails
--   payload_keep (bool, false)            keep the log line as the message Payload
local clf = require "common_log_format"

local grammar = clf.build_apache_grammar(read_config("log_format"))
local msg_type = read_config("type")
local ua_transform = read_config("user_agent_transform")
local ua_keep = read_config("user_agent_keep")
local ua_conditional = read_config("user_agent_conditional")
local payload_keep = read_config("payload_keep")

-- Replaces http_user_agent by its normalised parts (as configured).
local function transform_user_agent(fields)
    local ua = fields.http_user_agent
    if not ua then return end
    local browser, version, os = clf.normalize_user_agent(ua)
    fields.user_agent_browser = browser
    fields.user_agent_version = version
    fields.user_agent_os = os
    if not ua_keep and not (ua_conditional and not browser) then
        fields.http_user_agent = nil
    end
end

function process_message()
    local line = read_message("Payload")
    local fields = line and grammar:match(line)
    if not fields then return -1, "apache access log line does not match the log_format" end
    local msg = { Type = msg_type, Timestamp = fields.time, Fields = fields }
    fields.time = nil
    if payload_keep then msg.Payload = line end
    if ua_transform then transform_user_agent(fields) end
    inject_message(msg)
    return 0
end
