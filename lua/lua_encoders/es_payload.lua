-- hekad's es_payload encoder (SandboxEncoder): prepends the ElasticSearch bulk API index
-- line to the message Payload (which should already be a JSON document):
--   {"index":{"_index":"mylogger-2014.06.05","_type":"mytype-host.domain.com"}}\n
--   <Payload>\n
-- (no second newline when the Payload already ends with one).
--
-- Config (all support `%{...}` interpolation: headers, dynamic fields, strftime):
--   index (string, default "heka-%{%Y.%m.%d}"): the _index (lowercased).
--   type_name (string, default "message"): the _type.
--   id (string, default none): the _id, left out when not set.
--   es_index_from_timestamp (bool, default false): strftime codes use the message
--     Timestamp instead of the current time.

local elasticsearch = require "elasticsearch"
local string = require "string"

local index = read_config("index") or "heka-%{%Y.%m.%d}"
local type_name = read_config("type_name") or "message"
local id = read_config("id")
local from_timestamp = read_config("es_index_from_timestamp") == true

--- Encodes the current message as an index action line and its Payload.
function process_message()
    local ns
    if from_timestamp then ns = read_message("Timestamp") end
    local payload = read_message("Payload") or ""
    local newline = "\n"
    if string.sub(payload, -1) == "\n" then newline = "" end
    inject_payload("txt", "",
        elasticsearch.bulkapi_index_json(index, type_name, id, ns), "\n", payload, newline)
    return 0
end
