-- Appends slow requests to a file, batched each ticker_interval.
-- [x.config] path: the file.
local path = read_config("path") or "/tmp/hekad/slow.log"
local pending = {}

function process_message()
    pending[#pending + 1] = string.format("%s %s %s %dms",
        os.date("!%Y-%m-%dT%H:%M:%SZ", read_message("Timestamp") / 1e9),
        read_message("Fields[method]"), read_message("Fields[path]"), read_message("Fields[ms]"))
    return 0
end

function timer_event(ns)
    if #pending == 0 then
        return
    end
    local file, err = io.open(path, "a")
    if not file then
        error(err)
    end
    file:write(table.concat(pending, "\n"), "\n")
    file:close()
    pending = {}
end
