/*
 * libFuzzer target for the Lease backend's parsers. The first byte picks
 * the parser, the rest is its input:
 *   '0'  a Lease object (JSON) -> elector_lease_decode, and the spec built
 *        back from the decoded record must decode to the same record
 *   '1'  a YAML document -> elector_ky_parse_buf, every node walked
 *   '2'  base64 -> elector_lease_b64decode
 *   '3'  a kubeconfig (file on a memfd) -> elector_lease_conn_load with
 *        and without a context option
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "lease_int.h"
#include "timeutil.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct elector_backend_host host;

static void walk(const struct elector_ky *n, int depth)
{
	size_t i;

	if (n == NULL || depth > 40)
		return;
	if (n->type == ELECTOR_KY_MAP && n->n > 0)
		(void)elector_ky_str(n, n->keys[0]);
	for (i = 0; i < n->n; i++)
		walk(n->items[i], depth + 1);
}

static void fuzz_lease(const char *buf, size_t len)
{
	struct elector_record rec, again;
	struct elector_version ver, ver2;
	char err[256];
	json_error_t je;
	json_t *obj = json_loadb(buf, len, 0, &je);
	json_t *spec, *wrap, *meta;

	if (obj == NULL)
		return;
	if (elector_lease_decode(&host, obj, &rec, &ver, err, sizeof err) ==
	    ELECTOR_OK) {
		spec = elector_lease_spec(&host, &rec, err, sizeof err);
		if (spec != NULL) {
			wrap = json_object();
			meta = json_object();
			json_object_set_new(meta, "resourceVersion", json_string(ver.v));
			json_object_set_new(wrap, "metadata", meta);
			json_object_set_new(wrap, "spec", spec);
			if (elector_lease_decode(&host, wrap, &again, &ver2, err,
			                         sizeof err) != ELECTOR_OK ||
			    memcmp(&rec, &again, sizeof rec) != 0)
				abort(); /* encode/decode must round-trip */
			json_decref(wrap);
		}
	}
	json_decref(obj);
}

static void fuzz_kubeconfig(const char *buf, size_t len)
{
	struct elector_lease_conn c;
	char path[64], err[512];
	int fd = memfd_create("kubeconfig", 0);

	if (fd < 0)
		return;
	if (write(fd, buf, len) == (ssize_t)len) {
		snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
		if (elector_lease_conn_load(path, NULL, &c, err, sizeof err) ==
		    ELECTOR_OK)
			elector_lease_conn_free(&c);
		if (elector_lease_conn_load(path, "emu", &c, err, sizeof err) ==
		    ELECTOR_OK)
			elector_lease_conn_free(&c);
	}
	close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data + 1;
	size_t len = size ? size - 1 : 0;
	char *copy, *out = NULL;
	size_t outlen;
	struct elector_ky *doc = NULL;
	char err[256];

	host.time_parse = elector_time_parse;
	host.time_format = elector_time_format;
	if (size == 0)
		return 0;
	switch (data[0]) {
	case '0':
		fuzz_lease(buf, len);
		break;
	case '1':
		if (elector_ky_parse_buf(buf, len, "fuzz", &doc, err, sizeof err) ==
		    ELECTOR_OK) {
			walk(doc, 0);
			elector_ky_free(doc);
		}
		break;
	case '2':
		copy = malloc(len + 1);
		if (copy == NULL)
			return 0;
		memcpy(copy, buf, len);
		copy[len] = '\0';
		if (elector_lease_b64decode(copy, &out, &outlen) == ELECTOR_OK)
			free(out);
		free(copy);
		break;
	case '3':
		fuzz_kubeconfig(buf, len);
		break;
	}
	return 0;
}
