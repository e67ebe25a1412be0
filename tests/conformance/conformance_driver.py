"""Run the C conformance program ($BUILD/tests/conformance) from pytest.

Reuse it from another backend's tests:

    import os, sys
    sys.path.insert(0, os.path.join(TOP, "tests", "conformance"))
    from conformance_driver import run_conformance

    def test_redis_conformance(anybuild, redis_server):
        res = run_conformance(anybuild, "redis",
                              opts=["url=redis://127.0.0.1:%d/0" % port],
                              down_cmd="...", up_cmd="...")
        print(res.comments)          # e.g. the watch latency

run_conformance() asserts that the program exited 0, printed a plan, no
"not ok" line, as many results as the plan says, and no sanitizer report;
on failure the assertion message carries the TAP output. Keyword arguments
map to the program's options: rounds, contenders, request_timeout, slack,
watch_bound, recover, corrupt_cmd, fix_cmd, down_cmd, up_cmd, slow_cmd,
unslow_cmd, namespace, election; cases is a list of case names.
"""
import re
import subprocess

from elector_harness import SANITIZER_MARKERS

_FLAGS = ("max_transitions", "rounds", "contenders", "request_timeout", "slack", "watch_bound",
          "recover", "corrupt_cmd", "fix_cmd", "down_cmd", "up_cmd",
          "slow_cmd", "unslow_cmd", "namespace", "election")


class ConformanceResult:
    def __init__(self, proc):
        self.returncode = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        lines = proc.stdout.splitlines()
        self.results = [l for l in lines if re.match(r"^(not )?ok \d+", l)]
        self.failures = [l for l in self.results if l.startswith("not ok")]
        self.skips = [l for l in self.results if "# SKIP" in l]
        self.comments = [l[2:] for l in lines if l.startswith("# ")]
        plans = [l for l in lines if re.match(r"^1\.\.\d+$", l)]
        self.planned = int(plans[-1][3:]) if plans else None

    def comment(self, prefix):
        """The first comment starting with prefix (without it), or None."""
        for c in self.comments:
            if c.startswith(prefix):
                return c[len(prefix):].strip()
        return None

    def output(self):
        return "--- stdout\n%s\n--- stderr\n%s" % (self.stdout[-12000:],
                                                   self.stderr[-6000:])


def conformance_args(build, backend, opts=(), cases=None, **kw):
    args = [build.test_prog("conformance"), "--plugin-dir", build.plugin_dir,
            "--backend", backend]
    for o in opts:
        args += ["--opt", o]
    for k, v in kw.items():
        if k not in _FLAGS:
            raise TypeError("unknown conformance option %r" % k)
        if v is not None:
            args += ["--" + k.replace("_", "-"), str(v)]
    for c in cases or ():
        args += ["--case", c]
    return args


def run_conformance(build, backend, opts=(), cases=None, timeout=600,
                    env=None, expect_ok=True, **kw):
    """Run the suite; returns a ConformanceResult (asserted when expect_ok)."""
    args = conformance_args(build, backend, opts, cases, **kw)
    proc = subprocess.run(args, env=build.env(env), capture_output=True,
                          text=True, timeout=timeout)
    res = ConformanceResult(proc)
    if expect_ok:
        text = res.output()
        for m in SANITIZER_MARKERS:
            assert m not in proc.stderr and m not in proc.stdout, text
        assert proc.returncode == 0, "exit %d\n%s" % (proc.returncode, text)
        assert not res.failures, text
        assert res.planned is not None and res.planned == len(res.results), text
        assert len(res.results) > len(res.skips), "nothing ran\n" + text
    return res
