/* pb_wire.c - a bounded walk over the top level of a protobuf message's
 * wire format (see kwid/pb_wire.h). protobuf-c hands `string` fields over
 * NUL-terminated without their length, so a string with an embedded NUL
 * reaches C code cut short ("a\0b" reads as "a"). The Workload API's
 * request messages are checked here, on the bytes, before they are
 * unpacked. */
#include "kwid/pb_wire.h"

#include <errno.h>
#include <string.h>

/* A base-128 varint of at most 10 bytes. */
static int read_varint(const uint8_t *buf, size_t len, size_t *pos, uint64_t *out)
{
	uint64_t v = 0;

	for (unsigned shift = 0; shift < 70; shift += 7) {
		uint8_t b;

		if (*pos >= len)
			return -EBADMSG;
		b = buf[(*pos)++];
		if (shift == 63 && b > 1)
			return -EBADMSG;
		v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*out = v;
			return 0;
		}
	}
	return -EBADMSG;
}

static int skip(size_t len, size_t *pos, uint64_t n)
{
	if (n > len - *pos)
		return -EBADMSG;
	*pos += (size_t)n;
	return 0;
}

int pb_wire_strings_check(const uint8_t *buf, size_t len)
{
	size_t pos = 0;

	while (pos < len) {
		uint64_t key, v;
		int r = read_varint(buf, len, &pos, &key);

		if (r < 0)
			return r;
		if ((key >> 3) == 0)
			return -EBADMSG; /* field number 0 does not exist */
		switch (key & 7) {
		case 0: /* varint */
			r = read_varint(buf, len, &pos, &v);
			break;
		case 1: /* 64-bit */
			r = skip(len, &pos, 8);
			break;
		case 2: /* length-delimited: strings (and bytes/messages) */
			r = read_varint(buf, len, &pos, &v);
			if (r == 0 && v > len - pos)
				r = -EBADMSG;
			if (r == 0 && memchr(buf + pos, '\0', (size_t)v))
				return -EINVAL;
			if (r == 0)
				pos += (size_t)v;
			break;
		case 5: /* 32-bit */
			r = skip(len, &pos, 4);
			break;
		default: /* groups (3, 4) are not proto3; 6 and 7 do not exist */
			return -EBADMSG;
		}
		if (r < 0)
			return r;
	}
	return 0;
}
