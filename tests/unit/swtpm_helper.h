/* swtpm_helper.h - unit tests start their own swtpm on a free loopback
 * port pair with a temporary state directory, and stop it afterwards. */
#ifndef KWID_TEST_SWTPM_HELPER_H
#define KWID_TEST_SWTPM_HELPER_H

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct swtpm {
	pid_t pid;
	int port;
	char dir[64];
	char tcti[96];
};

static inline int swtpm_port_free(int port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), ok;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ok = fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
	if (fd >= 0)
		close(fd);
	return ok;
}

static inline int swtpm_pick_port(void)
{
	for (int i = 0; i < 200; i++) {
		int p = 20000 + (int)((unsigned)rand() % 40000);
		if (swtpm_port_free(p) && swtpm_port_free(p + 1))
			return p;
	}
	return -1;
}

static inline int swtpm_connectable(int port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), ok;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
	if (fd >= 0)
		close(fd);
	return ok;
}

static inline void swtpm_stop(struct swtpm *s)
{
	char cmd[128];

	if (s->pid > 0) {
		kill(s->pid, SIGTERM);
		waitpid(s->pid, NULL, 0);
		s->pid = 0;
	}
	if (s->dir[0]) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", s->dir);
		if (system(cmd) != 0)
			fprintf(stderr, "cannot remove %s\n", s->dir);
		s->dir[0] = '\0';
	}
}

static inline int swtpm_start_once(struct swtpm *s)
{
	char state[128], server[96], ctrl[96];

	s->port = swtpm_pick_port();
	if (s->port < 0)
		return -1;
	snprintf(state, sizeof(state), "dir=%s", s->dir);
	snprintf(server, sizeof(server), "type=tcp,port=%d,bindaddr=127.0.0.1", s->port);
	snprintf(ctrl, sizeof(ctrl), "type=tcp,port=%d,bindaddr=127.0.0.1", s->port + 1);
	s->pid = fork();
	if (s->pid < 0)
		return -1;
	if (s->pid == 0) {
		int null = open("/dev/null", O_RDWR);
		dup2(null, 1);
		dup2(null, 2);
		execlp("swtpm", "swtpm", "socket", "--tpm2", "--tpmstate", state, "--server", server, "--ctrl",
		       ctrl, "--flags", "not-need-init,startup-clear", (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 500; i++) {
		int st;
		struct timespec ts = {0, 10 * 1000 * 1000};
		if (waitpid(s->pid, &st, WNOHANG) == s->pid) {
			s->pid = 0;
			return -1; /* lost the port race, or swtpm is missing */
		}
		if (swtpm_connectable(s->port)) {
			snprintf(s->tcti, sizeof(s->tcti), "swtpm:host=127.0.0.1,port=%d", s->port);
			return 0;
		}
		nanosleep(&ts, NULL);
	}
	return -1;
}

/* 0 when a swtpm is running; s->tcti names it. */
static inline int swtpm_start(struct swtpm *s)
{
	memset(s, 0, sizeof(*s));
	srand((unsigned)getpid() ^ (unsigned)time(NULL));
	strcpy(s->dir, "/tmp/kwid-swtpm-XXXXXX");
	if (!mkdtemp(s->dir))
		return -1;
	for (int attempt = 0; attempt < 5; attempt++)
		if (swtpm_start_once(s) == 0)
			return 0;
	swtpm_stop(s);
	return -1;
}

#endif
