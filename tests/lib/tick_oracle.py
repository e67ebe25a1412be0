"""The tick oracle: split-brain detection independent of elector's status.

Every replica runs, while it believes it leads, a child that appends
``<CLOCK_MONOTONIC ns> <id> <term> <pid>`` to one shared file every few ms
(``ticker_cmd``). ``check`` reads the file back: the tick intervals of two
different ids must never overlap, a term must never belong to two ids, and
terms must grow from holder to holder.

The ticker is this file run as a script:

    python3 tick_oracle.py FILE ID [--interval-ms N] [--ignore-term]
                                   [--grandchild]

ID is the replica's name; the term comes from ELECTOR_TERM. --ignore-term
makes it ignore SIGTERM (so only SIGKILL ends it); --grandchild double-forks
a second ticker (same id and term) that escapes the process group's parent.
"""
import os
import signal
import sys
import time

HERE = os.path.abspath(__file__)


def ticker_cmd(path, ident, interval_ms=5, ignore_term=False,
               grandchild=False):
    """The argv of a ticker child (to put after `elector run ... --`)."""
    cmd = [sys.executable, HERE, path, ident, "--interval-ms",
           str(interval_ms)]
    if ignore_term:
        cmd.append("--ignore-term")
    if grandchild:
        cmd.append("--grandchild")
    return cmd


def read_ticks(path):
    """[(t_ns, id, term, pid)] in file order; a torn last line is skipped."""
    out = []
    try:
        with open(path, "r", errors="replace") as f:
            for line in f:
                parts = line.split()
                if len(parts) != 4 or not line.endswith("\n"):
                    continue
                try:
                    out.append((int(parts[0]), parts[1], int(parts[2]),
                                int(parts[3])))
                except ValueError:
                    continue
    except FileNotFoundError:
        pass
    return out


def segments(ticks):
    """Per (id, term, pid): [start_ns, end_ns, id, term, pid, count],
    sorted by start."""
    seg = {}
    for t, ident, term, pid in ticks:
        k = (ident, term, pid)
        s = seg.get(k)
        if s is None:
            seg[k] = [t, t, ident, term, pid, 1]
        else:
            s[0] = min(s[0], t)
            s[1] = max(s[1], t)
            s[5] += 1
    return sorted(seg.values())


def fence(ticks):
    """What a store that fences with ELECTOR_TERM would accept: in write
    (file) order, a tick whose term is below the highest term already
    written is rejected. Returns (accepted, rejected)."""
    top = None
    acc, rej = [], []
    for t in ticks:
        if top is not None and t[2] < top:
            rej.append(t)
            continue
        top = t[2] if top is None or t[2] > top else top
        acc.append(t)
    return acc, rej


def live_tickers(path):
    """Pids from the file that still run a ticker (checked by cmdline, so
    a reused pid is not taken for one)."""
    out = []
    for pid in sorted({t[3] for t in read_ticks(path)}):
        try:
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                cmd = f.read()
            with open("/proc/%d/stat" % pid) as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if b"tick_oracle" in cmd and state != "Z":
            out.append(pid)
    return out


def kill_tickers(path):
    """SIGKILL every ticker of the file still alive (test teardown);
    returns their pids."""
    pids = live_tickers(path)
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    return pids


def check(path, fenced=False):
    """A list of violations (empty when the file shows one leader at a
    time with growing terms). fenced: judge only the ticks a store that
    fences with ELECTOR_TERM would have accepted (see fence())."""
    v = []
    ticks = read_ticks(path)
    if fenced:
        ticks = fence(ticks)[0]
    segs = segments(ticks)
    owner = {}
    for s in segs:
        if owner.setdefault(s[3], s[2]) != s[2]:
            v.append("term %d ticked by %s and %s" % (s[3], owner[s[3]], s[2]))
    # Overlap of different ids: segments sorted by start.
    for i, a in enumerate(segs):
        for b in segs[i + 1:]:
            if b[0] > a[1]:
                break
            if b[2] != a[2]:
                v.append("%s (term %d) and %s (term %d) overlapped %.1f ms"
                         % (a[2], a[3], b[2], b[3],
                            (min(a[1], b[1]) - b[0]) / 1e6))
    # Terms grow from holder to holder.
    prev = None
    for s in segs:
        if prev is not None and s[2] != prev[2] and s[3] <= prev[3]:
            v.append("term went from %d (%s) to %d (%s)"
                     % (prev[3], prev[2], s[3], s[2]))
        prev = s
    return v


def holders(path):
    """The (id, term) pairs that ticked, in order of first tick."""
    seen = []
    for s in segments(read_ticks(path)):
        if (s[2], s[3]) not in seen:
            seen.append((s[2], s[3]))
    return seen


def _tick_loop(fd, ident, term, interval):
    while True:
        line = "%d %s %s %d\n" % (time.clock_gettime_ns(time.CLOCK_MONOTONIC),
                                  ident, term, os.getpid())
        os.write(fd, line.encode())
        time.sleep(interval)


def main(argv):
    path, ident = argv[0], argv[1]
    interval = 0.005
    rest = argv[2:]
    if "--interval-ms" in rest:
        interval = int(rest[rest.index("--interval-ms") + 1]) / 1000.0
    if "--ignore-term" in rest:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    term = os.environ.get("ELECTOR_TERM", "0")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    if "--grandchild" in rest and os.fork() == 0:
        # Double fork: the grandchild is reparented (to a subreaper, if any).
        os.setsid()
        if os.fork() != 0:
            os._exit(0)
        _tick_loop(fd, ident, term, interval)
    _tick_loop(fd, ident, term, interval)


if __name__ == "__main__":
    try:
        main(sys.argv[1:])
    except KeyboardInterrupt:
        pass
