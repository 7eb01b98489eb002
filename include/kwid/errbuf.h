/* errbuf.h - error messages written into a caller's buffer. The parsers of
 * untrusted bytes and the TPM code say what failed, where and with which
 * value as text (for kwidctl and the status), and return -errno. */
#ifndef KWID_ERRBUF_H
#define KWID_ERRBUF_H

#include "kwid/util.h"

/* Format into err[0..errlen) (err may be NULL) and return r. */
int errbuf_set(int r, char *err, size_t errlen, const char *fmt, ...) _printf_(4, 5);

#endif
