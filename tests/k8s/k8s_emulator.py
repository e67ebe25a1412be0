"""A Kubernetes API server emulator for elector's tests (stdlib only).

It follows the behaviour of a real kube-apiserver as captured in
tests/k8s/reference/k8s-lease-api (bodies, status codes, headers) for the
parts elector and kubectl use:

- TLS with its own CA (openssl, generated in a temporary directory), bearer
  token and client-certificate authentication (401 Status body), anonymous
  requests as system:anonymous, per-user authorization (403 Status body);
- discovery: /version, /api, /api/v1, /apis, /apis/coordination.k8s.io/v1;
- coordination.k8s.io/v1 Leases: create/get/update/delete/list (with
  fieldSelector=metadata.name=X) per namespace, one cluster-wide
  resourceVersion, 409 Conflict / AlreadyExists, 404 NotFound, 422 Invalid,
  create-on-update, no-op updates that keep the resourceVersion, MicroTime
  validation (exactly 6 fractional digits, else 400);
- watches: chunked streams of ADDED/MODIFIED/DELETED/BOOKMARK events,
  timeoutSeconds, 410 Expired (as an ERROR event, or as an HTTP 410 when
  asked) for a resourceVersion older than the retained history;
- pods: GET and PATCH (merge / strategic merge of metadata.labels);
- core/v1 Events: create (POST /api/v1/namespaces/NS/events: 201 with the
  stored object, 409 AlreadyExists, 400 on a namespace mismatch, 422 without
  a name or with an involvedObject in another namespace) and list, with the
  same per-user authorization as every other resource;
- fault injection (latency, 5xx, 429 with Retry-After, dropped connections,
  dropped watches) through Python calls or POST /_emulator/faults;
- request accounting per user and verb (GET /_emulator/stats).

Use in-process:  emu = K8sEmulator(); emu.start(); ...; emu.stop()
or standalone:   python3 k8s_emulator.py --dir DIR   (prints {"port": N})
"""
import base64
import datetime
import json
import os
import random
import re
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

GROUP = "coordination.k8s.io"
LEASE_API = "coordination.k8s.io/v1"
MICRO_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}(Z|[+-]\d{2}:\d{2})$")
DNS1123_SUB = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
FLOWSCHEMA_UID = "c8b08326-3e1e-487f-8e24-3183d5cf5df5"
PRIORITY_UID = "e230759d-22bf-49fc-a939-8a7e394e6821"
VERBS = ("get", "list", "watch", "create", "update", "delete", "patch")
MAX_BODY = 3 * 1024 * 1024


def dumps(o):
    return json.dumps(o, separators=(",", ":"))


def now_seconds():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def openssl(*args, cwd):
    subprocess.run(["openssl"] + list(args), cwd=cwd, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


class PKI:
    """A CA, a server certificate for 127.0.0.1/localhost, client certs."""

    def __init__(self, d):
        self.dir = d
        self.ca_crt = os.path.join(d, "ca.crt")
        self.ca_key = os.path.join(d, "ca.key")
        openssl("req", "-x509", "-newkey", "ec", "-pkeyopt",
                "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", "ca.key",
                "-out", "ca.crt", "-days", "3", "-subj", "/CN=elector-emulator-ca",
                cwd=d)
        self.server_crt, self.server_key = self._sign(
            "server", "/CN=kube-apiserver",
            "subjectAltName=IP:127.0.0.1,DNS:localhost,"
            "DNS:kubernetes.default.svc,DNS:kubernetes\n"
            "extendedKeyUsage=serverAuth\n")

    def _sign(self, name, subj, ext):
        openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                "-nodes", "-keyout", name + ".key", "-out", name + ".csr",
                "-subj", subj, cwd=self.dir)
        with open(os.path.join(self.dir, name + ".ext"), "w") as f:
            f.write(ext)
        openssl("x509", "-req", "-in", name + ".csr", "-CA", "ca.crt",
                "-CAkey", "ca.key", "-CAcreateserial", "-out", name + ".crt",
                "-days", "3", "-extfile", name + ".ext", cwd=self.dir)
        return (os.path.join(self.dir, name + ".crt"),
                os.path.join(self.dir, name + ".key"))

    def client_cert(self, user, groups=()):
        subj = "/CN=%s" % user + "".join("/O=%s" % g for g in groups)
        safe = re.sub(r"[^a-zA-Z0-9_-]", "_", user)
        return self._sign("client-" + safe, subj,
                          "extendedKeyUsage=clientAuth\n")


def status_body(code, reason, message, details=None, status="Failure"):
    o = {"kind": "Status", "apiVersion": "v1", "metadata": {},
         "status": status}
    if message is not None:
        o["message"] = message
    if reason is not None:
        o["reason"] = reason
    if details is not None:
        o["details"] = details
    if code is not None:
        o["code"] = code
    return o


class ApiError(Exception):
    def __init__(self, code, body, headers=None):
        super().__init__(body.get("message", ""))
        self.code = code
        self.body = body
        self.headers = headers or {}


def not_found(resource, name, group=GROUP):
    full = "%s.%s" % (resource, group) if group else resource
    d = {"name": name, "kind": resource}
    if group:
        d = {"name": name, "group": group, "kind": resource}
    return ApiError(404, status_body(404, "NotFound", '%s "%s" not found' % (full, name), d))


def bad_request(msg):
    return ApiError(400, status_body(400, "BadRequest", msg))


def invalid(kind_msg, name, kind, causes):
    msg = '%s "%s" is invalid: %s' % (kind_msg, name, ", ".join(
        "%s: %s" % (c["field"], c["message"]) for c in causes))
    return ApiError(422, status_body(422, "Invalid", msg, {
        "name": name, "group": GROUP, "kind": kind, "causes": causes}))


class Store:
    """Leases, pods, one resourceVersion counter, an event history."""

    def __init__(self, history=1000):
        self.lock = threading.Condition()
        self.rv = 229
        self.leases = {}   # (ns, name) -> object
        self.pods = {}     # (ns, name) -> object
        self.k8s_events = {}  # (ns, name) -> core/v1 Event, in creation order
        self.events = []   # (rv, type, ns, name, object)
        self.history = history
        self.compacted = 0  # oldest rv still watchable is compacted+1
        self.pod_label_log = []  # (monotonic, ns, name, labels)

    def next_rv(self):
        self.rv += 1
        return self.rv

    def record(self, etype, ns, name, obj):
        self.events.append((int(obj["metadata"]["resourceVersion"]), etype,
                            ns, name, json.loads(dumps(obj))))
        if len(self.events) > self.history:
            drop = len(self.events) - self.history
            self.compacted = self.events[drop - 1][0]
            del self.events[:drop]
        self.lock.notify_all()

    def compact(self):
        with self.lock:
            if self.events:
                self.compacted = self.events[-1][0]
            else:
                self.compacted = self.rv
            self.events = []


def validate_lease_body(body, name_for_msg):
    """Raise ApiError for a malformed body (400) or an invalid spec (422)."""
    if not isinstance(body, dict):
        raise bad_request("Lease in version \"v1\" cannot be handled as a "
                          "Lease: json: cannot unmarshal into Go value of type "
                          "v1.Lease")
    if body.get("kind") not in (None, "Lease") or \
            body.get("apiVersion") not in (None, LEASE_API):
        raise bad_request("the API version in the data (%s) does not match the "
                          "expected API version (%s)" % (body.get("apiVersion"),
                                                         LEASE_API))
    spec = body.get("spec") or {}
    if not isinstance(spec, dict):
        raise bad_request("Lease in version \"v1\" cannot be handled as a Lease: "
                          "json: cannot unmarshal into Go struct field Lease.spec")
    for k in ("acquireTime", "renewTime"):
        v = spec.get(k)
        if v is None:
            continue
        if not isinstance(v, str) or not MICRO_RE.match(v):
            raise bad_request(
                "Lease in version \"v1\" cannot be handled as a Lease: parsing "
                "time \"%s\" as \"2006-01-02T15:04:05.000000Z07:00\": cannot "
                "parse \"%s\" as \"2006-01-02T15:04:05.000000Z07:00\"" % (v, v))
    for k in ("leaseDurationSeconds", "leaseTransitions"):
        v = spec.get(k)
        if v is not None and (not isinstance(v, int) or isinstance(v, bool)
                              or v > 2**31 - 1 or v < -2**31):
            raise bad_request("Lease in version \"v1\" cannot be handled as a "
                              "Lease: json: cannot unmarshal %s into Go struct "
                              "field LeaseSpec.spec.%s of type int32" % (
                                  type(v).__name__, k))
    for k in ("holderIdentity", "preferredHolder", "strategy"):
        v = spec.get(k)
        if v is not None and not isinstance(v, str):
            raise bad_request("Lease in version \"v1\" cannot be handled as a "
                              "Lease: json: cannot unmarshal into Go struct "
                              "field LeaseSpec.spec.%s of type string" % k)
    causes = []
    d = spec.get("leaseDurationSeconds")
    if d is not None and d <= 0:
        causes.append({"reason": "FieldValueInvalid",
                       "message": "Invalid value: %d: must be greater than 0" % d,
                       "field": "spec.leaseDurationSeconds"})
    t = spec.get("leaseTransitions")
    if t is not None and t < 0:
        causes.append({"reason": "FieldValueInvalid",
                       "message": "Invalid value: %d: must be greater than or "
                                  "equal to 0" % t,
                       "field": "spec.leaseTransitions"})
    if spec.get("preferredHolder") and not spec.get("strategy"):
        causes.append({"reason": "FieldValueForbidden",
                       "message": "Forbidden: preferredHolder can only be set "
                                  "when strategy is set",
                       "field": "spec.preferredHolder"})
    return spec, causes


def normal_spec(spec):
    out = {}
    for k in ("holderIdentity", "leaseDurationSeconds", "acquireTime",
              "renewTime", "leaseTransitions", "strategy", "preferredHolder"):
        if spec.get(k) is not None:
            out[k] = spec[k]
    return out


class K8sEmulator:
    def __init__(self, workdir=None, history=1000, bookmark_interval=1.0):
        self.own_dir = workdir is None
        self.dir = workdir or tempfile.mkdtemp(prefix="k8s-emu-")
        os.makedirs(self.dir, exist_ok=True)
        self.pki = PKI(self.dir)
        self.store = Store(history)
        self.tokens = {}             # token -> user
        self.groups = {}             # user -> groups
        self.denied = {}             # user -> set of denied verbs (or "*")
        self.denied_resources = {}   # user -> set of resources the denial covers (None: all)
        self.bookmark_interval = bookmark_interval
        self.faults = {}
        self.fault_lock = threading.Lock()
        self.rng = random.Random(4)
        self.stats_lock = threading.Lock()
        self.log = []                # (monotonic, user, verb, path, code)
        self.watch_gen = 0           # bump to drop every open watch
        self.watch_count = 0
        self.gone_as_http = False
        self.force_gone = 0          # answer the next N resumed watches 410
        self.httpd = None
        self.thread = None
        self.port = None
        self.admin_token = "admin-" + uuid.uuid4().hex
        self.add_token(self.admin_token, "admin")

    # ---- configuration --------------------------------------------------
    def add_token(self, token, user, groups=("system:authenticated",)):
        with self.fault_lock:
            self.tokens[token] = user
            self.groups[user] = list(groups)

    def revoke_token(self, token):
        with self.fault_lock:
            self.tokens.pop(token, None)

    def deny(self, user, verbs=("*",), resources=None):
        """Forbid verbs to user, on every resource or only on resources
        (e.g. ["events"]), like a Role that lacks those rules."""
        with self.fault_lock:
            self.denied[user] = set(verbs)
            self.denied_resources[user] = set(resources) if resources else None

    def allow(self, user):
        with self.fault_lock:
            self.denied.pop(user, None)
            self.denied_resources.pop(user, None)

    def set_faults(self, **kw):
        """latency_ms, latency_methods (list), error_rate (0..1),
        error_code (500, 503, 429, ...), error_count (n, then stop),
        retry_after (seconds, with 429/503), drop_rate (0..1: close the
        connection without answering), refuse_watch (bool), huge_body (a
        4 MiB answer to get/create/update), garbage_watch (a line sent
        before every watch event batch)."""
        with self.fault_lock:
            self.faults = dict(kw)

    def clear_faults(self):
        self.set_faults()

    def drop_watches(self):
        with self.store.lock:
            self.watch_gen += 1
            self.store.lock.notify_all()

    def add_pod(self, ns, name, labels=None):
        with self.store.lock:
            rv = self.store.next_rv()
            self.store.pods[(ns, name)] = {
                "kind": "Pod", "apiVersion": "v1",
                "metadata": {"name": name, "namespace": ns,
                             "uid": str(uuid.uuid4()),
                             "resourceVersion": str(rv),
                             "creationTimestamp": now_seconds(),
                             "labels": dict(labels or {})},
                "spec": {"containers": [{"name": "app", "image": "app"}]},
                "status": {"phase": "Running"}}

    def events_of(self, ns=None):
        """The core/v1 Events created so far (oldest first)."""
        with self.store.lock:
            return [json.loads(dumps(e)) for (ens, _n), e in self.store.k8s_events.items()
                    if ns is None or ens == ns]

    def pod_labels(self, ns, name):
        with self.store.lock:
            p = self.store.pods.get((ns, name))
            return dict(p["metadata"].get("labels") or {}) if p else None

    # ---- accounting -----------------------------------------------------
    def count(self, user=None, verb=None, since=None):
        with self.stats_lock:
            return sum(1 for (t, u, v, _p, _c) in self.log
                       if (user is None or u == user) and
                       (verb is None or v == verb) and
                       (since is None or t >= since))

    def stats(self):
        out = {}
        with self.stats_lock:
            for (_t, u, v, _p, _c) in self.log:
                out.setdefault(u, {}).setdefault(v, 0)
                out[u][v] += 1
        return out

    def reset_stats(self):
        with self.stats_lock:
            self.log = []

    # ---- files for clients ----------------------------------------------
    @property
    def url(self):
        return "https://127.0.0.1:%d" % self.port

    def kubeconfig(self, path, user="admin", token=None, token_file=None,
                   cert=None, exec_=None, ca="file", namespace=None,
                   insecure=False, server=None, tls_server_name=None):
        """Write a kubeconfig; returns path. exec_ is a dict for
        users[].user.exec; cert a (crt, key) pair (embedded as -data when
        ca == "data")."""
        cluster = {"server": server or self.url}
        if insecure:
            cluster["insecure-skip-tls-verify"] = True
        elif ca == "data":
            with open(self.pki.ca_crt, "rb") as f:
                cluster["certificate-authority-data"] = base64.b64encode(f.read()).decode()
        else:
            cluster["certificate-authority"] = self.pki.ca_crt
        if tls_server_name:
            cluster["tls-server-name"] = tls_server_name
        u = {}
        if token:
            u["token"] = token
        if token_file:
            u["tokenFile"] = token_file
        if cert:
            if ca == "data":
                with open(cert[0], "rb") as f:
                    u["client-certificate-data"] = base64.b64encode(f.read()).decode()
                with open(cert[1], "rb") as f:
                    u["client-key-data"] = base64.b64encode(f.read()).decode()
            else:
                u["client-certificate"] = cert[0]
                u["client-key"] = cert[1]
        if exec_:
            u["exec"] = exec_
        if not (token or token_file or cert or exec_) and user == "admin":
            u["token"] = self.admin_token
        ctx = {"cluster": "emu", "user": user}
        if namespace:
            ctx["namespace"] = namespace
        doc = {"apiVersion": "v1", "kind": "Config",
               "clusters": [{"name": "emu", "cluster": cluster}],
               "users": [{"name": user, "user": u}],
               "contexts": [{"name": "emu", "context": ctx}],
               "current-context": "emu"}
        # JSON is valid YAML; kubectl and libyaml both read it.
        with open(path, "w") as f:
            json.dump(doc, f, indent=1)
        return path

    # ---- lifecycle ------------------------------------------------------
    def start(self, port=0):
        emu = self
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.pki.server_crt, self.pki.server_key)
        ctx.load_verify_locations(self.pki.ca_crt)
        ctx.verify_mode = ssl.CERT_OPTIONAL

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            allow_reuse_address = True
            request_queue_size = 128

            def process_request_thread(self, request, client_address):
                try:
                    request.settimeout(10)
                    request.do_handshake()
                    request.settimeout(None)
                except (OSError, ssl.SSLError):
                    self.shutdown_request(request)
                    return
                super().process_request_thread(request, client_address)

            def handle_error(self, request, client_address):
                pass

        class Handler(ApiHandler):
            pass
        Handler.emu = emu
        self.httpd = Server(("127.0.0.1", port), Handler)
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True,
                                            do_handshake_on_connect=False)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       kwargs={"poll_interval": 0.1}, daemon=True)
        self.thread.start()
        return self

    def stop(self):
        if self.httpd is not None:
            self.drop_watches()
            self.httpd.shutdown()
            self.httpd.server_close()
            self.httpd = None
        if self.own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *a):
        self.stop()


class ApiHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    emu = None

    def log_message(self, *a):
        pass

    # ---- plumbing -------------------------------------------------------
    def send_json(self, code, obj, headers=None):
        body = dumps(obj).encode()
        self.send_response_only(code)
        self.send_header("Audit-Id", str(uuid.uuid4()))
        self.send_header("Cache-Control", "no-cache, private")
        self.send_header("Content-Type", "application/json")
        if code not in (401,):
            self.send_header("X-Kubernetes-Pf-Flowschema-Uid", FLOWSCHEMA_UID)
            self.send_header("X-Kubernetes-Pf-Prioritylevel-Uid", PRIORITY_UID)
        if code == 403:
            self.send_header("X-Content-Type-Options", "nosniff")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Date", self.date_time_string())
        self.end_headers()
        self.wfile.write(body)
        self.code = code

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n > MAX_BODY:
            raise ApiError(413, status_body(413, "RequestEntityTooLarge",
                                            "request entity too large"))
        return self.rfile.read(n) if n else b""

    def authenticate(self):
        auth = self.headers.get("Authorization")
        emu = self.emu
        if auth:
            if not auth.startswith("Bearer "):
                return None
            with emu.fault_lock:
                return emu.tokens.get(auth[7:].strip())
        cert = None
        try:
            cert = self.connection.getpeercert()
        except (ValueError, AttributeError):
            cert = None
        if cert:
            for rdn in cert.get("subject", ()):
                for k, v in rdn:
                    if k == "commonName":
                        return v
        return "system:anonymous"

    def authorize(self, user, verb, resource, group, ns, name):
        with self.emu.fault_lock:
            denied = self.emu.denied.get(user, set())
            only = self.emu.denied_resources.get(user)
        if only is not None and resource not in only:
            denied = set()
        if user == "system:anonymous" or "*" in denied or verb in denied:
            full = "%s.%s" % (resource, group) if group else resource
            what = '%s "%s"' % (full, name) if name else full
            grp = 'in API group "%s"' % group
            msg = ('%s is forbidden: User "%s" cannot %s resource "%s" %s '
                   'in the namespace "%s"' % (what, user, verb, resource, grp, ns))
            d = {"group": group, "kind": resource}
            if name:
                d = {"name": name, "group": group, "kind": resource}
            raise ApiError(403, status_body(403, "Forbidden", msg, d))

    def inject_faults(self, verb):
        """True when the request was answered/dropped by a fault."""
        emu = self.emu
        with emu.fault_lock:
            f = dict(emu.faults)
            roll_err = emu.rng.random()
            roll_drop = emu.rng.random()
        lat = f.get("latency_ms", 0)
        methods = f.get("latency_methods")
        if lat and (methods is None or self.command in methods):
            time.sleep(lat / 1000.0)
        if f.get("huge_body") and verb in ("get", "update", "create"):
            # a 200 whose body never ends (within 4 MiB): clients must cap it
            blob = b'{"kind":"Lease","pad":"' + b"x" * (4 << 20) + b'"}'
            self.send_response_only(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(blob)))
            self.end_headers()
            try:
                self.wfile.write(blob)
            except OSError:
                pass
            self.close_connection = True
            self.code = 200
            return True
        if verb == "watch" and f.get("refuse_watch"):
            self.drop()
            return True
        if f.get("drop_rate") and roll_drop < f["drop_rate"]:
            self.drop()
            return True
        code = f.get("error_code")
        if code and roll_err < f.get("error_rate", 1.0):
            with emu.fault_lock:
                if "error_count" in emu.faults:
                    if emu.faults["error_count"] <= 0:
                        return False
                    emu.faults["error_count"] -= 1
            headers = {}
            if f.get("retry_after") is not None:
                headers["Retry-After"] = str(f["retry_after"])
            if code == 429:
                body = status_body(429, "TooManyRequests",
                                   "the server has received too many requests "
                                   "and has asked us to try again later",
                                   {"retryAfterSeconds": f.get("retry_after") or 1})
            else:
                body = status_body(code, "InternalError" if code == 500 else
                                   "ServiceUnavailable",
                                   "Internal error occurred: injected fault")
            self.send_json(code, body, headers)
            return True
        return False

    def drop(self):
        self.close_connection = True
        self.code = 0
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def account(self, user, verb, path):
        """Count a request when it arrives (watches last long)."""
        with self.emu.stats_lock:
            self.emu.log.append((time.monotonic(), user, verb, path, 0))

    # ---- dispatch -------------------------------------------------------
    def do_GET(self):
        self.dispatch("GET")

    def do_POST(self):
        self.dispatch("POST")

    def do_PUT(self):
        self.dispatch("PUT")

    def do_DELETE(self):
        self.dispatch("DELETE")

    def do_PATCH(self):
        self.dispatch("PATCH")

    def dispatch(self, method):
        u = urllib.parse.urlsplit(self.path)
        q = urllib.parse.parse_qs(u.query)
        parts = [p for p in u.path.split("/") if p]
        self.code = 0
        user = "?"
        verb = "other"
        accounted = False
        try:
            if parts[:1] == ["_emulator"]:
                return self.control(method, parts[1:])
            user = self.authenticate()
            if user is None:
                raise ApiError(401, status_body(401, "Unauthorized", "Unauthorized"))
            body = self.read_body() if method in ("POST", "PUT", "PATCH") else b""
            verb = self.route_verb(method, parts, q)
            self.account(user, verb, self.path)
            accounted = True
            if verb == "discovery":
                return self.discovery(parts, user)
            if self.inject_faults(verb):
                return
            self.api(method, parts, q, body, user, verb)
        except ApiError as e:
            self.send_json(e.code, e.body, e.headers)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            self.close_connection = True
        finally:
            if parts[:1] != ["_emulator"] and not accounted:
                self.account(user, verb, self.path)

    def route_verb(self, method, parts, q):
        if not parts or parts[0] in ("version", "healthz", "readyz", "livez") or \
                parts in (["api"], ["apis"], ["api", "v1"],
                          ["apis", GROUP], ["apis", GROUP, "v1"]):
            if method != "GET":
                raise ApiError(405, status_body(405, "MethodNotAllowed",
                                                "the server does not allow this "
                                                "method on the requested resource"))
            return "discovery"
        named = len(parts) in (6, 7) and parts[-2] in ("leases", "pods") or \
            (len(parts) == 6 and parts[0] == "api")
        if method == "GET":
            if q.get("watch", ["0"])[0] in ("1", "true"):
                return "watch"
            return "get" if named and self.is_named(parts) else "list"
        return {"POST": "create", "PUT": "update", "DELETE": "delete",
                "PATCH": "patch"}[method]

    @staticmethod
    def is_named(parts):
        if parts[:1] == ["apis"]:
            return len(parts) == 7
        return len(parts) == 6

    def discovery(self, parts, user):
        port = self.emu.port
        if not parts or parts[0] in ("healthz", "readyz", "livez"):
            body = b"ok"
            self.send_response_only(200)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            self.code = 200
            return
        if parts == ["version"]:
            return self.send_json(200, {
                "major": "1", "minor": "31", "gitVersion": "v1.31.0-elector-emulator",
                "gitCommit": "0" * 40, "gitTreeState": "clean",
                "buildDate": "2026-11-21T00:00:00Z", "goVersion": "go1.22.5",
                "compiler": "gc", "platform": "linux/amd64"})
        if user == "system:anonymous":
            raise ApiError(403, status_body(
                403, "Forbidden", 'forbidden: User "system:anonymous" cannot get '
                'path "/%s"' % "/".join(parts), {}))
        if parts == ["api"]:
            return self.send_json(200, {
                "kind": "APIVersions", "versions": ["v1"],
                "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0",
                                                "serverAddress": "127.0.0.1:%d" % port}]})
        if parts == ["api", "v1"]:
            return self.send_json(200, {
                "kind": "APIResourceList", "groupVersion": "v1", "resources": [
                    {"name": "pods", "singularName": "pod", "namespaced": True,
                     "kind": "Pod", "verbs": ["create", "delete", "get", "list",
                                              "patch", "update", "watch"],
                     "shortNames": ["po"], "categories": ["all"]}]})
        gv = {"groupVersion": LEASE_API, "version": "v1"}
        group = {"name": GROUP, "versions": [gv], "preferredVersion": gv}
        if parts == ["apis"]:
            return self.send_json(200, {"kind": "APIGroupList", "apiVersion": "v1",
                                        "groups": [group]})
        if parts == ["apis", GROUP]:
            return self.send_json(200, dict(kind="APIGroup", apiVersion="v1", **group))
        return self.send_json(200, {
            "kind": "APIResourceList", "apiVersion": "v1", "groupVersion": LEASE_API,
            "resources": [{"name": "leases", "singularName": "lease",
                           "namespaced": True, "kind": "Lease",
                           "verbs": ["create", "delete", "deletecollection", "get",
                                     "list", "patch", "update", "watch"],
                           "storageVersionHash": "gqkMMb/YqFM="}]})

    def api(self, method, parts, q, body, user, verb):
        # /apis/coordination.k8s.io/v1/namespaces/NS/leases[/NAME]
        if len(parts) in (6, 7) and parts[:3] == ["apis", GROUP, "v1"] and \
                parts[3] == "namespaces" and parts[5] == "leases":
            ns = parts[4]
            name = parts[6] if len(parts) == 7 else None
            self.authorize(user, verb, "leases", GROUP, ns, name)
            return self.leases(method, ns, name, q, body, user, verb)
        if len(parts) == 5 and parts[:3] == ["api", "v1", "namespaces"] and \
                parts[4] == "events":
            ns = parts[3]
            self.authorize(user, verb, "events", "", ns, None)
            return self.events(method, ns, body)
        if len(parts) == 6 and parts[:3] == ["api", "v1", "namespaces"] and \
                parts[4] == "pods":
            ns, name = parts[3], parts[5]
            self.authorize(user, verb, "pods", "", ns, name)
            return self.pods(method, ns, name, body)
        raise ApiError(404, status_body(404, "NotFound",
                                        "the server could not find the requested "
                                        "resource", {}))

    # ---- leases ---------------------------------------------------------
    def manager(self):
        ua = self.headers.get("User-Agent") or "unknown"
        return ua.split("/")[0].split(" ")[0] or "unknown"

    def managed(self, op="Update"):
        return [{"manager": self.manager(), "operation": op, "apiVersion": LEASE_API,
                 "time": now_seconds(), "fieldsType": "FieldsV1",
                 "fieldsV1": {"f:spec": {"f:acquireTime": {}, "f:holderIdentity": {},
                                         "f:leaseDurationSeconds": {},
                                         "f:leaseTransitions": {},
                                         "f:renewTime": {}}}}]

    def parse_lease(self, body, url_name):
        try:
            obj = json.loads(body or b"null")
        except ValueError as e:
            raise bad_request("Lease in version \"v1\" cannot be handled as a "
                              "Lease: %s" % e)
        spec, causes = validate_lease_body(obj, url_name)
        return obj, normal_spec(spec), causes

    def new_lease(self, ns, name, meta, spec, rv):
        m = {"name": name, "namespace": ns, "uid": str(uuid.uuid4()),
             "resourceVersion": str(rv), "creationTimestamp": now_seconds()}
        for k in ("labels", "annotations"):
            if meta.get(k):
                m[k] = meta[k]
        m["managedFields"] = self.managed()
        return {"kind": "Lease", "apiVersion": LEASE_API, "metadata": m, "spec": spec}

    def leases(self, method, ns, name, q, body, user, verb):
        st = self.emu.store
        if verb == "watch":
            return self.watch(ns, q)
        if verb == "list":
            sel = q.get("fieldSelector", [""])[0]
            want = None
            if sel:
                m = re.match(r"^metadata\.name(==?)(.*)$", sel)
                if not m:
                    raise bad_request('"%s" is not a known field selector: only '
                                      '"metadata.name", "metadata.namespace"' % sel)
                want = m.group(2)
            with st.lock:
                items = []
                for (lns, lname) in sorted(st.leases):
                    if lns == ns and (want is None or lname == want):
                        o = json.loads(dumps(st.leases[(lns, lname)]))
                        o.pop("kind", None)
                        o.pop("apiVersion", None)
                        items.append(o)
                rv = st.rv
            return self.send_json(200, {"kind": "LeaseList", "apiVersion": LEASE_API,
                                        "metadata": {"resourceVersion": str(rv)},
                                        "items": items})
        if verb == "get":
            with st.lock:
                o = st.leases.get((ns, name))
                if o is None:
                    raise not_found("leases", name)
                return self.send_json(200, o)
        if verb == "create":
            obj, spec, causes = self.parse_lease(body, None)
            meta = obj.get("metadata") or {}
            lname = meta.get("name") or ""
            if meta.get("namespace") not in (None, "", ns):
                raise bad_request("the namespace of the provided object does not "
                                  "match the namespace sent on the request")
            if not lname:
                raise invalid("Lease.coordination.k8s.io", "", "Lease", [{
                    "reason": "FieldValueRequired",
                    "message": "Required value: name or generateName is required",
                    "field": "metadata.name"}])
            if len(lname) > 253 or not DNS1123_SUB.match(lname):
                causes.insert(0, {"reason": "FieldValueInvalid",
                                  "message": "Invalid value: \"%s\": a lowercase RFC "
                                  "1123 subdomain must consist of lower case "
                                  "alphanumeric characters, '-' or '.'" % lname,
                                  "field": "metadata.name"})
            if causes:
                raise invalid("Lease.coordination.k8s.io", lname, "Lease", causes)
            with st.lock:
                if (ns, lname) in st.leases:
                    raise ApiError(409, status_body(
                        409, "AlreadyExists",
                        'leases.coordination.k8s.io "%s" already exists' % lname,
                        {"name": lname, "group": GROUP, "kind": "leases"}))
                o = self.new_lease(ns, lname, meta, spec, st.next_rv())
                st.leases[(ns, lname)] = o
                st.record("ADDED", ns, lname, o)
                return self.send_json(201, o)
        if verb == "update":
            obj, spec, causes = self.parse_lease(body, name)
            meta = obj.get("metadata") or {}
            if meta.get("name") != name:
                raise bad_request("the name of the object (%s) does not match the "
                                  "name on the URL (%s)" % (meta.get("name"), name))
            if meta.get("namespace") not in (None, "", ns):
                raise bad_request("the namespace of the provided object does not "
                                  "match the namespace sent on the request")
            with st.lock:
                cur = st.leases.get((ns, name))
                if causes:
                    raise invalid("leases.coordination.k8s.io", name, "leases", causes)
                uid = meta.get("uid")
                if uid and (cur is None or cur["metadata"]["uid"] != uid):
                    # metadata.uid is an update precondition (also blocks
                    # create-on-update)
                    raise ApiError(409, status_body(
                        409, "Conflict",
                        'Operation cannot be fulfilled on leases.coordination.k8s.io '
                        '"%s": Precondition failed: UID in precondition: %s, UID in '
                        'object meta: %s' % (name, uid,
                                             cur["metadata"]["uid"] if cur else ""),
                        {"name": name, "group": GROUP, "kind": "leases"}))
                if cur is None:  # create-on-update; resourceVersion ignored
                    o = self.new_lease(ns, name, meta, spec, st.next_rv())
                    st.leases[(ns, name)] = o
                    st.record("ADDED", ns, name, o)
                    return self.send_json(201, o)
                rv = meta.get("resourceVersion")
                if not rv:
                    raise invalid("leases.coordination.k8s.io", name, "leases", [{
                        "reason": "FieldValueInvalid",
                        "message": "Invalid value: 0x0: must be specified for an "
                                   "update",
                        "field": "metadata.resourceVersion"}])
                if rv != cur["metadata"]["resourceVersion"]:
                    raise ApiError(409, status_body(
                        409, "Conflict",
                        'Operation cannot be fulfilled on leases.coordination.k8s.io '
                        '"%s": the object has been modified; please apply your '
                        'changes to the latest version and try again' % name,
                        {"name": name, "group": GROUP, "kind": "leases"}))
                same = (cur["spec"] == spec and
                        (cur["metadata"].get("labels") or {}) ==
                        (meta.get("labels") or {}) and
                        (cur["metadata"].get("annotations") or {}) ==
                        (meta.get("annotations") or {}))
                if same:  # a no-op update keeps the resourceVersion
                    return self.send_json(200, cur)
                o = json.loads(dumps(cur))
                m = o["metadata"]
                for k in ("labels", "annotations"):
                    if meta.get(k):
                        m[k] = meta[k]
                    else:
                        m.pop(k, None)
                m["resourceVersion"] = str(st.next_rv())
                mf = m.pop("managedFields", None)
                m["managedFields"] = self.managed()
                del mf
                o["spec"] = spec
                st.leases[(ns, name)] = o
                st.record("MODIFIED", ns, name, o)
                return self.send_json(200, o)
        if verb == "delete":
            with st.lock:
                cur = st.leases.pop((ns, name), None)
                if cur is None:
                    raise not_found("leases", name)
                gone = json.loads(dumps(cur))
                gone["metadata"]["resourceVersion"] = str(st.next_rv())
                st.record("DELETED", ns, name, gone)
            return self.send_json(200, status_body(
                None, None, None, {"name": name, "group": GROUP, "kind": "leases",
                                   "uid": cur["metadata"]["uid"]}, status="Success"))
        raise ApiError(405, status_body(405, "MethodNotAllowed",
                                        "the server does not allow this method on "
                                        "the requested resource"))

    # ---- watch ----------------------------------------------------------
    def chunk(self, obj):
        data = (dumps(obj) + "\n").encode()
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def watch(self, ns, q):
        emu = self.emu
        st = emu.store
        sel = q.get("fieldSelector", [""])[0]
        want = None
        if sel:
            m = re.match(r"^metadata\.name(==?)(.*)$", sel)
            if not m:
                raise bad_request('"%s" is not a known field selector' % sel)
            want = m.group(2)
        rv_s = q.get("resourceVersion", [""])[0]
        bookmarks = q.get("allowWatchBookmarks", ["false"])[0] in ("1", "true")
        try:
            tmo = float(q.get("timeoutSeconds", ["1800"])[0])
        except ValueError:
            raise bad_request("invalid timeoutSeconds")
        try:
            start_rv = int(rv_s) if rv_s not in ("", "0") else None
        except ValueError:
            raise bad_request('invalid resource version "%s"' % rv_s)

        def match(ens, ename):
            return ens == ns and (want is None or ename == want)

        initial = []
        with st.lock:
            gen = emu.watch_gen
            last_base = start_rv
            forced = start_rv is not None and emu.force_gone > 0
            if forced:
                emu.force_gone -= 1
            if start_rv is not None and (start_rv < st.compacted or forced):
                gone = status_body(410, "Expired", "too old resource version: %d (%d)"
                                   % (start_rv, st.compacted + 1))
                if emu.gone_as_http:
                    raise ApiError(410, gone)
                initial = [{"type": "ERROR", "object": gone}]
            elif start_rv is None:
                for (lns, lname), o in sorted(st.leases.items()):
                    if match(lns, lname):
                        initial.append({"type": "ADDED", "object": o})
                last_base = st.rv
            emu.watch_count += 1
        self.send_response_only(200)
        self.send_header("Audit-Id", str(uuid.uuid4()))
        self.send_header("Cache-Control", "no-cache, private")
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Date", self.date_time_string())
        self.end_headers()
        self.code = 200
        try:
            for ev in initial:
                self.chunk(ev)
            if initial and initial[0]["type"] == "ERROR":
                self.wfile.write(b"0\r\n\r\n")
                return
            deadline = time.monotonic() + tmo
            next_bm = time.monotonic() + emu.bookmark_interval
            while True:
                out = []
                expired = None
                with st.lock:
                    if last_base < st.compacted:
                        expired = status_body(410, "Expired",
                                              "too old resource version: %d (%d)"
                                              % (last_base, st.compacted + 1))
                    else:
                        for (erv, etype, ens, ename, o) in st.events:
                            if erv <= last_base:
                                continue
                            last_base = erv
                            if match(ens, ename):
                                out.append({"type": etype, "object": o})
                    if not out and expired is None and emu.watch_gen == gen:
                        now = time.monotonic()
                        wait = min(deadline, next_bm) - now
                        if wait > 0:
                            st.lock.wait(min(wait, 0.5))
                    cur_rv = st.rv
                    dropped = emu.watch_gen != gen or emu.httpd is None
                with emu.fault_lock:
                    garbage = emu.faults.get("garbage_watch")
                if garbage and out:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(garbage) + 1,
                                                          garbage.encode() + b"\n"))
                for ev in out:
                    self.chunk(ev)
                if expired is not None:
                    self.chunk({"type": "ERROR", "object": expired})
                    self.wfile.write(b"0\r\n\r\n")
                    return
                if dropped:
                    self.drop()
                    return
                now = time.monotonic()
                if now >= deadline:
                    self.wfile.write(b"0\r\n\r\n")
                    self.wfile.flush()
                    return
                if bookmarks and now >= next_bm:
                    self.chunk({"type": "BOOKMARK", "object": {
                        "kind": "Lease", "apiVersion": LEASE_API,
                        "metadata": {"resourceVersion": str(cur_rv),
                                     "creationTimestamp": None},
                        "spec": {}}})
                    next_bm = now + emu.bookmark_interval
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
            self.close_connection = True
        finally:
            with st.lock:
                emu.watch_count -= 1

    # ---- pods -----------------------------------------------------------
    def pods(self, method, ns, name, body):
        st = self.emu.store
        with st.lock:
            p = st.pods.get((ns, name))
            if p is None:
                raise not_found("pods", name, group="")
            if method == "GET":
                return self.send_json(200, p)
            if method != "PATCH":
                raise ApiError(405, status_body(405, "MethodNotAllowed",
                                                "method not allowed"))
            ct = (self.headers.get("Content-Type") or "").split(";")[0].strip()
            if ct not in ("application/merge-patch+json",
                          "application/strategic-merge-patch+json"):
                raise ApiError(415, status_body(
                    415, "UnsupportedMediaType",
                    "the body of the request was in an unknown format - accepted "
                    "media types include: application/json-patch+json, "
                    "application/merge-patch+json, "
                    "application/strategic-merge-patch+json, "
                    "application/apply-patch+yaml"))
            try:
                patch = json.loads(body or b"null")
            except ValueError as e:
                raise bad_request("error decoding patch: %s" % e)
            if not isinstance(patch, dict):
                raise bad_request("error decoding patch: not an object")
            labels = ((patch.get("metadata") or {}).get("labels"))
            if labels is not None:
                cur = p["metadata"].setdefault("labels", {})
                for k, v in labels.items():
                    if v is None:
                        cur.pop(k, None)
                    else:
                        cur[k] = v
            p["metadata"]["resourceVersion"] = str(st.next_rv())
            st.pod_label_log.append((time.monotonic(), ns, name,
                                     dict(p["metadata"].get("labels") or {})))
            return self.send_json(200, p)

    # ---- events ---------------------------------------------------------
    def events(self, method, ns, body):
        st = self.emu.store
        if method == "GET":
            with st.lock:
                items = [e for (ens, _n), e in st.k8s_events.items() if ens == ns]
                return self.send_json(200, {
                    "kind": "EventList", "apiVersion": "v1",
                    "metadata": {"resourceVersion": str(st.rv)}, "items": items})
        if method != "POST":
            raise ApiError(405, status_body(405, "MethodNotAllowed",
                                            "the server does not allow this method on "
                                            "the requested resource"))
        try:
            obj = json.loads(body or b"null")
        except ValueError as e:
            raise bad_request('Event in version "v1" cannot be handled as a Event: %s' % e)
        if not isinstance(obj, dict):
            raise bad_request('Event in version "v1" cannot be handled as a Event')
        meta = obj.get("metadata") or {}
        if meta.get("namespace") not in (None, "", ns):
            raise bad_request("the namespace of the provided object does not match "
                              "the namespace sent on the request")
        name = meta.get("name") or ""
        causes = []
        if not name:
            causes.append({"reason": "FieldValueRequired", "field": "metadata.name",
                           "message": "Required value: name or generateName is required"})
        inv = obj.get("involvedObject") or {}
        if inv.get("namespace") not in (None, "", ns):
            causes.append({"reason": "FieldValueInvalid",
                           "field": "involvedObject.namespace",
                           "message": "Invalid value: \"%s\": does not match event.namespace"
                                      % inv.get("namespace")})
        if causes:
            raise ApiError(422, status_body(422, "Invalid", 'Event "%s" is invalid: %s' % (
                name, ", ".join("%s: %s" % (c["field"], c["message"]) for c in causes)),
                {"name": name, "kind": "Event", "causes": causes}))
        with st.lock:
            if (ns, name) in st.k8s_events:
                raise ApiError(409, status_body(409, "AlreadyExists",
                                                'events "%s" already exists' % name,
                                                {"name": name, "kind": "events"}))
            obj["kind"], obj["apiVersion"] = "Event", "v1"
            m = dict(meta, name=name, namespace=ns, uid=str(uuid.uuid4()),
                     resourceVersion=str(st.next_rv()), creationTimestamp=now_seconds())
            obj["metadata"] = m
            st.k8s_events[(ns, name)] = obj
            return self.send_json(201, obj)

    # ---- control --------------------------------------------------------
    def control(self, method, parts):
        emu = self.emu
        if parts == ["stats"] and method == "GET":
            return self.send_json(200, emu.stats())
        body = self.read_body()
        arg = json.loads(body or b"{}")
        if parts == ["faults"] and method == "POST":
            emu.set_faults(**arg)
        elif parts == ["drop-watches"] and method == "POST":
            emu.drop_watches()
        elif parts == ["compact"] and method == "POST":
            emu.store.compact()
        elif parts == ["tokens"] and method == "POST":
            emu.add_token(arg["token"], arg["user"])
        elif parts == ["revoke"] and method == "POST":
            emu.revoke_token(arg["token"])
        elif parts == ["raw"] and method == "POST":
            # store an object as is (bypassing validation): garbage tests
            st = emu.store
            with st.lock:
                o = arg["object"]
                o.setdefault("metadata", {})
                o["metadata"]["resourceVersion"] = str(st.next_rv())
                o["metadata"].setdefault("uid", str(uuid.uuid4()))
                st.leases[(arg["ns"], arg["name"])] = o
                st.record("MODIFIED", arg["ns"], arg["name"], o)
        elif parts == ["reset-stats"] and method == "POST":
            emu.reset_stats()
        else:
            raise ApiError(404, status_body(404, "NotFound", "no such control"))
        return self.send_json(200, {"ok": True})


def main():
    import argparse
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dir", required=True, help="where CA, certs and the "
                    "admin kubeconfig go")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--bookmark-interval", type=float, default=60.0,
                    help="seconds between watch bookmarks (real: ~60)")
    a = ap.parse_args()
    os.makedirs(a.dir, exist_ok=True)
    emu = K8sEmulator(workdir=a.dir,
                      bookmark_interval=a.bookmark_interval).start(a.port)
    kc = emu.kubeconfig(os.path.join(a.dir, "kubeconfig"))
    print(json.dumps({"port": emu.port, "kubeconfig": kc}), flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        emu.stop()


if __name__ == "__main__":
    sys.exit(main())
