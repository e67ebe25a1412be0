/*
 * Parsing of GitHub's GET /gists/{id} answer (docs.github.com/rest/gists:
 * "files" maps names to {content, truncated, ...}; "history" lists the
 * commits newest first, each with "version", the commit SHA). Pure: no
 * state, no I/O, so it is unit-tested and fuzzed on its own.
 */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "gist_int.h"

int elector_gist_parse_answer(const char *body, size_t blen, const char *file,
                              char *ver, size_t vercap, char *buf, size_t cap,
                              size_t *len, int *truncated, char *err,
                              size_t errlen)
{
	json_error_t jerr;
	json_t *root, *hist, *h0, *files, *f, *content;
	const char *v;
	int rc = ELECTOR_OK;

	*len = 0;
	*truncated = 0;
	if (vercap > 0)
		ver[0] = '\0';
	if (cap > 0)
		buf[0] = '\0';
	root = json_loadb(body ? body : "", body ? blen : 0,
	                  JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
	if (!root) {
		snprintf(err, errlen, "bad JSON in the answer: %s", jerr.text);
		return ELECTOR_TRANSIENT;
	}
	hist = json_object_get(root, "history");
	h0 = json_is_array(hist) ? json_array_get(hist, 0) : NULL;
	v = h0 ? json_string_value(json_object_get(h0, "version")) : NULL;
	if (!v || strlen(v) != GIST_SHA_LEN ||
	    strspn(v, "0123456789abcdef") != GIST_SHA_LEN || vercap <= GIST_SHA_LEN) {
		snprintf(err, errlen, "no commit SHA in history[0].version of the answer");
		rc = ELECTOR_TRANSIENT;
		goto out;
	}
	memcpy(ver, v, GIST_SHA_LEN + 1);
	files = json_object_get(root, "files");
	f = json_is_object(files) ? json_object_get(files, file) : NULL;
	if (!json_is_object(f)) {
		snprintf(err, errlen, "no file %s in the gist", file);
		rc = ELECTOR_NOT_FOUND;
		goto out;
	}
	content = json_object_get(f, "content");
	if (json_is_true(json_object_get(f, "truncated")) || !json_is_string(content)) {
		*truncated = 1; /* GitHub cut it: the whole blob is in git */
		goto out;
	}
	*len = json_string_length(content);
	if (*len >= cap) {
		snprintf(err, errlen, "file %s is %zu bytes (more than %zu)", file, *len,
		         cap ? cap - 1 : 0);
		*len = 0;
		rc = ELECTOR_CORRUPT;
		goto out;
	}
	memcpy(buf, json_string_value(content), *len);
	buf[*len] = '\0';
out:
	json_decref(root);
	return rc;
}
