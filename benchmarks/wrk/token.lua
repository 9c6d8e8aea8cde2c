-- wrk script: POST form bodies to /token and print a JSON summary when done.
--
-- Arguments (after --): <bodies file> <threads> [<Authorization header value>]
-- One line in the file: every request sends it (client_secret_basic). Many lines: each line
-- is sent once, thread n taking lines n, n + threads, ... (client assertions must not be
-- replayed); a thread that runs out starts again, and the replays count as status errors.

local counter = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end

function init(args)
  local threads = tonumber(args[2])
  local lines = {}
  for line in io.lines(args[1]) do
    if #line > 0 then
      lines[#lines + 1] = line
    end
  end
  bodies = lines
  if #lines > 1 then
    bodies = {}
    for n = 1 + id, #lines, threads do
      bodies[#bodies + 1] = lines[n]
    end
  end
  index = 0
  headers = { ["Content-Type"] = "application/x-www-form-urlencoded" }
  if args[3] and #args[3] > 0 then
    headers["Authorization"] = args[3]
  end
end

function request()
  index = index % #bodies + 1
  return wrk.format("POST", "/token", headers, bodies[index])
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests": %d, "duration_us": %d, "bytes": %d, '
      .. '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, '
      .. '"latency_us": {"p50": %d, "p95": %d, "p99": %d, "max": %d, "mean": %.1f}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99),
    latency.max, latency.mean))
end
