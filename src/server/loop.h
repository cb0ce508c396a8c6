/*
 * loop.h — the server's event loop: file events, timers and a before-sleep
 * hook, on Linux epoll (see loop.c for why epoll and not libuv).
 *
 * Contract:
 *   - Everything here runs on the one network thread; nothing is thread-safe
 *     except what loop.c says (nothing). Cross-thread work goes through
 *     server_post() (server.h), which wakes the loop through an eventfd.
 *   - File events are level-triggered. A fd has at most one read and one
 *     write handler; both receive the same user data.
 *   - A timer callback returns the delay in ms until it runs again, or
 *     LOOP_TIMER_STOP to be deleted. A timer handle stays valid until its
 *     callback returned LOOP_TIMER_STOP or loop_del_timer() was called.
 *   - before_sleep runs once per iteration, before waiting; it is where
 *     replies are flushed (one write per client per iteration: batching).
 */
#ifndef MN_SERVER_LOOP_H
#define MN_SERVER_LOOP_H

#include <stdint.h>

#define LOOP_READ 1
#define LOOP_WRITE 2
#define LOOP_TIMER_STOP (-1)

typedef struct loop loop;
typedef struct loop_timer loop_timer;

typedef void loop_file_fn(loop *l, int fd, void *ud, int mask);
typedef int64_t loop_timer_fn(loop *l, loop_timer *t, void *ud);
typedef void loop_hook_fn(loop *l, void *ud);

/* Creates a loop; NULL if epoll_create1 or malloc fails. */
loop *loop_create(void);
/* Frees the loop (not the fds it watched). NULL is a no-op. */
void loop_free(loop *l);

/* Adds handler fn for the events in mask (LOOP_READ and/or LOOP_WRITE).
 * 0 or -1 (errno set). */
int loop_add_fd(loop *l, int fd, int mask, loop_file_fn *fn, void *ud);
/* Removes the events in mask; with none left the fd is unregistered. */
void loop_del_fd(loop *l, int fd, int mask);
/* The mask currently registered for fd. */
int loop_fd_mask(loop *l, int fd);

/* Calls fn in ms milliseconds (0: next iteration). NULL on OOM. */
loop_timer *loop_add_timer(loop *l, int64_t ms, loop_timer_fn *fn, void *ud);
/* Deletes a pending timer. Must not be called from inside its own callback
 * (return LOOP_TIMER_STOP there instead). */
void loop_del_timer(loop *l, loop_timer *t);

void loop_set_before_sleep(loop *l, loop_hook_fn *fn, void *ud);

/* Runs until loop_stop(). */
void loop_run(loop *l);
void loop_stop(loop *l);

/* Milliseconds / microseconds of the monotonic clock. */
int64_t loop_now_ms(void);
int64_t loop_now_us(void);

#endif
