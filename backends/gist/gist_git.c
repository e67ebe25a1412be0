/*
 * The git side of the gist backend: a private bare cache repository per
 * store instance (STATE_DIR/ID.HOST.PID.SEQ, removed at destroy; leftovers
 * of dead processes of this host are swept at init), fetches, and the
 * compare-and-swap push.
 *
 * Why a push is a compare-and-swap: the pushed command carries the old
 * value the client saw advertised; receive-pack moves the branch only if
 * it still holds that value (under the ref lock). We pin that old value to
 * the version the engine read (push-negotiation callback), never force, and
 * take the server's per-ref verdict from push_update_reference, because
 * git_remote_push() returns 0 even when the server rejected the ref.
 */
#include <ctype.h>
#include <errno.h>
#include <ftw.h>
#include <dirent.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <git2.h>

#include "gist_int.h"

#define PUSH_REF "refs/elector/push"
#define GIT_USERNAME "x-access-token"
/* Without Retry-After (libgit2 hides response headers), wait this long
 * after a 429 from the git side, as GitHub asks for secondary limits. */
#define GIT_THROTTLE_BACKOFF_MS 60000

/* Per-operation callback context. */
struct cbctx {
	struct gist *g;
	int cred_calls;
	int too_big;        /* fetch exceeded GIST_MAX_FETCH */
	/* push */
	git_oid expected;
	char dst_ref[160];
	int negotiated;     /* negotiation passed: commands may reach the server */
	int mismatch;       /* the advertised old value was not expected */
	char remote_old[GIT_OID_HEXSZ + 1];
	int update_seen;
	int rejected;
	char reject_msg[200];
};

static int cred_cb(git_credential **out, const char *url, const char *user,
                   unsigned int allowed, void *payload)
{
	struct cbctx *c = payload;

	(void)url;
	(void)user;
	/* A second call means the server refused the token: stop instead of
	 * replaying it. */
	if (c->cred_calls++ > 0 || !(allowed & GIT_CREDENTIAL_USERPASS_PLAINTEXT))
		return GIT_EAUTH;
	return git_credential_userpass_plaintext_new(out, GIT_USERNAME, c->g->token);
}

/* Cap what a fetch may download: the gist should hold lock files only. */
static int progress_cb(const git_indexer_progress *stats, void *payload)
{
	struct cbctx *c = payload;

	if (stats->received_bytes > GIST_MAX_FETCH) {
		c->too_big = 1;
		git_error_set_str(GIT_ERROR_NET, "fetch larger than the cap");
		return GIT_EUSER;
	}
	return 0;
}

static int negotiation_cb(const git_push_update **updates, size_t len,
                          void *payload)
{
	struct cbctx *c = payload;
	size_t i;

	for (i = 0; i < len; i++) {
		if (strcmp(updates[i]->dst_refname, c->dst_ref) != 0)
			continue;
		git_oid_tostr(c->remote_old, sizeof c->remote_old, &updates[i]->src);
		if (git_oid_cmp(&updates[i]->src, &c->expected) != 0) {
			c->mismatch = 1;
			return GIT_EUSER;
		}
		c->negotiated = 1;
		return 0;
	}
	c->mismatch = 1;
	return GIT_EUSER;
}

static int update_ref_cb(const char *refname, const char *status, void *payload)
{
	struct cbctx *c = payload;

	if (strcmp(refname, c->dst_ref) != 0)
		return 0;
	c->update_seen = 1;
	if (status) {
		c->rejected = 1;
		snprintf(c->reject_msg, sizeof c->reject_msg, "%s", status);
	}
	return 0;
}

static const char *git_msg(void)
{
	const git_error *e = git_error_last();

	return e && e->message ? e->message : "unknown error";
}

/* Map a failed libgit2 network call to a status, with the reason. */
static int net_error(struct gist *g, const char *what, int rc,
                     const struct cbctx *c, char *err, size_t errlen)
{
	const char *m = git_msg();

	if (c->too_big) {
		snprintf(err, errlen, "git %s %s: more than %u MiB to download: keep "
		         "only lock files in the gist", what, g->git_url,
		         GIST_MAX_FETCH >> 20);
		return ELECTOR_CORRUPT;
	}
	if (elector_gist_stream_timed_out()) {
		snprintf(err, errlen, "git %s %s: timed out (request timeout %lld ms)",
		         what, g->git_url, (long long)g->request_timeout_ms);
		return ELECTOR_TIMEOUT;
	}
	if (rc == GIT_EAUTH || c->cred_calls > 1 || strstr(m, "401")) {
		snprintf(err, errlen,
		         "git %s %s: authentication failed: the token from %s was "
		         "refused (it needs the 'gist' scope)",
		         what, g->git_url, g->token_source);
		return ELECTOR_DENIED;
	}
	if (strstr(m, "429")) {
		snprintf(err, errlen, "git %s %s: rate limited (429); backing off %d s",
		         what, g->git_url, GIT_THROTTLE_BACKOFF_MS / 1000);
		elector_gist_backoff(g, GIT_THROTTLE_BACKOFF_MS, "git side answered 429");
		return ELECTOR_RATELIMITED;
	}
	if (strstr(m, "403")) {
		snprintf(err, errlen,
		         "git %s %s: 403 forbidden: the token from %s may not write "
		         "this gist (it needs the 'gist' scope and must own the gist)",
		         what, g->git_url, g->token_source);
		return ELECTOR_DENIED;
	}
	if (strstr(m, "404")) {
		snprintf(err, errlen, "git %s %s: 404: gist %s not found", what,
		         g->git_url, g->id);
		return ELECTOR_ERROR;
	}
	snprintf(err, errlen, "git %s %s: %s", what, g->git_url, m);
	return ELECTOR_TRANSIENT;
}

/* An in-memory remote for the gist's URL. url.*.insteadOf rewriting is
 * skipped: the URL is the one configured, whatever ~/.gitconfig says (and
 * libgit2 1.5 leaks pcre2 match data on that lookup). */
static int remote_new(struct gist *g, git_remote **out)
{
	git_remote_create_options o;

	git_remote_create_options_init(&o, GIT_REMOTE_CREATE_OPTIONS_VERSION);
	o.repository = g->repo;
	o.flags = GIT_REMOTE_CREATE_SKIP_INSTEADOF |
	          GIT_REMOTE_CREATE_SKIP_DEFAULT_FETCHSPEC;
	return git_remote_create_with_opts(out, g->git_url, &o);
}

static int mkdir_p(const char *path)
{
	char tmp[4096];
	size_t i, n = strlen(path);

	if (n == 0 || n >= sizeof tmp)
		return -1;
	memcpy(tmp, path, n + 1);
	for (i = 1; i <= n; i++) {
		if (tmp[i] != '/' && tmp[i] != '\0')
			continue;
		tmp[i] = '\0';
		if (mkdir(tmp, 0700) < 0 && errno != EEXIST)
			return -1;
		tmp[i] = path[i];
	}
	return 0;
}

/* Instances in one process (several store handles) get their own cache. */
static atomic_uint instance_seq;

/* The host name reduced to [A-Za-z0-9-]: processes of different hosts
 * (pods) sharing a state-dir volume never share or sweep a cache. */
static const char *host_tag(char *buf, size_t cap)
{
	size_t i;

	if (gethostname(buf, cap) != 0 || buf[0] == '\0')
		snprintf(buf, cap, "host");
	buf[cap - 1] = '\0';
	for (i = 0; buf[i]; i++)
		if (!isalnum((unsigned char)buf[i]) && buf[i] != '-')
			buf[i] = '-';
	return buf;
}

static int repo_open(struct gist *g, char *err, size_t errlen)
{
	char hostbuf[65];
	int n;

	if (g->repo)
		return ELECTOR_OK;
	if (mkdir_p(g->state_dir) < 0) {
		snprintf(err, errlen, "gist state-dir %s: %s", g->state_dir,
		         strerror(errno));
		return ELECTOR_ERROR;
	}
	n = snprintf(g->repo_path, sizeof g->repo_path, "%s/%s.%s.%ld.%u",
	             g->state_dir, g->id, host_tag(hostbuf, sizeof hostbuf),
	             (long)getpid(), atomic_fetch_add(&instance_seq, 1u));
	if (n < 0 || (size_t)n >= sizeof g->repo_path) {
		snprintf(err, errlen, "gist state-dir path too long");
		g->repo_path[0] = '\0';
		return ELECTOR_INVALID;
	}
	if (git_repository_init((git_repository **)&g->repo, g->repo_path, 1) < 0) {
		snprintf(err, errlen, "git init %s: %s", g->repo_path, git_msg());
		return ELECTOR_ERROR;
	}
	return ELECTOR_OK;
}

/* Fetch all branches (objects and remote-tracking refs) and learn the
 * default branch from the remote HEAD unless configured. */
static int fetch(struct gist *g, int64_t deadline_ms, char *err, size_t errlen)
{
	git_remote *remote = NULL;
	git_remote_callbacks cb;
	git_fetch_options fo;
	char *spec = "+refs/heads/*:refs/remotes/origin/*";
	git_strarray specs = { &spec, 1 };
	struct cbctx c = { .g = g };
	int rc;

	git_remote_init_callbacks(&cb, GIT_REMOTE_CALLBACKS_VERSION);
	git_fetch_options_init(&fo, GIT_FETCH_OPTIONS_VERSION);
	cb.credentials = cred_cb;
	cb.transfer_progress = progress_cb;
	cb.payload = &c;
	fo.callbacks = cb;
	fo.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE;
	elector_gist_stream_deadline(deadline_ms);
	rc = remote_new(g, &remote);
	if (rc < 0) {
		snprintf(err, errlen, "git remote %s: %s", g->git_url, git_msg());
		return ELECTOR_INVALID;
	}
	rc = git_remote_connect(remote, GIT_DIRECTION_FETCH, &cb, NULL, NULL);
	if (rc == 0 && !g->branch_opt) {
		git_buf b = { 0 };

		if (git_remote_default_branch(&b, remote) == 0 && b.ptr &&
		    strncmp(b.ptr, "refs/heads/", 11) == 0 &&
		    strlen(b.ptr + 11) < sizeof g->branch) {
			if (strcmp(g->branch, b.ptr + 11) != 0)
				g->host->log(ELECTOR_LOG_DEBUG, GIST_COMPONENT,
				             "gist %s: default branch is %s", g->id,
				             b.ptr + 11);
			snprintf(g->branch, sizeof g->branch, "%s", b.ptr + 11);
		}
		git_buf_dispose(&b);
	}
	if (rc == 0)
		rc = git_remote_download(remote, &specs, &fo);
	if (rc == 0)
		rc = git_remote_update_tips(remote, &cb, 0,
		                            GIT_REMOTE_DOWNLOAD_TAGS_NONE, NULL);
	if (rc < 0)
		rc = net_error(g, "fetch", rc, &c, err, errlen);
	git_remote_disconnect(remote);
	git_remote_free(remote);
	elector_gist_stream_deadline(0);
	if (rc == 0 && g->branch[0] == '\0') {
		snprintf(err, errlen,
		         "git fetch %s: the remote HEAD names no branch; set "
		         "--backend-opt branch=NAME", g->git_url);
		return ELECTOR_INVALID;
	}
	return rc;
}

/* Look up commit sha, fetching once if it is not in the cache. */
static int lookup_commit(struct gist *g, const char *sha, git_commit **out,
                         int64_t deadline_ms, int *fetched, char *err,
                         size_t errlen)
{
	git_oid oid;
	int rc;

	if (git_oid_fromstrn(&oid, sha, strlen(sha)) < 0 || strlen(sha) != GIT_OID_HEXSZ) {
		snprintf(err, errlen, "gist %s: bad version '%.60s' (not a commit SHA)",
		         g->id, sha);
		return ELECTOR_INVALID;
	}
	if (g->branch[0] != '\0' && git_commit_lookup(out, g->repo, &oid) == 0)
		return ELECTOR_OK;
	rc = fetch(g, deadline_ms, err, errlen);
	*fetched = 1;
	if (rc != ELECTOR_OK)
		return rc;
	if (git_commit_lookup(out, g->repo, &oid) == 0)
		return ELECTOR_OK;
	snprintf(err, errlen, "gist %s: commit %s is not on the remote", g->id, sha);
	return ELECTOR_NOT_FOUND;
}

int elector_gist_git_read(struct gist *g, const char *sha, char *buf,
                          size_t cap, size_t *len, int64_t deadline_ms,
                          char *err, size_t errlen)
{
	git_commit *commit = NULL;
	git_tree *tree = NULL;
	git_blob *blob = NULL;
	const git_tree_entry *e;
	int fetched = 0;
	int rc = repo_open(g, err, errlen);

	if (rc == ELECTOR_OK)
		rc = lookup_commit(g, sha, &commit, deadline_ms, &fetched, err, errlen);
	if (rc == ELECTOR_NOT_FOUND)
		rc = ELECTOR_TRANSIENT; /* REST named a commit git does not have yet */
	if (rc != ELECTOR_OK)
		goto out;
	if (git_commit_tree(&tree, commit) < 0) {
		snprintf(err, errlen, "gist %s: commit %s: %s", g->id, sha, git_msg());
		rc = ELECTOR_ERROR;
		goto out;
	}
	e = git_tree_entry_byname(tree, g->file);
	if (!e || git_blob_lookup(&blob, g->repo, git_tree_entry_id(e)) < 0) {
		snprintf(err, errlen, "gist %s: no file %s in commit %s", g->id,
		         g->file, sha);
		rc = ELECTOR_NOT_FOUND;
		goto out;
	}
	if ((size_t)git_blob_rawsize(blob) >= cap) {
		snprintf(err, errlen, "gist %s/%s: content is %lld bytes (more than %zu)",
		         g->id, g->file, (long long)git_blob_rawsize(blob), cap - 1);
		rc = ELECTOR_CORRUPT;
		goto out;
	}
	*len = (size_t)git_blob_rawsize(blob);
	memcpy(buf, git_blob_rawcontent(blob), *len);
	buf[*len] = '\0';
out:
	git_blob_free(blob);
	git_tree_free(tree);
	git_commit_free(commit);
	return rc;
}

/* The commit: parent's tree with `file` replaced by content. */
static int make_commit(struct gist *g, git_commit *parent, const char *content,
                       size_t len, const char *message, git_oid *out,
                       char *err, size_t errlen)
{
	git_tree *tree = NULL, *newtree = NULL;
	git_treebuilder *tb = NULL;
	git_signature *sig = NULL;
	git_oid blob, treeid;
	char name[ELECTOR_ID_MAX];
	size_t i;
	int rc = -1;

	/* Signatures may not contain angle brackets or newlines. */
	snprintf(name, sizeof name, "%s", g->identity[0] ? g->identity : "elector");
	for (i = 0; name[i]; i++)
		if (name[i] == '<' || name[i] == '>' || name[i] == '\n')
			name[i] = '_';
	if (git_commit_tree(&tree, parent) == 0 &&
	    git_treebuilder_new(&tb, g->repo, tree) == 0 &&
	    git_blob_create_from_buffer(&blob, g->repo, content, len) == 0 &&
	    git_treebuilder_insert(NULL, tb, g->file, &blob, GIT_FILEMODE_BLOB) == 0 &&
	    git_treebuilder_write(&treeid, tb) == 0 &&
	    git_tree_lookup(&newtree, g->repo, &treeid) == 0 &&
	    git_signature_now(&sig, name, "elector@localhost") == 0)
		rc = git_commit_create(out, g->repo, NULL, sig, sig, NULL, message,
		                       newtree, 1, (const git_commit **)&parent);
	if (rc < 0)
		snprintf(err, errlen, "gist %s: making the commit: %s", g->id, git_msg());
	git_signature_free(sig);
	git_tree_free(newtree);
	git_treebuilder_free(tb);
	git_tree_free(tree);
	return rc < 0 ? ELECTOR_ERROR : ELECTOR_OK;
}

static int push(struct gist *g, const git_oid *parent, int64_t deadline_ms,
                int *pushed, char *err, size_t errlen)
{
	git_remote *remote = NULL;
	git_push_options po;
	char spec[256];
	char *specp = spec;
	git_strarray specs = { &specp, 1 };
	struct cbctx c = { .g = g };
	int rc;

	git_push_options_init(&po, GIT_PUSH_OPTIONS_VERSION);
	git_oid_cpy(&c.expected, parent);
	snprintf(c.dst_ref, sizeof c.dst_ref, "refs/heads/%s", g->branch);
	/* No leading '+': never force. */
	snprintf(spec, sizeof spec, PUSH_REF ":%s", c.dst_ref);
	po.callbacks.credentials = cred_cb;
	po.callbacks.push_negotiation = negotiation_cb;
	po.callbacks.push_update_reference = update_ref_cb;
	po.callbacks.payload = &c;
	elector_gist_stream_deadline(deadline_ms);
	rc = remote_new(g, &remote);
	if (rc == 0)
		rc = git_remote_push(remote, &specs, &po);
	*pushed = c.negotiated;
	if (c.mismatch) {
		snprintf(err, errlen, "gist %s: branch %s moved (server has %s, we read %.12s...)",
		         g->id, g->branch, c.remote_old[0] ? c.remote_old : "nothing",
		         git_oid_tostr_s(parent));
		rc = ELECTOR_CONFLICT;
	} else if (c.rejected) {
		snprintf(err, errlen, "gist %s: push to %s rejected by the server: %s",
		         g->id, g->branch, c.reject_msg);
		rc = ELECTOR_CONFLICT;
	} else if (rc == 0 && c.update_seen) {
		rc = ELECTOR_OK;
	} else if (rc == 0) {
		snprintf(err, errlen, "gist %s: push to %s: no status for the ref", g->id,
		         g->branch);
		rc = ELECTOR_TRANSIENT;
	} else if (rc == GIT_ENONFASTFORWARD) {
		snprintf(err, errlen, "gist %s: push to %s: not a fast-forward: %s",
		         g->id, g->branch, git_msg());
		rc = ELECTOR_CONFLICT;
	} else {
		rc = net_error(g, "push", rc, &c, err, errlen);
	}
	if (rc == ELECTOR_CONFLICT)
		g->host->log(ELECTOR_LOG_DEBUG, GIST_COMPONENT, "%s", err);
	git_remote_free(remote);
	elector_gist_stream_deadline(0);
	return rc;
}

static int has_file(struct gist *g, git_commit *c)
{
	git_tree *tree = NULL;
	int found = 0;

	if (git_commit_tree(&tree, c) == 0)
		found = git_tree_entry_byname(tree, g->file) != NULL;
	git_tree_free(tree);
	return found;
}

int elector_gist_git_push(struct gist *g, const char *parent_sha, int create,
                          const char *content, size_t len, const char *message,
                          char *new_sha, int64_t deadline_ms, int *pushed,
                          char *err, size_t errlen)
{
	git_commit *parent = NULL;
	git_reference *ref = NULL;
	git_oid oid;
	int fetched = 0;
	int rc = repo_open(g, err, errlen);

	*pushed = 0;
	if (rc == ELECTOR_OK)
		rc = lookup_commit(g, parent_sha, &parent, deadline_ms, &fetched, err,
		                   errlen);
	if (rc == ELECTOR_NOT_FOUND) {
		/* The branch history does not contain the version: it moved. */
		rc = ELECTOR_CONFLICT;
		goto out;
	}
	if (rc != ELECTOR_OK)
		goto out;
	if (!create && !has_file(g, parent)) {
		snprintf(err, errlen, "gist %s: no file %s in version %.12s", g->id,
		         g->file, parent_sha);
		rc = ELECTOR_NOT_FOUND;
		goto out;
	}
	if (create && has_file(g, parent)) {
		snprintf(err, errlen, "gist %s: file %s exists in version %.12s",
		         g->id, g->file, parent_sha);
		rc = ELECTOR_EXISTS;
		goto out;
	}
	rc = make_commit(g, parent, content, len, message, &oid, err, errlen);
	if (rc != ELECTOR_OK)
		goto out;
	if (git_reference_create(&ref, g->repo, PUSH_REF, &oid, 1, NULL) < 0) {
		snprintf(err, errlen, "gist %s: %s: %s", g->id, PUSH_REF, git_msg());
		rc = ELECTOR_ERROR;
		goto out;
	}
	git_oid_tostr(new_sha, GIST_SHA_LEN + 1, &oid);
	rc = push(g, git_commit_id(parent), deadline_ms, pushed, err, errlen);
out:
	git_reference_free(ref);
	git_commit_free(parent);
	return rc;
}

static int rm_entry(const char *path, const struct stat *sb, int type,
                    struct FTW *ftw)
{
	(void)sb;
	(void)ftw;
	if (type == FTW_DP)
		return rmdir(path);
	return unlink(path);
}

static void rm_tree(const char *path)
{
	nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

void elector_gist_git_close(struct gist *g)
{
	if (g->repo)
		git_repository_free(g->repo);
	g->repo = NULL;
	if (g->repo_path[0])
		rm_tree(g->repo_path);
	g->repo_path[0] = '\0';
}

void elector_gist_git_sweep(const char *state_dir, const char *id)
{
	DIR *d = opendir(state_dir);
	struct dirent *de;
	char prefix[256], hostbuf[65];
	size_t n;

	if (!d)
		return;
	snprintf(prefix, sizeof prefix, "%s.%s.", id, host_tag(hostbuf, sizeof hostbuf));
	n = strlen(prefix);
	while ((de = readdir(d)) != NULL) {
		char *end;
		long pid;
		char path[4096];

		/* ID.HOST.PID.SEQ of this host whose process is gone */
		if (strncmp(de->d_name, prefix, n) != 0)
			continue;
		pid = strtol(de->d_name + n, &end, 10);
		if (*end != '.' || pid <= 0 || pid == (long)getpid())
			continue;
		if (kill((pid_t)pid, 0) == 0 || errno != ESRCH)
			continue;
		if (snprintf(path, sizeof path, "%s/%s", state_dir, de->d_name) <
		    (int)sizeof path)
			rm_tree(path);
	}
	closedir(d);
}
