/* fuzz_pb_wire.c - libFuzzer harness for the protobuf wire walk that
 * guards the Workload API's request strings: no crash on any bytes, and
 * whatever it accepts protobuf-c unpacks as a JWTSVIDRequest whose
 * strings keep their full length (no NUL cut them short). */
#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "kwid/pb_wire.h"
#include "workload.pb-c.h"

/* Total declared length of every field-1 (audience) payload, by a walk
 * of its own that only the bytes protobuf-c accepted reach. */
static size_t declared_audience_bytes(const uint8_t *d, size_t n)
{
	size_t pos = 0, total = 0;

	while (pos < n) {
		uint64_t key = 0, v = 0;
		unsigned shift = 0;
		while (pos < n && (d[pos] & 0x80))
			key |= (uint64_t)(d[pos++] & 0x7f) << (shift += 7, shift - 7);
		key |= (uint64_t)d[pos++] << shift;
		switch (key & 7) {
		case 0:
			while (d[pos] & 0x80)
				pos++;
			pos++;
			break;
		case 1:
			pos += 8;
			break;
		case 5:
			pos += 4;
			break;
		case 2:
			shift = 0;
			while (d[pos] & 0x80)
				v |= (uint64_t)(d[pos++] & 0x7f) << (shift += 7, shift - 7);
			v |= (uint64_t)d[pos++] << shift;
			if ((key >> 3) == 1)
				total += (size_t)v;
			pos += (size_t)v;
			break;
		}
	}
	return total;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int r = pb_wire_strings_check(data, size);
	JWTSVIDRequest *m;

	assert(r == 0 || r == -EINVAL || r == -EBADMSG);
	if (r != 0)
		return 0;
	m = jwtsvidrequest__unpack(NULL, size, data);
	if (!m)
		return 0; /* e.g. a wire type that does not fit the field */
	/* No NUL cut an accepted string short: every declared byte of every
	 * audience survives into the C strings. */
	size_t got = 0;
	for (size_t i = 0; i < m->n_audience; i++)
		got += strlen(m->audience[i]);
	assert(got == declared_audience_bytes(data, size));
	jwtsvidrequest__free_unpacked(m, NULL);
	return 0;
}
