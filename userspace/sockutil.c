/* sockutil.c - Unix socket helpers (see kwid/sockutil.h). */
#include "kwid/sockutil.h"
#include "kwid/util.h"

#include <sys/stat.h>
#include <sys/un.h>

static int fill_addr(const char *path, struct sockaddr_un *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (strscpy(sa->sun_path, path, sizeof(sa->sun_path)) < 0)
		return -ENAMETOOLONG;
	return 0;
}

int unix_connect(const char *path)
{
	struct sockaddr_un sa;
	_cleanup_close_ int fd = -1;
	int r = fill_addr(path, &sa);

	if (r < 0)
		return r;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -errno;
	return TAKE_FD(fd);
}

int unix_listen(const char *path, mode_t mode, int backlog)
{
	struct sockaddr_un sa;
	struct stat st;
	_cleanup_close_ int fd = -1;
	int r = fill_addr(path, &sa);

	if (r < 0)
		return r;
	if (lstat(path, &st) == 0) {
		int probe;
		if (!S_ISSOCK(st.st_mode))
			return -EEXIST;
		probe = unix_connect(path);
		if (probe >= 0) {
			close(probe);
			return -EADDRINUSE;
		}
		if (unlink(path) < 0 && errno != ENOENT)
			return -errno;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	/* Bind with a restrictive umask so the socket never exists with a
	 * wider mode than asked for, then set the exact mode. */
	mode_t old = umask(0177);
	r = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (r < 0)
		return -errno;
	if (chmod(path, mode) < 0)
		return -errno;
	if (listen(fd, backlog) < 0)
		return -errno;
	return TAKE_FD(fd);
}

int unix_peer_cred(int fd, struct ucred *out)
{
	socklen_t len = sizeof(*out);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, out, &len) < 0)
		return -errno;
	return 0;
}
