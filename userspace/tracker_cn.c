/* tracker_cn.c - the netlink proc connector, source of the degraded
 * "proc_connector" mode: fork, exec and exit notifications without any
 * detail (the rest is read from /proc). Needs CAP_NET_ADMIN to subscribe.
 * Messages are accepted from the kernel only (sender port 0) and parsed
 * with every length checked. */
#include "kwid/log.h"
#include "kwid/tracker.h"

#include <linux/cn_proc.h>
#include <linux/connector.h>
#include <linux/netlink.h>
#include <stddef.h>
#include <sys/socket.h>

#define CN_RCVBUF (4 << 20)

int tracker_cn_open(int *fd_out)
{
	struct sockaddr_nl sa = {.nl_family = AF_NETLINK, .nl_groups = CN_IDX_PROC};
	uint8_t msg[NLMSG_LENGTH(sizeof(struct cn_msg) + sizeof(enum proc_cn_mcast_op))] __attribute__((aligned(8)));
	struct nlmsghdr *nl = (struct nlmsghdr *)msg;
	struct cn_msg *cn = (struct cn_msg *)NLMSG_DATA(nl);
	enum proc_cn_mcast_op op = PROC_CN_MCAST_LISTEN;
	int size = CN_RCVBUF;
	_cleanup_close_ int fd = socket(PF_NETLINK, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_CONNECTOR);

	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -errno;
	/* A big buffer makes drops (ENOBUFS, repaired by a rescan) rarer. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) < 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	memset(msg, 0, sizeof(msg));
	nl->nlmsg_len = sizeof(msg);
	nl->nlmsg_type = NLMSG_DONE;
	cn->id.idx = CN_IDX_PROC;
	cn->id.val = CN_VAL_PROC;
	cn->len = sizeof(op);
	memcpy(cn->data, &op, sizeof(op));
	if (send(fd, msg, sizeof(msg), 0) < 0)
		return -errno;
	*fd_out = TAKE_FD(fd);
	return 0;
}

static int parse_one(const uint8_t *payload, size_t len, int (*fn)(void *ud, const struct cn_event *ev), void *ud)
{
	struct cn_msg cn;
	struct proc_event pe;
	struct cn_event ev = {0};
	size_t need;

	if (len < sizeof(cn))
		return -EBADMSG;
	memcpy(&cn, payload, sizeof(cn));
	if (cn.id.idx != CN_IDX_PROC || cn.id.val != CN_VAL_PROC)
		return 0; /* not ours */
	if (cn.len > len - sizeof(cn))
		return -EBADMSG;
	memset(&pe, 0, sizeof(pe));
	memcpy(&pe, payload + sizeof(cn), MIN((size_t)cn.len, sizeof(pe)));
	need = offsetof(struct proc_event, event_data);
	switch (pe.what) {
	case PROC_EVENT_FORK:
		need += sizeof(pe.event_data.fork);
		ev.kind = CN_FORK;
		ev.pid = pe.event_data.fork.child_pid;
		ev.tgid = pe.event_data.fork.child_tgid;
		ev.parent_tgid = pe.event_data.fork.parent_tgid;
		break;
	case PROC_EVENT_EXEC:
		need += sizeof(pe.event_data.exec);
		ev.kind = CN_EXEC;
		ev.pid = pe.event_data.exec.process_pid;
		ev.tgid = pe.event_data.exec.process_tgid;
		break;
	case PROC_EVENT_EXIT:
		need += offsetof(struct exit_proc_event, exit_signal);
		ev.kind = CN_EXIT;
		ev.pid = pe.event_data.exit.process_pid;
		ev.tgid = pe.event_data.exit.process_tgid;
		ev.exit_code = (int)pe.event_data.exit.exit_code;
		break;
	default:
		return 0; /* uid/gid/sid/comm/ptrace/coredump changes: not tracked */
	}
	if (cn.len < need || ev.pid <= 0 || ev.tgid <= 0)
		return -EBADMSG;
	return fn(ud, &ev);
}

int cn_parse(const void *buf, size_t len, int (*fn)(void *ud, const struct cn_event *ev), void *ud)
{
	const uint8_t *p = buf;
	size_t off = 0;
	int n = 0, r;

	while (len - off >= NLMSG_HDRLEN) {
		struct nlmsghdr nl;
		size_t step;

		memcpy(&nl, p + off, sizeof(nl));
		if (nl.nlmsg_len < NLMSG_HDRLEN || nl.nlmsg_len > len - off)
			return -EBADMSG;
		if (nl.nlmsg_type != NLMSG_NOOP && nl.nlmsg_type != NLMSG_ERROR) {
			r = parse_one(p + off + NLMSG_HDRLEN, nl.nlmsg_len - NLMSG_HDRLEN, fn, ud);
			if (r < 0)
				return r;
			n++;
		}
		step = NLMSG_ALIGN(nl.nlmsg_len);
		if (step > len - off)
			break;
		off += step;
	}
	return n;
}

int tracker_cn_drain(int fd, int (*fn)(void *ud, const struct cn_event *ev), void *ud)
{
	uint8_t buf[16384] __attribute__((aligned(8)));
	bool overflow = false;

	for (;;) {
		struct sockaddr_nl from;
		socklen_t fl = sizeof(from);
		ssize_t n = recvfrom(fd, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&from, &fl);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == ENOBUFS) {
				overflow = true;
				continue;
			}
			if (errno == EAGAIN)
				break;
			return -errno;
		}
		if (fl < sizeof(from) || from.nl_family != AF_NETLINK || from.nl_pid != 0)
			continue; /* only the kernel speaks for the connector */
		if (cn_parse(buf, (size_t)n, fn, ud) < 0)
			log_debug("proc connector: malformed message of %zd bytes ignored", n);
	}
	return overflow ? -ENOBUFS : 0;
}
