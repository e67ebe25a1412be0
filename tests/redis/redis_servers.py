"""Real redis-server / redis-sentinel processes for elector's tests and bench.

Every server listens on 127.0.0.1 on an ephemeral port, lives in its own
temp dir, requires a password for the default user ("admin") and has an ACL
user "elector" with only what the redis backend needs. Every wait is bounded.
"""
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

ADMIN_PW = "admin-pw-7f3a"
USER = "elector"
USER_PW = "elector-pw-91c2"

# What the backend needs (docs/redis.md): its scripts' commands, SUBSCRIBE,
# ROLE for Sentinel, on its own keys and channels only.
ACL_RULE = ("on >%s resetkeys ~{elector:* resetchannels &{elector:* -@all "
            "+eval +evalsha +subscribe +unsubscribe +ping +role +select "
            "+type +strlen +get +exists +set +incr +publish" % USER_PW)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class RespError(Exception):
    pass


class Resp:
    """A minimal blocking RESP2 client (replies capped at 1 MiB)."""

    def __init__(self, port, password=ADMIN_PW, user=None, timeout=2.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout)
        self.sock.settimeout(timeout)
        self.buf = b""
        if password:
            args = ["AUTH"] + ([user] if user else []) + [password]
            self.call(*args)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def send(self, *args):
        out = b"*%d\r\n" % len(args)
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out += b"$%d\r\n%s\r\n" % (len(a), a)
        self.sock.sendall(out)

    def _line(self):
        while b"\r\n" not in self.buf:
            if len(self.buf) > 1 << 20:
                raise RespError("reply too long")
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("connection closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exact(self, n):
        while len(self.buf) < n + 2:
            if n > 1 << 20:
                raise RespError("reply too long")
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("connection closed")
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def read(self):
        line = self._line()
        t, rest = line[:1], line[1:]
        if t == b"+":
            return rest.decode()
        if t == b"-":
            raise RespError(rest.decode())
        if t == b":":
            return int(rest)
        if t == b"$":
            n = int(rest)
            return None if n < 0 else self._exact(n)
        if t == b"*":
            n = int(rest)
            return None if n < 0 else [self.read() for _ in range(n)]
        raise RespError("bad reply type %r" % t)

    def call(self, *args):
        self.send(*args)
        return self.read()


def keys_of(election, namespace="default"):
    base = "{elector:%s:%s}" % (namespace, election)
    return base + ":record", base + ":version", base + ":events"


class RedisServer:
    """One redis-server. replicaof: (port) of a master to replicate."""

    def __init__(self, port=None, replicaof=None, name="redis",
                 persist=False):
        self.dir = tempfile.mkdtemp(prefix="elector-%s-" % name)
        self.pidfile = os.path.join(self.dir, "redis.pid")
        self.port = port or free_port()
        self.replicaof = replicaof
        self.proc = None
        self.pw_file = os.path.join(self.dir, "elector.pw")
        with open(self.pw_file, "w") as f:
            f.write(USER_PW + "\n")
        os.chmod(self.pw_file, 0o600)
        self.conf = os.path.join(self.dir, "redis.conf")
        lines = [
            "port %d" % self.port, "bind 127.0.0.1", "dir %s" % self.dir,
            "save \"\"", "daemonize no", "pidfile %s" % self.pidfile,
            "appendonly %s" % ("yes" if persist else "no"),
            "appendfsync always",
            "logfile %s" % os.path.join(self.dir, "redis.log"),
            "requirepass %s" % ADMIN_PW, "masterauth %s" % ADMIN_PW,
            "user %s %s" % (USER, ACL_RULE),
            "enable-debug-command local",
        ]
        if replicaof:
            lines.append("replicaof 127.0.0.1 %d" % replicaof)
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + "\n")

    @property
    def url(self):
        return "redis://127.0.0.1:%d" % self.port

    def start(self, timeout=10):
        self.proc = subprocess.Popen(["redis-server", self.conf],
                                     stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                c = Resp(self.port)
                c.call("PING")
                c.close()
                return self
            except (OSError, RespError, ConnectionError):
                if self.proc.poll() is not None:
                    break
                time.sleep(0.05)
        raise AssertionError("redis-server on %d did not start: %s"
                             % (self.port, self.log()[-2000:]))

    def log(self):
        try:
            with open(os.path.join(self.dir, "redis.log")) as f:
                return f.read()
        except OSError:
            return ""

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        if self.alive():
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)

    def kill(self):
        if self.alive():
            self.proc.kill()
            self.proc.wait(10)

    def pause(self):
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self):
        self.proc.send_signal(signal.SIGCONT)

    def client(self, **kw):
        return Resp(self.port, **kw)

    def cmd(self, *args):
        c = Resp(self.port)
        try:
            return c.call(*args)
        finally:
            c.close()

    def cli(self, *args):
        """redis-cli as a user would run it (password via REDISCLI_AUTH)."""
        env = dict(os.environ, REDISCLI_AUTH=ADMIN_PW)
        return subprocess.run(["redis-cli", "-p", str(self.port)] + list(args),
                              env=env, capture_output=True, text=True,
                              timeout=10)

    def commandstats(self, conn=None):
        """{command: calls} from INFO commandstats (on conn when given: a
        fresh connection's own AUTH is counted too)."""
        raw = conn.call("INFO", "commandstats") if conn else \
            self.cmd("INFO", "commandstats")
        text = raw.decode()
        out = {}
        for line in text.splitlines():
            if line.startswith("cmdstat_"):
                name, rest = line[8:].split(":", 1)
                calls = int(rest.split("calls=", 1)[1].split(",", 1)[0])
                out[name] = calls
        return out

    def pid(self):
        """The pid in the pidfile (the server may have been restarted by a
        shell command, e.g. the conformance suite's --up-cmd)."""
        try:
            with open(self.pidfile) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            return None

    def close(self):
        if self.alive():
            self.proc.send_signal(signal.SIGCONT)
            self.stop()
        pid = self.pid()
        if pid and (self.proc is None or pid != self.proc.pid):
            try:
                with open("/proc/%d/cmdline" % pid, "rb") as f:
                    argv = f.read()
                mine = b"redis-server" in argv and b":%d" % self.port in argv
                if mine:
                    os.kill(pid, signal.SIGCONT)
                    os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        shutil.rmtree(self.dir, ignore_errors=True)


class Sentinel:
    """One redis-sentinel monitoring master_port as MASTER."""

    def __init__(self, master_port, master="mymaster", port=None,
                 down_after_ms=1000, failover_timeout_ms=4000):
        self.dir = tempfile.mkdtemp(prefix="elector-sentinel-")
        self.port = port or free_port()
        self.conf = os.path.join(self.dir, "sentinel.conf")
        with open(self.conf, "w") as f:
            f.write("\n".join([
                "port %d" % self.port, "bind 127.0.0.1", "dir %s" % self.dir,
                "daemonize no",
                "logfile %s" % os.path.join(self.dir, "sentinel.log"),
                "sentinel resolve-hostnames no",
                "sentinel monitor %s 127.0.0.1 %d 2" % (master, master_port),
                "sentinel auth-pass %s %s" % (master, ADMIN_PW),
                "sentinel down-after-milliseconds %s %d" % (master, down_after_ms),
                "sentinel failover-timeout %s %d" % (master, failover_timeout_ms),
                "sentinel parallel-syncs %s 1" % master,
            ]) + "\n")
        self.proc = None

    def start(self, timeout=10):
        self.proc = subprocess.Popen(["redis-sentinel", self.conf],
                                     stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                c = Resp(self.port, password=None)
                c.call("PING")
                c.close()
                return self
            except (OSError, RespError, ConnectionError):
                if self.proc.poll() is not None:
                    break
                time.sleep(0.05)
        raise AssertionError("redis-sentinel on %d did not start" % self.port)

    def master_addr(self, master="mymaster"):
        c = Resp(self.port, password=None)
        try:
            r = c.call("SENTINEL", "get-master-addr-by-name", master)
        finally:
            c.close()
        return None if r is None else (r[0].decode(), int(r[1]))

    def log(self):
        try:
            with open(os.path.join(self.dir, "sentinel.log")) as f:
                return f.read()
        except OSError:
            return ""

    def close(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        shutil.rmtree(self.dir, ignore_errors=True)


def daemon_args(url, pw_file, election="demo", ident=None, lease="3s",
                renew="2s", retry="500ms", user=USER, extra=()):
    args = ["--election", election, "--backend", "redis",
            "--redis-url", url, "--backend-opt", "username=%s" % user,
            "--backend-opt", "password-file=%s" % pw_file,
            "--lease-duration", lease, "--renew-deadline", renew,
            "--retry-period", retry]
    if ident:
        args += ["--id", ident]
    return args + list(extra)
