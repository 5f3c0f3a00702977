-- wrk script for bench/ballots.py: each wrk thread casts its share of the prepared ballots once.
--
--   wrk -t T -c C -d LIMIT -s bench/ballots.lua URL -- REQUESTS T MARKER
--
-- REQUESTS has one ballot per line: "<vote id> <bearer token> <idempotency key> <choice>". Thread i
-- takes lines i, i + T, i + 2T, … When every one of its ballots has been answered, it writes the
-- file MARKER<i> with its counts of answers by status; wrk itself runs until LIMIT, so
-- bench/ballots.py interrupts it once every thread has written its marker. A thread must not stop
-- before: its connections would stay open, and one that has not sent its request yet holds a
-- gunicorn sync worker until the worker's timeout. At the end, the latency percentiles 1 to 100
-- (microseconds; the few trailing health checks included) go to the file named by
-- $YISHI_WRK_PERCENTILES.

local created = 0

function setup(thread)
  thread:set("id", created)
  created = created + 1
end

function init(args)
  local path, count = args[1], tonumber(args[2])
  marker = args[3] .. id
  health = wrk.format("GET", "/api/health")
  checking = id == 0
  ballots, sent, answered, statuses = {}, 0, 0, {}
  local line_number = 0
  for line in io.lines(path) do
    if line_number % count == id then
      local vote, token, key, choice = line:match("^(%S+) (%S+) (%S+) (%S+)$")
      ballots[#ballots + 1] = wrk.format("POST", "/api/votes/" .. vote .. "/ballots", {
        ["Authorization"] = "Bearer " .. token,
        ["Idempotency-Key"] = key,
        ["Content-Type"] = "application/json",
      }, '{"choice": "' .. choice .. '"}')
    end
    line_number = line_number + 1
  end
end

function request()
  if checking then  -- wrk asks thread 0 for one request to check the script, before any connection
    checking = false
    return ballots[1] or health
  end
  sent = sent + 1
  -- Once this thread's ballots are all sent, a connection that asks for more sends a health check
  -- (a connection that sent nothing would hold a sync worker until its timeout), until wrk is
  -- interrupted. Health checks are answered 200, which no first ballot is.
  return ballots[sent] or health
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  if status ~= 200 then answered = answered + 1 end
  if answered == #ballots then
    local out = io.open(marker, "w")
    for code, n in pairs(statuses) do out:write(code, " ", n, "\n") end
    out:close()
  end
end

function done(summary, latency, requests)
  local out = io.open(os.getenv("YISHI_WRK_PERCENTILES"), "w")
  for p = 1, 100 do out:write(p, " ", latency:percentile(p), "\n") end
  out:close()
end
