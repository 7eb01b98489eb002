/* fork_load.c - benchmark helper: WORKERS processes create and reap
 * short-lived children (vfork + _exit + waitpid: one fork and one exit
 * event each; vfork because a plain fork of even a small process costs
 * more than the tracking we want to load) for SECONDS at a total of RATE
 * children/s (0: as fast as possible). Prints the children created and
 * the achieved rate. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	int workers = argc > 1 ? atoi(argv[1]) : 2;
	double seconds = argc > 2 ? atof(argv[2]) : 5, rate = argc > 3 ? atof(argv[3]) : 0;
	long *counts = mmap(NULL, sizeof(long) * (size_t)workers, PROT_READ | PROT_WRITE,
			    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	double start = now();
	long total = 0;

	if (counts == MAP_FAILED || workers < 1)
		return 1;
	for (int w = 0; w < workers; w++) {
		if (fork() == 0) {
			double interval = rate > 0 ? workers / rate : 0, next = now();
			long n = 0;
			while (now() - start < seconds) {
				pid_t c = vfork();
				if (c == 0)
					_exit(0);
				if (c > 0)
					waitpid(c, NULL, 0);
				n++;
				if (interval > 0) {
					next += interval;
					double d = next - now();
					if (d > 0) {
						struct timespec ts = {(time_t)d, (long)((d - (long)d) * 1e9)};
						nanosleep(&ts, NULL);
					}
				}
			}
			counts[w] = n;
			_exit(0);
		}
	}
	while (wait(NULL) > 0)
		;
	for (int w = 0; w < workers; w++)
		total += counts[w];
	printf("%ld %.0f\n", total, total / (now() - start));
	return 0;
}
