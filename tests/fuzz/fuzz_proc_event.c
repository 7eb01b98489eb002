/* fuzz_proc_event.c - libFuzzer harness for the tracker's parsers of bytes
 * it did not write: BPF records and iterator streams (bpf/proc.h),
 * /proc/<pid>/stat (comm is chosen by the process) and status, and proc
 * connector datagrams. The first byte picks the parser. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kwid/tracker.h"

static int sink(void *ud, const struct kwid_proc_event *ev)
{
	/* Touch every string the decoder handed out. */
	size_t n = 0;
	if (ev->filename)
		n += strlen(ev->filename);
	if (ev->interp)
		n += strlen(ev->interp);
	if (ev->path)
		n += strlen(ev->path);
	*(size_t *)ud += n + ev->comm[15];
	return 0;
}

static int cn_sink(void *ud, const struct cn_event *ev)
{
	*(size_t *)ud += (size_t)ev->pid;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kwid_proc_event ev;
	struct proc_stat_info si;
	struct kwid_creds creds;
	size_t acc = 0;
	char *text;

	if (size < 1)
		return 0;
	switch (data[0] % 4) {
	case 0:
		if (proc_event_decode(data + 1, size - 1, &ev) == 0)
			sink(&acc, &ev);
		break;
	case 1:
		proc_event_split(data + 1, size - 1, sink, &acc);
		break;
	case 2:
		/* /proc files are NUL-terminated by the reader */
		text = malloc(size);
		memcpy(text, data + 1, size - 1);
		text[size - 1] = '\0';
		proc_parse_stat(text, strlen(text), &si);
		proc_parse_status_ids(text, &creds);
		free(text);
		break;
	case 3:
		cn_parse(data + 1, size - 1, cn_sink, &acc);
		break;
	}
	return 0;
}
