"""One daemon under valgrind through acquire, renewals, release and exit:
no invalid access, no leak (plain build only; valgrind is slow)."""
import shutil
import signal
import subprocess
import time

import pytest

from elector_harness import free_port, http_get, wait_until
from e2e_util import FAST


def test_valgrind_acquire_renew_release(build, tmp_path):
    vg = shutil.which("valgrind")
    if vg is None:
        pytest.skip("valgrind is not installed")
    port = free_port()
    lock = tmp_path / "lock.json"
    logf = open(tmp_path / "vg.log", "w+")
    p = subprocess.Popen([vg, "--leak-check=full", "--error-exitcode=99",
                          "--errors-for-leak-kinds=definite,indirect,possible",
                          build.bin, "--election", "vg", "--id", "v1",
                          "--file-path", str(lock), "--http", "127.0.0.1:%d" % port]
                         + FAST, env=build.env(), stdout=logf, stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: http_get(port, "/leader")[0] == 200, 60,
                   interval=0.1, what="leadership under valgrind")
        assert http_get(port, "/metrics")[0] == 200
        assert http_get(port, "/")[0] == 200
        time.sleep(1.5)  # a few renewals (retry_period 0.5s)
        assert http_get(port, "/leader")[0] == 200
        p.send_signal(signal.SIGTERM)
        rc = p.wait(60)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    logf.seek(0)
    out = logf.read()
    logf.close()
    assert rc == 0, out[-6000:]
    assert "released lease" in out, out[-3000:]
    assert "ERROR SUMMARY: 0 errors" in out, out[-6000:]
