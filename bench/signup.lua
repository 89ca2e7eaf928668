-- wrk script: every request signs up a different address through the form.
counter = 0
local thread_id = 0
local threads = {}

function setup(thread)
  thread:set("tid", thread_id)
  thread_id = thread_id + 1
end

function request()
  counter = counter + 1
  local body = "email=bench" .. tid .. "x" .. counter .. "%40example.org&first_name=Bench&consent=yes"
  return wrk.format("POST", nil, {["Content-Type"] = "application/x-www-form-urlencoded"}, body)
end
