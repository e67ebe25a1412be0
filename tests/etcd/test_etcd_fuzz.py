"""Runs the etcd backend's gateway parsers' libFuzzer target for ~10 s
(plain build only: the fuzzer carries its own ASan/UBSan)."""
import os
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))


def test_fuzz_etcd_parsers(build, tmp_path):
    prog = build.test_prog("fuzz_etcd")
    assert os.path.exists(prog), "%s not built (make tests builds it with clang)" % prog
    seeds = os.path.join(HERE, "fuzz-corpus")
    assert len(os.listdir(seeds)) >= 5
    (tmp_path / "corpus").mkdir()
    r = subprocess.run(
        [prog, "-max_total_time=10", "-timeout=10", "-rss_limit_mb=2048",
         "-artifact_prefix=%s/" % tmp_path, str(tmp_path / "corpus"), seeds],
        capture_output=True, text=True, timeout=120, cwd=str(tmp_path),
        env=dict(os.environ, ASAN_OPTIONS="detect_leaks=1"))
    out = r.stderr[-6000:]
    assert r.returncode == 0, out
    runs = [l for l in r.stderr.splitlines() if l.startswith("Done ")]
    assert runs and int(runs[-1].split()[1]) > 1000, out
