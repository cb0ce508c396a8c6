/*
 * server.c — the global server: logging, the cross-thread post queue, the
 * background worker, signals, the 100 ms cron, statistics and shutdown.
 *
 * Cross-thread posts. The engine calls back on its writer thread
 * (mn_append_async completions, mn_set_notify). Such callbacks must be
 * quick and must not touch clients, so they post a closure: server_post()
 * appends to a mutex-protected FIFO and, only when the FIFO was empty,
 * writes the eventfd the loop watches. The loop's handler reads the
 * eventfd, takes the whole FIFO under the lock and runs the closures in
 * order, outside the lock. One eventfd write per burst: a group commit of
 * a thousand appends costs one wakeup.
 *
 * Store notifications (mn_set_notify) are coalesced the same way with an
 * atomic flag and one static post item: however many batches commit while
 * the loop is busy, blocked clients are retried once.
 *
 * Shutdown (SIGTERM/SIGINT): stop accepting, stop reading (no new
 * commands), wait for in-flight deferred replies (durable appends) and
 * flush the output, at most 10 s; then main() closes the store (mn_close
 * waits for queued appends and syncs) and exits 0. A second signal stops
 * waiting.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "server.h"

struct server server;

#define SHUTDOWN_WAIT_MS 10000
#define MAX_ERROR_CODES 128

/* ------------------------------------------------------------------ */
/* Logging                                                              */
/* ------------------------------------------------------------------ */

/* "pid:M 26 Nov 2025 23:24:01.123 * message", as Redis: '.' debug,
 * '-' verbose, '*' notice, '#' warning. One write(2) per line, so lines
 * from the engine's thread do not interleave mid-line. */
void server_log(int level, const char *fmt, ...)
{
    if (level < server.cfg.loglevel)
        return;
    static const char marks[] = ".-*#";
    char msg[1024], line[1200], date[64];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    localtime_r(&tv.tv_sec, &tm);
    size_t off = strftime(date, sizeof(date), "%d %b %Y %H:%M:%S.", &tm);
    snprintf(date + off, sizeof(date) - off, "%03d", (int)(tv.tv_usec / 1000));
    int n = snprintf(line, sizeof(line), "%d:M %s %c %s\n", (int)getpid(), date,
                     marks[level & 3], msg);
    if (n > (int)sizeof(line) - 1)
        n = (int)sizeof(line) - 1;
    if (write(STDERR_FILENO, line, (size_t)n) < 0) {
        /* nowhere left to report it */
    }
}

/* ------------------------------------------------------------------ */
/* Statistics                                                           */
/* ------------------------------------------------------------------ */

/* Counts an error reply under its code word (INFO errorstats). Like
 * Redis, at most 128 distinct codes are tracked; later new ones are only
 * counted in total_error_replies. */
void server_count_error(const char *msg)
{
    server.stat_errors++;
    size_t n = strcspn(msg, " ");
    if (n == 0 || n > 64 || !server.errors)
        return;
    dict_entry *e = dict_find(server.errors, msg, n);
    if (e) {
        e->val = (void *)((uintptr_t)e->val + 1);
        return;
    }
    if (dict_size(server.errors) < MAX_ERROR_CODES)
        dict_add(server.errors, msg, n, (void *)(uintptr_t)1);
}

void server_reset_stats(void)
{
    for (size_t i = 0; i < server.ncmds; i++) {
        command *c = server.cmdlist[i];
        c->calls = c->usec = c->rejected = c->failed = 0;
        for (size_t j = 0; j < c->nsubs; j++) {
            command *s = c->subs[j];
            s->calls = s->usec = s->rejected = s->failed = 0;
        }
    }
    dict_free(server.errors, NULL);
    server.errors = dict_create();
    server.stat_numcommands = 0;
    server.stat_numconnections = 0;
    server.stat_rejected_conn = 0;
    server.stat_net_in = server.stat_net_out = 0;
    server.stat_errors = 0;
    server.stat_obl_disconnects = 0;
    server.stat_reads = server.stat_writes = 0;
    memset(server.ops_samples, 0, sizeof(server.ops_samples));
    server.ops_last_count = 0;
}

uint64_t server_ops_per_sec(void)
{
    uint64_t sum = 0;
    for (int i = 0; i < OPS_SAMPLES; i++)
        sum += server.ops_samples[i];
    return sum / OPS_SAMPLES;
}

static void sample_ops(void)
{
    int64_t now = loop_now_ms();
    int64_t dt = now - server.ops_last_ms;
    if (dt <= 0)
        return;
    uint64_t ops = server.stat_numcommands - server.ops_last_count;
    server.ops_samples[server.ops_idx] = ops * 1000 / (uint64_t)dt;
    server.ops_idx = (server.ops_idx + 1) % OPS_SAMPLES;
    server.ops_last_ms = now;
    server.ops_last_count = server.stat_numcommands;
}

/* ------------------------------------------------------------------ */
/* Cross-thread posts                                                   */
/* ------------------------------------------------------------------ */

typedef struct heap_post {
    server_post_item item;   /* queued; item.arg points back here */
    void (*fn)(void *arg);   /* the caller's closure */
    void *arg;               /* its argument */
} heap_post;

static void heap_post_run(void *arg)
{
    heap_post *p = arg;
    p->fn(p->arg);
    free(p);
}

void server_post_submit(server_post_item *it)
{
    it->next = NULL;
    pthread_mutex_lock(&server.post_lock);
    int was_empty = server.post_head == NULL;
    if (server.post_tail)
        server.post_tail->next = it;
    else
        server.post_head = it;
    server.post_tail = it;
    pthread_mutex_unlock(&server.post_lock);
    if (was_empty) {
        uint64_t one = 1;
        /* EAGAIN means the counter is already non-zero: the loop wakes anyway */
        if (write(server.post_fd, &one, sizeof(one)) < 0 && errno != EAGAIN) {
            /* cannot happen on an eventfd we own; the loop drains on its next wake */
        }
    }
}

int server_post(void (*fn)(void *arg), void *arg)
{
    heap_post *p = malloc(sizeof(*p));
    if (!p)
        return -1;
    p->fn = fn;
    p->arg = arg;
    p->item.fn = heap_post_run;
    p->item.arg = p;
    server_post_submit(&p->item);
    return 0;
}

/* Runs every queued closure (loop thread). */
static void drain_posts(void)
{
    pthread_mutex_lock(&server.post_lock);
    server_post_item *it = server.post_head;
    server.post_head = server.post_tail = NULL;
    pthread_mutex_unlock(&server.post_lock);
    while (it) {
        server_post_item *next = it->next; /* read first: fn may free or requeue it */
        it->fn(it->arg);
        it = next;
    }
}

static void post_handler(loop *l, int fd, void *ud, int mask)
{
    (void)l; (void)ud; (void)mask;
    uint64_t v;
    if (read(fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
        server_log(LL_WARNING, "Reading the post eventfd: %s", strerror(errno));
    drain_posts();
}

/* Store notifications, coalesced. */
static atomic_int notify_pending;
static server_post_item notify_item;
static _Atomic uint64_t notify_end;

static void notify_run(void *arg)
{
    (void)arg;
    atomic_store(&notify_pending, 0);
    notify_store_advanced(atomic_load(&notify_end));
    server_retry_blocked();
}

/* Engine writer thread: new events are readable up to end_position. */
static void on_store_notify(void *ud, uint64_t end_position)
{
    (void)ud;
    atomic_store(&notify_end, end_position);
    if (atomic_exchange(&notify_pending, 1) == 0)
        server_post_submit(&notify_item);
}

/* ------------------------------------------------------------------ */
/* Background worker                                                    */
/* ------------------------------------------------------------------ */

typedef struct bg_job {
    server_post_item post;   /* how done() gets back to the loop */
    void (*work)(void *arg); /* runs on the worker */
    void (*done)(void *arg); /* then on the loop */
    void *arg;               /* for both */
    struct bg_job *next;     /* worker queue link */
} bg_job;

static pthread_mutex_t bg_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t bg_cond = PTHREAD_COND_INITIALIZER;
static bg_job *bg_head, *bg_tail;
static int bg_stop;

static void bg_done_run(void *arg)
{
    bg_job *j = arg;
    if (j->done)
        j->done(j->arg);
    free(j);
}

static void *bg_main(void *unused)
{
    (void)unused;
    for (;;) {
        pthread_mutex_lock(&bg_lock);
        while (!bg_head && !bg_stop)
            pthread_cond_wait(&bg_cond, &bg_lock);
        bg_job *j = bg_head;
        if (j) {
            bg_head = j->next;
            if (!bg_head)
                bg_tail = NULL;
        }
        pthread_mutex_unlock(&bg_lock);
        if (!j)
            return NULL; /* stopping, queue empty */
        j->work(j->arg);
        j->post.fn = bg_done_run;
        j->post.arg = j;
        server_post_submit(&j->post);
    }
}

int server_bg(void (*work)(void *arg), void (*done)(void *arg), void *arg)
{
    bg_job *j = calloc(1, sizeof(*j));
    if (!j)
        return -1;
    j->work = work;
    j->done = done;
    j->arg = arg;
    pthread_mutex_lock(&bg_lock);
    if (bg_tail)
        bg_tail->next = j;
    else
        bg_head = j;
    bg_tail = j;
    pthread_cond_signal(&bg_cond);
    pthread_mutex_unlock(&bg_lock);
    return 0;
}

/* ------------------------------------------------------------------ */
/* Signals, cron, shutdown                                              */
/* ------------------------------------------------------------------ */

void server_begin_shutdown(const char *why)
{
    if (server.shutdown_asap) {
        server_log(LL_WARNING, "You insist... exiting now.");
        loop_stop(server.el);
        return;
    }
    server_log(LL_WARNING, "Received %s scheduling shutdown...", why);
    server.shutdown_asap = 1;
    server.shutdown_deadline = loop_now_ms() + SHUTDOWN_WAIT_MS;
    server_stop_listening();
    clients_stop_reading();
}

static void signal_handler(loop *l, int fd, void *ud, int mask)
{
    (void)l; (void)ud; (void)mask;
    struct signalfd_siginfo si;
    while (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si))
        server_begin_shutdown(si.ssi_signo == SIGINT ? "SIGINT" : "SIGTERM");
}

/* Called every iteration while shutting down: done when nothing is in
 * flight and nothing is left to write (or the deadline passed). */
static void shutdown_check(void)
{
    if (!server.shutdown_asap)
        return;
    int busy = server.ndeferred > 0 || clients_pending_output();
    if (!busy || loop_now_ms() >= server.shutdown_deadline) {
        if (busy)
            server_log(LL_WARNING, "Shutdown: giving up waiting for %zu in-flight replies",
                       server.ndeferred);
        loop_stop(server.el);
    }
}

static void before_sleep(loop *l, void *ud)
{
    server_before_sleep(l, ud);
    shutdown_check();
}

static int64_t cron(loop *l, loop_timer *t, void *ud)
{
    (void)l; (void)t; (void)ud;
    sample_ops();
    clients_cron();
    shutdown_check();
    return 100;
}

int server_init_runtime(void)
{
    clist_init(&server.clients);
    clist_init(&server.pending_write);
    clist_init(&server.resume);
    clist_init(&server.close_asap);
    clist_init(&server.blocked);
    clist_init(&server.paused);
    server.next_client_id = 1;
    server.start_ms = loop_now_ms();
    server.ops_last_ms = server.start_ms;
    server.start_wall_s = (int64_t)time(NULL);
    unsigned char rnd[20];
    if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
        memset(rnd, 0x5a, sizeof(rnd));
    for (int i = 0; i < 20; i++)
        snprintf(server.run_id + 2 * i, 3, "%02x", rnd[i]);
    server.errors = dict_create();
    server.channels = dict_create();
    server.patterns = dict_create();
    pthread_mutex_init(&server.post_lock, NULL);
    notify_item.fn = notify_run;
    notify_item.arg = NULL;
    server.el = loop_create();
    if (!server.el || !server.errors || !server.channels || !server.patterns)
        return -1;
    server.post_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (server.post_fd < 0 ||
        loop_add_fd(server.el, server.post_fd, LOOP_READ, post_handler, NULL) < 0)
        return -1;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    server.sig_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (server.sig_fd < 0 ||
        loop_add_fd(server.el, server.sig_fd, LOOP_READ, signal_handler, NULL) < 0)
        return -1;
    if (!loop_add_timer(server.el, 100, cron, NULL))
        return -1;
    loop_set_before_sleep(server.el, before_sleep, NULL);
    if (pthread_create(&server.bg_thread, NULL, bg_main, NULL) != 0)
        return -1;
    server.bg_started = 1;
    if (server.store)
        mn_set_notify(server.store, on_store_notify, NULL);
    return 0;
}

/* After the loop stopped: finish background jobs, then the caller closes
 * the store, then server_drain_final() runs what the close posted. */
void server_stop_bg(void)
{
    if (server.store)
        mn_set_notify(server.store, NULL, NULL);
    if (server.bg_started) {
        pthread_mutex_lock(&bg_lock);
        bg_stop = 1;
        pthread_cond_signal(&bg_cond);
        pthread_mutex_unlock(&bg_lock);
        pthread_join(server.bg_thread, NULL);
        server.bg_started = 0;
    }
    drain_posts();
}

void server_shutdown_runtime(void)
{
    drain_posts();
    server_before_sleep(server.el, NULL); /* a last, non-blocking flush */
    clients_free_all();
    if (server.post_fd >= 0)
        close(server.post_fd);
    if (server.sig_fd >= 0)
        close(server.sig_fd);
    loop_free(server.el);
    server.el = NULL;
    dict_free(server.errors, NULL);
    server.errors = NULL;
}
