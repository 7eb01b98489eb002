/* pbstruct.h - JSON (json-c) to google.protobuf.Struct, for the claims of
 * a validated JWT-SVID in ValidateJWTSVIDResponse. */
#ifndef KWID_PBSTRUCT_H
#define KWID_PBSTRUCT_H

#include <json-c/json.h>

#include "google/protobuf/struct.pb-c.h"

#define PBSTRUCT_MAX_DEPTH 16

/* Convert a JSON object. The result is freed with
 * google__protobuf__struct__free_unpacked(s, NULL). -EINVAL when obj is
 * not an object or nests deeper than PBSTRUCT_MAX_DEPTH. */
int pbstruct_from_json(json_object *obj, Google__Protobuf__Struct **out);

#endif
