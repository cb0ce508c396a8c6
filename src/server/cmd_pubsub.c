/*
 * cmd_pubsub.c — ephemeral publish/subscribe: SUBSCRIBE UNSUBSCRIBE
 * PSUBSCRIBE PUNSUBSCRIBE PUBLISH PUBSUB.
 *
 * State: server.channels maps a channel to the list of its subscribers,
 * server.patterns a pattern to its subscribers; each client also keeps
 * the set of its channels and patterns (for UNSUBSCRIBE without arguments
 * and for cleanup on disconnect). Invariant: client X is in the list of
 * channel C iff C is in X's set (same for patterns), and a list is removed
 * from the server dict when it becomes empty.
 *
 * Delivery: PUBLISH encodes the message once per protocol (RESP2 arrays,
 * RESP3 pushes) and appends the same bytes to every receiver's output;
 * the receivers' output-buffer limit (pubsub class: 32mb hard, 8mb for
 * 60 s soft by default) disconnects a subscriber that does not read
 * rather than letting it grow the server's memory.
 *
 * RESP2 subscribed mode (only (P)SUBSCRIBE, (P)UNSUBSCRIBE, PING, QUIT,
 * RESET) is enforced in process_command via CMD_SUBSCRIBED_OK.
 *
 * Event notifications (notify.c) are published on channels under
 * NOTIFY_PREFIX ("__mnemo__:"). This file counts the channels and patterns
 * that could receive one (notify_subs), so that notify.c does no work at
 * all while the count is 0, and tells notify.c when it leaves 0. Clients
 * may not PUBLISH under the prefix: a notification is the server's word
 * that an event is durable at a position.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "glob.h"
#include "server.h"

typedef struct sublist {
    client **v;    /* subscribers, in subscription order */
    size_t n;      /* how many */
    size_t cap;    /* capacity of v */
} sublist;

/* Channels and patterns (server-wide, distinct names) that may receive an
 * event notification. */
static size_t notify_subs;

size_t pubsub_count(const client *c) { return dict_size(c->channels) + dict_size(c->patterns); }
int pubsub_notify_wanted(void) { return notify_subs > 0; }
size_t pubsub_nchannels(void) { return dict_size(server.channels); }
size_t pubsub_npatterns(void) { return dict_size(server.patterns); }

static void update_flag(client *c)
{
    if (pubsub_count(c) > 0)
        c->flags |= CLIENT_PUBSUB;
    else
        c->flags &= ~CLIENT_PUBSUB;
}

static int has_notify_prefix(const char *s, size_t len)
{
    return len >= NOTIFY_PREFIX_LEN && memcmp(s, NOTIFY_PREFIX, NOTIFY_PREFIX_LEN) == 0;
}

/* 1 if channel (or pattern) name may receive event notifications. For a
 * pattern this over-approximates on purpose: its literal head (up to the
 * first glob character) must agree with the prefix as far as both go, so
 * "*" and "__mnemo__:order-*" count and "order-*" does not. Counting a
 * pattern that never matches only costs work, never a lost message. */
static int notify_relevant(dict *d, const char *name, size_t len)
{
    if (d == server.channels)
        return has_notify_prefix(name, len);
    size_t lit = 0;
    while (lit < len && !memchr("*?[\\", name[lit], 4))
        lit++;
    size_t n = lit < NOTIFY_PREFIX_LEN ? lit : NOTIFY_PREFIX_LEN;
    return memcmp(name, NOTIFY_PREFIX, n) == 0;
}

/* Adds c to the server list for name. 0 or -1 (OOM). */
static int list_add(dict *d, const char *name, size_t len, client *c)
{
    dict_entry *e = dict_find(d, name, len);
    sublist *l;
    if (!e) {
        l = calloc(1, sizeof(*l));
        if (!l)
            return -1;
        if (!dict_add(d, name, len, l)) {
            free(l);
            return -1;
        }
        if (notify_relevant(d, name, len) && notify_subs++ == 0)
            notify_start(); /* from now on, every event is notified */
    } else {
        l = e->val;
    }
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 4;
        client **v = realloc(l->v, sizeof(*v) * cap);
        if (!v)
            return -1;
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = c;
    return 0;
}

static void list_remove(dict *d, const char *name, size_t len, client *c)
{
    dict_entry *e = dict_find(d, name, len);
    if (!e)
        return;
    sublist *l = e->val;
    for (size_t i = 0; i < l->n; i++) {
        if (l->v[i] == c) {
            memmove(l->v + i, l->v + i + 1, (l->n - i - 1) * sizeof(*l->v));
            l->n--;
            break;
        }
    }
    if (l->n == 0) {
        if (notify_relevant(d, name, len))
            notify_subs--;
        dict_delete(d, name, len, NULL);
        free(l->v);
        free(l);
    }
}

/* Writes [kind, name, count] (a push in RESP3). name NULL: null. */
static void reply_sub(client *c, const char *kind, const char *name, size_t len)
{
    reply_push(c, 3);
    reply_bulk_cstr(c, kind);
    if (name)
        reply_bulk(c, name, len);
    else
        reply_null(c);
    reply_long(c, (long long)pubsub_count(c));
}

static int subscribe(client *c, int pattern, const char *name, size_t len)
{
    dict **mine = pattern ? &c->patterns : &c->channels;
    if (!*mine && !(*mine = dict_create()))
        return -1;
    if (!dict_find(*mine, name, len)) {
        if (!dict_add(*mine, name, len, NULL))
            return -1;
        if (list_add(pattern ? server.patterns : server.channels, name, len, c) < 0) {
            dict_delete(*mine, name, len, NULL);
            return -1;
        }
    }
    update_flag(c);
    return 0;
}

static void unsubscribe(client *c, int pattern, const char *name, size_t len, int notify)
{
    dict *mine = pattern ? c->patterns : c->channels;
    if (mine && dict_delete(mine, name, len, NULL))
        list_remove(pattern ? server.patterns : server.channels, name, len, c);
    update_flag(c);
    if (notify)
        reply_sub(c, pattern ? "punsubscribe" : "unsubscribe", name, len);
}

/* Unsubscribes c from every channel (or pattern); with notify, one reply
 * per name, or one with a null name when there was none. */
static void unsubscribe_all_of(client *c, int pattern, int notify)
{
    dict *mine = pattern ? c->patterns : c->channels;
    size_t n = dict_size(mine);
    if (n == 0) {
        if (notify)
            reply_sub(c, pattern ? "punsubscribe" : "unsubscribe", NULL, 0);
        return;
    }
    /* collect first: unsubscribe() deletes from the dict being walked */
    char **names = malloc(n * sizeof(*names));
    size_t *lens = malloc(n * sizeof(*lens));
    size_t k = 0;
    if (names && lens) {
        dict_iter it;
        dict_iter_init(&it);
        dict_entry *e;
        while ((e = dict_next(mine, &it)) && k < n) {
            names[k] = malloc(e->klen + 1);
            if (!names[k])
                break;
            memcpy(names[k], e->key, e->klen + 1);
            lens[k++] = e->klen;
        }
    }
    for (size_t i = 0; i < k; i++) {
        unsubscribe(c, pattern, names[i], lens[i], notify);
        free(names[i]);
    }
    free(names);
    free(lens);
    if (k < n) { /* OOM while collecting: drop the rest without replies */
        dict_iter it;
        dict_iter_init(&it);
        dict_entry *e;
        while ((e = dict_next(mine, &it))) {
            list_remove(pattern ? server.patterns : server.channels, e->key, e->klen, c);
            dict_delete(mine, e->key, e->klen, NULL);
        }
        update_flag(c);
    }
}

void pubsub_unsubscribe_all(client *c, int notify)
{
    if (dict_size(c->channels))
        unsubscribe_all_of(c, 0, notify);
    if (dict_size(c->patterns))
        unsubscribe_all_of(c, 1, notify);
    c->flags &= ~CLIENT_PUBSUB;
}

static void cmd_subscribe(client *c)
{
    for (int i = 1; i < c->argc; i++) {
        if (subscribe(c, 0, c->argv[i], c->argvlen[i]) < 0) {
            reply_error(c, "-OOM out of memory");
            return;
        }
        reply_sub(c, "subscribe", c->argv[i], c->argvlen[i]);
    }
}

static void cmd_psubscribe(client *c)
{
    for (int i = 1; i < c->argc; i++) {
        if (subscribe(c, 1, c->argv[i], c->argvlen[i]) < 0) {
            reply_error(c, "-OOM out of memory");
            return;
        }
        reply_sub(c, "psubscribe", c->argv[i], c->argvlen[i]);
    }
}

static void cmd_unsubscribe(client *c)
{
    if (c->argc == 1) {
        unsubscribe_all_of(c, 0, 1);
        return;
    }
    for (int i = 1; i < c->argc; i++)
        unsubscribe(c, 0, c->argv[i], c->argvlen[i], 1);
}

static void cmd_punsubscribe(client *c)
{
    if (c->argc == 1) {
        unsubscribe_all_of(c, 1, 1);
        return;
    }
    for (int i = 1; i < c->argc; i++)
        unsubscribe(c, 1, c->argv[i], c->argvlen[i], 1);
}

/* A message encoded for both protocols, built lazily. */
typedef struct encoded {
    char *p[2];     /* [0] RESP2, [1] RESP3 */
    size_t n[2];    /* lengths */
} encoded;

static void append_bulk(char **w, const char *s, size_t n)
{
    *w += sprintf(*w, "$%zu\r\n", n);
    memcpy(*w, s, n);
    *w += n;
    memcpy(*w, "\r\n", 2);
    *w += 2;
}

static int encode(encoded *e, int v3, const char *pat, size_t patlen, const char *ch, size_t chlen,
                  const char *msg, size_t msglen)
{
    int i = v3 ? 1 : 0;
    if (e->p[i])
        return 0;
    char *buf = malloc(patlen + chlen + msglen + 128);
    if (!buf)
        return -1;
    char *w = buf;
    if (pat) {
        w += sprintf(w, "%c4\r\n", v3 ? '>' : '*');
        append_bulk(&w, "pmessage", 8);
        append_bulk(&w, pat, patlen);
    } else {
        w += sprintf(w, "%c3\r\n", v3 ? '>' : '*');
        append_bulk(&w, "message", 7);
    }
    append_bulk(&w, ch, chlen);
    append_bulk(&w, msg, msglen);
    e->p[i] = buf;
    e->n[i] = (size_t)(w - buf);
    return 0;
}

static void deliver(client *to, encoded *e, const char *pat, size_t patlen, const char *ch,
                    size_t chlen, const char *msg, size_t msglen)
{
    int v3 = to->resp >= 3;
    if (encode(e, v3, pat, patlen, ch, chlen, msg, msglen) < 0)
        return;
    /* pushes always go to the subscriber's own output, not a deferred slot */
    ochain *saved = to->target;
    client_reset_target(to);
    reply_raw(to, e->p[v3], e->n[v3]);
    to->target = saved;
}

long long pubsub_publish(const char *ch, size_t chlen, const char *msg, size_t msglen)
{
    long long receivers = 0;
    encoded e = {{NULL, NULL}, {0, 0}};
    dict_entry *de = dict_find(server.channels, ch, chlen);
    if (de) {
        sublist *l = de->val;
        for (size_t i = 0; i < l->n; i++) {
            deliver(l->v[i], &e, NULL, 0, ch, chlen, msg, msglen);
            receivers++;
        }
    }
    if (dict_size(server.patterns)) {
        dict_iter it;
        dict_iter_init(&it);
        dict_entry *pe;
        while ((pe = dict_next(server.patterns, &it))) {
            if (!glob_match(pe->key, pe->klen, ch, chlen, 0))
                continue;
            encoded pm = {{NULL, NULL}, {0, 0}};
            sublist *l = pe->val;
            for (size_t i = 0; i < l->n; i++) {
                deliver(l->v[i], &pm, pe->key, pe->klen, ch, chlen, msg, msglen);
                receivers++;
            }
            free(pm.p[0]);
            free(pm.p[1]);
        }
    }
    free(e.p[0]);
    free(e.p[1]);
    return receivers;
}

static void cmd_publish(client *c)
{
    if (has_notify_prefix(c->argv[1], c->argvlen[1])) {
        reply_error(c, "-ERR channels starting with '" NOTIFY_PREFIX "' are reserved for "
                       "event notifications");
        return;
    }
    reply_long(c, pubsub_publish(c->argv[1], c->argvlen[1], c->argv[2], c->argvlen[2]));
}

static void cmd_pubsub_channels(client *c)
{
    if (c->argc > 3) {
        reply_error_arity(c);
        return;
    }
    void *h = reply_deferred_len(c);
    long n = 0;
    dict_iter it;
    dict_iter_init(&it);
    dict_entry *e;
    while ((e = dict_next(server.channels, &it))) {
        if (c->argc == 3 && !glob_match(c->argv[2], c->argvlen[2], e->key, e->klen, 0))
            continue;
        reply_bulk(c, e->key, e->klen);
        n++;
    }
    reply_set_array_len(c, h, n);
}

static void cmd_pubsub_numsub(client *c)
{
    reply_array(c, (long)(c->argc - 2) * 2);
    for (int i = 2; i < c->argc; i++) {
        dict_entry *e = dict_find(server.channels, c->argv[i], c->argvlen[i]);
        reply_bulk(c, c->argv[i], c->argvlen[i]);
        reply_long(c, e ? (long long)((sublist *)e->val)->n : 0);
    }
}

static void cmd_pubsub_numpat(client *c) { reply_long(c, (long long)dict_size(server.patterns)); }

static void cmd_pubsub_help(client *c)
{
    static const char *lines[] = {
        "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CHANNELS [<pattern>]",
        "    Return the currently active channels matching a <pattern> (default: '*').",
        "NUMPAT",
        "    Return number of subscriptions to patterns.",
        "NUMSUB [<channel> ...]",
        "    Return the number of subscribers for the specified channels, excluding",
        "    pattern subscriptions(default: no channels).",
        "HELP",
        "    Print this help.",
    };
    size_t n = sizeof(lines) / sizeof(lines[0]);
    reply_array(c, (long)n);
    for (size_t i = 0; i < n; i++)
        reply_simple(c, lines[i]);
}

#define PS "pubsub"
#define SUBF (CMD_PUBSUB | CMD_SUBSCRIBED_OK | CMD_LOADING | CMD_STALE)

static const cmd_def pubsub_subcommands[] = {
    {"channels", cmd_pubsub_channels, -2, CMD_PUBSUB | CMD_LOADING | CMD_STALE, 0, 0, 0, PS,
     "2.8.0", "Returns the active channels.", "O(N) where N is the number of active channels", NULL},
    {"numsub", cmd_pubsub_numsub, -2, CMD_PUBSUB | CMD_LOADING | CMD_STALE, 0, 0, 0, PS, "2.8.0",
     "Returns a count of subscribers to channels.", "O(N) for the NUMSUB subcommand", NULL},
    {"numpat", cmd_pubsub_numpat, 2, CMD_PUBSUB | CMD_LOADING | CMD_STALE, 0, 0, 0, PS, "2.8.0",
     "Returns a count of unique pattern subscriptions.", "O(1)", NULL},
    {"help", cmd_pubsub_help, 2, CMD_LOADING | CMD_STALE, 0, 0, 0, PS, "6.2.0",
     "Returns helpful text about the different subcommands.", "O(1)", NULL},
    CMD_END,
};

const cmd_def pubsub_commands[] = {
    {"subscribe", cmd_subscribe, -2, SUBF, 0, 0, 0, PS, "2.0.0",
     "Listens for messages published to channels.", "O(N) where N is the number of channels to subscribe to.", NULL},
    {"unsubscribe", cmd_unsubscribe, -1, SUBF, 0, 0, 0, PS, "2.0.0",
     "Stops listening to messages posted to channels.", "O(N) where N is the number of channels to unsubscribe.", NULL},
    {"psubscribe", cmd_psubscribe, -2, SUBF, 0, 0, 0, PS, "2.0.0",
     "Listens for messages published to channels that match one or more patterns.", "O(N) where N is the number of patterns to subscribe to.", NULL},
    {"punsubscribe", cmd_punsubscribe, -1, SUBF, 0, 0, 0, PS, "2.0.0",
     "Stops listening to messages published to channels that match one or more patterns.", "O(N) where N is the number of patterns to unsubscribe.", NULL},
    {"publish", cmd_publish, 3, CMD_PUBSUB | CMD_LOADING | CMD_STALE | CMD_FAST, 0, 0, 0, PS,
     "2.0.0", "Posts a message to a channel.", "O(N+M) where N is the number of clients subscribed to the receiving channel and M is the total number of subscribed patterns (by any client).", NULL},
    {"pubsub", NULL, -2, 0, 0, 0, 0, PS, "2.8.0", "A container for Pub/Sub commands.",
     "Depends on subcommand.", pubsub_subcommands},
    CMD_END,
};
