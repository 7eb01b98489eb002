/* attestor_util.h - helpers the attestors share: selector values built
 * from untrusted text, and bounded reads of files that must be trusted. */
#ifndef KWID_ATTESTOR_UTIL_H
#define KWID_ATTESTOR_UTIL_H

#include <sys/stat.h>

#include "kwid/attest.h"
#include "kwid/selectors.h"

/* Percent-encode the bytes a selector value cannot hold (whitespace,
 * control characters) and '%' itself, so that the encoding is
 * unambiguous: "/opt/my app" becomes "/opt/my%20app". Returns the length,
 * or -ENAMETOOLONG when out (outlen bytes) is too small. */
ssize_t selector_escape(const char *in, char *out, size_t outlen);

/* Add "type:key:value" (key NULL: "type:value") with key and value
 * escaped. -ENAMETOOLONG when the selector would exceed
 * KWID_SELECTOR_MAX, -EINVAL when the value is empty. */
int sel_add(struct kwid_selector_set *out, const char *type, const char *key, const char *value);
/* A label: "type:key:value", or "type:key:" for an empty value (SPIRE's
 * spelling of both). Errors as sel_add's. */
int sel_add_label(struct kwid_selector_set *out, const char *type, const char *key, const char *value);

/* Read a whole regular file of at most max bytes, without following a
 * symlink in its last component and without blocking on a FIFO. With
 * root_only, the file must be owned by root and not writable by group or
 * others (-EPERM). *st receives the opened file's stat (may be NULL). */
int read_trusted_file_at(int dirfd, const char *path, size_t max, bool root_only, char **out, size_t *outlen,
			 struct stat *st);

/* true when both stats name the same version of a file. */
bool stat_same_version(const struct stat *a, const struct stat *b);

struct kwid_cgroup_path_info;

/* The parsed cgroup facts every cgroup-based attestor starts from. A
 * refused membership fails the caller (with a note); with need_container
 * so does a refused container claim. */
int attest_cgroup_facts(const struct kwid_attest_ctx *ctx, bool need_container,
			const struct kwid_cgroup_path_info **out);

#endif
