"""Helpers shared by the scripts/bench_*.py modules."""
import http.client
import time


def code(port, path="/leader", timeout=0.5):
    """(status, body) of GET http://127.0.0.1:port/path; (None, b"") when
    nothing answers. One short connection, no proxies, no retries."""
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        c.request("GET", path)
        r = c.getresponse()
        body = r.read()
        c.close()
        return r.status, body
    except OSError:
        return None, b""


def wait(pred, timeout, interval=0.002):
    """Poll pred() until truthy (returned); RuntimeError after timeout s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(interval)
    raise RuntimeError("timed out after %.1fs" % timeout)


def pct(xs, p):
    """The p-th percentile of xs by the nearest-rank method (nan if empty)."""
    xs = sorted(xs)
    if not xs:
        return float("nan")
    k = min(len(xs) - 1, max(0, -(-len(xs) * p // 100) - 1))
    return xs[int(k)]


def log_time(text, needle, last=False):
    """Seconds of day of the first (or last) klog line containing needle,
    or None ("I1121 11:21:56.346492 ..." -> 40916.346492)."""
    hits = [ln for ln in text.splitlines() if needle in ln]
    if not hits:
        return None
    hms = (hits[-1] if last else hits[0]).split()[1]
    h, m, sec = hms.split(":")
    return int(h) * 3600 + int(m) * 60 + float(sec)
