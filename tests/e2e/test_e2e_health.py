"""/healthz reports a wedged engine: a store call stuck far beyond the
request timeout (the test plugin tests/abi hang.so sleeps 8 s in get)."""
import os
import time

from elector_harness import http_get, wait_until


def test_healthz_503_when_engine_wedged(anybuild, procs):
    abi = os.path.join(anybuild.tests, "abi")
    d = procs.start(anybuild, ["--election", "wedge", "--id", "w",
                               "--plugin-dir", abi, "--backend", "hang",
                               "--lease-duration", "2s", "--renew-deadline", "1500ms",
                               "--retry-period", "500ms"], name="wedged")
    # Up and healthy at first; the engine is inside get() from the start.
    wait_until(lambda: http_get(d.port, "/healthz")[0] == 200, 5,
               what="HTTP up")
    t0 = time.monotonic()
    # request timeout 500 ms + grace max(2 x retry, 5 s): 503 after ~5.5 s
    wait_until(lambda: http_get(d.port, "/healthz")[0] == 503, 7.5,
               what="/healthz 503 while the store call hangs")
    assert time.monotonic() - t0 >= 3.0
    assert http_get(d.port, "/leader")[0] == 503
    # When the call returns (8 s), the engine is back and healthy again.
    wait_until(lambda: http_get(d.port, "/healthz")[0] == 200, 6,
               what="/healthz 200 once the call returned")
