/* fuzz_http_response.c - libFuzzer harness for the HTTP/1.1 response
 * parser the kubelet client reads its answers with. The first byte says
 * whether the connection ended cleanly; the input is also fed in two
 * parts, as reads deliver it, which must never change the outcome. */
#include <assert.h>

#include "kwid/http_response.h"
#include "kwid/util.h"

#define MAX_BODY 4096

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_response resp;
	const char *why = NULL;
	bool eof;
	char *buf;
	size_t len;
	int r;

	if (size < 1 || size > 2 * HTTP_HEAD_MAX)
		return 0;
	eof = data[0] & 1;
	len = size - 1;
	buf = malloc(len + 1);
	assert(buf);
	/* A prefix is either incomplete or already decided: never a
	 * complete answer that the rest would contradict silently. */
	memcpy(buf, data + 1, len);
	r = http_response_parse(buf, len / 2, false, MAX_BODY, &resp, &why);
	assert(r == 0 || r == -EAGAIN || r == -EBADMSG || r == -EFBIG);
	memcpy(buf, data + 1, len);
	r = http_response_parse(buf, len, eof, MAX_BODY, &resp, &why);
	if (r == 0) {
		assert(resp.status >= 200 && resp.status <= 999);
		assert(resp.body >= buf && resp.body + resp.body_len <= buf + len);
		assert(resp.body_len <= MAX_BODY);
		assert(strlen(resp.reason) < sizeof(resp.reason));
	} else {
		assert(r == -EAGAIN || r == -EBADMSG || r == -EFBIG);
		assert(r != -EBADMSG || why);
	}
	free(buf);
	return 0;
}
