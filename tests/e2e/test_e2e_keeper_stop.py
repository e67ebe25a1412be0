"""Run mode: a keeper frozen on its own (a tracer, a stray SIGSTOP) cannot
enforce the deadline; should elector then die, nobody would stop the
command. elector notices the stopped keeper at its next renew and kills it
and the command while it still can. Judged by the tick oracle."""
import os
import time

from e2e_util import timing_args
from tick_cluster import TickCluster

TIMINGS = timing_args("2s", "1500ms", "300ms") + ["--kill-grace", "200ms"]



def _children(pid):
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open("/proc/%s/stat" % d) as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        out.append(int(d))
            except (OSError, ValueError, IndexError):
                pass
    return out


def test_keeper_stopped_then_elector_killed(anybuild, tmp_path):
    """A tracer or a stray SIGSTOP freezes the keeper alone, then elector
    is SIGKILLed: the command must not run on beside the next leader.
    elector notices the stopped keeper at its next renew and kills it
    (and with it the command) while it still can."""
    import signal as sig
    store = str(tmp_path / "k.json")
    keeper = None
    cl = TickCluster(anybuild, ["--file-path", store], tmp_path / "ticks",
                     TIMINGS, names=("k0", "k1"), election="kstop")
    try:
        who = cl.wait_ticking()
        d = cl.daemons[who]
        keeper = _children(d.proc.pid)
        assert keeper, "no keeper under %s" % who
        keeper = keeper[0]
        os.kill(keeper, sig.SIGSTOP)
        time.sleep(1.0)          # a few renewals: elector looks at its keeper
        d.proc.kill()
        d.proc.wait(10)
        time.sleep(4.0)          # the other replica takes over meanwhile
        v = cl.check()
        assert not v, "%s\n%s" % (v, cl.logs())
        assert "keeper" in d.log() and "stopped" in d.log(), d.log()[-2000:]
    finally:
        if keeper:
            try:
                os.kill(keeper, sig.SIGCONT)
            except OSError:
                pass
        leaked = cl.close()
    assert not leaked, "tickers outlived their electors: %s" % leaked
