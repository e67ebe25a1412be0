"""C unit tests of the redis backend's parsers (TAP program)."""
import os
import subprocess


def test_url_duration_sha1(anybuild):
    prog = anybuild.test_prog("redis_url_test")
    assert os.path.exists(prog), "%s missing: make tests" % prog
    p = subprocess.run([prog], env=anybuild.env(), capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "not ok" not in p.stdout
    assert "\n1.." in p.stdout


def test_fuzz_url_parser(build, tmp_path):
    """libFuzzer on the URL/duration parsers for ~10 s (plain build only:
    the fuzzer carries its own ASan/UBSan)."""
    from elector_harness import TOP
    prog = build.test_prog("fuzz_redis_url")
    assert os.path.exists(prog), "%s not built (make tests, needs clang)" % prog
    seeds = os.path.join(TOP, "tests", "redis", "fuzz-corpus")
    (tmp_path / "corpus").mkdir()
    r = subprocess.run([prog, "-max_total_time=10", "-timeout=10",
                        "-artifact_prefix=%s/" % tmp_path,
                        str(tmp_path / "corpus"), seeds],
                       capture_output=True, text=True, timeout=120,
                       cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr[-4000:]
    runs = [l for l in r.stderr.splitlines() if l.startswith("Done ")]
    assert runs and int(runs[-1].split()[1]) > 1000, r.stderr[-2000:]
