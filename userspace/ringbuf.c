/* ringbuf.c - consumer side of a BPF ring buffer map (BPF_MAP_TYPE_RINGBUF).
 *
 * libbpf 1.1's ring_buffer__consume() can neither stop at a position nor
 * take a budget, and cannot wait for a record another CPU is still
 * writing; tracker_sync() needs all three ("every record reserved before
 * this call"), so the agent maps the ring itself. Layout (kernel ABI): page
 * 0 is the consumer position (read-write), page 1 the producer position,
 * then the data area mapped twice in a row so a record that wraps is still
 * contiguous. Each record starts with an 8-byte header: a 32-bit length
 * whose top bits mark "still being written" (BUSY) and "discarded", and the
 * record is padded to 8 bytes. */
#include "kwid/tracker.h"

#include <bpf/bpf.h>
#include <linux/bpf.h>
#include <sched.h>
#include <sys/mman.h>

#define RB_BUSY_BIT (1u << 31)
#define RB_DISCARD_BIT (1u << 30)
#define RB_HDR_SZ 8u
/* How long a sync waits for a record another CPU reserved but has not
 * committed yet (BPF programs run with preemption off: microseconds). */
#define RB_BUSY_WAIT_NS (100ull * 1000 * 1000)

struct kwid_ringbuf {
	int map_fd;
	size_t page;
	size_t size;		 /* data area, power of two */
	uint64_t *consumer_pos;	 /* mapped read-write */
	const uint64_t *producer_pos;
	const uint8_t *data;
	void *prod_map;
	size_t prod_map_len;
};

int ringbuf_open(int map_fd, struct kwid_ringbuf **out)
{
	struct bpf_map_info info = {0};
	uint32_t ilen = sizeof(info);
	struct kwid_ringbuf *rb;
	void *m;

	if (bpf_obj_get_info_by_fd(map_fd, &info, &ilen) < 0)
		return -errno;
	if (info.type != BPF_MAP_TYPE_RINGBUF || info.max_entries == 0 ||
	    (info.max_entries & (info.max_entries - 1)))
		return -EINVAL;
	rb = calloc(1, sizeof(*rb));
	if (!rb)
		return -ENOMEM;
	rb->map_fd = map_fd;
	rb->page = (size_t)sysconf(_SC_PAGESIZE);
	rb->size = info.max_entries;
	m = mmap(NULL, rb->page, PROT_READ | PROT_WRITE, MAP_SHARED, map_fd, 0);
	if (m == MAP_FAILED) {
		int r = -errno;
		free(rb);
		return r;
	}
	rb->consumer_pos = m;
	rb->prod_map_len = rb->page + 2 * rb->size;
	m = mmap(NULL, rb->prod_map_len, PROT_READ, MAP_SHARED, map_fd, (off_t)rb->page);
	if (m == MAP_FAILED) {
		int r = -errno;
		munmap(rb->consumer_pos, rb->page);
		free(rb);
		return r;
	}
	rb->prod_map = m;
	rb->producer_pos = m;
	rb->data = (const uint8_t *)m + rb->page;
	*out = rb;
	return 0;
}

void ringbuf_free(struct kwid_ringbuf *rb)
{
	if (!rb)
		return;
	munmap(rb->consumer_pos, rb->page);
	munmap(rb->prod_map, rb->prod_map_len);
	free(rb);
}

size_t ringbuf_size(struct kwid_ringbuf *rb) { return rb->size; }

uint64_t ringbuf_producer_pos(struct kwid_ringbuf *rb)
{
	return __atomic_load_n(rb->producer_pos, __ATOMIC_ACQUIRE);
}

uint64_t ringbuf_consumer_pos(struct kwid_ringbuf *rb)
{
	return __atomic_load_n(rb->consumer_pos, __ATOMIC_ACQUIRE);
}

static uint32_t record_len_wait(struct kwid_ringbuf *rb, const uint32_t *hdr, bool wait_busy)
{
	uint32_t len = __atomic_load_n(hdr, __ATOMIC_ACQUIRE);
	uint64_t deadline;

	if (!(len & RB_BUSY_BIT) || !wait_busy)
		return len;
	deadline = now_mono_ns() + RB_BUSY_WAIT_NS;
	while ((len = __atomic_load_n(hdr, __ATOMIC_ACQUIRE)) & RB_BUSY_BIT) {
		if (now_mono_ns() > deadline)
			break;
		sched_yield();
	}
	return len;
}

int ringbuf_consume(struct kwid_ringbuf *rb, ringbuf_record_fn fn, void *ud, size_t budget, uint64_t until,
		    bool wait_busy)
{
	uint64_t cons = ringbuf_consumer_pos(rb), prod = ringbuf_producer_pos(rb);
	int n = 0;

	if (until && until < prod)
		prod = until;
	while (cons < prod && (!budget || (size_t)n < budget)) {
		const uint32_t *hdr = (const uint32_t *)(rb->data + (cons & (rb->size - 1)));
		uint32_t len = record_len_wait(rb, hdr, wait_busy), rec;
		int r = 0;

		if (len & RB_BUSY_BIT)
			break;
		rec = len & ~(RB_BUSY_BIT | RB_DISCARD_BIT);
		if (rec > rb->size)
			return -EBADMSG; /* cannot happen with a sane kernel */
		if (!(len & RB_DISCARD_BIT))
			r = fn(ud, (const uint8_t *)hdr + RB_HDR_SZ, rec, cons);
		cons += (rec + RB_HDR_SZ + 7) & ~7ull;
		__atomic_store_n(rb->consumer_pos, cons, __ATOMIC_RELEASE);
		if (r < 0)
			return r;
		n++;
	}
	return n;
}
