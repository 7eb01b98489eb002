/* entry_store.h - the durable store of registration entries: one JSON
 * file per entry in <state_dir>/entries/<id>.json (mode 0600, directory
 * 0700), each written with write_file_atomic (temp file, fsync, rename,
 * fsync of the directory) and removed with unlink + fsync of the
 * directory.
 *
 * One file per entry keeps a create or delete O(1) however many entries
 * exist (a single file would be rewritten whole on every change), and a
 * crash can only leave a temporary file behind, never a half-written
 * entry. A file that does not parse is not skipped: loading fails with the
 * file's path and the reason, and the agent refuses to start until an
 * operator repairs or removes it (running with part of the policy silently
 * missing could hand a workload another default identity). */
#ifndef KWID_ENTRY_STORE_H
#define KWID_ENTRY_STORE_H

#include "kwid/entries.h"

#define ENTRY_STORE_FILE_MAX (256 * 1024)

struct entry_store;

/* Open (and create) <state_dir>/entries; remove temporary files an
 * interrupted write left behind. */
int entry_store_open(const char *state_dir, struct entry_store **out);
void entry_store_free(struct entry_store *st);
const char *entry_store_path(const struct entry_store *st);

/* Parse every stored entry and hand it to fn (ownership passes, also on
 * failure; fn returns 0, or -errno and may set *why, malloc'd). Stops at
 * the first failure; *errmsg (malloc'd) then names the file and what is
 * wrong with it. */
int entry_store_load(struct entry_store *st, int (*fn)(void *ud, struct kwid_entry *e, char **why),
		     void *ud, char **errmsg);

/* Durably write / remove one entry. Returns once the change is on disk. */
int entry_store_put(struct entry_store *st, const struct kwid_entry *e);
int entry_store_delete(struct entry_store *st, const char *id);

#endif
