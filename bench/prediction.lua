-- wrk script for bench/load.sh: POST /api/prediction with one JPEG as the
-- multipart field fileImg (the file named by $FT_BENCH_IMAGE), and at the
-- end one machine-readable line with throughput, latency percentiles
-- (wrk's --latency table has no p95) and every kind of error.
local path = os.getenv("FT_BENCH_IMAGE")
local f = assert(io.open(path, "rb"), "FT_BENCH_IMAGE: cannot open " .. tostring(path))
local img = f:read("*a")
f:close()

local boundary = "----ftbench7d3a9c41"
wrk.method = "POST"
wrk.path = "/api/prediction"
wrk.headers["Content-Type"] = "multipart/form-data; boundary=" .. boundary
wrk.headers["X-Requested-With"] = "wrk" -- a POST without Origin needs it (docs/SECURITY.md)
wrk.body = "--" .. boundary .. "\r\n" ..
    "Content-Disposition: form-data; name=\"fileImg\"; filename=\"face.jpg\"\r\n" ..
    "Content-Type: image/jpeg\r\n\r\n" .. img .. "\r\n--" .. boundary .. "--\r\n"

function done(summary, latency, requests)
    local e = summary.errors
    io.write(string.format(
        "FTBENCH requests=%d duration_s=%.3f rps=%.3f p50_ms=%.1f p95_ms=%.1f p99_ms=%.1f " ..
        "max_ms=%.1f non2xx=%d connect=%d read=%d write=%d timeout=%d\n",
        summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
        latency:percentile(50) / 1e3, latency:percentile(95) / 1e3, latency:percentile(99) / 1e3,
        latency.max / 1e3, e.status, e.connect, e.read, e.write, e.timeout))
end
