"""Helpers to run elector daemons in tests.

Everything listens on 127.0.0.1 only; every wait is bounded in time.
"""
import json
import os
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                     "runtime error:", "SUMMARY: UndefinedBehaviorSanitizer")


class Build:
    """One build tree: build/ or build-asan/."""

    def __init__(self, path):
        self.path = path
        self.bin = os.path.join(path, "bin", "elector")
        self.plugin_dir = os.path.join(path, "lib", "elector")
        self.lib = os.path.join(path, "lib", "libelector.so")
        self.tests = os.path.join(path, "tests")
        self.sanitized = os.path.basename(path).endswith("asan")

    def require(self):
        if not os.path.exists(self.bin):
            raise RuntimeError("%s missing: run make tests first" % self.bin)

    def test_prog(self, name):
        return os.path.join(self.tests, name)

    def env(self, extra=None):
        e = dict(os.environ)
        e.pop("KUBERNETES_SERVICE_HOST", None)
        e["ELECTOR_PLUGIN_DIR"] = self.plugin_dir
        if self.sanitized:
            e["ASAN_OPTIONS"] = "detect_leaks=1:exitcode=66:abort_on_error=0"
            e["UBSAN_OPTIONS"] = "print_stacktrace=1:halt_on_error=1:exitcode=66"
        if extra:
            e.update(extra)
        return e


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_until(pred, timeout, interval=0.01, what="condition"):
    """Poll pred() until it returns a truthy value; raise after timeout s."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = pred()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError("timed out after %.1fs waiting for %s (last: %r)"
                         % (timeout, what, last))


def http_get(port, path="/", timeout=2.0):
    """(status, body-bytes) of GET http://127.0.0.1:port/path; (None, b"")
    when nothing answers."""
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path),
                                    timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()
    except (OSError, urllib.error.URLError):
        return None, b""


class Daemon:
    """One elector process. args: CLI arguments after the binary."""

    def __init__(self, build, args, name="d", env=None, http=True, cwd=None,
                 stdin=subprocess.DEVNULL):
        self.build = build
        self.name = name
        self.port = free_port() if http else None
        self.args = list(args)
        if http:
            self.args += ["--http", "127.0.0.1:%d" % self.port]
        self.logf = tempfile.NamedTemporaryFile(prefix="elector-%s-" % name,
                                                suffix=".log", delete=False)
        self.log_path = self.logf.name
        self.proc = subprocess.Popen([build.bin] + self.args, env=build.env(env),
                                     stdout=self.logf, stderr=subprocess.STDOUT,
                                     stdin=stdin, cwd=cwd)

    def status(self):
        code, body = http_get(self.port, "/")
        if code != 200:
            return None
        return json.loads(body)

    def wait_http(self, timeout=10):
        return wait_until(self.status, timeout, what="%s HTTP up" % self.name)

    def log(self):
        with open(self.log_path, "r", errors="replace") as f:
            return f.read()

    def alive(self):
        return self.proc.poll() is None

    def signal(self, sig):
        if self.alive():
            self.proc.send_signal(sig)

    def stop(self, timeout=15):
        """SIGTERM and wait; returns the exit code."""
        self.signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("%s did not exit within %ss of SIGTERM"
                                 % (self.name, timeout))

    def kill(self):
        self.signal(signal.SIGKILL)
        self.proc.wait(10)

    def sanitizer_report(self):
        text = self.log()
        for m in SANITIZER_MARKERS:
            if m in text:
                return text
        return None


class ProcessGroup:
    def __init__(self):
        self.daemons = []

    def start(self, build, args, **kw):
        d = Daemon(build, args, **kw)
        self.daemons.append(d)
        return d

    def close(self):
        reports = []
        for d in self.daemons:
            if d.alive():
                try:
                    d.stop()
                except AssertionError:
                    pass
            r = d.sanitizer_report()
            if r:
                reports.append("%s:\n%s" % (d.name, r[-6000:]))
        for d in self.daemons:
            try:
                os.unlink(d.log_path)
            except OSError:
                pass
        if reports:
            raise AssertionError("sanitizer reports:\n" + "\n".join(reports))


def run(build, args, env=None, timeout=30, input=None):
    """Run the elector binary to completion: CompletedProcess (text)."""
    return subprocess.run([build.bin] + list(args), env=build.env(env),
                          capture_output=True, text=True, timeout=timeout,
                          input=input)


class SplitBrainChecker:
    """Samples GET / of every daemon in a thread and checks, without false
    alarms from sampling skew, that leadership never overlaps:

    - a term is held by one identity only;
    - once a newer term was confirmed leading (its request had ended), no
      older term is seen leading in a request that started later;
    - the terms seen leading never go down over time.

    daemons: a list (may grow) of Daemon objects. stop() returns the list
    of violations (empty when safe)."""

    def __init__(self, daemons, interval=0.02, limit_s=900):
        import threading
        self.daemons = daemons
        self.interval = interval
        self.violations = []
        self.holder = {}         # term -> identity
        self.first_end = {}      # term -> earliest end of a request seeing it lead
        self.last_start = {}     # term -> latest start of a request seeing it lead
        self.samples = 0
        self._stop = threading.Event()
        self._limit = time.monotonic() + limit_s
        self._t = threading.Thread(target=self._loop, daemon=True)
        self._t.start()

    def _probe(self, d):
        t0 = time.monotonic()
        code, body = http_get(d.port, "/", timeout=0.5)
        t1 = time.monotonic()
        if code != 200:
            return
        st = json.loads(body)
        if not st.get("is_leader"):
            return
        term, who = st.get("term"), st.get("node")
        if self.holder.setdefault(term, who) != who:
            self.violations.append("term %s held by %s and %s"
                                   % (term, self.holder[term], who))
        self.first_end[term] = min(self.first_end.get(term, t1), t1)
        self.last_start[term] = max(self.last_start.get(term, t0), t0)
        for other, end in self.first_end.items():
            if other > term and t0 > end:
                self.violations.append(
                    "term %s (%s) still leading after term %s (%s) began"
                    % (term, who, other, self.holder.get(other)))

    def _loop(self):
        while not self._stop.is_set() and time.monotonic() < self._limit:
            for d in list(self.daemons):
                if d.alive():
                    self._probe(d)
            self.samples += 1
            self._stop.wait(self.interval)

    def terms(self):
        return sorted(self.holder)

    def stop(self):
        self._stop.set()
        self._t.join(10)
        return self.violations
