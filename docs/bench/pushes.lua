-- wrk script for docs/bench/run-all.sh: POSTs distinct pre-sealed safe-mode pushes.
--
-- PUSHES names a file written by `fapiao-bench pushes`: one push a line, its query string and
-- body separated by a tab. Thread i of n sends lines i, i+n, i+2n, … and starts over at the end
-- of its share (a re-send, as Weixin's retries are). At the end it prints one line,
--   RESULT requests=… distinct=… non2xx=… errors=… rps=… p50_ms=… p99_ms=… max_ms=…
-- where distinct counts the lines sent at least once, for the receiver's row count.

local threads = {}
local counter = 0

function setup(thread)
  thread:set("index", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  local n = tonumber(os.getenv("THREADS") or "1")
  local path = os.getenv("CALLBACK_PATH") or "/weixin/callback"
  requests_ = {}
  local line_no = 0
  for line in io.lines(os.getenv("PUSHES")) do
    if line_no % n == index then
      local tab = line:find("\t", 1, true)
      requests_[#requests_ + 1] = wrk.format(
        "POST", path .. "?" .. line:sub(1, tab - 1),
        { ["Content-Type"] = "text/xml" }, line:sub(tab + 1))
    end
    line_no = line_no + 1
  end
  share = #requests_
  sent = 0
end

function request()
  sent = sent + 1
  return requests_[((sent - 1) % share) + 1]
end

function done(summary, latency, requests)
  local distinct = 0
  for _, thread in ipairs(threads) do
    local s = thread:get("sent") or 0
    local share = thread:get("share") or 0
    distinct = distinct + math.min(s, share)
  end
  local non2xx = summary.errors.status
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.timeout
  io.write(string.format(
    "RESULT requests=%d distinct=%d non2xx=%d errors=%d rps=%.0f p50_ms=%.2f p99_ms=%.2f max_ms=%.2f\n",
    summary.requests, distinct, non2xx, errors, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
end
