/* errbuf.c - error messages into a caller's buffer (see kwid/errbuf.h). */
#include "kwid/errbuf.h"

#include <stdarg.h>

int errbuf_set(int r, char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return r;
}
