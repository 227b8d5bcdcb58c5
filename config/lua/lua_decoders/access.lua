-- Access lines "<client> <method> <path> <status> <bytes> <ms>" into fields.
-- [x.config] type: the Type of the decoded messages (default "access").
local msg_type = read_config("type") or "access"

function process_message()
    local line = read_message("Payload")
    local client, method, path, status, bytes, ms =
        string.match(line, "^(%S+) (%u+) (%S+) (%d+) (%d+) (%d+)%s*$")
    if not client then
        return -1, "not an access line"
    end
    inject_message({
        Type = msg_type,
        Payload = line,
        Severity = tonumber(status) >= 500 and 3 or 6,
        Fields = {
            client = {value = client, representation = "ipv4"},
            method = method,
            path = path,
            status = {value = tonumber(status), value_type = 2},
            bytes = {value = tonumber(bytes), value_type = 2, representation = "B"},
            ms = {value = tonumber(ms), value_type = 2, representation = "ms"},
        },
    })
    return 0
end
