/* entry_dir.h - read-only registration entries from a directory of JSON
 * files (config key entries.dir), reloaded when the directory changes
 * (inotify on the event loop, debounced).
 *
 * Each *.json file (names starting with '.' are skipped, symlinks are
 * followed so that Kubernetes ConfigMap volumes work) holds one entry
 * object or {"entries": [...]}. Files must be regular, owned by root and
 * not writable by group or others: whoever can write them can grant
 * identities. Entries without an "id" get one derived from their SPIFFE ID
 * and selectors ("ro-" + 32 hex of SHA-256), stable across reloads.
 *
 * At start-up any bad file stops the agent. On a reload a file that fails
 * (bad JSON, bad entry, bad permissions) keeps its last good entries and
 * the error is reported in `kwidctl status` (entries.last_reload_error);
 * a deleted file takes its entries with it. If the directory itself
 * disappears, the entries last loaded stay until it is back. */
#ifndef KWID_ENTRY_DIR_H
#define KWID_ENTRY_DIR_H

#include <json-c/json.h>

struct kwid_agent;
struct kwid_entries;
struct entry_dir;

#define ENTRY_DIR_FILE_MAX (16u << 20)
#define ENTRY_DIR_MAX_FILES 10000

/* Load every file (failing on any error) and start watching. */
int entry_dir_new(struct kwid_agent *a, struct kwid_entries *es, const char *path, struct entry_dir **out);
void entry_dir_free(struct entry_dir *d);
/* Reload now (the watch calls this itself). */
int entry_dir_reload(struct entry_dir *d);
void entry_dir_status(struct entry_dir *d, json_object *out);

#endif
