-- wrk script for bench/ballots.py: each wrk thread casts its share of the prepared ballots once.
--
--   wrk -t T -c C -d LIMIT -s bench/ballots.lua URL -- REQUESTS T MARKER WHEN_DONE
--
-- REQUESTS has one ballot per line: "<vote id> <bearer token> <idempotency key> <choice>". Thread i
-- takes lines i, i + T, i + 2T, … When every one of its ballots has been answered, it writes the
-- file MARKER<i> with its counts of answers by status; wrk itself runs until LIMIT, so
-- bench/ballots.py interrupts it once every thread has written its marker. WHEN_DONE says what the
-- thread does once its ballots are sent. "stop": its connections send nothing more, and the
-- thread stops once every answer is in, leaving idle connections that a threaded gunicorn worker
-- keeps in its poller at no cost (health checks there made the end of each load, and the start of
-- the next, a burst of Flask requests and new database connections). "linger": its connections
-- send health checks until the end, for gunicorn's sync workers, where a connection that has not
-- sent its request yet holds a worker until the worker's timeout. At the end, the latency percentiles 1 to 100 (microseconds; any trailing
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
  -- Once this thread's ballots are all sent, a connection that asks for more sends nothing: it
  -- stays open and idle, at no cost to a threaded worker, until the server closes it or wrk stops.
  -- With sync workers ("linger"), where such a connection would hold a worker until its timeout,
  -- it sends a health check instead, until wrk is interrupted; health checks are answered 200,
  -- which no first ballot is.
  return ballots[sent] or (stop_when_done and "" or health)
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
