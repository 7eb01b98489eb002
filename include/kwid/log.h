/* log.h - leveled logging to stderr (journald picks it up under systemd).
 *
 * The log_*_errno() helpers log with strerror(-r) appended and return r
 * (always negative), so error paths read: return log_error_errno(r, ...).
 * Never pass key material or tokens to these functions. */
#ifndef KWID_LOG_H
#define KWID_LOG_H

#include "kwid/util.h"

enum log_level { LOG_LVL_ERROR, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

void log_set_level(enum log_level lvl);
enum log_level log_get_level(void);
/* Parses "error", "warn", "info", "debug"; -EINVAL otherwise. */
int log_level_from_string(const char *s, enum log_level *out);
const char *log_level_to_string(enum log_level lvl);

void log_msg(enum log_level lvl, int err, const char *fmt, ...) _printf_(3, 4);

#define log_error(...) log_msg(LOG_LVL_ERROR, 0, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LVL_WARN, 0, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LVL_INFO, 0, __VA_ARGS__)
#define log_debug(...)                                      \
	do {                                                \
		if (log_get_level() >= LOG_LVL_DEBUG)       \
			log_msg(LOG_LVL_DEBUG, 0, __VA_ARGS__); \
	} while (0)

#define log_full_errno(lvl, r, ...)                               \
	({                                                        \
		int _r_ = (r) < 0 ? (r) : -(r);                   \
		log_msg(lvl, _r_, __VA_ARGS__);                   \
		_r_;                                              \
	})
#define log_error_errno(r, ...) log_full_errno(LOG_LVL_ERROR, r, __VA_ARGS__)
#define log_warn_errno(r, ...) log_full_errno(LOG_LVL_WARN, r, __VA_ARGS__)
#define log_info_errno(r, ...) log_full_errno(LOG_LVL_INFO, r, __VA_ARGS__)
#define log_debug_errno(r, ...) log_full_errno(LOG_LVL_DEBUG, r, __VA_ARGS__)

#endif
