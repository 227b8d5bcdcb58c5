-- Nginx error log decoder (hekad's version of Heka's lua_decoders/nginx_error.lua).
-- Parses a line of nginx's fixed error log format
--   2014/01/10 07:04:56 [notice] 16842#0: *8878 using inherited sockets from "6;"
-- into a message with Type "nginx.error", Timestamp (ns), Severity (emerg 0 .. debug 7),
-- Pid, Payload (the message text) and Fields tid and connection (numbers; connection only
-- when the line has "*N ").
--
-- Config:
--   tz (string, default "UTC")  IANA zone of the logged local times. The grammar reads
--                               the time as UTC; hekad's SandboxDecoder reinterprets the
--                               produced Timestamp in this zone (as Heka did on the Go
--                               side), so the script itself does not read it.
local clf = require "common_log_format"

local grammar = clf.nginx_error_grammar

function process_message()
    local line = read_message("Payload")
    local fields = line and grammar:match(line)
    if not fields then return -1, "not an nginx error log line" end
    local msg = {
        Type = "nginx.error",
        Timestamp = fields.time,
        Severity = fields.severity,
        Pid = fields.pid,
        Payload = fields.msg,
        Fields = { tid = fields.tid, connection = fields.connection },
    }
    inject_message(msg)
    return 0
end
