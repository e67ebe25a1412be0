"""Helpers shared by the end-to-end tests of the elector daemon."""
import json
import os
import time

from elector_harness import free_port, http_get, wait_until


def timing_args(lease, renew, retry):
    return ["--lease-duration", lease, "--renew-deadline", renew,
            "--retry-period", retry]


FAST = timing_args("2s", "1500ms", "500ms")


def start(procs, build, args, name, env=None, http=True):
    """procs.start, with --http placed before a run-mode "--" (the harness
    appends it at the end, where it would become part of the command)."""
    args = list(args)
    port = None
    if http:
        port = free_port()
        at = args.index("--") if "--" in args else len(args)
        args[at:at] = ["--http", "127.0.0.1:%d" % port]
    d = procs.start(build, args, name=name, env=env, http=False)
    d.port = port
    return d


def start_cluster(procs, build, path, names, election="e2e", extra=(),
                  timings=FAST, env=None, sub=()):
    """Start one daemon per name on the file store at path."""
    ds = []
    for n in names:
        args = list(sub) + ["--election", election, "--id", n,
                            "--file-path", str(path)] + list(timings) + list(extra)
        ds.append(start(procs, build, args, n, env=env))
    for d in ds:
        d.wait_http(15)
    return ds


def statuses(daemons):
    return [d.status() for d in daemons]


def one_leader(daemons):
    """The leading daemon when exactly one leads and every live one agrees
    on who it is; else None."""
    live = [d for d in daemons if d.alive()]
    st = statuses(live)
    if any(s is None for s in st):
        return None
    leaders = [(d, s) for d, s in zip(live, st) if s["is_leader"]]
    if len(leaders) != 1:
        return None
    name = leaders[0][1]["node"]
    if not all(s["leader"] == name for s in st):
        return None
    return leaders[0][0]


def wait_one_leader(daemons, timeout=15):
    return wait_until(lambda: one_leader(daemons), timeout, interval=0.02,
                      what="exactly one agreed leader")


def poll_new_leader(daemons, old, timeout):
    """Seconds until one of daemons (not old) answers 200 on /leader."""
    t0 = time.monotonic()
    deadline = t0 + timeout
    while time.monotonic() < deadline:
        for d in daemons:
            if d is old or not d.alive():
                continue
            code, _ = http_get(d.port, "/leader", timeout=0.5)
            if code == 200:
                return time.monotonic() - t0, d
        time.sleep(0.002)
    raise AssertionError("no new leader within %.1fs" % timeout)


def read_json_file(path):
    with open(path) as f:
        return json.load(f)


def wait_exit(d, timeout):
    """Exit code of daemon d within timeout seconds."""
    return d.proc.wait(timeout)


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie still answers kill(0); look at its state
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
