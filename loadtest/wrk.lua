-- Drive wrk through a list of paths (one a line, LOADTEST_PATHS), each thread taking every n-th
-- one in turn, so that no two requests of a run share a path until the list is used up; then print
-- one line of JSON with the figures (latencies in microseconds).
local method = os.getenv("LOADTEST_METHOD") or "GET"
local body = os.getenv("LOADTEST_BODY")
local paths_file = os.getenv("LOADTEST_PATHS")
local thread_count = tonumber(os.getenv("LOADTEST_THREADS") or "1")
local threads = {}

function setup(thread)
  thread:set("number", #threads)
  table.insert(threads, thread)
end

function init(args)
  paths = {}
  for line in io.lines(paths_file) do
    paths[#paths + 1] = line
  end
  path_count = #paths
  position = number + 1
  wrapped = 0
  headers = {}
  headers["User-Agent"] = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
  if body then
    headers["Content-Type"] = "application/x-www-form-urlencoded"
  end
end

function request()
  local path = paths[position]
  position = position + thread_count
  if position > #paths then
    position = position - #paths
    wrapped = wrapped + 1
  end
  return wrk.format(method, path, headers, body)
end

function done(summary, latency, requests)
  local wraps, path_count = 0, 0
  for _, thread in ipairs(threads) do
    wraps = wraps + (thread:get("wrapped") or 0)
    path_count = thread:get("path_count") or path_count
  end
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "connect": %d, "read": %d, "write": %d, ' ..
    '"status": %d, "timeout": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d, ' ..
    '"paths": %d, "wraps": %d}\n',
    summary.requests, summary.duration, summary.errors.connect, summary.errors.read,
    summary.errors.write, summary.errors.status, summary.errors.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    path_count, wraps))
end
