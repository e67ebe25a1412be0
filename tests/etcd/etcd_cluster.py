"""A real 3-member etcd cluster on loopback for elector's tests and bench.

Debian's etcd-server (3.4) and etcd-client. Every member listens on
127.0.0.1 on free ports, keeps its data in a temp dir, is started and
stopped by pid (SIGKILL/SIGSTOP/SIGCONT for faults). Generous raft timings
(heartbeat 100 ms, election 1000 ms) for a busy 2-core machine. Optional
client TLS with certificates generated here with openssl (CA, server cert
for 127.0.0.1, client cert). Every wait is bounded.
"""
import base64
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.request

ROOT_PW = "root-pw-5d1e"
USER = "elector"
USER_PW = "elector-pw-84b0"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def have_etcd():
    return shutil.which("etcd") and shutil.which("etcdctl")


def _openssl(*args, cwd):
    subprocess.run(["openssl"] + list(args), cwd=cwd, check=True,
                   capture_output=True, timeout=60)


def make_certs(d):
    """CA, server (127.0.0.1/localhost) and client certificates in d."""
    os.makedirs(d, exist_ok=True)
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
             "-keyout", "ca.key", "-out", "ca.pem", "-subj", "/CN=elector-test-ca",
             cwd=d)
    with open(os.path.join(d, "ext.cnf"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n"
                "extendedKeyUsage=serverAuth,clientAuth\n")
    # etcd (>= 3.4.10) refuses gateway requests whose client certificate
    # carries a CommonName (CN-based auth does not pass the gateway), so
    # the client certificate names its holder in O only.
    for name, subj in (("server", "/CN=etcd-member"),
                       ("client", "/O=elector-test")):
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout",
                 name + ".key", "-out", name + ".csr", "-subj", subj,
                 cwd=d)
        _openssl("x509", "-req", "-in", name + ".csr", "-CA", "ca.pem",
                 "-CAkey", "ca.key", "-CAcreateserial", "-days", "2",
                 "-extfile", "ext.cnf", "-out", name + ".pem", cwd=d)
    for f in os.listdir(d):
        if f.endswith(".key"):
            os.chmod(os.path.join(d, f), 0o600)
    return d


class Member:
    def __init__(self, cluster, i):
        self.cluster = cluster
        self.i = i
        self.name = "m%d" % i
        self.client_port = free_port()
        self.peer_port = free_port()
        self.data = os.path.join(cluster.dir, self.name)
        self.logfile = os.path.join(cluster.dir, self.name + ".log")
        self.proc = None

    @property
    def url(self):
        scheme = "https" if self.cluster.tls else "http"
        return "%s://127.0.0.1:%d" % (scheme, self.client_port)

    @property
    def peer_url(self):
        return "http://127.0.0.1:%d" % self.peer_port

    def args(self):
        c = self.cluster
        a = ["etcd", "--name", self.name, "--data-dir", self.data,
             "--listen-client-urls", self.url,
             "--advertise-client-urls", self.url,
             "--listen-peer-urls", self.peer_url,
             "--initial-advertise-peer-urls", self.peer_url,
             "--initial-cluster", c.initial_cluster(),
             "--initial-cluster-state", "new",
             "--initial-cluster-token", c.token,
             "--heartbeat-interval", "100", "--election-timeout", "1000",
             "--logger", "zap", "--log-level", "warn",
             "--enable-pprof=false"]
        if c.tls:
            a += ["--cert-file", c.cert("server.pem"),
                  "--key-file", c.cert("server.key"),
                  "--trusted-ca-file", c.cert("ca.pem"),
                  "--client-cert-auth"]
        return a + c.extra_args

    def start(self):
        assert self.proc is None or self.proc.poll() is not None
        log = open(self.logfile, "ab")
        env = dict(os.environ)
        env.pop("ETCDCTL_API", None)
        self.proc = subprocess.Popen(self.args(), stdout=log, stderr=log,
                                     stdin=subprocess.DEVNULL, env=env)
        log.close()

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def kill(self):
        if self.alive():
            self.proc.send_signal(signal.SIGCONT)
            self.proc.kill()
            self.proc.wait(10)

    def stop(self):
        if self.alive():
            self.proc.send_signal(signal.SIGCONT)
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)

    def freeze(self):
        self.proc.send_signal(signal.SIGSTOP)

    def thaw(self):
        self.proc.send_signal(signal.SIGCONT)

    def member_id(self):
        st = self.cluster.ctl_json(["endpoint", "status"], eps=[self.url])
        return st[0]["Status"]["header"]["member_id"]

    def is_leader(self):
        st = self.cluster.ctl_json(["endpoint", "status"], eps=[self.url])
        h = st[0]["Status"]
        return h["leader"] == h["header"]["member_id"]


class EtcdCluster:
    def __init__(self, n=3, tls=False, name="etcd", extra_args=(),
                 base_dir=None):
        self.extra_args = list(extra_args)
        self.dir = tempfile.mkdtemp(prefix="elector-%s-" % name, dir=base_dir)
        self.tls = tls
        self.token = "elector-%d-%d" % (os.getpid(), free_port())
        self.members = [Member(self, i) for i in range(n)]
        self.certdir = make_certs(os.path.join(self.dir, "certs")) if tls \
            else None
        self.pw_file = os.path.join(self.dir, "pw")
        with open(self.pw_file, "w") as f:
            f.write(USER_PW + "\n")
        os.chmod(self.pw_file, 0o600)
        self.auth = False

    def cert(self, name):
        return os.path.join(self.certdir, name)

    def initial_cluster(self):
        return ",".join("%s=%s" % (m.name, m.peer_url) for m in self.members)

    @property
    def endpoints(self):
        return ",".join(m.url for m in self.members)

    def start(self, timeout=60):
        for m in self.members:
            m.start()
        self.wait_healthy(timeout)

    def close(self):
        for m in self.members:
            m.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    # ---- etcdctl -----------------------------------------------------
    def ctl(self, args, eps=None, check=True, timeout=30, user=None):
        cmd = ["etcdctl", "--endpoints", ",".join(eps or
                                                  [m.url for m in self.members
                                                   if m.alive()]),
               "--command-timeout", "5s", "--dial-timeout", "3s"]
        if self.tls:
            cmd += ["--cacert", self.cert("ca.pem"), "--cert",
                    self.cert("client.pem"), "--key", self.cert("client.key")]
        if user is None and self.auth:
            user = "root:" + ROOT_PW
        if user:
            cmd += ["--user", user]
        env = dict(os.environ, ETCDCTL_API="3")
        p = subprocess.run(cmd + list(args), capture_output=True, text=True,
                           timeout=timeout, env=env)
        if check and p.returncode != 0:
            raise AssertionError("etcdctl %s: %s %s" % (" ".join(args),
                                                        p.stdout, p.stderr))
        return p

    def ctl_json(self, args, eps=None):
        p = self.ctl(list(args) + ["-w", "json"], eps=eps)
        return json.loads(p.stdout)

    def ctl_shell(self, args):
        """The etcdctl command line for a shell (conformance commands)."""
        import shlex
        cmd = ["ETCDCTL_API=3", "etcdctl", "--endpoints", self.endpoints,
               "--command-timeout", "5s"]
        if self.tls:
            cmd += ["--cacert", self.cert("ca.pem"), "--cert",
                    self.cert("client.pem"), "--key", self.cert("client.key")]
        if self.auth:
            cmd += ["--user", "root:" + ROOT_PW]
        return " ".join(shlex.quote(c) if not c.startswith("ETCDCTL") else c
                        for c in cmd + list(args))

    def wait_healthy(self, timeout=60, members=None):
        deadline = time.monotonic() + timeout
        members = members or [m for m in self.members if m.alive()]
        last = ""
        while time.monotonic() < deadline:
            try:
                ok = all(self.healthy(m) for m in members)
                if ok:
                    return
            except Exception as e:  # noqa: BLE001 - retried until deadline
                last = str(e)
            for m in members:
                if not m.alive():
                    raise AssertionError("%s exited: %s" % (m.name,
                                                           self.log(m)))
            time.sleep(0.2)
        raise AssertionError("etcd not healthy in %ss: %s" % (timeout, last))

    def healthy(self, m):
        ctx = None
        if self.tls:
            ctx = ssl.create_default_context(cafile=self.cert("ca.pem"))
            ctx.load_cert_chain(self.cert("client.pem"),
                                self.cert("client.key"))
        with urllib.request.urlopen(m.url + "/health", timeout=2,
                                    context=ctx) as r:
            return json.loads(r.read()).get("health") == "true"

    def log(self, m):
        try:
            with open(m.logfile, errors="replace") as f:
                return f.read()[-3000:]
        except OSError:
            return ""

    def leader(self):
        for m in self.members:
            if m.alive():
                try:
                    if m.is_leader():
                        return m
                except (AssertionError, KeyError, ValueError, IndexError):
                    continue
        return None

    def put_raw(self, key, value):
        self.ctl(["put", "--", key, value])

    def put_stdin(self, key, value):
        """Put a value too large for argv (etcdctl reads it from stdin)."""
        cmd = self.ctl_shell(["put", "--", key])
        p = subprocess.run(["sh", "-c", cmd], input=value, text=True,
                           capture_output=True, timeout=60)
        if p.returncode != 0:
            raise AssertionError("etcdctl put: %s" % p.stderr)

    def get_raw(self, key):
        p = self.ctl(["get", key, "--print-value-only"])
        return p.stdout[:-1] if p.stdout.endswith("\n") else p.stdout

    def get_json(self, key):
        d = self.ctl_json(["get", key])
        kvs = d.get("kvs") or []
        if not kvs:
            return None, 0
        kv = kvs[0]
        return base64.b64decode(kv["value"]).decode(), int(kv["mod_revision"])

    def revision(self):
        d = self.ctl_json(["get", "/", "--prefix", "--keys-only",
                           "--limit", "1"])
        return int(d["header"]["revision"])

    def compact(self):
        rev = self.revision()
        self.ctl(["compaction", str(rev)])
        return rev

    def enable_auth(self, prefix="/elector/"):
        """root, a role with readwrite on prefix only, and USER."""
        self.ctl(["user", "add", "root:" + ROOT_PW])
        self.ctl(["role", "add", "elector-role"])
        self.ctl(["role", "grant-permission", "elector-role", "readwrite",
                  "--prefix=true", prefix])
        self.ctl(["user", "add", "%s:%s" % (USER, USER_PW)])
        self.ctl(["user", "grant-role", USER, "elector-role"])
        self.ctl(["auth", "enable"])
        self.auth = True

    def disable_auth(self):
        self.ctl(["auth", "disable"])
        self.auth = False
        self.ctl(["user", "delete", USER], check=False)
        self.ctl(["role", "delete", "elector-role"], check=False)
        self.ctl(["user", "delete", "root"], check=False)

    def move_leader(self, to):
        cur = self.leader()
        assert cur is not None, "no etcd leader"
        self.ctl(["move-leader", "%x" % int(to.member_id())],
                 eps=[cur.url])


def daemon_args(cluster, election="demo", ident=None, lease="3s",
                renew="2s", retry="500ms", extra=()):
    args = ["--election", election, "--backend", "etcd",
            "--etcd-endpoints", cluster.endpoints,
            "--lease-duration", lease, "--renew-deadline", renew,
            "--retry-period", retry]
    if cluster.auth:
        args += ["--backend-opt", "user=%s" % USER,
                 "--backend-opt", "password-file=%s" % cluster.pw_file]
    if cluster.tls:
        args += ["--backend-opt", "ca-file=%s" % cluster.cert("ca.pem"),
                 "--backend-opt", "cert-file=%s" % cluster.cert("client.pem"),
                 "--backend-opt", "key-file=%s" % cluster.cert("client.key")]
    if ident:
        args += ["--id", ident]
    return args + list(extra)


def key_of(election, ns="default", prefix="/elector"):
    return "%s/%s/%s" % (prefix, ns, election)
