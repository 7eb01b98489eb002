/* proc_maps.bpf.h - the maps of the live tracking programs (proc_tp.bpf.c and
 * proc_raw.bpf.c), declared before the shared bodies that use them. */
#ifndef KWID_PROC_MAPS_BPF_H
#define KWID_PROC_MAPS_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#include "proc.h"

/* Sized by user space (tracking.ringbuf_kib) before load. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

/* One exec record plus its strings, built here and copied into the ring
 * buffer with its real length (bpf_ringbuf_output). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(struct kwid_ev_exec) + 2 * KWID_BPF_STR_MAX);
} exec_scratch SEC(".maps");

#include "proc_body.bpf.h"

#endif
