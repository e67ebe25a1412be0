"""The backend conformance suite (tests/conformance) against the GitHub
emulator: create/get/update/conflict/release, 5 contender processes racing
for one version over many rounds (exactly one winner each), garbage
content, server down (503), and a hanging server (lighttpd stopped, REST
stalled) where every op must return within the request timeout + slack."""
import json
import os
import subprocess

import pytest


def conformance(build, gist, cases, extra=(), timeout=240):
    prog = build.test_prog("conformance")
    if not os.path.exists(prog):
        pytest.fail("%s missing: run make tests" % prog)
    opts = []
    for kv in gist.opts()[7::2]:  # the --backend-opt values
        opts += ["--opt", kv]
    opts += ["--opt", "id=" + gist.gid, "--opt", "token-file=" + gist.token_file]
    args = [prog, "--plugin-dir", build.plugin_dir, "--backend", "gist",
            "--election", "conf"] + opts + list(extra)
    for c in cases:
        args += ["--case", c]
    r = subprocess.run(args, env=build.env(), capture_output=True, text=True,
                       timeout=timeout)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out[-6000:]
    assert "not ok" not in r.stdout, out[-6000:]
    return r.stdout


def test_conformance_basic(anybuild, gist):
    out = conformance(anybuild, gist, ["empty", "roundtrip", "exists", "conflict", "release"])
    assert "ok" in out


def test_conformance_contenders(anybuild, gist):
    """5 processes, one handle each, race on the same version: exactly one
    push per round is accepted by git-http-backend's old-value check."""
    rounds = "6" if anybuild.sanitized else "15"
    out = conformance(anybuild, gist, ["empty", "contenders"],
                      ["--contenders", "5", "--rounds", rounds])
    assert "contenders" in out or "winner" in out or "round" in out, out


def test_conformance_faults(build, gist):
    emu = gist.emu
    f = gist.file_name("conf")
    bodies = {}
    for name, content in (("corrupt", '{"holderIdentity": 5'),
                          ("fix", '{"holderIdentity":"","leaseDurationSeconds":1,'
                                  '"leaderTransitions":0}')):
        path = os.path.join(gist.tmp, name + ".json")
        with open(path, "w") as fp:
            json.dump({"files": {f: {"content": content}}}, fp)
        bodies[name] = ("curl -sf -o /dev/null -X PATCH -H 'Authorization: Bearer %s' "
                        "--data-binary @%s %s/gists/%s"
                        % (emu.token, path, emu.api_url, gist.gid))
    corrupt, fix = bodies["corrupt"], bodies["fix"]
    pid = emu.lighttpd.pid
    out = conformance(build, gist, ["empty", "roundtrip", "garbage", "down", "slow"], [
        "--request-timeout", "2000", "--slack", "1500", "--recover", "15000",
        "--corrupt-cmd", corrupt, "--fix-cmd", fix,
        "--down-cmd", "touch %s" % emu.down_file, "--up-cmd", "rm -f %s" % emu.down_file,
        "--slow-cmd", "touch %s; kill -STOP %d" % (emu.slow_file, pid),
        "--unslow-cmd", "rm -f %s; kill -CONT %d" % (emu.slow_file, pid)])
    assert "SKIP" not in out, out
