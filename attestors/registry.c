/* registry.c - every attestor the agent runs, in the order they run and
 * their groups are shown. One line per attestor. */
#include "kwid/attest.h"

extern const struct kwid_attestor kwid_attestor_unix;
extern const struct kwid_attestor kwid_attestor_container;
extern const struct kwid_attestor kwid_attestor_k8s;
extern const struct kwid_attestor kwid_attestor_systemd;
extern const struct kwid_attestor kwid_attestor_cgroup;
extern const struct kwid_attestor kwid_attestor_lineage;
extern const struct kwid_attestor kwid_attestor_node; /* TPM quotes and IMA (attestors/node.c) */

const struct kwid_attestor *const kwid_attestor_registry[] = {
	&kwid_attestor_unix,
	&kwid_attestor_container,
	&kwid_attestor_k8s,
	&kwid_attestor_systemd,
	&kwid_attestor_cgroup,
	&kwid_attestor_lineage,
	&kwid_attestor_node,
	NULL,
};
