-- wrk script for every closed-loop workload of benchmarks/run.py: POST bodies to one path (or,
-- in mode get, GET paths under it) and print a JSON summary when done.
--
-- Arguments (after --):
--   <path> <content type or ""> <bodies file> <threads> <Authorization value or ""> <mode>
--   <run id>
-- Modes:
--   same        every request sends the file's one line (client_secret_basic tokens);
--   once        each line is sent once, thread n taking lines n, n + threads, ... (client
--               assertions must not be replayed); a thread that runs out starts again, and the
--               replays count as status errors;
--   idempotent  the one line every time, each request with its own Idempotency-Key
--               (<run id>-<thread>-<counter>), as a sender retrying nothing would;
--   rotate      each line is a refresh token; a request spends the oldest token the thread
--               holds and the response's new refresh_token joins the back of the queue
--               (refresh-token rotation, RFC 9700 §4.14.2), so every token is used once;
--   get         each line is appended to <path> and fetched with GET, the lines in turn (a
--               council system opening its conversations: inbox-open).

local counter = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end

function init(args)
  path, mode, run_id = args[1], args[6], args[7]
  local threads = tonumber(args[4])
  local lines = {}
  for line in io.lines(args[3]) do
    if #line > 0 then
      lines[#lines + 1] = line
    end
  end
  bodies = lines
  if mode == "once" or mode == "rotate" then
    bodies = {}
    for n = 1 + id, #lines, threads do
      bodies[#bodies + 1] = lines[n]
    end
  end
  index, sent, first, last = 0, 0, 1, #bodies
  headers = {}
  if #args[2] > 0 then
    headers["Content-Type"] = args[2]
  end
  if #args[5] > 0 then
    headers["Authorization"] = args[5]
  end
end

function request()
  sent = sent + 1
  if mode == "idempotent" then
    headers["Idempotency-Key"] = string.format("%s-%d-%d", run_id, id, sent)
    return wrk.format("POST", path, headers, bodies[1])
  end
  if mode == "rotate" then
    local token = bodies[first] or "spent"
    bodies[first] = nil
    first = first + 1
    return wrk.format("POST", path, headers, "grant_type=refresh_token&refresh_token=" .. token)
  end
  index = index % #bodies + 1
  if mode == "get" then
    return wrk.format("GET", path .. bodies[index], headers)
  end
  return wrk.format("POST", path, headers, bodies[index])
end

-- wrk decides whether to parse response bodies when it loads the script, before init sees
-- the arguments, and parsing costs the generator CPU: only the rotate runs ask for it.
if os.getenv("WRK_ROTATE") == "1" then
  function response(status, headers, body)
    local token = body:match('"refresh_token":%s*"([^"]+)"')
    if token then
      last = last + 1
      bodies[last] = token
    end
  end
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
