/* json_scan.h - walking JSON text without building a tree: skip a value
 * (checked against the grammar, nesting bounded), step through the
 * members of an object or the elements of an array. For documents too
 * large to hold as json-c objects at once (a kubelet's pod list: json-c
 * needs about 16 times the text): walk the outer structure here and hand
 * each element, a small extent of the text, to json-c. */
#ifndef KWID_JSON_SCAN_H
#define KWID_JSON_SCAN_H

#include <stddef.h>

struct json_scan {
	const char *p, *end; /* the unread text */
};

void json_scan_ws(struct json_scan *s);
/* Skip one value and the whitespace before it; 0 or -EINVAL (malformed,
 * or nested deeper than max_depth). */
int json_scan_value(struct json_scan *s, int max_depth);
/* Consume open ('{' or '[') and the whitespace after it: 1 when a member
 * or element follows, 0 when the object or array is empty, -EINVAL. */
int json_scan_open(struct json_scan *s, char open);
/* An object member's key and its ':'. *key points at the raw bytes
 * between the quotes (escapes not decoded). 0 or -EINVAL. */
int json_scan_key(struct json_scan *s, const char **key, size_t *len);
/* After a member or element: 1 at ',' (another follows), 0 at close (the
 * object or array ends, consumed), -EINVAL otherwise. */
int json_scan_next(struct json_scan *s, char close);

#endif
