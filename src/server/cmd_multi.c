/*
 * cmd_multi.c — transactions: MULTI EXEC DISCARD (no WATCH).
 *
 * MULTI queues every command (after the usual checks, replying +QUEUED)
 * with its own copy of the arguments; a command refused while queueing
 * (unknown, wrong arity, not allowed) marks the transaction dirty and
 * EXEC then answers -EXECABORT. EXEC writes the array header, then runs
 * the queued commands in order, each replying into the client's output
 * right after the previous one.
 *
 * Deferred replies inside EXEC: a queued command may defer (a durable
 * append). Its reply slot sits at its place in the output, so the array
 * stays in order whatever completes first. The next queued command starts
 * under the same rule as pipelined commands (client_may_start_cmd): at
 * once if it is a CMD_PIPELINE_DEFER command following only such, else
 * after the outstanding replies completed — EXEC is then resumed from
 * process_input (c->exec_next). This keeps read-your-writes inside a
 * transaction. Isolation from other clients: EXEC raises a barrier
 * (client.c, exec_barrier_*) until its last reply is complete — other
 * clients' commands and blocked readers wait, so none sees it half done.
 * Not atomic across a crash: each write is its own engine request, so a
 * crash between two of them keeps the first (an engine-level multi-part
 * request would be needed).
 * Blocking commands never block inside EXEC (client_block refuses).
 */
#include <stdlib.h>
#include <string.h>

#include "server.h"

static void free_queue(client *c)
{
    for (int i = 0; i < c->mq_len; i++) {
        free(c->mq[i].argv); /* argv, argvlen and the bytes are one block */
    }
    free(c->mq);
    c->mq = NULL;
    c->mq_len = c->mq_cap = 0;
}

void multi_discard(client *c)
{
    free_queue(c);
    c->flags &= ~(CLIENT_MULTI | CLIENT_DIRTY_EXEC);
    c->exec_next = -1;
}

int multi_queue(client *c, command *cmd)
{
    if (c->mq_len == c->mq_cap) {
        int cap = c->mq_cap ? c->mq_cap * 2 : 4;
        multi_cmd *q = realloc(c->mq, sizeof(*q) * (size_t)cap);
        if (!q)
            return -1;
        c->mq = q;
        c->mq_cap = cap;
    }
    size_t bytes = 0;
    for (int i = 0; i < c->argc; i++)
        bytes += c->argvlen[i] + 1;
    size_t head = (size_t)c->argc * (sizeof(char *) + sizeof(size_t));
    char *blk = malloc(head + bytes);
    if (!blk)
        return -1;
    multi_cmd *m = &c->mq[c->mq_len];
    m->cmd = cmd;
    m->argc = c->argc;
    m->argv = (char **)blk;
    m->argvlen = (size_t *)(blk + (size_t)c->argc * sizeof(char *));
    char *p = blk + head;
    for (int i = 0; i < c->argc; i++) {
        memcpy(p, c->argv[i], c->argvlen[i]);
        p[c->argvlen[i]] = '\0';
        m->argv[i] = p;
        m->argvlen[i] = c->argvlen[i];
        p += c->argvlen[i] + 1;
    }
    c->mq_len++;
    return 0;
}

void exec_continue(client *c)
{
    while (c->exec_next >= 0 && c->exec_next < c->mq_len) {
        multi_cmd *m = &c->mq[c->exec_next];
        if (!client_may_start_cmd(c, m->cmd))
            return;
        c->exec_next++;
        char **saved_argv = c->argv;
        size_t *saved_len = c->argvlen;
        int saved_argc = c->argc;
        c->argv = m->argv;
        c->argvlen = m->argvlen;
        c->argc = m->argc;
        c->flags |= CLIENT_IN_EXEC;
        call(c, m->cmd);
        c->flags &= ~CLIENT_IN_EXEC;
        c->argv = saved_argv;
        c->argvlen = saved_len;
        c->argc = saved_argc;
        if (c->flags & (CLIENT_CLOSE_ASAP | CLIENT_CLOSE_AFTER_REPLY))
            break;
    }
    free_queue(c);
    c->exec_next = -1;
    exec_barrier_check(c);
}

static void cmd_multi(client *c)
{
    if (c->flags & CLIENT_MULTI) {
        reply_error(c, "MULTI calls can not be nested");
        return;
    }
    c->flags |= CLIENT_MULTI;
    reply_ok(c);
}

static void cmd_exec(client *c)
{
    if (!(c->flags & CLIENT_MULTI)) {
        reply_error(c, "EXEC without MULTI");
        return;
    }
    if (c->flags & CLIENT_DIRTY_EXEC) {
        reply_error(c, "-EXECABORT Transaction discarded because of previous errors.");
        multi_discard(c);
        return;
    }
    c->flags &= ~CLIENT_MULTI;
    reply_array(c, c->mq_len);
    c->exec_next = 0;
    exec_barrier_raise(c);
    exec_continue(c);
    exec_barrier_check(c); /* lifts at once if nothing had to wait */
}

static void cmd_discard(client *c)
{
    if (!(c->flags & CLIENT_MULTI)) {
        reply_error(c, "DISCARD without MULTI");
        return;
    }
    multi_discard(c);
    reply_ok(c);
}

#define TX "transactions"
#define TXF (CMD_FAST | CMD_LOADING | CMD_STALE | CMD_MULTI_NOW)

const cmd_def multi_commands[] = {
    {"multi", cmd_multi, 1, TXF, 0, 0, 0, TX, "1.2.0", "Starts a transaction.", "O(1)", NULL},
    {"exec", cmd_exec, 1, CMD_LOADING | CMD_STALE | CMD_MULTI_NOW, 0, 0, 0, TX, "1.2.0",
     "Executes all commands in a transaction.", "Depends on commands in the transaction", NULL},
    {"discard", cmd_discard, 1, TXF, 0, 0, 0, TX, "2.0.0", "Discards a transaction.",
     "O(N), when N is the number of queued commands", NULL},
    CMD_END,
};
