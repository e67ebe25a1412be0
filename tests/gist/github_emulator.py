"""A GitHub emulator for the gist backend's tests: the REST side of
/gists (Python stdlib http.server) and the git side (real git-http-backend
behind lighttpd with basic auth), both over the SAME bare repositories.

REST (documented GitHub behaviour that the backend relies on):
  GET    /gists/ID        200 with files (content, size, truncated, raw_url),
                          history (newest first, commit SHAs of the bare
                          repo), ETag; If-None-Match matching -> 304, which
                          does not count against the rate limit
  PATCH  /gists/ID        {"files": {NAME: {"content": ...} | null}} commits
                          to the bare repo and moves the branch (plumbing:
                          hash-object/mktree/commit-tree/update-ref with the
                          old value), like a person's edit on github.com
  POST   /gists           creates a gist (201)
  DELETE /gists/ID        204
  Every response carries X-RateLimit-Limit/Remaining/Used/Reset/Resource.
  401 "Bad credentials" for an unknown token; 403 "API rate limit exceeded"
  (remaining 0) or 429 with Retry-After when the budget is spent (mode);
  403 for a write with a token that lacks the gist scope; 404 for a
  missing gist.

git: http://127.0.0.1:GITPORT/git/ID.git, smart HTTP by git-http-backend
(receive-pack enabled; the server checks the pushed old value under its
ref lock). User "x-access-token" (any user name works on GitHub; here the
password file has that one user), password = a token with the gist scope.
lighttpd answers a failed basic auth only after about 1 s (brute-force
delay; not configurable), so tests of refused tokens need a request
timeout above that. A throttle flag makes the git side answer 429 too (GitHub's secondary
limits apply to pushes as well).

Use in tests:
    emu = GitHubEmulator(tmpdir); emu.start()
    gid = emu.create_gist({"f.json": "..."}); emu.api_url; emu.git_url(gid)
    emu.stop()
Standalone: python3 github_emulator.py DIR  (prints the URLs and a token).
"""
import hashlib
import http.server
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time

GIT_HTTP_BACKEND = "/usr/lib/git-core/git-http-backend"
GIT_USER = "x-access-token"
MAX_BODY = 2 * 1024 * 1024


def _free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def _now_iso(t=None):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t or time.time()))


class GitHubEmulator:
    def __init__(self, root, branch="main", token=None, truncate_bytes=1 << 20):
        self.root = os.path.abspath(root)
        self.repos = os.path.join(self.root, "repos")
        self.branch = branch
        self.token = token or "ghp_" + secrets.token_hex(18)
        # token -> {"login": ..., "scopes": [...]}
        self.tokens = {self.token: {"login": "octocat", "scopes": ["gist"]}}
        self.truncate_bytes = truncate_bytes
        self.lock = threading.RLock()
        # rate limit (one budget for all tokens: they are one user here)
        self.rl_limit = 5000
        self.rl_remaining = 5000
        self.rl_reset = int(time.time()) + 3600
        self.rl_mode = "403"          # "403" (primary) or "429" (secondary)
        self.retry_after = 60
        # statistics, keyed by User-Agent
        self.stats = {}
        self.requests = []            # (time, method, path, status, ua)
        self.api_port = None
        self.git_port = None
        self.httpd = None
        self.lighttpd = None
        self._thread = None
        self.throttle_file = os.path.join(self.root, "git-throttled")
        # fault flags (files, so that shell commands can flip them):
        # "down" -> REST and git answer 503; "slow" -> REST stalls (up to
        # 30 s, until the file is removed).
        self.down_file = os.path.join(self.root, "down")
        self.slow_file = os.path.join(self.root, "slow")
        # seconds the git side waits before running a push (POST
        # git-receive-pack), after the ref advertisement: widens the window
        # in which another writer can move the branch under a push. The
        # file receive-delay.held exists while a push is held back.
        self.receive_delay_file = os.path.join(self.root, "receive-delay")
        # seconds the git side holds back its answer AFTER applying a push:
        # the client times out although its commit landed.
        self.answer_delay_file = os.path.join(self.root, "answer-delay")
        self.lighttpd_log = os.path.join(self.root, "lighttpd-error.log")

    # ---------------------------------------------------------------- setup
    @property
    def api_url(self):
        return "http://127.0.0.1:%d" % self.api_port

    def git_url(self, gid):
        return "http://127.0.0.1:%d/git/%s.git" % (self.git_port, gid)

    def start(self):
        os.makedirs(self.repos, exist_ok=True)
        os.makedirs(os.path.join(self.root, "www"), exist_ok=True)
        self._write_passwords()
        self._start_lighttpd()
        self.api_port = _free_port()
        emu = self

        class Handler(_Handler):
            emulator = emu

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", self.api_port), Handler)
        self.httpd.daemon_threads = True
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def _write_passwords(self):
        # lighttpd's "plain" backend: one user:password line. Only tokens
        # with the gist scope may push.
        lines = ["%s:%s\n" % (GIT_USER, t) for t, info in self.tokens.items()
                 if "gist" in info["scopes"]][:1]
        path = os.path.join(self.root, "git-users")
        with open(path + ".tmp", "w") as f:
            f.writelines(lines)
        os.chmod(path + ".tmp", 0o600)
        os.replace(path + ".tmp", path)

    def _start_lighttpd(self):
        cgi = os.path.join(self.root, "git-cgi.sh")
        with open(cgi, "w") as f:
            f.write("#!/bin/sh\n"
                    "if [ -e '%s' ]; then\n"
                    "  printf 'Status: 429 Too Many Requests\\r\\nRetry-After: %%s\\r\\n"
                    "Content-Type: text/plain\\r\\n\\r\\nsecondary rate limit\\n' "
                    "\"$(cat '%s')\"\n"
                    "  exit 0\n"
                    "fi\n"
                    "if [ -e '%s' ] && [ \"$REQUEST_METHOD\" = POST ]; then\n"
                    "  case \"$PATH_INFO\" in */git-receive-pack)\n"
                    "    : > '%s.held'; sleep \"$(cat '%s')\"; rm -f '%s.held';; esac\n"
                    "fi\n"
                    "if [ -e '%s' ] && [ \"$REQUEST_METHOD\" = POST ]; then\n"
                    "  case \"$PATH_INFO\" in */git-receive-pack)\n"
                    "    out=$(mktemp); %s > \"$out\"; sleep \"$(cat '%s')\"; cat \"$out\"; rm -f \"$out\"\n"
                    "    exit 0;; esac\n"
                    "fi\n"
                    "if [ -e '%s' ]; then\n"
                    "  printf 'Status: 503 Service Unavailable\\r\\nContent-Type: text/plain\\r\\n\\r\\ndown\\n'\n"
                    "  exit 0\n"
                    "fi\n"
                    "exec %s\n" % (self.throttle_file, self.throttle_file,
                                   self.receive_delay_file, self.receive_delay_file,
                                   self.receive_delay_file, self.receive_delay_file,
                                   self.answer_delay_file, GIT_HTTP_BACKEND,
                                   self.answer_delay_file,
                                   self.down_file, GIT_HTTP_BACKEND))
        os.chmod(cgi, 0o755)
        for attempt in range(5):
            self.git_port = _free_port()
            conf = os.path.join(self.root, "lighttpd.conf")
            with open(conf, "w") as f:
                f.write("""
server.modules = ("mod_auth", "mod_authn_file", "mod_alias", "mod_setenv", "mod_cgi")
server.document-root = "%(root)s/www"
server.bind = "127.0.0.1"
server.port = %(port)d
server.errorlog = "%(log)s"
server.max-read-idle = 30
auth.backend = "plain"
auth.backend.plain.userfile = "%(root)s/git-users"
alias.url = ( "/git" => "%(cgi)s" )
$HTTP["url"] =~ "^/git" {
  cgi.assign = ( "" => "" )
  setenv.add-environment = (
    "GIT_PROJECT_ROOT" => "%(repos)s",
    "GIT_HTTP_EXPORT_ALL" => "1"
  )
  auth.require = ( "" => ( "method" => "basic", "realm" => "GitHub",
                           "require" => "valid-user" ) )
}
""" % {"root": self.root, "port": self.git_port, "log": self.lighttpd_log,
                    "cgi": cgi, "repos": self.repos})
            self.lighttpd = subprocess.Popen(["lighttpd", "-D", "-f", conf],
                                             stdout=subprocess.DEVNULL,
                                             stderr=subprocess.PIPE)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                if self.lighttpd.poll() is not None:
                    break
                try:
                    socket.create_connection(("127.0.0.1", self.git_port), 0.2).close()
                    return
                except OSError:
                    time.sleep(0.05)
            err = b""
            if self.lighttpd.poll() is None:
                self.lighttpd.kill()
            else:
                err = self.lighttpd.stderr.read()
            self.lighttpd.wait()
            last = err.decode(errors="replace")
        raise RuntimeError("lighttpd did not start: %s" % last)

    def stop(self):
        if self.lighttpd and self.lighttpd.poll() is None:
            self.lighttpd.send_signal(signal.SIGCONT)
            self.lighttpd.terminate()
            try:
                self.lighttpd.wait(5)
            except subprocess.TimeoutExpired:
                self.lighttpd.kill()
                self.lighttpd.wait()
        if self.httpd:
            self.httpd.shutdown()
            self.httpd.server_close()

    # ------------------------------------------------------------ controls
    def set_budget(self, remaining, limit=None, reset_in=3600, mode=None,
                   retry_after=None):
        with self.lock:
            if limit is not None:
                self.rl_limit = limit
            self.rl_remaining = remaining
            self.rl_reset = int(time.time() + reset_in)
            if mode:
                self.rl_mode = mode
            if retry_after is not None:
                self.retry_after = retry_after

    def throttle_git(self, retry_after):
        """Make the git side answer 429 (None: stop)."""
        if retry_after is None:
            try:
                os.unlink(self.throttle_file)
            except FileNotFoundError:
                pass
        else:
            with open(self.throttle_file, "w") as f:
                f.write(str(int(retry_after)))

    def add_token(self, scopes, login="octocat"):
        t = "ghp_" + secrets.token_hex(18)
        self.tokens[t] = {"login": login, "scopes": list(scopes)}
        self._write_passwords()
        return t

    def delay_receive_pack(self, seconds):
        if seconds is None:
            try:
                os.unlink(self.receive_delay_file)
            except FileNotFoundError:
                pass
        else:
            with open(self.receive_delay_file, "w") as f:
                f.write("%.2f" % seconds)

    def delay_push_answer(self, seconds):
        if seconds is None:
            try:
                os.unlink(self.answer_delay_file)
            except FileNotFoundError:
                pass
        else:
            with open(self.answer_delay_file, "w") as f:
                f.write("%.2f" % seconds)

    def pause_git(self):
        os.kill(self.lighttpd.pid, signal.SIGSTOP)

    def resume_git(self):
        os.kill(self.lighttpd.pid, signal.SIGCONT)

    # ------------------------------------------------------------- git side
    def _repo(self, gid):
        return os.path.join(self.repos, gid + ".git")

    def git(self, gid, *args, input=None, env=None, raw=False):
        e = dict(os.environ)
        e.update({"GIT_AUTHOR_NAME": "octocat", "GIT_AUTHOR_EMAIL": "octocat@users.noreply.github.com",
                  "GIT_COMMITTER_NAME": "GitHub", "GIT_COMMITTER_EMAIL": "noreply@github.com"})
        if env:
            e.update(env)
        r = subprocess.run(["git", "--git-dir", self._repo(gid)] + list(args),
                           input=input, capture_output=True, env=e, timeout=30)
        if r.returncode != 0:
            raise RuntimeError("git %s: %s" % (" ".join(args), r.stderr.decode(errors="replace")))
        if raw:
            return r.stdout
        return r.stdout.decode().strip()

    def exists(self, gid):
        return len(gid) < 100 and gid.isalnum() and os.path.isdir(self._repo(gid))

    def head(self, gid):
        try:
            return self.git(gid, "rev-parse", "--verify", "-q", "refs/heads/" + self.branch)
        except RuntimeError:
            return ""

    def read_file(self, gid, name, rev=None):
        data = self.git(gid, "cat-file", "blob", "%s:%s" % (rev or self.head(gid), name),
                        raw=True)
        return data.decode(errors="replace")

    def commit_files(self, gid, files, login="octocat"):
        """Commit {name: content-or-None} on top of the branch head, moving
        the branch with update-ref OLD (retried if a push moved it)."""
        for _ in range(10):
            old = self.head(gid)
            entries = {}
            if old:
                for line in self.git(gid, "ls-tree", old).splitlines():
                    meta, name = line.split("\t", 1)
                    entries[name] = meta
            for name, content in files.items():
                if content is None:
                    entries.pop(name, None)
                    continue
                blob = self.git(gid, "hash-object", "-w", "--stdin", input=content.encode())
                entries[name] = "100644 blob " + blob
            tree = self.git(gid, "mktree", input="".join(
                "%s\t%s\n" % (m, n) for n, m in sorted(entries.items())).encode())
            args = ["commit-tree", tree, "-m", ""]
            if old:
                args += ["-p", old]
            new = self.git(gid, *args, input=b"", env={"GIT_AUTHOR_NAME": login})
            try:
                self.git(gid, "update-ref", "refs/heads/" + self.branch, new,
                         old or "0" * 40)
                return new
            except RuntimeError:
                continue  # a push moved the branch; GitHub's edit just lands later
        raise RuntimeError("could not move the branch")

    def create_gist(self, files, description="", public=False):
        gid = secrets.token_hex(16)
        os.makedirs(self._repo(gid))
        subprocess.run(["git", "init", "-q", "--bare", "-b", self.branch, self._repo(gid)],
                       check=True, timeout=30)
        self.git(gid, "config", "http.receivepack", "true")
        self.git(gid, "config", "receive.denyNonFastForwards", "false")  # GitHub allows force pushes
        with open(os.path.join(self._repo(gid), "description"), "w") as f:
            f.write(description)
        with open(os.path.join(self._repo(gid), "elector-public"), "w") as f:
            f.write("1" if public else "0")
        self.commit_files(gid, files)
        return gid

    def delete_gist(self, gid):
        subprocess.run(["rm", "-rf", self._repo(gid)], check=True, timeout=30)

    def commits_by_author(self, gid):
        """{author name: number of commits} over the branch history."""
        out = {}
        for name in self.git(gid, "log", "--format=%an", self.head(gid)).splitlines():
            out[name] = out.get(name, 0) + 1
        return out

    def gist_json(self, gid):
        head = self.head(gid)
        files = {}
        if head:
            for line in self.git(gid, "ls-tree", "-l", head).splitlines():
                meta, name = line.split("\t", 1)
                size = int(meta.split()[3])
                content = self.read_file(gid, name, head)
                raw = content.encode()
                truncated = len(raw) > self.truncate_bytes
                if truncated:
                    content = raw[:self.truncate_bytes].decode(errors="ignore")
                files[name] = {
                    "filename": name, "type": "application/json" if name.endswith(".json") else "text/plain",
                    "language": "JSON" if name.endswith(".json") else "Text",
                    "raw_url": "%s/raw/%s/%s/%s" % (self.api_url, gid, head, name),
                    "size": size, "truncated": truncated, "content": content}
        history = []
        if head:
            for line in self.git(gid, "log", "-n", "30", "--format=%H %ct", head).splitlines():
                sha, ct = line.split()
                history.append({"user": {"login": "octocat"}, "version": sha,
                                "committed_at": _now_iso(int(ct)),
                                "change_status": {},
                                "url": "%s/gists/%s/%s" % (self.api_url, gid, sha)})
        with open(os.path.join(self._repo(gid), "description")) as f:
            desc = f.read()
        with open(os.path.join(self._repo(gid), "elector-public")) as f:
            public = f.read() == "1"
        return {"url": "%s/gists/%s" % (self.api_url, gid), "id": gid,
                "node_id": "G_" + gid, "git_pull_url": self.git_url(gid),
                "git_push_url": self.git_url(gid),
                "html_url": "https://gist.github.com/" + gid, "files": files,
                "public": public, "created_at": history[-1]["committed_at"] if history else _now_iso(),
                "updated_at": history[0]["committed_at"] if history else _now_iso(),
                "description": desc, "comments": 0, "user": None,
                "owner": {"login": "octocat"}, "truncated": False,
                "history": history}


class _Handler(http.server.BaseHTTPRequestHandler):
    emulator = None
    protocol_version = "HTTP/1.1"
    server_version = "GitHub.com-emulator"

    def log_message(self, fmt, *args):
        pass

    # ----------------------------------------------------------- plumbing
    def _send(self, status, obj=None, extra=None, count=True):
        emu = self.emulator
        body = b"" if obj is None else json.dumps(obj, indent=2).encode()
        self.send_response(status)
        with emu.lock:
            if count and status != 304 and emu.rl_remaining > 0:
                emu.rl_remaining -= 1
            hdrs = {"X-RateLimit-Limit": emu.rl_limit,
                    "X-RateLimit-Remaining": emu.rl_remaining,
                    "X-RateLimit-Used": emu.rl_limit - emu.rl_remaining,
                    "X-RateLimit-Reset": emu.rl_reset,
                    "X-RateLimit-Resource": "core"}
            ua = self.headers.get("User-Agent", "")
            st = emu.stats.setdefault(ua, {"requests": 0, "not_modified": 0, "writes": 0})
            st["requests"] += 1
            if status == 304:
                st["not_modified"] += 1
            if self.command in ("PATCH", "POST") and status < 300:
                st["writes"] += 1
            emu.requests.append((time.monotonic(), self.command, self.path, status, ua))
        for k, v in hdrs.items():
            self.send_header(k, str(v))
        self.send_header("X-GitHub-Api-Version-Selected", "2022-11-28")
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        if status != 304:
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if status != 304:
            self.wfile.write(body)

    def _error(self, status, message, extra=None, count=True):
        self._send(status, {"message": message,
                            "documentation_url": "https://docs.github.com/rest"},
                   extra, count)

    def _auth(self):
        """The token's info, or None after answering 401/403/429 (or 503
        while the "down" flag is set)."""
        emu = self.emulator
        deadline = time.monotonic() + 30
        while os.path.exists(emu.slow_file) and time.monotonic() < deadline:
            time.sleep(0.05)
        if os.path.exists(emu.down_file):
            self._error(503, "Service Unavailable", count=False)
            return None
        h = self.headers.get("Authorization", "")
        parts = h.split(None, 1)
        tok = parts[1].strip() if len(parts) == 2 and parts[0].lower() in ("bearer", "token") else None
        info = emu.tokens.get(tok) if tok else None
        if info is None:
            self._error(401, "Bad credentials", count=False)
            return None
        with emu.lock:
            if time.time() >= emu.rl_reset:
                emu.rl_remaining = emu.rl_limit
                emu.rl_reset = int(time.time()) + 3600
            spent = emu.rl_remaining <= 0
            mode, ra = emu.rl_mode, emu.retry_after
        if spent:
            if mode == "429":
                self._error(429, "You have exceeded a secondary rate limit. Please wait a few "
                            "minutes before you try again.", {"Retry-After": str(ra)}, count=False)
            else:
                self._error(403, "API rate limit exceeded for user ID 1. If you reach out to "
                            "GitHub Support for help, please include the request ID.", count=False)
            return None
        self._scopes = ", ".join(info["scopes"])
        return info

    def _body(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n > MAX_BODY:
            self._error(413, "Payload too large")
            return None
        try:
            return json.loads(self.rfile.read(n) or b"null")
        except ValueError:
            self._error(400, "Problems parsing JSON")
            return None

    def _gid(self):
        p = self.path.split("?", 1)[0].rstrip("/").split("/")
        if len(p) == 3 and p[1] == "gists":
            return p[2]
        return None

    # ------------------------------------------------------------ methods
    def do_GET(self):
        emu = self.emulator
        gid = self._gid()
        if gid is None:
            return self._error(404, "Not Found", count=False)
        if self._auth() is None:
            return
        with emu.lock:
            if not emu.exists(gid):
                return self._error(404, "Not Found")
            obj = emu.gist_json(gid)
        body = json.dumps(obj, indent=2).encode()
        etag = 'W/"%s"' % hashlib.sha256(body).hexdigest()[:32]
        inm = self.headers.get("If-None-Match")
        extra = {"ETag": etag, "X-OAuth-Scopes": self._scopes,
                 "Cache-Control": "private, max-age=60, s-maxage=60"}
        if inm and inm.strip() == etag:
            return self._send(304, None, extra)
        self._send(200, obj, extra)

    def do_PATCH(self):
        emu = self.emulator
        gid = self._gid()
        if gid is None:
            return self._error(404, "Not Found", count=False)
        info = self._auth()
        if info is None:
            return
        if "gist" not in info["scopes"]:
            return self._error(403, "Resource not accessible by personal access token",
                               {"X-Accepted-OAuth-Scopes": "gist", "X-OAuth-Scopes": self._scopes})
        body = self._body()
        if body is None:
            return
        with emu.lock:
            if not emu.exists(gid):
                return self._error(404, "Not Found")
            files = {}
            for name, spec in (body.get("files") or {}).items():
                files[name] = None if spec is None else spec.get("content", "")
            if files:
                emu.commit_files(gid, files, login=info["login"])
            if "description" in body:
                with open(os.path.join(emu._repo(gid), "description"), "w") as f:
                    f.write(body["description"] or "")
            obj = emu.gist_json(gid)
        self._send(200, obj)

    def do_POST(self):
        emu = self.emulator
        if self.path.split("?", 1)[0].rstrip("/") != "/gists":
            return self._error(404, "Not Found", count=False)
        info = self._auth()
        if info is None:
            return
        if "gist" not in info["scopes"]:
            return self._error(403, "Resource not accessible by personal access token",
                               {"X-Accepted-OAuth-Scopes": "gist", "X-OAuth-Scopes": self._scopes})
        body = self._body()
        if body is None:
            return
        files = {n: (s or {}).get("content") for n, s in (body.get("files") or {}).items()}
        if not files or any(not isinstance(c, str) or c == "" for c in files.values()):
            return self._error(422, "Validation Failed")
        with emu.lock:
            gid = emu.create_gist(files, body.get("description") or "", bool(body.get("public")))
            obj = emu.gist_json(gid)
        self._send(201, obj, {"Location": obj["url"]})

    def do_DELETE(self):
        emu = self.emulator
        gid = self._gid()
        if gid is None:
            return self._error(404, "Not Found", count=False)
        info = self._auth()
        if info is None:
            return
        with emu.lock:
            if not emu.exists(gid):
                return self._error(404, "Not Found")
            emu.delete_gist(gid)
        self._send(204, None)


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else "/tmp/github-emulator"
    emu = GitHubEmulator(root).start()
    gid = emu.create_gist({"README.md": "elector lock gist\n"})
    print("api-url=%s\ngit-url=%s\ngist id=%s\ntoken=%s" % (
        emu.api_url, emu.git_url(gid), gid, emu.token), flush=True)
    try:
        signal.pause()
    except KeyboardInterrupt:
        pass
    emu.stop()


if __name__ == "__main__":
    main()
