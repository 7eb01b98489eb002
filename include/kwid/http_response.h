/* http_response.h - the answer to one HTTP/1.1 request on a connection
 * the client closes after it: status line, header fields and the body,
 * framed by Content-Length, by the chunked transfer coding or by the end
 * of the connection. Strict (CRLF line ends, no folded headers, one
 * framing) because the bytes come from the network; bounded; fuzzed by
 * tests/fuzz/fuzz_http_response.c. */
#ifndef KWID_HTTP_RESPONSE_H
#define KWID_HTTP_RESPONSE_H

#include <stdbool.h>
#include <stddef.h>

#define HTTP_HEAD_MAX (64 * 1024) /* status line and header fields */
#define HTTP_FIELDS_MAX 100

struct http_response {
	int status;	  /* 100..599 */
	char reason[64];  /* the reason phrase, printable ASCII, maybe cut */
	char *body;	  /* into the parsed buffer, chunks joined in place */
	size_t body_len;
	bool framed;	  /* Content-Length or chunked, not the end of the connection */
};

/* Parse buf[0..len). Until the response is complete: -EAGAIN (read more),
 * and buf is left untouched. at_eof: the connection ended cleanly, so a
 * body without framing ends here. Once complete: 0, with a chunked body
 * decoded in place (buf changes). -EBADMSG with *why when malformed,
 * -EFBIG when the body exceeds max_body. */
int http_response_parse(char *buf, size_t len, bool at_eof, size_t max_body, struct http_response *out,
			const char **why);

#endif
