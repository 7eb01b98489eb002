/* pb_wire.h - checks on a protobuf message's wire bytes that unpacking
 * with protobuf-c would hide. */
#ifndef KWID_PB_WIRE_H
#define KWID_PB_WIRE_H

#include <stddef.h>
#include <stdint.h>

/* Walk the top-level fields of a message whose length-delimited fields
 * are all strings. 0 when well-formed with no NUL byte in any of them;
 * -EINVAL when a string holds a NUL (protobuf-c would cut it there);
 * -EBADMSG when the wire format itself is malformed. */
int pb_wire_strings_check(const uint8_t *buf, size_t len);

#endif
