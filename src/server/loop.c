/*
 * loop.c — a small Redis-ae-style event loop over epoll.
 *
 * Why plain epoll and not libuv:
 *   - One platform: the server targets Linux only, so the portability layer
 *     libuv brings buys nothing, and epoll/eventfd/signalfd are used directly.
 *   - No extra dependency or build step, and no callback-owned buffers: the
 *     server keeps its own query and reply buffers and decides when to read.
 *   - Full control over write batching: replies produced by every command of
 *     an iteration are written in before_sleep with one writev per client,
 *     and a write handler is installed only when the socket is full. libuv's
 *     uv_write queues a request per write and makes that harder to see.
 *
 * Invariants:
 *   - fds[] is indexed by fd and grows on demand; fds[fd].mask == 0 means
 *     the fd is not registered with epoll.
 *   - Timers live in a binary min-heap ordered by `when`; each timer knows
 *     its heap index so deletion is O(log n) (blocked clients each own one).
 *   - A file handler may delete any fd (its own included) and any timer;
 *     the dispatch loop re-checks the mask before each call.
 */
#include "loop.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

typedef struct fd_event {
    int mask;              /* LOOP_READ|LOOP_WRITE currently registered */
    loop_file_fn *rfn;     /* read handler, when mask has LOOP_READ */
    loop_file_fn *wfn;     /* write handler, when mask has LOOP_WRITE */
    void *ud;              /* user data passed to both handlers */
} fd_event;

struct loop_timer {
    int64_t when;          /* monotonic ms at which to fire */
    size_t idx;            /* position in the heap */
    loop_timer_fn *fn;     /* callback */
    void *ud;              /* its user data */
};

struct loop {
    int epfd;                   /* the epoll instance */
    fd_event *fds;              /* per-fd handlers, indexed by fd */
    int nfds;                   /* entries allocated in fds */
    struct epoll_event *evs;    /* epoll_wait output array */
    int nevs;                   /* its capacity */
    loop_timer **heap;          /* timers, min-heap on when */
    size_t ntimers;             /* timers in the heap */
    size_t heapcap;             /* heap capacity */
    loop_hook_fn *before_sleep; /* run before each wait */
    void *bs_ud;                /* its user data */
    int stop;                   /* set by loop_stop */
};

int64_t loop_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t loop_now_ms(void) { return loop_now_us() / 1000; }

loop *loop_create(void)
{
    loop *l = calloc(1, sizeof(*l));
    if (!l)
        return NULL;
    l->epfd = epoll_create1(EPOLL_CLOEXEC);
    l->nevs = 1024;
    l->evs = malloc(sizeof(*l->evs) * (size_t)l->nevs);
    if (l->epfd < 0 || !l->evs) {
        loop_free(l);
        return NULL;
    }
    return l;
}

void loop_free(loop *l)
{
    if (!l)
        return;
    if (l->epfd >= 0)
        close(l->epfd);
    for (size_t i = 0; i < l->ntimers; i++)
        free(l->heap[i]);
    free(l->heap);
    free(l->fds);
    free(l->evs);
    free(l);
}

static int ensure_fd(loop *l, int fd)
{
    if (fd < l->nfds)
        return 0;
    int n = l->nfds ? l->nfds : 64;
    while (n <= fd)
        n *= 2;
    fd_event *p = realloc(l->fds, sizeof(*p) * (size_t)n);
    if (!p)
        return -1;
    memset(p + l->nfds, 0, sizeof(*p) * (size_t)(n - l->nfds));
    l->fds = p;
    l->nfds = n;
    return 0;
}

static int epoll_update(loop *l, int fd, int oldmask, int newmask)
{
    struct epoll_event ee = {0};
    ee.data.fd = fd;
    if (newmask & LOOP_READ)
        ee.events |= EPOLLIN;
    if (newmask & LOOP_WRITE)
        ee.events |= EPOLLOUT;
    int op = oldmask == 0 ? EPOLL_CTL_ADD : (newmask == 0 ? EPOLL_CTL_DEL : EPOLL_CTL_MOD);
    return epoll_ctl(l->epfd, op, fd, &ee);
}

int loop_add_fd(loop *l, int fd, int mask, loop_file_fn *fn, void *ud)
{
    if (fd < 0 || ensure_fd(l, fd) < 0) {
        errno = ENOMEM;
        return -1;
    }
    fd_event *fe = &l->fds[fd];
    int newmask = fe->mask | mask;
    if (newmask != fe->mask && epoll_update(l, fd, fe->mask, newmask) < 0)
        return -1;
    fe->mask = newmask;
    if (mask & LOOP_READ)
        fe->rfn = fn;
    if (mask & LOOP_WRITE)
        fe->wfn = fn;
    fe->ud = ud;
    return 0;
}

void loop_del_fd(loop *l, int fd, int mask)
{
    if (fd < 0 || fd >= l->nfds)
        return;
    fd_event *fe = &l->fds[fd];
    int newmask = fe->mask & ~mask;
    if (newmask == fe->mask)
        return;
    epoll_update(l, fd, fe->mask, newmask);
    fe->mask = newmask;
}

int loop_fd_mask(loop *l, int fd)
{
    return (fd >= 0 && fd < l->nfds) ? l->fds[fd].mask : 0;
}

/* ---- timer heap ---- */

static void heap_swap(loop *l, size_t a, size_t b)
{
    loop_timer *t = l->heap[a];
    l->heap[a] = l->heap[b];
    l->heap[b] = t;
    l->heap[a]->idx = a;
    l->heap[b]->idx = b;
}

static void heap_up(loop *l, size_t i)
{
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (l->heap[p]->when <= l->heap[i]->when)
            break;
        heap_swap(l, p, i);
        i = p;
    }
}

static void heap_down(loop *l, size_t i)
{
    for (;;) {
        size_t a = 2 * i + 1, b = a + 1, m = i;
        if (a < l->ntimers && l->heap[a]->when < l->heap[m]->when)
            m = a;
        if (b < l->ntimers && l->heap[b]->when < l->heap[m]->when)
            m = b;
        if (m == i)
            break;
        heap_swap(l, i, m);
        i = m;
    }
}

static void heap_remove(loop *l, loop_timer *t)
{
    size_t i = t->idx;
    l->ntimers--;
    if (i != l->ntimers) {
        l->heap[i] = l->heap[l->ntimers];
        l->heap[i]->idx = i;
        heap_down(l, i);
        heap_up(l, i);
    }
}

static int heap_push(loop *l, loop_timer *t)
{
    if (l->ntimers == l->heapcap) {
        size_t n = l->heapcap ? l->heapcap * 2 : 16;
        loop_timer **h = realloc(l->heap, sizeof(*h) * n);
        if (!h)
            return -1;
        l->heap = h;
        l->heapcap = n;
    }
    t->idx = l->ntimers;
    l->heap[l->ntimers++] = t;
    heap_up(l, t->idx);
    return 0;
}

loop_timer *loop_add_timer(loop *l, int64_t ms, loop_timer_fn *fn, void *ud)
{
    loop_timer *t = malloc(sizeof(*t));
    if (!t)
        return NULL;
    t->when = loop_now_ms() + (ms > 0 ? ms : 0);
    t->fn = fn;
    t->ud = ud;
    if (heap_push(l, t) < 0) {
        free(t);
        return NULL;
    }
    return t;
}

void loop_del_timer(loop *l, loop_timer *t)
{
    if (!t)
        return;
    heap_remove(l, t);
    free(t);
}

void loop_set_before_sleep(loop *l, loop_hook_fn *fn, void *ud)
{
    l->before_sleep = fn;
    l->bs_ud = ud;
}

void loop_stop(loop *l) { l->stop = 1; }

/* Fires every due timer. A timer is taken out of the heap before its
 * callback runs, so the callback may add and delete other timers freely. */
static void run_timers(loop *l)
{
    int64_t now = loop_now_ms();
    while (l->ntimers > 0 && l->heap[0]->when <= now) {
        loop_timer *t = l->heap[0];
        heap_remove(l, t);
        int64_t again = t->fn(l, t, t->ud);
        if (again == LOOP_TIMER_STOP) {
            free(t);
        } else {
            t->when = now + again;
            if (heap_push(l, t) < 0) /* OOM: the timer is lost, never the loop */
                free(t);
        }
    }
}

void loop_run(loop *l)
{
    l->stop = 0;
    while (!l->stop) {
        if (l->before_sleep)
            l->before_sleep(l, l->bs_ud);
        if (l->stop)
            break;
        int timeout = -1;
        if (l->ntimers > 0) {
            int64_t d = l->heap[0]->when - loop_now_ms();
            timeout = d < 0 ? 0 : (d > 1000000 ? 1000000 : (int)d);
        }
        int n = epoll_wait(l->epfd, l->evs, l->nevs, timeout);
        for (int i = 0; i < n; i++) {
            int fd = l->evs[i].data.fd;
            uint32_t ev = l->evs[i].events;
            if (fd >= l->nfds)
                continue;
            fd_event *fe = &l->fds[fd];
            /* Errors and hang-ups are delivered as readable (the read sees
             * EOF or the error) and, if a writer waits, as writable. */
            if ((fe->mask & LOOP_READ) && (ev & (EPOLLIN | EPOLLERR | EPOLLHUP))) {
                fe->rfn(l, fd, fe->ud, LOOP_READ);
            }
            fe = &l->fds[fd]; /* the handler may have grown fds[] */
            if ((fe->mask & LOOP_WRITE) && (ev & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
                fe->wfn(l, fd, fe->ud, LOOP_WRITE);
            }
        }
        run_timers(l);
    }
}
