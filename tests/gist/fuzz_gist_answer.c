/* libFuzzer target: GitHub GET /gists/ID answers (backends/gist/gist_parse.c). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "gist_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char ver[GIST_SHA_LEN + 1], buf[GIST_CONTENT_MAX], err[256];
	size_t len;
	int truncated;
	int rc = elector_gist_parse_answer((const char *)data, size, "f.json", ver,
	                                   sizeof ver, buf, sizeof buf, &len,
	                                   &truncated, err, sizeof err);

	if (rc == ELECTOR_OK && !truncated && (len >= sizeof buf || buf[len] != '\0'))
		__builtin_trap();
	if ((rc == ELECTOR_OK || rc == ELECTOR_NOT_FOUND) && strlen(ver) != GIST_SHA_LEN)
		__builtin_trap();
	if (memchr(err, '\0', sizeof err) == NULL)
		__builtin_trap();
	return 0;
}
