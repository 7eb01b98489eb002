/* spawn_sleepers.c - benchmark helper: fork N children that sleep, print
 * "ready" when all exist, and kill and reap them when stdin closes. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 10000;
	pid_t *kids = calloc((size_t)n, sizeof(pid_t));
	char buf[16];

	if (!kids)
		return 1;
	for (long i = 0; i < n; i++) {
		kids[i] = fork();
		if (kids[i] < 0) {
			perror("fork");
			n = i;
			break;
		}
		if (kids[i] == 0) {
			for (;;)
				pause();
		}
	}
	printf("ready %ld\n", n);
	fflush(stdout);
	while (read(0, buf, sizeof(buf)) > 0)
		;
	for (long i = 0; i < n; i++)
		kill(kids[i], SIGKILL);
	while (wait(NULL) > 0)
		;
	return 0;
}
