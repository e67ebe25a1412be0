"""The gist backend's answer parser: its TAP unit test, and ~10 s of
libFuzzer (plain build only: the fuzzer carries its own ASan/UBSan)."""
import os
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))


def test_parse_unit(anybuild):
    prog = anybuild.test_prog("gist_parse_test")
    assert os.path.exists(prog), "%s not built: make tests" % prog
    r = subprocess.run([prog], env=anybuild.env(), capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "not ok" not in r.stdout and "1..16" in r.stdout, r.stdout


def test_fuzz_gist_answer(build, tmp_path):
    prog = build.test_prog("fuzz_gist_answer")
    assert os.path.exists(prog), "%s not built (make tests builds it with clang)" % prog
    (tmp_path / "corpus").mkdir()
    r = subprocess.run(
        [prog, "-max_total_time=10", "-timeout=10", "-rss_limit_mb=2048",
         "-artifact_prefix=%s/" % tmp_path, str(tmp_path / "corpus"),
         os.path.join(HERE, "fuzz-corpus")],
        capture_output=True, text=True, timeout=120, cwd=str(tmp_path),
        env=dict(os.environ, ASAN_OPTIONS="detect_leaks=1"))
    assert r.returncode == 0, r.stderr[-6000:]
    runs = [l for l in r.stderr.splitlines() if l.startswith("Done ")]
    assert runs and int(runs[-1].split()[1]) > 1000, r.stderr[-3000:]
