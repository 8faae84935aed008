-- wrk script: POST /v1/decide with the request's identity, rotating over
-- 10,000 accounts (the same bodies bench/serve_load.cc sends).
local counter = 0
local headers = { ["Content-Type"] = "application/json" }

request = function()
  local id = counter % 10000
  counter = counter + 1
  local body = string.format(
    '{"account_id":"acct_%d","api_key_id":"key_%d","ip":"10.%d.%d.7","org_id":"org_%d","model":"m-large"}',
    id, id, id % 250, math.floor(id / 250) % 250, id % 97)
  return wrk.format("POST", "/v1/decide", headers, body)
end
