"""Something that is not a healthy etcd answers on the endpoint: a web page,
an endless body, a server that never answers, a watch stream of garbage.
Every request ends within the request timeout with a clear error, and a
daemon on it never leads and never crashes (ASan build included)."""
import base64
import http.server
import json
import socketserver
import threading
import time

import pytest

from elector_harness import http_get, run


KEY64 = base64.b64encode(b"/elector/default/demo").decode()
REC64 = base64.b64encode(json.dumps({
    "holderIdentity": "other", "leaseDurationSeconds": 15,
    "acquireTime": "2026-01-01T00:00:00.000000Z",
    "renewTime": "2026-01-01T00:00:00.000000Z",
    "leaderTransitions": 1}).encode()).decode()
RANGE = ('{"header":{"revision":"3"},"kvs":[{"key":"%s","create_revision":'
         '"2","mod_revision":"3","value":"%s"}],"count":"1"}\n'
         % (KEY64, REC64)).encode()


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def serve(mode):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def do_POST(self):  # noqa: N802 - http.server's name
            n = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(n)
            if mode == "html":
                body = b"<html><body>It works!</body></html>"
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            elif mode == "endless":
                self.send_response(200)
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                chunk = b"[" * 65536
                try:
                    for _ in range(400):  # 26 MB at most, then give up
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                except OSError:
                    pass
                self.close_connection = True
            elif mode == "silent":
                time.sleep(5)
                self.close_connection = True
            elif mode == "garbage-watch":
                self.send_response(200)
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                lines = [b'{"result":{"events":[{"kv":{"key":"bm9wZQ==",'
                         b'"mod_revision":"5","value":"eA=="}}]}}\n',
                         b'{"result":{"events":"no"}}\n', b"\x00\xff garbage\n",
                         b'{"header":{"revision":"3"}}\n']
                try:
                    for i in range(40):
                        d = lines[i % len(lines)]
                        if self.path != "/v3/watch":
                            d = RANGE  # a valid record held by another
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(d), d))
                        if self.path != "/v3/watch":
                            break
                        time.sleep(0.02)
                    self.wfile.write(b"0\r\n\r\n")
                except OSError:
                    pass
                self.close_connection = True

    srv = _Server(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


@pytest.mark.parametrize("mode,want", [
    ("html", "unexpected answer"),
    ("endless", "exceeds"),
    ("silent", "no endpoint answered"),
])
def test_elector_get_on_a_bad_server(anybuild, mode, want):
    srv = serve(mode)
    try:
        url = "http://127.0.0.1:%d" % srv.server_address[1]
        t0 = time.monotonic()
        g = run(anybuild, ["get", "--election", "demo", "--backend", "etcd",
                           "--etcd-endpoints", url, "--backend-opt",
                           "request-timeout=800ms"], timeout=30)
        took = time.monotonic() - t0
        assert g.returncode != 0
        assert want in g.stderr, g.stderr
        assert took < 0.8 + 3.0, took  # bounded (ASan start-up included)
    finally:
        srv.shutdown()
        srv.server_close()


def test_daemon_on_a_garbage_watch_never_leads(anybuild, procs):
    srv = serve("garbage-watch")
    try:
        url = "http://127.0.0.1:%d" % srv.server_address[1]
        d = procs.start(anybuild, ["--election", "demo", "--backend", "etcd",
                                   "--etcd-endpoints", url, "--id", "g",
                                   "--lease-duration", "3s",
                                   "--renew-deadline", "2s",
                                   "--retry-period", "500ms"], name="g")
        d.wait_http(15)
        end = time.monotonic() + 4.0
        while time.monotonic() < end:
            assert d.alive()
            assert http_get(d.port, "/leader", 1.0)[0] == 503
            time.sleep(0.1)
        assert "new leader elected: other" in d.log(), d.log()
    finally:
        srv.shutdown()
        srv.server_close()
