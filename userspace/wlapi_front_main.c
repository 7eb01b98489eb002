/* wlapi_front_main.c - kwid-wlapi-front, the Workload API front process.
 *
 * kwid-agent forks, drops every privilege and execs this small binary with
 * the listening socket on WLAPI_FRONT_LISTEN_FD and the core's socket on
 * WLAPI_FRONT_IPC_FD. It links only what parsing the public socket needs
 * (nghttp2, protobuf-c, json-c, libcrypto for JWT-SVID validation,
 * libseccomp): none of libbpf, tpm2-tss or libcap is mapped in the process
 * that reads untrusted bytes. It is not meant to be run by hand. */
#include "kwid/wlapi.h"

int main(void)
{
	return wlapi_front_main();
}
