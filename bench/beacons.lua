-- wrk script for bench/ingest.ts: POSTs realistic pageview beacons from a few client IPs (behind
-- one trusted proxy hop) and, with DELAY_MS set, paces each connection to a fixed request rate.
-- done() prints one JSON line the benchmark reads.
local bodies = {}
local ips = { "81.214.10.20", "81.214.200.7", "2a02:e0::55", "198.51.100.9", "81.214.33.1" }
local delay_ms = tonumber(os.getenv("DELAY_MS") or "0")
local i = 0

function init(args)
  for n = 1, 50 do
    local body = string.format(
      '{"type":"pageview","url":"https://plumber.example.com/services/%d?gclid=Cj0KCQiA%d&utm_source=google&utm_medium=cpc&utm_campaign=emergency","referrer":"https://www.google.com/","visitorId":"v%06d","sessionId":"s%06d","ts":%d,"lang":"tr-TR","screen":{"w":390,"h":844},"props":{"variant":"b"}}',
      n % 7, n, n, n, os.time() * 1000)
    bodies[n] = wrk.format("POST", "/collect", {
      ["Content-Type"] = "text/plain;charset=UTF-8",
      ["User-Agent"] = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
      ["X-Forwarded-For"] = ips[(n % #ips) + 1],
    }, body)
  end
end

function request()
  i = (i % #bodies) + 1
  return bodies[i]
end

if delay_ms > 0 then
  function delay()
    return delay_ms
  end
end

function done(summary, latency, requests)
  io.write(string.format(
    'WRK {"requests":%d,"duration_us":%d,"status_errors":%d,"connect_errors":%d,"read_errors":%d,"write_errors":%d,"timeouts":%d,"p50_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.requests, summary.duration, summary.errors.status, summary.errors.connect, summary.errors.read,
    summary.errors.write, summary.errors.timeout, latency:percentile(50), latency:percentile(99), latency.max))
end
