/* log.c - the logger behind kwid/log.h: one line per message on stderr,
 * prefixed with a monotonic timestamp and the level. */
#include "kwid/log.h"

#include <stdarg.h>
#include <time.h>

static enum log_level current_level = LOG_LVL_INFO;

static const char *const level_names[] = {
	[LOG_LVL_ERROR] = "error",
	[LOG_LVL_WARN] = "warn",
	[LOG_LVL_INFO] = "info",
	[LOG_LVL_DEBUG] = "debug",
};

void log_set_level(enum log_level lvl) { current_level = lvl; }
enum log_level log_get_level(void) { return current_level; }

const char *log_level_to_string(enum log_level lvl)
{
	return (unsigned)lvl < ARRAY_SIZE(level_names) ? level_names[lvl] : "?";
}

int log_level_from_string(const char *s, enum log_level *out)
{
	for (size_t i = 0; i < ARRAY_SIZE(level_names); i++) {
		if (streq(s, level_names[i])) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return -EINVAL;
}

void log_msg(enum log_level lvl, int err, const char *fmt, ...)
{
	char buf[2048];
	struct timespec ts;
	va_list ap;
	int n;

	if (lvl > current_level)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	n = snprintf(buf, sizeof(buf), "%lld.%03ld kwid[%d] %s: ", (long long)ts.tv_sec,
		     ts.tv_nsec / 1000000, (int)getpid(), level_names[lvl]);
	va_start(ap, fmt);
	n += vsnprintf(buf + n, sizeof(buf) - (size_t)n, fmt, ap);
	va_end(ap);
	if (n >= (int)sizeof(buf))
		n = sizeof(buf) - 1;
	if (err && n < (int)sizeof(buf) - 1)
		n += snprintf(buf + n, sizeof(buf) - (size_t)n, ": %s", strerror(-err));
	if (n >= (int)sizeof(buf) - 1)
		n = sizeof(buf) - 2;
	buf[n++] = '\n';
	/* One write per line keeps lines whole when threads log concurrently. */
	(void)!write(STDERR_FILENO, buf, (size_t)n);
}
