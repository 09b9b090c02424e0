-- One wrk script for every load shape of scripts/bench.sh.
--   BENCH_METHOD / BENCH_BODY: the request (default GET, no body); a body is sent as JSON.
--   BENCH_COUNT_STATUS=1: count 2xx, 503 and other answers per thread (costs a little per
--   response, so only the login shapes ask for it).
-- At the end it prints one line, "BENCH_JSON {...}", that the harness parses.

wrk.method = os.getenv("BENCH_METHOD") or "GET"
local body = os.getenv("BENCH_BODY")
if body and body ~= "" then
  wrk.body = body
  wrk.headers["Content-Type"] = "application/json"
end

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  ok, busy, other = 0, 0, 0
end

if os.getenv("BENCH_COUNT_STATUS") == "1" then
  function response(status, headers, body)
    if status >= 200 and status < 300 then
      ok = ok + 1
    elseif status == 503 then
      busy = busy + 1
    else
      other = other + 1
    end
  end
end

function done(summary, latency, requests)
  local ok_total, busy_total, other_total = 0, 0, 0
  for _, thread in ipairs(threads) do
    ok_total = ok_total + (thread:get("ok") or 0)
    busy_total = busy_total + (thread:get("busy") or 0)
    other_total = other_total + (thread:get("other") or 0)
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "duration_us": %d, "connect_errors": %d, "read_errors": %d, ' ..
    '"write_errors": %d, "status_errors": %d, "timeouts": %d, "ok": %d, "busy": %d, "other": %d, ' ..
    '"p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d, "mean_us": %.1f}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    ok_total, busy_total, other_total,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end
