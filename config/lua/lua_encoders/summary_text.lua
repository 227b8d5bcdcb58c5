-- One line of text per status report or heartbeat, for the terminal.
function process_message()
    local msg_type = read_message("Type")
    if msg_type == "heartbeat" then
        add_to_payload("heartbeat ", read_message("Fields[beat]"))
    else
        add_to_payload(os.date("%H:%M:%S ", read_message("Timestamp") / 1e9),
                       read_message("Fields[requests]"), " requests, ",
                       read_message("Fields[slow]"), " slow:")
        while true do
            local _, name, value = read_next_field()
            if not name then break end
            local status = string.match(name, "^status_(%d+)$")
            if status then add_to_payload(" ", status, "=", value) end
        end
    end
    inject_payload("txt", "", "\n")
    return 0
end
