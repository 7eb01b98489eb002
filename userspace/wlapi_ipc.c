/* wlapi_ipc.c - encoding, strict decoding and the outbound queue of the
 * front <-> core protocol (see kwid/wlapi_ipc.h). */
#include "kwid/wlapi_ipc.h"
#include "kwid/util.h"

#include <sys/socket.h>

/* ---- strings and RPC parameters ---- */

bool wlapi_string_ok(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + len;

	while (p < end) {
		unsigned char c = *p;
		size_t n;
		uint32_t cp;

		if (c < 0x80) {
			if (c < 0x20 || c == 0x7f)
				return false;
			p++;
			continue;
		}
		if ((c & 0xe0) == 0xc0) {
			n = 1;
			cp = c & 0x1f;
		} else if ((c & 0xf0) == 0xe0) {
			n = 2;
			cp = c & 0x0f;
		} else if ((c & 0xf8) == 0xf0) {
			n = 3;
			cp = c & 0x07;
		} else {
			return false;
		}
		if ((size_t)(end - p) <= n)
			return false;
		for (size_t i = 1; i <= n; i++) {
			if ((p[i] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (p[i] & 0x3f);
		}
		/* No overlong forms, no surrogates, nothing past U+10FFFF, no C1
		 * controls. */
		if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
		    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff || (cp >= 0x80 && cp <= 0x9f))
			return false;
		p += n + 1;
	}
	return true;
}

bool wlapi_method_is_stream(enum wlapi_method m)
{
	return m == WLAPI_FETCH_X509_SVID || m == WLAPI_FETCH_X509_BUNDLES || m == WLAPI_FETCH_JWT_BUNDLES;
}

const char *wlapi_method_name(enum wlapi_method m)
{
	switch (m) {
	case WLAPI_FETCH_X509_SVID:
		return "FetchX509SVID";
	case WLAPI_FETCH_X509_BUNDLES:
		return "FetchX509Bundles";
	case WLAPI_FETCH_JWT_SVID:
		return "FetchJWTSVID";
	case WLAPI_FETCH_JWT_BUNDLES:
		return "FetchJWTBundles";
	}
	return "?";
}

void wlapi_rpc_clear(struct wlapi_rpc *rpc)
{
	for (size_t i = 0; i < rpc->naud; i++)
		free(rpc->aud[i]);
	free(rpc->spiffe_id);
	*rpc = (struct wlapi_rpc){0};
}

static int put_u16(uint8_t *buf, size_t cap, size_t *off, size_t v)
{
	if (v > UINT16_MAX || *off + 2 > cap)
		return -EMSGSIZE;
	buf[(*off)++] = (uint8_t)(v >> 8);
	buf[(*off)++] = (uint8_t)v;
	return 0;
}

static int put_str(uint8_t *buf, size_t cap, size_t *off, const char *s, size_t max)
{
	size_t len = s ? strlen(s) : 0;
	int r;

	if (len > max || !wlapi_string_ok(s ? s : "", len))
		return -EINVAL;
	r = put_u16(buf, cap, off, len);
	if (r < 0)
		return r;
	if (*off + len > cap)
		return -EMSGSIZE;
	if (len)
		memcpy(buf + *off, s, len);
	*off += len;
	return 0;
}

int wlapi_rpc_encode(const struct wlapi_rpc *rpc, uint8_t *buf, size_t cap, size_t *len)
{
	size_t off = 0;
	int r;

	if (rpc->method < WLAPI_FETCH_X509_SVID || rpc->method > WLAPI_METHOD_MAX || cap < 1)
		return -EINVAL;
	buf[off++] = (uint8_t)rpc->method;
	if (rpc->method == WLAPI_FETCH_JWT_SVID) {
		if (rpc->naud < 1 || rpc->naud > WLAPI_MAX_AUDIENCES)
			return -EINVAL;
		r = put_u16(buf, cap, &off, rpc->naud);
		for (size_t i = 0; r == 0 && i < rpc->naud; i++) {
			if (!rpc->aud[i] || !rpc->aud[i][0])
				return -EINVAL;
			r = put_str(buf, cap, &off, rpc->aud[i], WLAPI_MAX_AUDIENCE_LEN);
		}
		if (r == 0)
			r = put_str(buf, cap, &off, rpc->spiffe_id, WLAPI_MAX_SPIFFE_ID_LEN);
		if (r < 0)
			return r;
	}
	*len = off;
	return 0;
}

static int get_u16(const uint8_t *buf, size_t len, size_t *off, size_t *v)
{
	if (*off + 2 > len)
		return -EBADMSG;
	*v = (size_t)buf[*off] << 8 | buf[*off + 1];
	*off += 2;
	return 0;
}

static int get_str(const uint8_t *buf, size_t len, size_t *off, size_t min, size_t max, char **out)
{
	size_t n;

	*out = NULL;
	if (get_u16(buf, len, off, &n) < 0 || n < min || n > max || *off + n > len)
		return -EBADMSG;
	if (!wlapi_string_ok((const char *)buf + *off, n))
		return -EBADMSG;
	if (n > 0) {
		*out = strndup((const char *)buf + *off, n);
		if (!*out)
			return -ENOMEM;
	}
	*off += n;
	return 0;
}

int wlapi_rpc_decode(const uint8_t *buf, size_t len, struct wlapi_rpc *out)
{
	size_t off = 0, naud;
	int r;

	*out = (struct wlapi_rpc){0};
	if (len < 1 || buf[0] < WLAPI_FETCH_X509_SVID || buf[0] > WLAPI_METHOD_MAX)
		return -EBADMSG;
	out->method = buf[off++];
	if (out->method == WLAPI_FETCH_JWT_SVID) {
		if (get_u16(buf, len, &off, &naud) < 0 || naud < 1 || naud > WLAPI_MAX_AUDIENCES)
			return -EBADMSG;
		for (size_t i = 0; i < naud; i++) {
			r = get_str(buf, len, &off, 1, WLAPI_MAX_AUDIENCE_LEN, &out->aud[i]);
			if (r < 0) {
				wlapi_rpc_clear(out);
				return r;
			}
			out->naud++;
		}
		r = get_str(buf, len, &off, 0, WLAPI_MAX_SPIFFE_ID_LEN, &out->spiffe_id);
		if (r < 0) {
			wlapi_rpc_clear(out);
			return r;
		}
	}
	if (off != len) {
		wlapi_rpc_clear(out);
		return -EBADMSG;
	}
	return 0;
}

/* ---- headers and front messages ---- */

void wlapi_ipc_hdr_encode(uint8_t *buf, const struct wlapi_ipc_hdr *h)
{
	memcpy(buf, &h->type, 2);
	memcpy(buf + 2, &h->flags, 2);
	memcpy(buf + 4, &h->conn, 4);
	memcpy(buf + 8, &h->stream, 4);
	memcpy(buf + 12, &h->len, 4);
}

int wlapi_ipc_hdr_decode(const uint8_t *buf, size_t len, struct wlapi_ipc_hdr *out)
{
	if (len < WLAPI_IPC_HDR_SIZE || len > WLAPI_IPC_MAX_DATAGRAM)
		return -EBADMSG;
	memcpy(&out->type, buf, 2);
	memcpy(&out->flags, buf + 2, 2);
	memcpy(&out->conn, buf + 4, 4);
	memcpy(&out->stream, buf + 8, 4);
	memcpy(&out->len, buf + 12, 4);
	if ((size_t)out->len != len - WLAPI_IPC_HDR_SIZE || (out->flags & ~WLAPI_IPC_MORE))
		return -EBADMSG;
	return 0;
}

void wlapi_front_msg_clear(struct wlapi_front_msg *m)
{
	if (m->fd >= 0)
		close(m->fd);
	m->fd = -1;
	if (m->hdr.type == WLAPI_F_RPC)
		wlapi_rpc_clear(&m->u.rpc);
	m->hdr.type = 0;
}

static int refuse(int fd, const char **why, const char *reason)
{
	if (fd >= 0)
		close(fd);
	if (why)
		*why = reason;
	return -EBADMSG;
}

int wlapi_front_msg_decode(const uint8_t *buf, size_t len, int fd, struct wlapi_front_msg *out,
			   const char **why)
{
	const struct wlapi_ipc_hdr *h = &out->hdr;
	const uint8_t *payload = buf + WLAPI_IPC_HDR_SIZE;
	bool want_conn, want_stream;
	int r;

	memset(out, 0, sizeof(*out));
	out->fd = -1;
	if (wlapi_ipc_hdr_decode(buf, len, &out->hdr) < 0)
		return refuse(fd, why, "bad header or length");
	if (h->flags)
		return refuse(fd, why, "flags set on a front message");
	if ((fd >= 0) != (h->type == WLAPI_F_CONN_OPEN))
		return refuse(fd, why, "descriptor passed with the wrong message");
	switch (h->type) {
	case WLAPI_F_HELLO:
		want_conn = want_stream = false;
		if (h->len != sizeof(uint32_t))
			return refuse(fd, why, "HELLO payload size");
		memcpy(&out->u.version, payload, sizeof(uint32_t));
		break;
	case WLAPI_F_CONN_OPEN:
		want_conn = true;
		want_stream = false;
		if (h->len != sizeof(uint64_t))
			return refuse(fd, why, "CONN_OPEN payload size");
		memcpy(&out->u.accepted_boot_ns, payload, sizeof(uint64_t));
		break;
	case WLAPI_F_CONN_CLOSE:
		want_conn = true;
		want_stream = false;
		if (h->len != 0)
			return refuse(fd, why, "payload on CONN_CLOSE");
		break;
	case WLAPI_F_RPC:
		want_conn = want_stream = true;
		r = wlapi_rpc_decode(payload, h->len, &out->u.rpc);
		if (r == -ENOMEM)
			return r;
		if (r < 0)
			return refuse(fd, why, "malformed RPC parameters");
		out->fd = -1;
		break;
	case WLAPI_F_CANCEL:
		want_conn = want_stream = true;
		if (h->len != 0)
			return refuse(fd, why, "payload on CANCEL");
		break;
	case WLAPI_F_STATS:
		want_conn = want_stream = false;
		if (h->len != sizeof(struct wlapi_front_stats))
			return refuse(fd, why, "STATS payload size");
		memcpy(&out->u.stats, payload, sizeof(out->u.stats));
		break;
	default:
		return refuse(fd, why, "unknown message type");
	}
	/* Connection ids are never 0; stream ids are HTTP/2 client stream ids
	 * (odd, below 2^31). */
	if (want_conn != (h->conn != 0) ||
	    want_stream != (h->stream != 0) ||
	    (want_stream && (h->stream > INT32_MAX || !(h->stream & 1)))) {
		if (h->type == WLAPI_F_RPC)
			wlapi_rpc_clear(&out->u.rpc);
		return refuse(fd, why, "connection or stream id out of place");
	}
	out->fd = fd;
	return 0;
}

ssize_t wlapi_ipc_recv(int sock, uint8_t *buf, size_t cap, int *fd)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * 4)];
	} ctrl;
	struct iovec iov = {.iov_base = buf, .iov_len = cap};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctrl.buf,
			    .msg_controllen = sizeof(ctrl.buf)};
	bool bad = false;
	ssize_t n;

	*fd = -1;
	do {
		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK ? -EAGAIN : -errno;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) {
			bad = true;
			continue;
		}
		size_t nfd = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < nfd; i++) {
			int f;
			memcpy(&f, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (*fd < 0 && !bad)
				*fd = f;
			else {
				close(f);
				bad = true;
			}
		}
	}
	if (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC))
		bad = true;
	if (bad) {
		if (*fd >= 0)
			close(*fd);
		*fd = -1;
		return -EBADMSG;
	}
	return n;
}

/* ---- outbound queue ---- */

struct wlapi_ipc_item {
	struct wlapi_ipc_item *next;
	struct wlapi_ipc_item **slot;
	uint16_t type;
	uint32_t conn, stream;
	uint8_t *payload;
	size_t len, off;
	bool started;
	int fd;
};

void wlapi_ipc_queue_init(struct wlapi_ipc_queue *q, int sock)
{
	*q = (struct wlapi_ipc_queue){.sock = sock};
}

static void item_free(struct wlapi_ipc_item *it)
{
	if (it->slot)
		*it->slot = NULL;
	if (it->fd >= 0)
		close(it->fd);
	free(it->payload);
	free(it);
}

void wlapi_ipc_queue_clear(struct wlapi_ipc_queue *q)
{
	while (q->head) {
		struct wlapi_ipc_item *it = q->head;
		q->head = it->next;
		item_free(it);
	}
	q->tail = NULL;
	q->bytes = q->count = 0;
}

int wlapi_ipc_queue_push(struct wlapi_ipc_queue *q, uint16_t type, uint32_t conn, uint32_t stream,
			 const void *payload, size_t len, int fd, struct wlapi_ipc_item **slot)
{
	struct wlapi_ipc_item *it = calloc(1, sizeof(*it));

	if (!it || (len && !(it->payload = malloc(len)))) {
		free(it);
		if (fd >= 0)
			close(fd);
		return -ENOMEM;
	}
	if (len)
		memcpy(it->payload, payload, len);
	it->type = type;
	it->conn = conn;
	it->stream = stream;
	it->len = len;
	it->fd = fd;
	if (slot) {
		it->slot = slot;
		*slot = it;
	}
	if (q->tail)
		q->tail->next = it;
	else
		q->head = it;
	q->tail = it;
	q->bytes += len;
	q->count++;
	return 0;
}

int wlapi_ipc_queue_replace(struct wlapi_ipc_queue *q, struct wlapi_ipc_item *it, const void *payload,
			    size_t len)
{
	uint8_t *p;

	if (it->started)
		return -EBUSY;
	p = malloc(len ? len : 1);
	if (!p)
		return -ENOMEM;
	memcpy(p, payload, len);
	q->bytes = q->bytes - it->len + len;
	free(it->payload);
	it->payload = p;
	it->len = len;
	return 0;
}

void wlapi_ipc_item_detach(struct wlapi_ipc_item *it)
{
	if (it && it->slot) {
		*it->slot = NULL;
		it->slot = NULL;
	}
}

static int send_fragment(int sock, struct wlapi_ipc_item *it)
{
	uint8_t hdrbuf[WLAPI_IPC_HDR_SIZE];
	size_t chunk = MIN(it->len - it->off, (size_t)WLAPI_IPC_FRAGMENT);
	struct wlapi_ipc_hdr h = {
		.type = it->type,
		.flags = it->off + chunk < it->len ? WLAPI_IPC_MORE : 0,
		.conn = it->conn,
		.stream = it->stream,
		.len = (uint32_t)chunk,
	};
	struct iovec iov[2] = {{hdrbuf, sizeof(hdrbuf)}, {it->payload + it->off, chunk}};
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} ctrl;
	struct msghdr mh = {.msg_iov = iov, .msg_iovlen = chunk ? 2 : 1};
	ssize_t n;

	wlapi_ipc_hdr_encode(hdrbuf, &h);
	if (it->fd >= 0) {
		struct cmsghdr *c;
		memset(&ctrl, 0, sizeof(ctrl));
		mh.msg_control = ctrl.buf;
		mh.msg_controllen = sizeof(ctrl.buf);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &it->fd, sizeof(int));
	}
	do {
		n = sendmsg(sock, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	it->started = true;
	it->off += chunk;
	if (it->fd >= 0) {
		close(it->fd);
		it->fd = -1;
	}
	return 0;
}

int wlapi_ipc_queue_flush(struct wlapi_ipc_queue *q)
{
	while (q->head) {
		struct wlapi_ipc_item *it = q->head;
		int r = send_fragment(q->sock, it);

		if (r < 0)
			return r;
		if (it->off < it->len)
			continue;
		q->head = it->next;
		if (!q->head)
			q->tail = NULL;
		q->bytes -= it->len;
		q->count--;
		item_free(it);
	}
	return 0;
}
