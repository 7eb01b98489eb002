/* fuzz_wlapi_ipc.c - the core's decoder of messages from the Workload API
 * front (the front is untrusted: a compromised front must not crash the
 * core or get past the checks). The first input byte decides whether a
 * descriptor "arrived" with the datagram; accepted RPC parameters must
 * re-encode to the same bytes. */
#include "kwid/wlapi_ipc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wlapi_front_msg m;
	const char *why = NULL;
	int fd = -1, r;

	if (size < 1)
		return 0;
	if (data[0] & 1)
		fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	data++;
	size--;
	r = wlapi_front_msg_decode(data, size, fd, &m, &why);
	if (r == 0) {
		if (m.hdr.type == WLAPI_F_RPC) {
			uint8_t buf[WLAPI_IPC_MAX_DATAGRAM];
			size_t len;
			if (wlapi_rpc_encode(&m.u.rpc, buf, sizeof(buf), &len) != 0 ||
			    len != size - WLAPI_IPC_HDR_SIZE || memcmp(buf, data + WLAPI_IPC_HDR_SIZE, len) != 0)
				abort();
		}
		wlapi_front_msg_clear(&m);
	} else if (r == -EBADMSG && !why) {
		abort(); /* every refusal names its reason */
	}
	return 0;
}
