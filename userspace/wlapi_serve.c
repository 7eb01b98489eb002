/* wlapi_serve.c - attestation and responses of the Workload API core.
 * Transport stage: the tracker, attestors, entries and authority are not
 * part of this build yet, so every RPC that needs the caller's identity
 * answers UNAVAILABLE. */
#include "kwid/wlapi_core.h"

int wlapi_serve_init(struct kwid_wlapi *w) { return 0; }
void wlapi_serve_fini(struct kwid_wlapi *w) {}
void wlapi_serve_conn_open(struct wlapi_conn *c) {}
void wlapi_serve_conn_close(struct wlapi_conn *c) {}
void wlapi_serve_stream_free(struct wlapi_stream *s) {}
void wlapi_serve_front_ready(struct kwid_wlapi *w) {}
void wlapi_serve_status(struct kwid_wlapi *w, json_object *out) {}

void wlapi_serve_rpc(struct wlapi_stream *s)
{
	wlapi_stream_end(s, GRPC_STATUS_UNAVAILABLE, "attestation is not available in this build");
}
