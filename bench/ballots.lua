-- wrk script for bench/ballots.py: each wrk thread casts its share of the prepared ballots once.
--
--   wrk -t T -c C -d LIMIT -s bench/ballots.lua URL -- REQUESTS T MARKER WHEN_DONE
--
-- REQUESTS has one ballot per line: "<vote id> <bearer token> <idempotency key> <choice>". Thread i
-- takes lines i, i + T, i + 2T, … When every one of its ballots has been answered, it writes the
-- file MARKER<i> with its counts of answers by status; wrk itself runs until LIMIT, so
-- bench/ballots.py interrupts it once every thread has written its marker. WHEN_DONE says what the
-- thread does meanwhile. "stop": it stops, leaving its idle connections to the server, which a
-- threaded gunicorn worker keeps in its poller at no cost. "linger": its connections send health
-- checks until the end, for gunicorn's sync workers, where a connection that has not sent its
-- request yet holds a worker until the worker's timeout; those checks load the server while the
-- other thread finishes. At the end, the latency percentiles 1 to 100 (microseconds; any trailing
-- health checks included) go to the file named by $YISHI_WRK_PERCENTILES.

local created = 0

function setup(thread)
  thread:set("id", created)
  created = created + 1
end

function init(args)
  local path, count = args[1], tonumber(args[2])
  marker = args[3] .. id
  stop_when_done = args[4] == "stop"
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
        ["Connection"] = "close",  -- a voter's phone sends its one ballot and hangs up
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
    if stop_when_done then wrk.thread:stop() end
  end
end

function done(summary, latency, requests)
  local out = io.open(os.getenv("YISHI_WRK_PERCENTILES"), "w")
  for p = 1, 100 do out:write(p, " ", latency:percentile(p), "\n") end
  out:close()
end
