"""Chaos on the file store (DESIGN §8): three daemons whose wall clocks are
years apart (libfaketime; the monotonic clock is left alone, as between
real hosts), a leader frozen with SIGSTOP past its lease and resumed, a
kill -9, a restart and a SIGTERM handover — while a checker samples every
daemon and asserts that leadership never overlaps and terms only grow."""
import os
import signal
import time

import pytest

from elector_harness import SplitBrainChecker, wait_until

FAKETIME = "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1"
TIMINGS = ["--lease-duration", "2s", "--renew-deadline", "1500ms",
           "--retry-period", "500ms"]
OFFSETS = {"earth": "+365d", "mars": "-365d", "venus": "-7300d"}


def leader_of(daemons):
    for d in daemons:
        if d.alive():
            s = d.status()
            if s and s.get("is_leader"):
                return d
    return None


@pytest.mark.skipif(not os.path.exists(FAKETIME),
                    reason="libfaketime not installed (Debian package faketime)")
def test_chaos_clock_offsets_pause_kill_restart(anybuild, procs, tmp_path):
    store = str(tmp_path / "chaos.json")

    def start(name):
        env = {"FAKETIME": OFFSETS[name], "FAKETIME_DONT_FAKE_MONOTONIC": "1",
               "LD_PRELOAD": FAKETIME}
        if anybuild.sanitized:
            # ASan must come first in the preload order: no faketime there.
            env = {}
        return procs.start(anybuild, ["--election", "chaos", "--id", name,
                                      "--file-path", store] + TIMINGS,
                           name=name, env=env)

    ds = [start(n) for n in OFFSETS]
    for d in ds:
        d.wait_http()
    checker = SplitBrainChecker(ds)
    try:
        first = wait_until(lambda: leader_of(ds), 10, what="a first leader")
        wait_until(lambda: checker.terms(), 5, what="the checker saw a leader")

        # Freeze the leader well past its lease; another takes over; the
        # resumed one must not lead again on its stale view.
        first.signal(signal.SIGSTOP)
        second = wait_until(lambda: leader_of([d for d in ds if d is not first]),
                            8, what="takeover from a frozen leader")
        time.sleep(1.0)
        first.signal(signal.SIGCONT)
        time.sleep(1.5)
        st = first.status()
        assert st and not st["is_leader"], st
        assert st["leader"] == second.status()["node"], st

        # Crash the leader; the others take over after the lease.
        t0 = time.monotonic()
        second.kill()
        third = wait_until(lambda: leader_of([d for d in ds if d is not second]),
                           8, what="takeover after kill -9")
        assert time.monotonic() - t0 < 2.0 + 0.6 + 2.0

        # The crashed one comes back as a follower.
        back = start(second.name)
        ds.append(back)
        back.wait_http()
        time.sleep(1.0)
        assert not back.status()["is_leader"]

        # Graceful handover.
        t0 = time.monotonic()
        third.stop()
        wait_until(lambda: leader_of([d for d in ds if d is not third]), 5,
                   what="handover after SIGTERM")
        assert time.monotonic() - t0 < 2.0
        time.sleep(0.5)  # let the checker see the last term
    finally:
        violations = checker.stop()
    assert checker.samples > 50
    assert not violations, violations
    assert len(checker.terms()) >= 4, checker.terms()
    # The record carries the leaders' own (faked) wall clocks; only the
    # observed time decides expiry, so years of offset changed nothing.
