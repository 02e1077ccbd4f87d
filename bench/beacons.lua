-- wrk script for bench/ingest.ts and bench/server-memory.ts: POSTs the tracker's pageview beacons
-- (bench/beacons.ts) from a few client IPs (behind one trusted proxy hop) and, with DELAY_MS set,
-- paces each connection: it waits that long on average after each answer.
-- done() prints one JSON line the benchmark reads.
local bodies = {}
local delay_ms = tonumber(os.getenv("DELAY_MS") or "0")
local i = 0

-- BEACONS names the file bench/beacons.ts writes: one "ip<TAB>body" a line.
function init(args)
  for line in io.lines(os.getenv("BEACONS")) do
    local tab = line:find("\t", 1, true)
    bodies[#bodies + 1] = wrk.format("POST", "/collect", {
      ["Content-Type"] = "text/plain;charset=UTF-8",
      ["User-Agent"] = os.getenv("BEACON_AGENT"),
      ["X-Forwarded-For"] = line:sub(1, tab - 1),
    }, line:sub(tab + 1))
  end
end

function request()
  i = (i % #bodies) + 1
  return bodies[i]
end

-- PACING=exponential (the default): each wait is drawn from an exponential distribution of mean
-- DELAY_MS, as independent visitors arrive (a Poisson stream). PACING=fixed: every wait is DELAY_MS;
-- the connections then fall in step with a server that answers a turn's requests together.
if delay_ms > 0 then
  if os.getenv("PACING") == "fixed" then
    function delay()
      return delay_ms
    end
  else
    function delay()
      return math.floor(-delay_ms * math.log(1 - math.random()) + 0.5) -- wrk takes whole ms
    end
  end
end

function done(summary, latency, requests)
  io.write(string.format(
    'WRK {"requests":%d,"duration_us":%d,"status_errors":%d,"connect_errors":%d,"read_errors":%d,"write_errors":%d,"timeouts":%d,"p50_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.requests, summary.duration, summary.errors.status, summary.errors.connect, summary.errors.read,
    summary.errors.write, summary.errors.timeout, latency:percentile(50), latency:percentile(99), latency.max))
end
