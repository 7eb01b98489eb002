/* loop.h - the agent's single event loop: epoll for file descriptors, a
 * min-heap of one-shot timers behind one timerfd, signals through a
 * signalfd, and deferred calls that run after the current iteration.
 *
 * Everything runs on the thread that calls loop_run(). Handles may be freed
 * from inside any callback; the memory is reclaimed after the batch. */
#ifndef KWID_LOOP_H
#define KWID_LOOP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/epoll.h>

struct kwid_loop;
struct kwid_io;
struct kwid_timer;

typedef void (*loop_io_fn)(struct kwid_io *io, int fd, uint32_t revents, void *userdata);
typedef void (*loop_timer_fn)(struct kwid_timer *t, void *userdata);
typedef void (*loop_defer_fn)(void *userdata);
typedef void (*loop_signal_fn)(struct kwid_loop *l, int signo, void *userdata);

int loop_new(struct kwid_loop **out);
void loop_free(struct kwid_loop *l);

/* Watch fd for EPOLLIN/EPOLLOUT/...; the loop does not own fd. */
int loop_io_add(struct kwid_loop *l, int fd, uint32_t events, loop_io_fn fn, void *userdata,
		struct kwid_io **out);
int loop_io_set_events(struct kwid_io *io, uint32_t events);
void loop_io_free(struct kwid_io *io);

int loop_timer_new(struct kwid_loop *l, loop_timer_fn fn, void *userdata, struct kwid_timer **out);
/* (Re)arm a one-shot timer to fire delay_ns from now (CLOCK_MONOTONIC). */
int loop_timer_arm(struct kwid_timer *t, uint64_t delay_ns);
void loop_timer_disarm(struct kwid_timer *t);
bool loop_timer_armed(const struct kwid_timer *t);
void loop_timer_free(struct kwid_timer *t);

/* Run fn(userdata) once, after the events of the current iteration. */
int loop_defer(struct kwid_loop *l, loop_defer_fn fn, void *userdata);
/* Drop queued calls of fn(userdata) (an object freed before its deferred
 * call ran must cancel it). */
void loop_defer_cancel(struct kwid_loop *l, loop_defer_fn fn, void *userdata);

/* Block signo and deliver it through the loop. */
int loop_signal_add(struct kwid_loop *l, int signo, loop_signal_fn fn, void *userdata);

/* Run until loop_exit(); returns the exit code given to loop_exit(). */
int loop_run(struct kwid_loop *l);
/* Run one iteration, waiting at most timeout_ms (-1: forever). For tests. */
int loop_run_once(struct kwid_loop *l, int timeout_ms);
void loop_exit(struct kwid_loop *l, int code);

#endif
