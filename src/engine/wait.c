/*
 * wait.c — waking readers when the log advances.
 *
 * Two ways to wait, for two kinds of caller: threads block in mn_wait on a
 * condition variable; an event loop registers one notify function (which
 * should only poke an eventfd) and does its work on its own thread. Both are
 * driven by wait_advance, which the writer calls after publishing a batch —
 * so a woken reader always finds the new events readable.
 */
#include <errno.h>
#include <time.h>

#include "engine/store.h"
#include "util/error.h"

void wait_advance(mn_store *s, uint64_t end)
{
    pthread_mutex_lock(&s->mu);
    pthread_cond_broadcast(&s->advanced);
    void (*fn)(void *, uint64_t) = s->notify_fn;
    void *ud = s->notify_ud;
    pthread_mutex_unlock(&s->mu);
    if (fn) fn(ud, end);
}

int mn_wait(mn_store *s, uint64_t after, int timeout_ms)
{
    struct timespec deadline;
    int rc = MN_OK;
    clock_gettime(CLOCK_REALTIME, &deadline);
    if (timeout_ms > 0) {
        deadline.tv_sec += timeout_ms / 1000;
        deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
        if (deadline.tv_nsec >= 1000000000L) {
            deadline.tv_sec++;
            deadline.tv_nsec -= 1000000000L;
        }
    }
    pthread_mutex_lock(&s->mu);
    while (atomic_load(&s->log->visible) <= after) {
        if (s->closing) {
            rc = error_set(MN_ECLOSED, "the store is closing");
            break;
        }
        if (timeout_ms == 0) {
            rc = MN_ETIMEOUT;
            break;
        }
        int e = timeout_ms < 0 ? pthread_cond_wait(&s->advanced, &s->mu)
                               : pthread_cond_timedwait(&s->advanced, &s->mu, &deadline);
        if (e == ETIMEDOUT && atomic_load(&s->log->visible) <= after) {
            rc = MN_ETIMEOUT;
            break;
        }
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

void mn_set_notify(mn_store *s, void (*fn)(void *ud, uint64_t end_position), void *ud)
{
    pthread_mutex_lock(&s->mu);
    s->notify_fn = fn;
    s->notify_ud = ud;
    pthread_mutex_unlock(&s->mu);
}
