/*
 * cmd_table.c — the command table: every family's cmd_def array is listed
 * in families[] below and turned into run-time `command`s (with their
 * statistics) in one dict keyed by lowercase name. Containers (CLIENT,
 * CONFIG, COMMAND, PUBSUB, XINFO, XGROUP...) hold their subcommands in a
 * dict of their own; their full names are "parent|sub" as in Redis 7.
 *
 * ADDING A FAMILY: write cmd_<family>.c exporting
 *     const cmd_def <family>_commands[] = { {...}, ..., CMD_END };
 * declare it in server.h and add it to families[]. The stream and
 * consumer-group commands (XADD ... XAUTOCLAIM) register here through
 * stream_commands[] (cmd_stream.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server.h"

static const cmd_def *const families[] = {
    conn_commands, admin_commands, keys_commands, pubsub_commands, multi_commands,
    stream_commands, /* <- the stream / consumer-group commands (cmd_stream.c) */
    group_commands,  /* <- the consumer-group commands and XINFO (cmd_group.c) */
    es_commands,     /* the event store commands and TRACE (cmd_es.c) */
    queue_commands,  /* QUEUE.POLICY, QUEUE.REPLAY (cmd_queue.c) */
    projection_commands, /* PROJECTION.* (cmd_projection.c) */
    saga_commands,   /* SAGA.* (cmd_saga.c) */
};

static command *make_command(const cmd_def *d, command *parent)
{
    command *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->def = d;
    c->parent = parent;
    if (parent)
        snprintf(c->fullname, sizeof(c->fullname), "%s|%s", parent->def->name, d->name);
    else
        snprintf(c->fullname, sizeof(c->fullname), "%s", d->name);
    if (d->subcommands) {
        size_t n = 0;
        while (d->subcommands[n].name)
            n++;
        c->subs = calloc(n ? n : 1, sizeof(*c->subs));
        c->subdict = dict_create();
        if (!c->subs || !c->subdict)
            return NULL;
        for (size_t i = 0; i < n; i++) {
            command *s = make_command(&d->subcommands[i], c);
            if (!s || !dict_add(c->subdict, s->def->name, strlen(s->def->name), s))
                return NULL;
            c->subs[c->nsubs++] = s;
        }
    }
    return c;
}

static void free_command(command *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->nsubs; i++)
        free_command(c->subs[i]);
    free(c->subs);
    dict_free(c->subdict, NULL);
    free(c);
}

int cmd_table_init(void)
{
    size_t total = 0;
    for (size_t f = 0; f < sizeof(families) / sizeof(families[0]); f++)
        for (const cmd_def *d = families[f]; d->name; d++)
            total++;
    server.commands = dict_create();
    server.cmdlist = calloc(total ? total : 1, sizeof(command *));
    if (!server.commands || !server.cmdlist)
        return -1;
    for (size_t f = 0; f < sizeof(families) / sizeof(families[0]); f++) {
        for (const cmd_def *d = families[f]; d->name; d++) {
            if (dict_find(server.commands, d->name, strlen(d->name))) {
                server_log(LL_WARNING, "Command '%s' registered twice", d->name);
                return -1;
            }
            command *c = make_command(d, NULL);
            if (!c || !dict_add(server.commands, d->name, strlen(d->name), c))
                return -1;
            server.cmdlist[server.ncmds++] = c;
        }
    }
    return 0;
}

void cmd_table_free(void)
{
    for (size_t i = 0; i < server.ncmds; i++)
        free_command(server.cmdlist[i]);
    free(server.cmdlist);
    server.cmdlist = NULL;
    server.ncmds = 0;
    dict_free(server.commands, NULL);
    server.commands = NULL;
}

static command *lookup_in(dict *d, const char *name, size_t len)
{
    char low[64];
    if (len == 0 || len >= sizeof(low))
        return NULL;
    for (size_t i = 0; i < len; i++) {
        char ch = name[i];
        low[i] = (char)(ch >= 'A' && ch <= 'Z' ? ch + 32 : ch);
    }
    dict_entry *e = dict_find(d, low, len);
    return e ? e->val : NULL;
}

command *cmd_lookup(const char *name, size_t len) { return lookup_in(server.commands, name, len); }

command *cmd_lookup_sub(command *parent, const char *name, size_t len)
{
    return parent->subdict ? lookup_in(parent->subdict, name, len) : NULL;
}
