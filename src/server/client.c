/*
 * client.c — connections: accept, read, parse, dispatch, reply, close.
 *
 * Life of a request (all on the loop thread):
 *   read_handler    reads up to 16 KiB (or the rest of a large bulk) into
 *                   the client's query buffer, then process_input().
 *   process_input   parses every complete command in the buffer and runs
 *                   it (pipelining), unless the client is paused: blocked,
 *                   or a deferred reply outstanding (see server.h for the
 *                   CMD_PIPELINE_DEFER exception). A paused client keeps
 *                   its unparsed bytes; it is put on server.resume when it
 *                   can go on, and before_sleep processes it again.
 *   process_command checks (lookup, arity, auth, MULTI, subscribed mode)
 *                   in Redis's order, then queues (MULTI) or call()s.
 *   replies         go to c->out (a chain of blocks); the client is put on
 *                   server.pending_write. before_sleep writes each pending
 *                   client once with writev: every reply of one read's
 *                   pipeline leaves in one system call. Only if the socket
 *                   is full is a write handler installed.
 *
 * Memory for idle clients: a client holds no query buffer and no reply
 * block while idle (clients_cron frees them after 2 s of idleness, the
 * first reply block is 1 KiB), so thousands of idle connections cost a
 * few hundred bytes each plus the kernel's socket buffers.
 *
 * Closing: a client is freed synchronously only from its own read/write
 * path; anything else (output limit hit while another client publishes,
 * errors inside a command) uses client_close_asap(), and before_sleep frees
 * it, so no handler ever sees a client vanish under it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "server.h"

#define READ_CHUNK (16 * 1024)
#define BIG_ARG (32 * 1024)
#define QUERYBUF_MAX (1024ull * 1024 * 1024) /* client-query-buffer-limit, Redis's 1gb */
#define IDLE_FREE_MS 2000

static void read_handler(loop *l, int fd, void *ud, int mask);
static void write_handler(loop *l, int fd, void *ud, int mask);
static void client_free(client *c);
static void process_input(client *c);

/* ------------------------------------------------------------------ */
/* Lists                                                                */
/* ------------------------------------------------------------------ */

void clist_init(clink *head) { head->prev = head->next = head; }

void clist_push(clink *head, clink *n)
{
    if (n->next)
        return;
    n->prev = head->prev;
    n->next = head;
    head->prev->next = n;
    head->prev = n;
}

void clist_unlink(clink *n)
{
    if (!n->next)
        return;
    n->prev->next = n->next;
    n->next->prev = n->prev;
    n->next = n->prev = NULL;
}

int clist_empty(const clink *head) { return head->next == head; }

static clink *clist_pop(clink *head)
{
    if (clist_empty(head))
        return NULL;
    clink *n = head->next;
    clist_unlink(n);
    return n;
}

/* ------------------------------------------------------------------ */
/* Small helpers                                                        */
/* ------------------------------------------------------------------ */

static int client_authed(const client *c)
{
    return (c->flags & CLIENT_AUTHED) || server.cfg.requirepass[0] == '\0';
}

void client_reset_target(client *c)
{
    c->target = (c->flags & (CLIENT_REPLY_OFF | CLIENT_REPLY_SKIP)) ? NULL : &c->out;
}

void client_set_resp(client *c, int resp) { c->resp = resp; }

int client_in_exec(const client *c) { return (c->flags & CLIENT_IN_EXEC) != 0; }

static void client_resume(client *c)
{
    if (c->fd < 0)
        return;
    if (!(c->flags & CLIENT_PROCESSING))
        clist_push(&server.resume, &c->resume);
}

/* EXEC isolation (Redis: "a request sent by another client will never be
 * served in the middle of the execution"). While a transaction's queued
 * commands run — including the wait for its durable writes — it holds a
 * barrier: other clients' commands stay in their input buffers and blocked
 * readers are not served and event notifications (notify.c) wait, so
 * nobody observes the transaction half done.
 * Lifted when its last reply is complete; the paused clients then run. */
void exec_barrier_raise(client *c) { server.exec_barrier = c; }

void exec_barrier_lift(void)
{
    server.exec_barrier = NULL;
    clink *n;
    while ((n = clist_pop(&server.paused))) {
        client *p = CLIST_ENTRY(n, client, paused);
        client_resume(p);
    }
    if (server.retry_blocked_later) {
        server.retry_blocked_later = 0;
        server_retry_blocked();
    }
    notify_store_advanced(0); /* what was held back meanwhile */
}

void exec_barrier_check(client *c)
{
    if (server.exec_barrier == c && c->exec_next < 0 && c->ndeferred == 0)
        exec_barrier_lift();
}

void client_close_asap(client *c)
{
    if (c->flags & CLIENT_CLOSE_ASAP)
        return;
    c->flags |= CLIENT_CLOSE_ASAP;
    clist_push(&server.close_asap, &c->close_asap);
}

int client_obl_class(const client *c)
{
    return (c->flags & CLIENT_PUBSUB) ? OBL_PUBSUB : OBL_NORMAL;
}

static void format_addr(const struct sockaddr_storage *sa, char *out, size_t cap)
{
    char ip[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (sa->ss_family == AF_INET) {
        const struct sockaddr_in *s = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &s->sin_addr, ip, sizeof(ip));
        port = ntohs(s->sin_port);
        snprintf(out, cap, "%s:%d", ip, port);
    } else if (sa->ss_family == AF_INET6) {
        const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &s->sin6_addr, ip, sizeof(ip));
        port = ntohs(s->sin6_port);
        snprintf(out, cap, "[%s]:%d", ip, port);
    } else {
        snprintf(out, cap, "?:0");
    }
}

/* ------------------------------------------------------------------ */
/* Output                                                               */
/* ------------------------------------------------------------------ */

/* Enforces client-output-buffer-limit for c's class: hard limit at once,
 * soft limit after soft_seconds continuously above it. A slow subscriber
 * is thus disconnected instead of growing the server without bound. */
static void check_output_limit(client *c)
{
    const obl_limit *lim = &server.cfg.obl[client_obl_class(c)];
    size_t used = c->out.bytes;
    int over = 0;
    if (lim->hard && used >= lim->hard)
        over = 1;
    if (lim->soft && used >= lim->soft) {
        int64_t now = loop_now_ms();
        if (c->soft_limit_since == 0)
            c->soft_limit_since = now;
        else if (now - c->soft_limit_since >= lim->soft_seconds * 1000)
            over = 1;
    } else {
        c->soft_limit_since = 0;
    }
    if (over) {
        char info[512];
        client_info_line(c, info, sizeof(info));
        info[strcspn(info, "\n")] = '\0';
        server_log(LL_WARNING,
                   "Client %s scheduled to be closed ASAP for overcoming of output buffer limits.",
                   info);
        server.stat_obl_disconnects++;
        client_close_asap(c);
    }
}

void client_output_added(client *c)
{
    if (c->fd < 0)
        return;
    if (!(c->flags & (CLIENT_PENDING_WRITE | CLIENT_WRITE_HANDLER))) {
        c->flags |= CLIENT_PENDING_WRITE;
        clist_push(&server.pending_write, &c->pending_write);
    }
    check_output_limit(c);
}

/* 1 if c->out has bytes that can be sent now (before any unfinished slot). */
static int has_writable(const client *c)
{
    for (const oblock *b = c->out.head; b; b = b->next) {
        if (b->kind == OBLOCK_SLOT || (b->kind == OBLOCK_LEN && b->used == 0))
            return 0;
        if (b->used > b->sent)
            return 1;
    }
    return 0;
}

/* Frees fully sent blocks at the head. The last data block is kept (reset)
 * for reuse while the client is active; clients_cron frees it when idle. */
static void trim_sent(client *c)
{
    oblock *b;
    while ((b = c->out.head) && b->kind != OBLOCK_SLOT && b->used == b->sent &&
           !(b->kind == OBLOCK_LEN && b->used == 0)) {
        if (b == c->out.tail && b->kind == OBLOCK_DATA && b->size <= 16 * 1024) {
            b->used = b->sent = 0;
            break;
        }
        c->out.head = b->next;
        if (!c->out.head)
            c->out.tail = NULL;
        free(b);
    }
}

static int output_empty(const client *c)
{
    if (c->ndeferred > 0)
        return 0;
    for (const oblock *b = c->out.head; b; b = b->next)
        if (b->kind == OBLOCK_SLOT || b->used > b->sent)
            return 0;
    return 1;
}

/* Writes as much of c->out as the socket takes. Returns -1 if the client
 * was freed. */
static int write_client(client *c)
{
    for (;;) {
        struct iovec iov[64];
        int n = 0;
        size_t total = 0;
        for (oblock *b = c->out.head; b && n < 64; b = b->next) {
            if (b->kind == OBLOCK_SLOT || (b->kind == OBLOCK_LEN && b->used == 0))
                break;
            if (b->used > b->sent) {
                iov[n].iov_base = b->data + b->sent;
                iov[n].iov_len = b->used - b->sent;
                total += iov[n].iov_len;
                n++;
            }
        }
        if (n == 0)
            break;
        ssize_t w = writev(c->fd, iov, n);
        if (w < 0) {
            if (errno == EAGAIN || errno == EINTR)
                break;
            server_log(LL_VERBOSE, "Error writing to client: %s", strerror(errno));
            client_free(c);
            return -1;
        }
        server.stat_net_out += (uint64_t)w;
        server.stat_writes++;
        c->out.bytes -= (size_t)w;
        size_t left = (size_t)w;
        for (oblock *b = c->out.head; b && left; b = b->next) {
            size_t k = b->used - b->sent;
            if (k > left)
                k = left;
            b->sent += k;
            left -= k;
        }
        trim_sent(c);
        if ((size_t)w < total)
            break;
    }
    if (c->out.bytes < server.cfg.obl[client_obl_class(c)].soft)
        c->soft_limit_since = 0;
    if (has_writable(c)) {
        if (!(c->flags & CLIENT_WRITE_HANDLER)) {
            if (loop_add_fd(server.el, c->fd, LOOP_WRITE, write_handler, c) == 0)
                c->flags |= CLIENT_WRITE_HANDLER;
        }
    } else if (c->flags & CLIENT_WRITE_HANDLER) {
        loop_del_fd(server.el, c->fd, LOOP_WRITE);
        c->flags &= ~CLIENT_WRITE_HANDLER;
    }
    if ((c->flags & CLIENT_CLOSE_AFTER_REPLY) && output_empty(c)) {
        client_free(c);
        return -1;
    }
    return 0;
}

static void write_handler(loop *l, int fd, void *ud, int mask)
{
    (void)l; (void)fd; (void)mask;
    client *c = ud;
    write_client(c);
}

/* ------------------------------------------------------------------ */
/* Creating and freeing                                                 */
/* ------------------------------------------------------------------ */

static client *client_create(int fd)
{
    client *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->id = server.next_client_id++;
    c->fd = fd;
    c->resp = 2;
    c->flags = server.cfg.requirepass[0] ? 0 : CLIENT_AUTHED;
    c->ctime_ms = c->last_ms = loop_now_ms();
    resp_req_init(&c->req);
    c->target = &c->out;
    c->exec_next = -1;
    clist_init(&c->deferreds);
    struct sockaddr_storage sa;
    socklen_t len = sizeof(sa);
    if (getpeername(fd, (struct sockaddr *)&sa, &len) == 0)
        format_addr(&sa, c->addr, sizeof(c->addr));
    len = sizeof(sa);
    if (getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
        format_addr(&sa, c->laddr, sizeof(c->laddr));
    if (loop_add_fd(server.el, fd, LOOP_READ, read_handler, c) < 0) {
        free(c);
        return NULL;
    }
    clist_push(&server.clients, &c->all);
    server.nclients++;
    return c;
}

static void block_end(client *c, int resume);

static void client_free(client *c)
{
    if (c->blocked)
        block_end(c, 0);
    /* Deferred replies still running lose their client: their completion
     * sees deferred_client() == NULL and only frees itself. */
    clink *n;
    while ((n = clist_pop(&c->deferreds))) {
        deferred *d = CLIST_ENTRY(n, deferred, link);
        d->c = NULL;
    }
    pubsub_unsubscribe_all(c, 0);
    multi_discard(c);
    clist_unlink(&c->all);
    clist_unlink(&c->pending_write);
    clist_unlink(&c->resume);
    clist_unlink(&c->close_asap);
    clist_unlink(&c->blocked_link);
    clist_unlink(&c->paused);
    if (server.exec_barrier == c)
        exec_barrier_lift();
    if (c->fd >= 0) {
        loop_del_fd(server.el, c->fd, LOOP_READ | LOOP_WRITE);
        close(c->fd);
    }
    free(c->qb);
    resp_req_free(&c->req);
    free(c->argv);
    free(c->argvlen);
    free(c->argv_copy);
    free(c->name);
    free(c->lib_name);
    free(c->lib_ver);
    ochain_free(&c->out);
    dict_free(c->channels, NULL);
    dict_free(c->patterns, NULL);
    server.nclients--;
    free(c);
}

void clients_free_all(void)
{
    while (!clist_empty(&server.clients))
        client_free(CLIST_ENTRY(server.clients.next, client, all));
}

/* ------------------------------------------------------------------ */
/* Input                                                                */
/* ------------------------------------------------------------------ */

static void protocol_error(client *c, const char *msg)
{
    server_log(LL_VERBOSE, "Protocol error (%s) from client: id=%llu addr=%s", msg,
               (unsigned long long)c->id, c->addr);
    c->err_cmd = NULL;
    client_reset_target(c);
    if (!c->target)
        c->target = &c->out; /* the error is sent even with CLIENT REPLY OFF */
    reply_error(c, msg);
    c->flags |= CLIENT_CLOSE_AFTER_REPLY;
    c->qb_len = c->qb_start; /* drop the rest of the input */
    client_output_added(c);
}

static int ensure_argv(client *c, int n)
{
    if (n <= c->argv_cap)
        return 0;
    int cap = c->argv_cap ? c->argv_cap : 8;
    while (cap < n)
        cap *= 2;
    char **a = realloc(c->argv, sizeof(*a) * (size_t)cap);
    if (!a)
        return -1;
    c->argv = a;
    size_t *l = realloc(c->argvlen, sizeof(*l) * (size_t)cap);
    if (!l)
        return -1;
    c->argvlen = l;
    c->argv_cap = cap;
    return 0;
}

/* Points c->argv at the parsed command in the query buffer. */
static int setup_argv(client *c)
{
    if (ensure_argv(c, c->req.argc) < 0)
        return -1;
    char *base = c->qb + c->qb_start;
    for (int i = 0; i < c->req.argc; i++) {
        c->argv[i] = base + c->req.off[i];
        c->argvlen[i] = c->req.len[i];
    }
    c->argc = c->req.argc;
    return 0;
}

/* 1 if c may start a command of flags f now (reply ordering; server.h). */
static int may_start(const client *c, uint32_t f)
{
    if (c->blocked)
        return 0;
    if (c->ndeferred == 0)
        return 1;
    return (f & CMD_PIPELINE_DEFER) && c->ndeferred_strict == 0;
}

int client_may_start_cmd(const client *c, const command *cmd)
{
    return may_start(c, cmd ? cmd->def->flags : 0);
}

static void process_input(client *c)
{
    if (c->flags & CLIENT_PROCESSING)
        return;
    if (server.exec_barrier && server.exec_barrier != c) {
        /* Another client's EXEC is running: nothing of ours may run in
         * between (isolation). Our input waits, buffered. */
        clist_push(&server.paused, &c->paused);
        return;
    }
    c->flags |= CLIENT_PROCESSING;
    while (!(c->flags & (CLIENT_CLOSE_AFTER_REPLY | CLIENT_CLOSE_ASAP)) && !c->blocked) {
        if (c->exec_next >= 0) {
            exec_continue(c);
            if (c->exec_next >= 0)
                break;
            continue;
        }
        /* Once a shutdown is scheduled no new command starts, buffered or
         * not (Redis's SHUTDOWN exits there and then); what is in flight,
         * an EXEC included, still gets its whole reply before the exit. A
         * second SHUTDOWN pipelined after the first cannot force an exit
         * that would cut those replies short (found by fuzz_dispatch). */
        if (server.shutdown_asap)
            break;
        if (!c->req_ready) {
            if (c->qb_start >= c->qb_len)
                break;
            resp_limits lim = {server.cfg.proto_max_bulk_len, client_authed(c)};
            int rc = resp_parse(&c->req, c->qb + c->qb_start, c->qb_len - c->qb_start, &lim);
            if (rc == RESP_INCOMPLETE)
                break;
            if (rc == RESP_ERROR) {
                protocol_error(c, c->req.err);
                break;
            }
            if (c->req.argc == 0) {
                c->qb_start += c->req.pos;
                resp_req_reset(&c->req);
                continue;
            }
            c->req_ready = 1;
        }
        if (setup_argv(c) < 0) {
            client_close_asap(c);
            break;
        }
        if (c->ndeferred > 0) {
            command *peek = cmd_lookup(c->argv[0], c->argvlen[0]);
            if (!may_start(c, peek ? peek->def->flags : 0))
                break;
        }
        c->last_ms = loop_now_ms();
        process_command(c);
        c->qb_start += c->req.pos;
        resp_req_reset(&c->req);
        c->req_ready = 0;
        if (!c->blocked)
            c->argc = 0;
    }
    /* Compact: keep only the unprocessed bytes (offsets in req are relative
     * to the command start, so they stay valid). */
    if (c->qb_start > 0) {
        size_t rest = c->qb_len - c->qb_start;
        if (rest)
            memmove(c->qb, c->qb + c->qb_start, rest);
        c->qb_len = rest;
        c->qb_start = 0;
    }
    if (c->qb_len == 0 && c->qb_cap > 64 * 1024) {
        free(c->qb);
        c->qb = NULL;
        c->qb_cap = 0;
    }
    c->flags &= ~CLIENT_PROCESSING;
}

static void read_handler(loop *l, int fd, void *ud, int mask)
{
    (void)l; (void)mask;
    client *c = ud;
    size_t want = READ_CHUNK;
    /* A large bulk: read it in reads that grow with what has arrived (up to
     * its declared end), so a big value costs few syscalls, yet memory follows
     * the bytes received, never the length a peer declares: 50 clients each
     * announcing 512 MiB and sending 1 MiB reserve a few MiB each, not 25 GiB
     * of address space (which fails under strict overcommit and costs the
     * sanitizers' shadow memory). */
    if (c->req.kind == RESP_KIND_MULTIBULK && c->req.bulklen >= BIG_ARG) {
        size_t need = c->qb_start + c->req.pos + (size_t)c->req.bulklen + 2;
        size_t rest = need > c->qb_len ? need - c->qb_len : 0;
        size_t step = c->qb_len - c->qb_start; /* doubles what is buffered */
        if (step > rest)
            step = rest;
        if (step > want)
            want = step;
    }
    if (c->qb_cap - c->qb_len < want) {
        size_t cap = c->qb_cap ? c->qb_cap : READ_CHUNK;
        while (cap - c->qb_len < want)
            cap *= 2;
        char *p = realloc(c->qb, cap);
        if (!p) {
            server_log(LL_WARNING, "Out of memory reading from client id=%llu",
                       (unsigned long long)c->id);
            client_free(c);
            return;
        }
        c->qb = p;
        c->qb_cap = cap;
    }
    ssize_t n = read(fd, c->qb + c->qb_len, want);
    if (n < 0) {
        if (errno == EAGAIN || errno == EINTR)
            return;
        server_log(LL_VERBOSE, "Reading from client: %s", strerror(errno));
        client_free(c);
        return;
    }
    if (n == 0) {
        server_log(LL_VERBOSE, "Client closed connection id=%llu addr=%s",
                   (unsigned long long)c->id, c->addr);
        client_free(c);
        return;
    }
    c->qb_len += (size_t)n;
    c->last_ms = loop_now_ms();
    server.stat_net_in += (uint64_t)n;
    server.stat_reads++;
    if (c->qb_len - c->qb_start > QUERYBUF_MAX) {
        server_log(LL_WARNING, "Closing client that reached max query buffer length: id=%llu addr=%s",
                   (unsigned long long)c->id, c->addr);
        client_free(c);
        return;
    }
    if (c->flags & CLIENT_CLOSE_AFTER_REPLY) {
        c->qb_len = c->qb_start;
        return;
    }
    process_input(c);
}

/* ------------------------------------------------------------------ */
/* Dispatch                                                             */
/* ------------------------------------------------------------------ */

/* A command refused before running: counted as rejected (not failed);
 * inside MULTI it dooms the transaction, and a refused EXEC aborts it. */
static void reject(client *c, command *cmd, const char *msg)
{
    if (cmd)
        cmd->rejected++;
    c->err_cmd = NULL;
    if (c->flags & CLIENT_MULTI) {
        if (cmd && strcmp(cmd->fullname, "exec") == 0) {
            const char *m = msg[0] == '-' ? msg + 1 : msg;
            char buf[600];
            snprintf(buf, sizeof(buf), "-EXECABORT Transaction discarded because of: %s", m);
            multi_discard(c);
            reply_error(c, buf);
            return;
        }
        c->flags |= CLIENT_DIRTY_EXEC;
    }
    reply_error(c, msg);
}

static int is_security_cmd(const char *s)
{
    return strcasecmp(s, "post") == 0 || strcasecmp(s, "host:") == 0;
}

void process_command(client *c)
{
    char msg[600];
    command *cmd = cmd_lookup(c->argv[0], c->argvlen[0]);
    if (!cmd) {
        if (is_security_cmd(c->argv[0])) {
            server_log(LL_WARNING, "Possible SECURITY ATTACK detected. It looks like somebody is "
                                   "sending POST or Host: commands to Mnemosyne. Connection from "
                                   "%s aborted.", c->addr);
            client_close_asap(c);
            return;
        }
        char args[200];
        size_t al = 0;
        args[0] = '\0';
        for (int i = 1; i < c->argc && al < 128; i++) {
            int k = snprintf(args + al, sizeof(args) - al, "'%.*s' ", (int)(128 - al), c->argv[i]);
            if (k < 0)
                break;
            al += (size_t)k;
            if (al >= sizeof(args))
                al = sizeof(args) - 1;
        }
        snprintf(msg, sizeof(msg), "unknown command '%.128s', with args beginning with: %s",
                 c->argv[0], args);
        reject(c, NULL, msg);
        return;
    }
    if (cmd->nsubs && c->argc >= 2) {
        command *sub = cmd_lookup_sub(cmd, c->argv[1], c->argvlen[1]);
        if (!sub) {
            char up[64];
            size_t i;
            for (i = 0; i < sizeof(up) - 1 && cmd->fullname[i]; i++)
                up[i] = (char)(cmd->fullname[i] >= 'a' && cmd->fullname[i] <= 'z'
                                   ? cmd->fullname[i] - 32 : cmd->fullname[i]);
            up[i] = '\0';
            snprintf(msg, sizeof(msg), "unknown subcommand '%.128s'. Try %s HELP.", c->argv[1], up);
            c->cmd = cmd;
            reject(c, cmd, msg);
            return;
        }
        cmd = sub;
    }
    c->cmd = cmd;
    int arity = cmd->def->arity;
    if ((arity > 0 && c->argc != arity) || (arity < 0 && c->argc < -arity)) {
        snprintf(msg, sizeof(msg), "wrong number of arguments for '%s' command", cmd->fullname);
        reject(c, cmd, msg);
        return;
    }
    uint32_t f = cmd->def->flags;
    if (!client_authed(c) && !(f & CMD_NO_AUTH)) {
        reject(c, cmd, "-NOAUTH Authentication required.");
        return;
    }
    if ((c->flags & CLIENT_MULTI) && (f & CMD_NO_MULTI)) {
        reject(c, cmd, "Command not allowed inside a transaction");
        return;
    }
    if ((f & CMD_WRITE) && cmd->def->first_key > 0 && c->argc > cmd->def->first_key) {
        /* Names starting with '$' are the virtual streams' ($all, $ce-...,
         * $et-...): views over the log that no command writes events to.
         * Group commands (CMD_VIRTUAL_OK) may name a virtual stream: its
         * groups are persistent subscriptions (engine/vgroup.c). */
        int last = cmd->def->last_key < 0 ? c->argc - 1 : cmd->def->last_key;
        int step = cmd->def->key_step > 0 ? cmd->def->key_step : 1;
        for (int k = cmd->def->first_key; k <= last && k < c->argc; k += step) {
            int view;
            const char *vk;
            size_t vl;
            if ((f & CMD_VIRTUAL_OK) && mn_virtual_parse(c->argv[k], c->argvlen[k], &view, &vk, &vl))
                continue;
            if (c->argvlen[k] > 0 && c->argv[k][0] == '$') {
                reject(c, cmd, "-ERR names starting with '$' are reserved for the virtual "
                               "streams ($all, $ce-<category>, $et-<type>), which are read-only");
                return;
            }
        }
    }
    if (c->resp == 2 && (c->flags & CLIENT_PUBSUB) && !(f & CMD_SUBSCRIBED_OK)) {
        snprintf(msg, sizeof(msg),
                 "Can't execute '%s': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / "
                 "RESET are allowed in this context", cmd->fullname);
        reject(c, cmd, msg);
        return;
    }
    if ((c->flags & CLIENT_MULTI) && !(f & CMD_MULTI_NOW)) {
        if (multi_queue(c, cmd) < 0) {
            reject(c, cmd, "-OOM command not allowed when used memory > 'maxmemory'.");
            return;
        }
        reply_simple(c, "QUEUED");
        return;
    }
    call(c, cmd);
}

void client_reply_failed(client *c, int rc, const char *msg)
{
    if (c->reply_failed)
        return;
    c->reply_failed = rc ? rc : MN_EIO;
    snprintf(c->reply_failed_msg, sizeof c->reply_failed_msg, "%s", msg ? msg : "");
}

/* After a command (or a blocked client's retry): a half reply is replaced
 * by the error, so the client never gets a short or mis-counted answer. */
static int reply_failure_check(client *c)
{
    if (!c->reply_failed)
        return 0;
    reply_rollback(c, &c->reply_start);
    reply_errorf(c, "%s: %s", mn_strerror(c->reply_failed), c->reply_failed_msg);
    c->reply_failed = 0;
    return 1;
}

void call(client *c, command *cmd)
{
    if (c->flags & CLIENT_REPLY_SKIP_NEXT) {
        c->flags &= ~CLIENT_REPLY_SKIP_NEXT;
        c->flags |= CLIENT_REPLY_SKIP;
    }
    c->cmd = cmd;
    c->lastcmd = cmd;
    c->err_cmd = cmd;
    c->cmd_failed = 0;
    client_reset_target(c);
    int64_t t0 = loop_now_us();
    reply_mark_set(c, &c->reply_start);
    if (cmd->def->fn)
        cmd->def->fn(c);
    else
        reply_error_arity(c); /* a container without a subcommand */
    reply_failure_check(c);
    int64_t dt = loop_now_us() - t0;
    cmd->calls++;
    cmd->usec += (uint64_t)dt;
    server.stat_numcommands++;
    c->lastcmd = cmd;
    c->err_cmd = NULL;
    c->flags &= ~CLIENT_REPLY_SKIP;
    client_reset_target(c);
}

/* ------------------------------------------------------------------ */
/* Deferred replies                                                     */
/* ------------------------------------------------------------------ */

deferred *client_defer(client *c)
{
    deferred *d = calloc(1, sizeof(*d));
    if (!d)
        return NULL;
    d->c = c;
    d->cmd = c->cmd;
    d->strict = !(c->cmd && (c->cmd->def->flags & CMD_PIPELINE_DEFER));
    d->discard = c->target == NULL || (c->flags & CLIENT_CLOSE_ASAP);
    if (!d->discard) {
        d->slot = ochain_add_slot(c->target, d);
        if (!d->slot) {
            free(d);
            return NULL;
        }
    }
    clist_push(&c->deferreds, &d->link);
    c->ndeferred++;
    if (d->strict)
        c->ndeferred_strict++;
    server.ndeferred++;
    return d;
}

client *deferred_client(deferred *d)
{
    client *c = d->c;
    if (!c)
        return NULL;
    if (!d->begun) {
        d->begun = 1;
        d->saved_target = c->target;
        d->saved_err_cmd = c->err_cmd;
        c->target = d->discard ? NULL : &d->out;
        c->err_cmd = d->cmd;
        c->cmd_failed = 0;
    }
    return c;
}

/* Replaces the slot block in c->out with the blocks of d->out. */
static void splice_slot(client *c, deferred *d)
{
    oblock *prev = NULL, *b = c->out.head;
    while (b && b != d->slot) {
        prev = b;
        b = b->next;
    }
    if (!b) { /* not found: cannot happen; drop the reply rather than corrupt */
        ochain_free(&d->out);
        return;
    }
    oblock *after = b->next;
    if (d->out.head) {
        if (prev)
            prev->next = d->out.head;
        else
            c->out.head = d->out.head;
        d->out.tail->next = after;
        if (c->out.tail == b)
            c->out.tail = d->out.tail;
    } else {
        if (prev)
            prev->next = after;
        else
            c->out.head = after;
        if (c->out.tail == b)
            c->out.tail = prev;
    }
    c->out.bytes += d->out.bytes;
    d->out.head = d->out.tail = NULL;
    d->out.bytes = 0;
    free(b);
}

void deferred_done(deferred *d)
{
    client *c = d->c;
    if (c) {
        if (d->begun) {
            c->target = d->saved_target;
            c->err_cmd = d->saved_err_cmd;
        }
        if (d->slot)
            splice_slot(c, d);
        else
            ochain_free(&d->out);
        clist_unlink(&d->link);
        c->ndeferred--;
        if (d->strict)
            c->ndeferred_strict--;
        client_output_added(c);
        client_resume(c);
        exec_barrier_check(c);
    } else {
        ochain_free(&d->out);
    }
    server.ndeferred--;
    free(d);
}

/* ------------------------------------------------------------------ */
/* Blocking                                                             */
/* ------------------------------------------------------------------ */

static void block_end(client *c, int resume)
{
    if (!c->blocked)
        return;
    if (c->block_timer) {
        loop_del_timer(server.el, c->block_timer);
        c->block_timer = NULL;
    }
    clist_unlink(&c->blocked_link);
    server.nblocked--;
    c->blocked = 0;
    if (c->block_free)
        c->block_free(c->block_priv);
    c->block_priv = NULL;
    c->block_retry = NULL;
    c->block_timeout = NULL;
    c->block_free = NULL;
    free(c->argv_copy);
    c->argv_copy = NULL;
    c->argc = 0;
    if (resume)
        client_resume(c);
}

static int64_t block_timer_fn(loop *l, loop_timer *t, void *ud)
{
    (void)l; (void)t;
    client *c = ud;
    c->block_timer = NULL;
    client_reset_target(c);
    c->err_cmd = c->cmd;
    c->cmd_failed = 0;
    if (c->block_timeout)
        c->block_timeout(c, c->block_priv);
    else
        reply_null_array(c);
    c->err_cmd = NULL;
    block_end(c, 1);
    return LOOP_TIMER_STOP;
}

int client_block(client *c, int64_t timeout_ms, block_retry_fn *retry,
                 block_timeout_fn *on_timeout, block_free_fn *free_priv, void *priv)
{
    if ((c->flags & CLIENT_IN_EXEC) || c->blocked)
        return -1;
    size_t total = 0;
    for (int i = 0; i < c->argc; i++)
        total += c->argvlen[i] + 1;
    char *copy = malloc(total ? total : 1);
    if (!copy)
        return -1;
    char *p = copy;
    for (int i = 0; i < c->argc; i++) {
        memcpy(p, c->argv[i], c->argvlen[i]);
        p[c->argvlen[i]] = '\0';
        c->argv[i] = p;
        p += c->argvlen[i] + 1;
    }
    c->argv_copy = copy;
    if (timeout_ms > 0) {
        c->block_timer = loop_add_timer(server.el, timeout_ms, block_timer_fn, c);
        if (!c->block_timer) {
            free(copy);
            c->argv_copy = NULL;
            return -1;
        }
        c->block_deadline = loop_now_ms() + timeout_ms;
    } else {
        c->block_deadline = 0;
    }
    c->blocked = 1;
    c->block_retry = retry;
    c->block_timeout = on_timeout;
    c->block_free = free_priv;
    c->block_priv = priv;
    clist_push(&server.blocked, &c->blocked_link);
    server.nblocked++;
    return 0;
}

void client_unblock(client *c) { block_end(c, 1); }

void server_retry_blocked(void)
{
    if (server.exec_barrier) {
        /* A woken reader must not see an EXEC half done: later. */
        server.retry_blocked_later = 1;
        return;
    }
    clink tmp;
    clist_init(&tmp);
    /* move the list aside: clients that stay blocked are put back */
    while (!clist_empty(&server.blocked)) {
        clink *n = clist_pop(&server.blocked);
        clist_push(&tmp, n);
    }
    clink *n;
    while ((n = clist_pop(&tmp))) {
        client *c = CLIST_ENTRY(n, client, blocked_link);
        clist_push(&server.blocked, n);
        if (!c->block_retry)
            continue;
        client_reset_target(c);
        c->err_cmd = c->cmd;
        c->cmd_failed = 0;
        reply_mark_set(c, &c->reply_start);
        int served = c->block_retry(c, c->block_priv);
        if (reply_failure_check(c))
            served = 1;
        c->err_cmd = NULL;
        if (served)
            block_end(c, 1);
    }
}

/* ------------------------------------------------------------------ */
/* CLIENT LIST line                                                     */
/* ------------------------------------------------------------------ */

void client_info_line(client *c, char *buf, size_t cap)
{
    char flags[16];
    char *f = flags;
    if (c->flags & CLIENT_PUBSUB)
        *f++ = 'P';
    if (c->flags & CLIENT_MULTI)
        *f++ = 'x';
    if (c->blocked)
        *f++ = 'b';
    if (c->flags & CLIENT_CLOSE_AFTER_REPLY)
        *f++ = 'c';
    if (c->flags & CLIENT_CLOSE_ASAP)
        *f++ = 'A';
    if (f == flags)
        *f++ = 'N';
    *f = '\0';
    size_t nblocks = 0, omem = 0;
    for (oblock *b = c->out.head; b; b = b->next) {
        nblocks++;
        omem += b->size;
    }
    size_t argv_mem = 0;
    for (int i = 0; i < c->argc; i++)
        argv_mem += c->argvlen[i];
    int64_t now = loop_now_ms();
    const char *events = (c->flags & CLIENT_WRITE_HANDLER) ? "rw" : "r";
    snprintf(buf, cap,
             "id=%llu addr=%s laddr=%s fd=%d name=%s age=%lld idle=%lld flags=%s db=0 sub=%zu "
             "psub=%zu ssub=0 multi=%d qbuf=%zu qbuf-free=%zu argv-mem=%zu multi-mem=0 rbs=%zu "
             "rbp=0 obl=0 oll=%zu omem=%zu tot-mem=%zu events=%s cmd=%s user=default redir=-1 "
             "resp=%d lib-name=%s lib-ver=%s\n",
             (unsigned long long)c->id, c->addr, c->laddr, c->fd, c->name ? c->name : "",
             (long long)((now - c->ctime_ms) / 1000), (long long)((now - c->last_ms) / 1000),
             flags, dict_size(c->channels), dict_size(c->patterns),
             (c->flags & CLIENT_MULTI) ? c->mq_len : -1, c->qb_len - c->qb_start,
             c->qb_cap - c->qb_len, argv_mem, c->out.head ? c->out.head->size : (size_t)0,
             nblocks, omem, sizeof(*c) + c->qb_cap + omem, events,
             c->lastcmd ? c->lastcmd->fullname : "NULL", c->resp,
             c->lib_name ? c->lib_name : "", c->lib_ver ? c->lib_ver : "");
}

/* ------------------------------------------------------------------ */
/* Listening and accepting                                              */
/* ------------------------------------------------------------------ */

static int listener_paused;

static void accept_handler(loop *l, int fd, void *ud, int mask)
{
    (void)l; (void)ud; (void)mask;
    for (int i = 0; i < 1000; i++) {
        int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (cfd < 0) {
            if (errno == EMFILE || errno == ENFILE) {
                /* Out of descriptors: stop accepting for a moment instead of
                 * spinning on a listener that stays readable. */
                server_log(LL_WARNING, "Accepting client connection: %s", strerror(errno));
                for (int k = 0; k < server.nlisten; k++)
                    loop_del_fd(server.el, server.listen_fds[k], LOOP_READ);
                listener_paused = 1;
            } else if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED) {
                server_log(LL_WARNING, "Accepting client connection: %s", strerror(errno));
            }
            return;
        }
        if (server.nclients >= (size_t)server.cfg.maxclients) {
            static const char err[] = "-ERR max number of clients reached\r\n";
            if (write(cfd, err, sizeof(err) - 1) < 0) {
                /* nothing to do: the connection is closed either way */
            }
            close(cfd);
            server.stat_rejected_conn++;
            continue;
        }
        int one = 1;
        setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        setsockopt(cfd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
        int idle = 300;
        setsockopt(cfd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
        client *c = client_create(cfd);
        if (!c) {
            close(cfd);
            continue;
        }
        server.stat_numconnections++;
        server_log(LL_VERBOSE, "Accepted %s", c->addr);
    }
}

static int listen_one(const char *addr, int port)
{
    struct addrinfo hints = {0}, *res = NULL;
    char portstr[16];
    int fd = -1, rc = -1;
    snprintf(portstr, sizeof(portstr), "%d", port);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    const char *host = strcmp(addr, "*") == 0 ? NULL : addr;
    int gai = getaddrinfo(host, portstr, &hints, &res);
    if (gai != 0) {
        server_log(LL_WARNING, "Could not resolve bind address %s: %s", addr, gai_strerror(gai));
        goto done;
    }
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                    ai->ai_protocol);
        if (fd < 0)
            continue;
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (ai->ai_family == AF_INET6)
            setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 511) == 0)
            break;
        server_log(LL_WARNING, "Warning: Could not create server TCP listening socket %s:%d: %s",
                   addr, port, strerror(errno));
        close(fd);
        fd = -1;
    }
    if (fd < 0)
        goto done;
    if (server.nlisten >= (int)(sizeof(server.listen_fds) / sizeof(server.listen_fds[0])) ||
        loop_add_fd(server.el, fd, LOOP_READ, accept_handler, NULL) < 0) {
        close(fd);
        goto done;
    }
    server.listen_fds[server.nlisten++] = fd;
    rc = 0;
done:
    if (res)
        freeaddrinfo(res);
    return rc;
}

int server_listen(void)
{
    char *copy = strdup(server.cfg.bind);
    int rc = 0;
    if (!copy)
        return -1;
    char *save = NULL;
    for (char *tok = strtok_r(copy, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
        int optional = tok[0] == '-';
        if (optional)
            tok++;
        if (listen_one(tok, server.cfg.port) < 0 && !optional) {
            rc = -1;
            break;
        }
    }
    free(copy);
    if (rc == 0 && server.nlisten == 0)
        rc = -1;
    return rc;
}

void server_stop_listening(void)
{
    for (int i = 0; i < server.nlisten; i++) {
        loop_del_fd(server.el, server.listen_fds[i], LOOP_READ);
        close(server.listen_fds[i]);
    }
    server.nlisten = 0;
}

/* ------------------------------------------------------------------ */
/* Periodic and per-iteration work                                      */
/* ------------------------------------------------------------------ */

void clients_cron(void)
{
    int64_t now = loop_now_ms();
    if (listener_paused && !server.shutdown_asap) {
        for (int k = 0; k < server.nlisten; k++)
            loop_add_fd(server.el, server.listen_fds[k], LOOP_READ, accept_handler, NULL);
        listener_paused = 0;
    }
    for (clink *n = server.clients.next; n != &server.clients; n = n->next) {
        client *c = CLIST_ENTRY(n, client, all);
        int64_t idle = now - c->last_ms;
        if (idle < IDLE_FREE_MS || (c->flags & CLIENT_PROCESSING))
            continue;
        /* idle: give back the buffers (the connection then costs little) */
        if (c->qb && c->qb_len == 0) {
            free(c->qb);
            c->qb = NULL;
            c->qb_cap = 0;
        }
        if (c->out.head && c->out.head == c->out.tail && c->out.head->kind == OBLOCK_DATA &&
            c->out.head->used == c->out.head->sent) {
            free(c->out.head);
            c->out.head = c->out.tail = NULL;
        }
        if (c->argv_cap > 64 && c->argc == 0 && !c->blocked) {
            free(c->argv);
            free(c->argvlen);
            c->argv = NULL;
            c->argvlen = NULL;
            c->argv_cap = 0;
        }
        if (server.cfg.timeout > 0 && idle / 1000 > server.cfg.timeout && !c->blocked &&
            !(c->flags & CLIENT_PUBSUB) && c->ndeferred == 0) {
            server_log(LL_VERBOSE, "Closing idle client");
            client_close_asap(c);
        }
    }
}

void server_before_sleep(loop *l, void *ud)
{
    (void)l; (void)ud;
    clink *n;
    while ((n = clist_pop(&server.resume))) {
        client *c = CLIST_ENTRY(n, client, resume);
        if (!(c->flags & CLIENT_CLOSE_ASAP))
            process_input(c);
    }
    while ((n = clist_pop(&server.pending_write))) {
        client *c = CLIST_ENTRY(n, client, pending_write);
        c->flags &= ~CLIENT_PENDING_WRITE;
        if (c->flags & CLIENT_CLOSE_ASAP)
            continue;
        write_client(c);
    }
    while ((n = clist_pop(&server.close_asap))) {
        client *c = CLIST_ENTRY(n, client, close_asap);
        client_free(c);
    }
    /* Everything this pass submitted goes to the writer now, as one batch
     * with one wake-up; the next pass's submissions are held again. */
    if (server.store) {
        mn_submit_flush(server.store);
        mn_submit_hold(server.store);
    }
}

/* During shutdown: stop reading (no new commands) — in-flight ones finish. */
void clients_stop_reading(void)
{
    for (clink *n = server.clients.next; n != &server.clients; n = n->next) {
        client *c = CLIST_ENTRY(n, client, all);
        if (c->fd >= 0)
            loop_del_fd(server.el, c->fd, LOOP_READ);
    }
}

/* 1 if some client still has output that could be written. */
int clients_pending_output(void)
{
    for (clink *n = server.clients.next; n != &server.clients; n = n->next) {
        client *c = CLIST_ENTRY(n, client, all);
        if (has_writable(c))
            return 1;
    }
    return 0;
}
