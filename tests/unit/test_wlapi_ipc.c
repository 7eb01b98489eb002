/* test_wlapi_ipc.c - the front <-> core protocol: RPC parameter encoding,
 * the core's strict decoder of front messages (lengths, ids, descriptors),
 * and the outbound queue over a real SOCK_SEQPACKET socketpair
 * (fragmentation, SCM_RIGHTS, replacing a waiting message). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "kwid/util.h"
#include "kwid/wlapi_ipc.h"

static size_t datagram(uint8_t *buf, uint16_t type, uint32_t conn, uint32_t stream, const void *payload,
		       size_t len)
{
	struct wlapi_ipc_hdr h = {type, 0, conn, stream, (uint32_t)len};

	wlapi_ipc_hdr_encode(buf, &h);
	memcpy(buf + WLAPI_IPC_HDR_SIZE, payload, len);
	return WLAPI_IPC_HDR_SIZE + len;
}

static void test_rpc_roundtrip(void **state)
{
	struct wlapi_rpc in = {.method = WLAPI_FETCH_JWT_SVID, .naud = 2}, out;
	uint8_t buf[4096];
	size_t len;

	in.aud[0] = "spiffe://example.org/db";
	in.aud[1] = "\xc3\xa9t\xc3\xa9";
	in.spiffe_id = "spiffe://example.org/me";
	assert_int_equal(wlapi_rpc_encode(&in, buf, sizeof(buf), &len), 0);
	assert_int_equal(wlapi_rpc_decode(buf, len, &out), 0);
	assert_int_equal(out.method, WLAPI_FETCH_JWT_SVID);
	assert_int_equal(out.naud, 2);
	assert_string_equal(out.aud[1], "\xc3\xa9t\xc3\xa9");
	assert_string_equal(out.spiffe_id, "spiffe://example.org/me");
	wlapi_rpc_clear(&out);

	/* Trailing bytes, a short buffer, an unknown method: refused. */
	buf[len] = 0;
	assert_int_equal(wlapi_rpc_decode(buf, len + 1, &out), -EBADMSG);
	assert_int_equal(wlapi_rpc_decode(buf, len - 1, &out), -EBADMSG);
	buf[0] = 9;
	assert_int_equal(wlapi_rpc_decode(buf, 1, &out), -EBADMSG);

	/* No audience, an empty one, a control character: never encoded. */
	in.naud = 0;
	assert_int_equal(wlapi_rpc_encode(&in, buf, sizeof(buf), &len), -EINVAL);
	in.naud = 1;
	in.aud[0] = "";
	assert_int_equal(wlapi_rpc_encode(&in, buf, sizeof(buf), &len), -EINVAL);
	in.aud[0] = "a\nb";
	assert_int_equal(wlapi_rpc_encode(&in, buf, sizeof(buf), &len), -EINVAL);

	in = (struct wlapi_rpc){.method = WLAPI_FETCH_X509_SVID};
	assert_int_equal(wlapi_rpc_encode(&in, buf, sizeof(buf), &len), 0);
	assert_int_equal(len, 1);
}

static void test_string_ok(void **state)
{
	assert_true(wlapi_string_ok("plain ascii", 11));
	assert_true(wlapi_string_ok("\xe2\x82\xac", 3));
	assert_false(wlapi_string_ok("\xc0\xaf", 2));	   /* overlong */
	assert_false(wlapi_string_ok("\xed\xa0\x80", 3)); /* surrogate */
	assert_false(wlapi_string_ok("\xe2\x82", 2));	   /* truncated */
	assert_false(wlapi_string_ok("a\0b", 3));
	assert_false(wlapi_string_ok("\x7f", 1));
	assert_false(wlapi_string_ok("\xc2\x85", 2)); /* C1 control */
}

static void test_front_msg_decode(void **state)
{
	uint8_t buf[512], rpc[64];
	struct wlapi_front_msg m;
	const char *why;
	uint32_t version = WLAPI_IPC_VERSION;
	struct wlapi_rpc r = {.method = WLAPI_FETCH_X509_SVID};
	size_t n, rlen;
	int fd;

	n = datagram(buf, WLAPI_F_HELLO, 0, 0, &version, sizeof(version));
	assert_int_equal(wlapi_front_msg_decode(buf, n, -1, &m, &why), 0);
	assert_int_equal(m.u.version, WLAPI_IPC_VERSION);

	/* The header's length must match the datagram. */
	assert_int_equal(wlapi_front_msg_decode(buf, n - 1, -1, &m, &why), -EBADMSG);
	assert_non_null(why);

	assert_int_equal(wlapi_rpc_encode(&r, rpc, sizeof(rpc), &rlen), 0);
	n = datagram(buf, WLAPI_F_RPC, 7, 3, rpc, rlen);
	assert_int_equal(wlapi_front_msg_decode(buf, n, -1, &m, &why), 0);
	assert_int_equal(m.hdr.conn, 7);
	assert_int_equal(m.u.rpc.method, WLAPI_FETCH_X509_SVID);
	wlapi_front_msg_clear(&m);
	/* Even stream ids are server streams; 0 is the connection. */
	n = datagram(buf, WLAPI_F_RPC, 7, 2, rpc, rlen);
	assert_int_equal(wlapi_front_msg_decode(buf, n, -1, &m, &why), -EBADMSG);
	n = datagram(buf, WLAPI_F_RPC, 0, 3, rpc, rlen);
	assert_int_equal(wlapi_front_msg_decode(buf, n, -1, &m, &why), -EBADMSG);
	n = datagram(buf, WLAPI_F_CANCEL, 7, 0x80000001u, NULL, 0);
	assert_int_equal(wlapi_front_msg_decode(buf, n, -1, &m, &why), -EBADMSG);

	/* A descriptor travels with CONN_OPEN only; otherwise it is closed. */
	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	n = datagram(buf, WLAPI_F_CONN_OPEN, 9, 0, "\1\2\3\4\5\6\7\10", 8);
	assert_int_equal(wlapi_front_msg_decode(buf, n, fd, &m, &why), 0);
	assert_int_equal(m.fd, fd);
	wlapi_front_msg_clear(&m);
	assert_int_equal(fcntl(fd, F_GETFD), -1);
	assert_int_equal(wlapi_front_msg_decode(buf, n, -1, &m, &why), -EBADMSG);
	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	n = datagram(buf, WLAPI_F_CONN_CLOSE, 9, 0, NULL, 0);
	assert_int_equal(wlapi_front_msg_decode(buf, n, fd, &m, &why), -EBADMSG);
	assert_int_equal(fcntl(fd, F_GETFD), -1);

	/* Core-bound types only, exact STATS size, no flags. */
	n = datagram(buf, WLAPI_C_MSG, 1, 1, "x", 1);
	assert_int_equal(wlapi_front_msg_decode(buf, n, -1, &m, &why), -EBADMSG);
	n = datagram(buf, WLAPI_F_STATS, 0, 0, buf, 8);
	assert_int_equal(wlapi_front_msg_decode(buf, n, -1, &m, &why), -EBADMSG);
	n = datagram(buf, WLAPI_F_CONN_CLOSE, 9, 0, NULL, 0);
	buf[2] = 1;
	assert_int_equal(wlapi_front_msg_decode(buf, n, -1, &m, &why), -EBADMSG);
}

static ssize_t recv_one(int sock, uint8_t *buf, struct wlapi_ipc_hdr *h, int *fd)
{
	ssize_t n = wlapi_ipc_recv(sock, buf, WLAPI_IPC_MAX_DATAGRAM, fd);

	if (n > 0)
		assert_int_equal(wlapi_ipc_hdr_decode(buf, (size_t)n, h), 0);
	return n;
}

static void test_queue_fragments_and_fds(void **state)
{
	int sv[2], fd, got;
	struct wlapi_ipc_queue q;
	struct wlapi_ipc_item *slot = NULL;
	struct wlapi_ipc_hdr h;
	_cleanup_free_ uint8_t *big = malloc(100000), *buf = malloc(WLAPI_IPC_MAX_DATAGRAM);
	size_t total = 0;
	struct stat a, b;

	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
	wlapi_ipc_queue_init(&q, sv[0]);
	for (size_t i = 0; i < 100000; i++)
		big[i] = (uint8_t)i;
	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	assert_int_equal(fstat(fd, &a), 0);
	assert_int_equal(wlapi_ipc_queue_push(&q, WLAPI_F_CONN_OPEN, 4, 0, NULL, 0, fd, NULL), 0);
	assert_int_equal(wlapi_ipc_queue_push(&q, WLAPI_C_MSG, 4, 1, big, 100000, -1, &slot), 0);
	assert_ptr_equal(slot, q.tail);
	assert_int_equal(wlapi_ipc_queue_flush(&q), 0);
	assert_null(slot); /* sent: the owner's slot is cleared */

	assert_int_equal(recv_one(sv[1], buf, &h, &got), WLAPI_IPC_HDR_SIZE);
	assert_int_equal(h.type, WLAPI_F_CONN_OPEN);
	assert_true(got >= 0);
	assert_int_equal(fstat(got, &b), 0);
	assert_int_equal(a.st_ino, b.st_ino);
	close(got);
	/* 100000 bytes = 4 fragments of at most 32 KiB, MORE on all but the last. */
	for (int i = 0; i < 4; i++) {
		assert_true(recv_one(sv[1], buf, &h, &got) > 0);
		assert_int_equal(h.type, WLAPI_C_MSG);
		assert_int_equal(!!(h.flags & WLAPI_IPC_MORE), i < 3);
		assert_memory_equal(buf + WLAPI_IPC_HDR_SIZE, big + total, h.len);
		total += h.len;
	}
	assert_int_equal(total, 100000);
	assert_int_equal(recv_one(sv[1], buf, &h, &got), -EAGAIN);
	wlapi_ipc_queue_clear(&q);
	close(sv[0]);
	close(sv[1]);
}

static void test_queue_replace(void **state)
{
	int sv[2], got;
	struct wlapi_ipc_queue q;
	struct wlapi_ipc_item *slot = NULL;
	struct wlapi_ipc_hdr h;
	uint8_t buf[WLAPI_IPC_MAX_DATAGRAM];
	int r;

	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
	wlapi_ipc_queue_init(&q, sv[0]);
	/* Fill the socket so that messages wait in the queue. */
	do {
		r = wlapi_ipc_queue_push(&q, WLAPI_C_MSG, 1, 1, buf, 30000, -1, NULL);
		assert_int_equal(r, 0);
	} while (wlapi_ipc_queue_flush(&q) == 0);
	assert_int_equal(wlapi_ipc_queue_push(&q, WLAPI_C_MSG, 2, 3, "old", 3, -1, &slot), 0);
	assert_int_equal(wlapi_ipc_queue_replace(&q, slot, "newer", 5), 0);
	/* Drain; the last message must carry the replacement. */
	for (;;) {
		ssize_t n = recv_one(sv[1], buf, &h, &got);
		if (n == -EAGAIN) {
			if (wlapi_ipc_queue_flush(&q) == 0 && q.count == 0 && recv_one(sv[1], buf, &h, &got) == -EAGAIN)
				break;
			continue;
		}
		assert_true(n > 0);
		if (h.conn == 2) {
			assert_int_equal(h.len, 5);
			assert_memory_equal(buf + WLAPI_IPC_HDR_SIZE, "newer", 5);
			break;
		}
	}
	assert_null(slot);
	wlapi_ipc_queue_clear(&q);
	close(sv[0]);
	close(sv[1]);
}

static void test_recv_refuses_extra_fds(void **state)
{
	int sv[2], fds[2], got;
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * 2)];
	} ctrl;
	uint8_t hdr[WLAPI_IPC_HDR_SIZE] = {0}, buf[64];
	struct iovec iov = {hdr, sizeof(hdr)};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctrl.buf,
			    .msg_controllen = sizeof(ctrl.buf)};
	struct cmsghdr *c;

	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
	fds[0] = open("/dev/null", O_RDONLY);
	fds[1] = open("/dev/null", O_RDONLY);
	memset(&ctrl, 0, sizeof(ctrl));
	c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(fds));
	memcpy(CMSG_DATA(c), fds, sizeof(fds));
	assert_int_equal(sendmsg(sv[0], &mh, 0), (ssize_t)sizeof(hdr));
	close(fds[0]);
	close(fds[1]);
	assert_int_equal(wlapi_ipc_recv(sv[1], buf, sizeof(buf), &got), -EBADMSG);
	assert_int_equal(got, -1);
	close(sv[0]);
	close(sv[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rpc_roundtrip),
		cmocka_unit_test(test_string_ok),
		cmocka_unit_test(test_front_msg_decode),
		cmocka_unit_test(test_queue_fragments_and_fds),
		cmocka_unit_test(test_queue_replace),
		cmocka_unit_test(test_recv_refuses_extra_fds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
