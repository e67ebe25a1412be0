"""Runs the libFuzzer target for the record codec and time/duration parsers
for ~20 s (plain build only: the fuzzer carries its own ASan/UBSan)."""
import os
import subprocess

from elector_harness import TOP

FUZZ_DIR = os.path.join(TOP, "tests", "fuzz")


def test_fuzz_record(build, tmp_path):
    prog = build.test_prog("fuzz_record")
    assert os.path.exists(prog), "%s not built (make tests builds it with clang)" % prog
    seeds = os.path.join(FUZZ_DIR, "corpus")
    assert len(os.listdir(seeds)) >= 5
    (tmp_path / "corpus").mkdir()
    r = subprocess.run(
        [prog, "-max_total_time=20", "-timeout=10", "-rss_limit_mb=2048",
         "-dict=" + os.path.join(FUZZ_DIR, "record.dict"),
         "-artifact_prefix=%s/" % tmp_path, str(tmp_path / "corpus"), seeds],
        capture_output=True, text=True, timeout=120, cwd=str(tmp_path),
        env=dict(os.environ, ASAN_OPTIONS="detect_leaks=1"))
    out = r.stderr[-6000:]
    assert r.returncode == 0, out
    assert "Done " in r.stderr, out
    # It really fuzzed (not just replayed the seeds).
    runs = [l for l in r.stderr.splitlines() if l.startswith("Done ")]
    assert int(runs[-1].split()[1]) > 1000, runs
