/* A small YAML tree on libyaml's event parser, enough for kubeconfig files.
 * Anchors and aliases are refused: kubeconfig never needs them and they are
 * the classic way to blow up a tree ("billion laughs"). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "lease_int.h"

#define KY_MAX_FILE (1024 * 1024)
#define KY_MAX_DEPTH 32
#define KY_MAX_NODES 100000

struct ky_parse {
	yaml_parser_t p;
	const char *what;
	size_t nodes;
	char *err;
	size_t errlen;
};

void elector_ky_free(struct elector_ky *n)
{
	size_t i;

	if (n == NULL)
		return;
	free(n->scalar);
	for (i = 0; i < n->n; i++) {
		if (n->keys != NULL)
			free(n->keys[i]);
		elector_ky_free(n->items[i]);
	}
	free(n->keys);
	free(n->items);
	free(n);
}

static int ky_fail(struct ky_parse *kp, const yaml_event_t *ev,
                   const char *why)
{
	snprintf(kp->err, kp->errlen, "%s:%zu: %s", kp->what,
	         ev ? (size_t)ev->start_mark.line + 1 : (size_t)0, why);
	return ELECTOR_INVALID;
}

static int ky_next(struct ky_parse *kp, yaml_event_t *ev)
{
	if (!yaml_parser_parse(&kp->p, ev)) {
		snprintf(kp->err, kp->errlen, "%s:%zu: %s", kp->what,
		         (size_t)kp->p.problem_mark.line + 1,
		         kp->p.problem ? kp->p.problem : "YAML syntax error");
		return ELECTOR_INVALID;
	}
	return ELECTOR_OK;
}

static int ky_push(struct elector_ky *parent, char *key,
                   struct elector_ky *child)
{
	size_t n = parent->n + 1;
	struct elector_ky **items = realloc(parent->items, n * sizeof *items);

	if (items == NULL)
		return -1;
	parent->items = items;
	if (parent->type == ELECTOR_KY_MAP) {
		char **keys = realloc(parent->keys, n * sizeof *keys);
		if (keys == NULL)
			return -1;
		parent->keys = keys;
		keys[parent->n] = key;
	}
	items[parent->n] = child;
	parent->n = n;
	return 0;
}

static int ky_node(struct ky_parse *kp, yaml_event_t *ev, int depth,
                   struct elector_ky **out);

/* Children of a map or sequence until its end event. */
static int ky_children(struct ky_parse *kp, struct elector_ky *n, int depth)
{
	yaml_event_t ev;
	int rc;

	for (;;) {
		char *key = NULL;
		struct elector_ky *child = NULL;

		rc = ky_next(kp, &ev);
		if (rc != ELECTOR_OK)
			return rc;
		if (ev.type == YAML_MAPPING_END_EVENT ||
		    ev.type == YAML_SEQUENCE_END_EVENT) {
			yaml_event_delete(&ev);
			return ELECTOR_OK;
		}
		if (n->type == ELECTOR_KY_MAP) {
			if (ev.type != YAML_SCALAR_EVENT) {
				rc = ky_fail(kp, &ev, "mapping keys must be scalars");
				yaml_event_delete(&ev);
				return rc;
			}
			key = strdup((const char *)ev.data.scalar.value);
			yaml_event_delete(&ev);
			if (key == NULL)
				return ky_fail(kp, NULL, "out of memory");
			rc = ky_next(kp, &ev);
			if (rc != ELECTOR_OK) {
				free(key);
				return rc;
			}
		}
		rc = ky_node(kp, &ev, depth + 1, &child);
		yaml_event_delete(&ev);
		if (rc == ELECTOR_OK && ky_push(n, key, child) != 0) {
			elector_ky_free(child);
			rc = ky_fail(kp, NULL, "out of memory");
		}
		if (rc != ELECTOR_OK) {
			free(key);
			return rc;
		}
	}
}

/* Build the node starting at ev (which the caller deletes). */
static int ky_node(struct ky_parse *kp, yaml_event_t *ev, int depth,
                   struct elector_ky **out)
{
	struct elector_ky *n;
	int rc;

	if (depth > KY_MAX_DEPTH)
		return ky_fail(kp, ev, "nesting too deep");
	if (++kp->nodes > KY_MAX_NODES)
		return ky_fail(kp, ev, "too many nodes");
	if (ev->type == YAML_ALIAS_EVENT)
		return ky_fail(kp, ev, "aliases are not supported");
	n = calloc(1, sizeof *n);
	if (n == NULL)
		return ky_fail(kp, ev, "out of memory");
	switch (ev->type) {
	case YAML_SCALAR_EVENT:
		n->type = ELECTOR_KY_SCALAR;
		n->scalar = strdup((const char *)ev->data.scalar.value);
		if (n->scalar == NULL) {
			free(n);
			return ky_fail(kp, ev, "out of memory");
		}
		*out = n;
		return ELECTOR_OK;
	case YAML_MAPPING_START_EVENT:
		n->type = ELECTOR_KY_MAP;
		break;
	case YAML_SEQUENCE_START_EVENT:
		n->type = ELECTOR_KY_SEQ;
		break;
	default:
		free(n);
		return ky_fail(kp, ev, "unexpected YAML event");
	}
	rc = ky_children(kp, n, depth);
	if (rc != ELECTOR_OK) {
		elector_ky_free(n);
		return rc;
	}
	*out = n;
	return ELECTOR_OK;
}

static int ky_document(struct ky_parse *kp, struct elector_ky **out)
{
	yaml_event_t ev;
	int rc;

	*out = NULL;
	/* STREAM-START, then DOCUMENT-START or STREAM-END (empty input). */
	for (;;) {
		rc = ky_next(kp, &ev);
		if (rc != ELECTOR_OK)
			return rc;
		if (ev.type == YAML_STREAM_END_EVENT) {
			yaml_event_delete(&ev);
			break;
		}
		if (ev.type == YAML_STREAM_START_EVENT ||
		    ev.type == YAML_DOCUMENT_START_EVENT) {
			yaml_event_delete(&ev);
			continue;
		}
		rc = ky_node(kp, &ev, 0, out);
		yaml_event_delete(&ev);
		if (rc != ELECTOR_OK)
			return rc;
		break;
	}
	if (*out == NULL) {
		*out = calloc(1, sizeof **out);
		if (*out == NULL)
			return ky_fail(kp, NULL, "out of memory");
		(*out)->type = ELECTOR_KY_MAP;
	}
	return ELECTOR_OK;
}

int elector_ky_parse_buf(const char *buf, size_t len, const char *what,
                         struct elector_ky **out, char *err, size_t errlen)
{
	struct ky_parse kp;
	int rc;

	memset(&kp, 0, sizeof kp);
	kp.what = what;
	kp.err = err;
	kp.errlen = errlen;
	if (!yaml_parser_initialize(&kp.p)) {
		snprintf(err, errlen, "%s: out of memory", what);
		return ELECTOR_ERROR;
	}
	yaml_parser_set_input_string(&kp.p, (const unsigned char *)buf, len);
	rc = ky_document(&kp, out);
	yaml_parser_delete(&kp.p);
	return rc;
}

int elector_ky_parse_file(const char *path, struct elector_ky **out, char *err,
                          size_t errlen)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	size_t len;
	int rc;

	if (f == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return errno == ENOENT ? ELECTOR_NOT_FOUND : ELECTOR_INVALID;
	}
	buf = malloc(KY_MAX_FILE + 1);
	if (buf == NULL) {
		fclose(f);
		snprintf(err, errlen, "%s: out of memory", path);
		return ELECTOR_ERROR;
	}
	len = fread(buf, 1, KY_MAX_FILE + 1, f);
	if (ferror(f) || len > KY_MAX_FILE) {
		snprintf(err, errlen, "%s: %s", path,
		         ferror(f) ? "read error" : "larger than 1 MiB");
		fclose(f);
		free(buf);
		return ELECTOR_INVALID;
	}
	fclose(f);
	rc = elector_ky_parse_buf(buf, len, path, out, err, errlen);
	free(buf);
	return rc;
}

const struct elector_ky *elector_ky_get(const struct elector_ky *n,
                                        const char *key)
{
	size_t i;

	if (n == NULL || n->type != ELECTOR_KY_MAP)
		return NULL;
	for (i = 0; i < n->n; i++)
		if (strcmp(n->keys[i], key) == 0)
			return n->items[i];
	return NULL;
}

const char *elector_ky_str(const struct elector_ky *n, const char *key)
{
	const struct elector_ky *v = elector_ky_get(n, key);

	if (v == NULL || v->type != ELECTOR_KY_SCALAR)
		return NULL;
	return v->scalar;
}

static int b64val(int c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int elector_lease_b64decode(const char *in, char **out, size_t *outlen)
{
	size_t n = strlen(in);
	char *buf = malloc(n / 4 * 3 + 4);
	size_t o = 0;
	unsigned acc = 0;
	int bits = 0, pad = 0;
	const char *p;

	if (buf == NULL)
		return ELECTOR_ERROR;
	for (p = in; *p; p++) {
		int v;
		if (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')
			continue;
		if (*p == '=') {
			pad++;
			continue;
		}
		v = b64val((unsigned char)*p);
		if (v < 0 || pad > 0) {
			free(buf);
			return ELECTOR_INVALID;
		}
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			buf[o++] = (char)((acc >> bits) & 0xffu);
		}
	}
	if (pad > 2) {
		free(buf);
		return ELECTOR_INVALID;
	}
	buf[o] = '\0';
	*out = buf;
	*outlen = o;
	return ELECTOR_OK;
}
