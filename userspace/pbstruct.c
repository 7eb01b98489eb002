/* pbstruct.c - JSON to google.protobuf.Struct (see kwid/pbstruct.h). Every
 * piece is allocated with malloc, so protobuf-c's free_unpacked (system
 * allocator) releases the whole tree. */
#include "kwid/pbstruct.h"
#include "kwid/util.h"

static int struct_from(json_object *obj, unsigned depth, Google__Protobuf__Struct **out);

static int value_from(json_object *v, unsigned depth, Google__Protobuf__Value **out)
{
	Google__Protobuf__Value *pv = malloc(sizeof(*pv));
	int r = 0;

	if (!pv)
		return -ENOMEM;
	google__protobuf__value__init(pv);
	switch (json_object_get_type(v)) {
	case json_type_null:
		pv->kind_case = GOOGLE__PROTOBUF__VALUE__KIND_NULL_VALUE;
		pv->null_value = GOOGLE__PROTOBUF__NULL_VALUE__NULL_VALUE;
		break;
	case json_type_boolean:
		pv->kind_case = GOOGLE__PROTOBUF__VALUE__KIND_BOOL_VALUE;
		pv->bool_value = json_object_get_boolean(v);
		break;
	case json_type_int:
	case json_type_double:
		pv->kind_case = GOOGLE__PROTOBUF__VALUE__KIND_NUMBER_VALUE;
		pv->number_value = json_object_get_double(v);
		break;
	case json_type_string:
		pv->kind_case = GOOGLE__PROTOBUF__VALUE__KIND_STRING_VALUE;
		pv->string_value = strdup(json_object_get_string(v));
		if (!pv->string_value)
			r = -ENOMEM;
		break;
	case json_type_object:
		pv->kind_case = GOOGLE__PROTOBUF__VALUE__KIND_STRUCT_VALUE;
		r = struct_from(v, depth + 1, &pv->struct_value);
		break;
	case json_type_array: {
		size_t n = json_object_array_length(v);
		Google__Protobuf__ListValue *lv = malloc(sizeof(*lv));

		if (!lv) {
			r = -ENOMEM;
			break;
		}
		google__protobuf__list_value__init(lv);
		pv->kind_case = GOOGLE__PROTOBUF__VALUE__KIND_LIST_VALUE;
		pv->list_value = lv;
		if (depth + 1 > PBSTRUCT_MAX_DEPTH) {
			r = -EINVAL;
			break;
		}
		lv->values = calloc_array(n, sizeof(*lv->values));
		if (!lv->values) {
			r = -ENOMEM;
			break;
		}
		for (size_t i = 0; i < n && r == 0; i++) {
			r = value_from(json_object_array_get_idx(v, i), depth + 1, &lv->values[i]);
			if (r == 0)
				lv->n_values++;
		}
		break;
	}
	}
	if (r < 0) {
		google__protobuf__value__free_unpacked(pv, NULL);
		return r;
	}
	*out = pv;
	return 0;
}

static int struct_from(json_object *obj, unsigned depth, Google__Protobuf__Struct **out)
{
	Google__Protobuf__Struct *s;
	size_t n;
	int r = 0;

	*out = NULL;
	if (!json_object_is_type(obj, json_type_object) || depth > PBSTRUCT_MAX_DEPTH)
		return -EINVAL;
	s = malloc(sizeof(*s));
	if (!s)
		return -ENOMEM;
	google__protobuf__struct__init(s);
	n = (size_t)json_object_object_length(obj);
	s->fields = calloc_array(n, sizeof(*s->fields));
	if (!s->fields) {
		free(s);
		return -ENOMEM;
	}
	json_object_object_foreach(obj, key, val) {
		Google__Protobuf__Struct__FieldsEntry *e;

		if (r < 0 || s->n_fields == n)
			break;
		e = malloc(sizeof(*e));
		if (!e) {
			r = -ENOMEM;
			break;
		}
		google__protobuf__struct__fields_entry__init(e);
		s->fields[s->n_fields++] = e;
		e->key = strdup(key);
		if (!e->key) {
			r = -ENOMEM;
			break;
		}
		r = value_from(val, depth, &e->value);
	}
	if (r < 0) {
		google__protobuf__struct__free_unpacked(s, NULL);
		return r;
	}
	*out = s;
	return 0;
}

int pbstruct_from_json(json_object *obj, Google__Protobuf__Struct **out)
{
	return struct_from(obj, 0, out);
}
