"""A transport error after the request was sent: the txn may have been
applied. Each member sits behind a small proxy that forwards every
request but, for every second txn, drops the connection instead of
passing the answer back (the write was applied, the answer is lost). The
backend retries on the next member; that compare fails, and its failure
branch shows the very bytes it wrote, which it must recognise as its own
write. The leader must keep leading through many lost answers, with one
term."""
import http.client
import http.server
import socketserver
import threading
import time

import pytest

from elector_harness import SplitBrainChecker, http_get
from etcd_e2e import RETRY, wait_leader


class _Proxy(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def make_proxy(member_port, pattern):
    state = {"txn": 0, "dropped": 0}
    lock = threading.Lock()

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def do_POST(self):  # noqa: N802 - http.server's name
            n = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(n)
            if self.path.startswith("/v3/watch"):
                self.send_error(503, "no watch through this proxy")
                self.close_connection = True
                return
            c = http.client.HTTPConnection("127.0.0.1", member_port,
                                           timeout=5)
            try:
                c.request("POST", self.path, body=body, headers={
                    "Content-Type": "application/json",
                    **({"Authorization": self.headers["Authorization"]}
                       if self.headers.get("Authorization") else {})})
                r = c.getresponse()
                data = r.read()
            finally:
                c.close()
            drop = False
            if self.path == "/v3/kv/txn":
                with lock:
                    state["txn"] += 1
                    drop = pattern[state["txn"] % len(pattern)] == "x"
                    if drop:
                        state["dropped"] += 1
            if drop:  # applied, but the client never hears of it
                self.close_connection = True
                self.connection.shutdown(2)
                return
            self.send_response(r.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    srv = _Proxy(("127.0.0.1", 0), Handler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    return srv, state


# The answer to a member's txn number n (from 1) is dropped when
# pattern[n % len(pattern)] is "x": every second one (libcurl re-sends the
# txn on a fresh connection by itself), or two in a row (libcurl's re-send
# is lost too: a transport error, and the backend moves on to the next
# member).
PATTERNS = {"every-second": "x.", "two-in-a-row": "x..x"}


@pytest.mark.parametrize("pattern", sorted(PATTERNS))
def test_lost_txn_answers_are_recognised(anybuild, healthy, procs, pattern):
    c = healthy
    drops = PATTERNS[pattern]
    proxies = [make_proxy(m.client_port, drops) for m in c.members]
    try:
        eps = ",".join("http://127.0.0.1:%d" % p.server_address[1]
                       for p, _ in proxies)
        args = ["--election", "lost-" + pattern, "--backend", "etcd",
                "--etcd-endpoints", eps, "--lease-duration", "3s",
                "--renew-deadline", "2s", "--retry-period", "500ms",
                "--id", "solo", "-v", "1"]
        d = procs.start(anybuild, args, name="solo")
        d.wait_http(15)
        wait_leader([d])
        term = d.status()["term"]
        sb = SplitBrainChecker([d])
        end = time.monotonic() + 12 * RETRY
        try:
            while time.monotonic() < end:
                assert http_get(d.port, "/leader", 1.0)[0] == 200, d.log()
                time.sleep(0.05)
        finally:
            assert sb.stop() == []
        assert d.status()["term"] == term  # never lost it, not even once
        dropped = sum(s["dropped"] for _, s in proxies)
        assert dropped >= 4, dropped
        assert "an earlier try was applied" in d.log(), d.log()[-3000:]
        if pattern == "two-in-a-row":
            # the backend itself moved on to another member
            assert sum(1 for _, s in proxies if s["txn"] > 0) >= 2
        assert "stopped leading" not in d.log()
    finally:
        for p, _ in proxies:
            p.shutdown()
            p.server_close()
