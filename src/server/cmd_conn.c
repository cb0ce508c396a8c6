/*
 * cmd_conn.c — connection commands: PING ECHO HELLO AUTH SELECT QUIT
 * RESET CLIENT. Replies and error texts are Redis 7's.
 *
 * Authentication: there is one user, "default". Without requirepass it
 * has no password (every client is authenticated at connect, and like
 * Redis's nopass user it accepts any password given with the user name);
 * with requirepass a client must AUTH (or HELLO ... AUTH default pass)
 * before anything but AUTH, HELLO, QUIT and RESET. Passwords are compared
 * in constant time.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "server.h"

int auth_check_password(const char *pass, size_t len)
{
    const char *want = server.cfg.requirepass;
    size_t wl = strlen(want);
    unsigned char diff = (unsigned char)(wl != len);
    for (size_t i = 0; i < len; i++)
        diff |= (unsigned char)(pass[i] ^ want[wl ? i % wl : 0]);
    return diff == 0;
}

/* 1 if user/pass authenticate the default user. */
static int authenticate(const char *user, const char *pass, size_t passlen)
{
    if (strcmp(user, "default") != 0)
        return 0;
    if (server.cfg.requirepass[0] == '\0')
        return 1;
    return auth_check_password(pass, passlen);
}

static void cmd_ping(client *c)
{
    if (c->argc > 2) {
        reply_error_arity(c);
        return;
    }
    if (c->resp == 2 && (c->flags & CLIENT_PUBSUB)) {
        reply_array(c, 2);
        reply_bulk(c, "pong", 4);
        if (c->argc == 1)
            reply_bulk(c, "", 0);
        else
            reply_bulk(c, c->argv[1], c->argvlen[1]);
        return;
    }
    if (c->argc == 1)
        reply_simple(c, "PONG");
    else
        reply_bulk(c, c->argv[1], c->argvlen[1]);
}

static void cmd_echo(client *c) { reply_bulk(c, c->argv[1], c->argvlen[1]); }

static void cmd_quit(client *c)
{
    reply_ok(c);
    c->flags |= CLIENT_CLOSE_AFTER_REPLY;
    client_output_added(c);
}

static void cmd_auth(client *c)
{
    if (c->argc > 3) {
        reply_error_syntax(c);
        return;
    }
    const char *user = "default";
    int pi = 1;
    if (c->argc == 2) {
        if (server.cfg.requirepass[0] == '\0') {
            reply_error(c, "AUTH <password> called without any password configured for the "
                           "default user. Are you sure your configuration is correct?");
            return;
        }
    } else {
        user = c->argv[1];
        pi = 2;
    }
    if (authenticate(user, c->argv[pi], c->argvlen[pi])) {
        c->flags |= CLIENT_AUTHED;
        reply_ok(c);
    } else {
        server_log(LL_VERBOSE, "Failed AUTH from %s", c->addr);
        reply_error(c, "-WRONGPASS invalid username-password pair or user is disabled.");
    }
}

/* Client names (and SETINFO values) are printable ASCII without spaces. */
static int valid_name(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < '!' || s[i] > '~')
            return 0;
    return 1;
}

static int set_name(client *c, const char *s, size_t n)
{
    if (!valid_name(s, n)) {
        reply_error(c, "Client names cannot contain spaces, newlines or special characters.");
        return -1;
    }
    free(c->name);
    c->name = n ? strndup(s, n) : NULL;
    return 0;
}

static void cmd_hello(client *c)
{
    long long ver = 0;
    if (c->argc >= 2) {
        if (!resp_str2ll(c->argv[1], c->argvlen[1], &ver)) {
            reply_error(c, "Protocol version is not an integer or out of range");
            return;
        }
        if (ver < 2 || ver > 3) {
            reply_error(c, "-NOPROTO unsupported protocol version");
            return;
        }
    }
    int ui = -1, ni = -1;
    for (int j = 2; j < c->argc; j++) {
        int more = c->argc - 1 - j;
        if (!strcasecmp(c->argv[j], "AUTH") && more >= 2) {
            ui = j + 1;
            j += 2;
        } else if (!strcasecmp(c->argv[j], "SETNAME") && more >= 1) {
            ni = j + 1;
            j++;
        } else {
            reply_errorf(c, "Syntax error in HELLO option '%s'", c->argv[j]);
            return;
        }
    }
    if (ui > 0) {
        if (!authenticate(c->argv[ui], c->argv[ui + 1], c->argvlen[ui + 1])) {
            reply_error(c, "-WRONGPASS invalid username-password pair or user is disabled.");
            return;
        }
        c->flags |= CLIENT_AUTHED;
    }
    if (!(c->flags & CLIENT_AUTHED) && server.cfg.requirepass[0]) {
        reply_error(c, "-NOAUTH HELLO must be called with the client already authenticated, "
                       "otherwise the HELLO AUTH <user> <pass> option can be used to authenticate "
                       "the client and select the RESP protocol version at the same time");
        return;
    }
    if (ni > 0 && set_name(c, c->argv[ni], c->argvlen[ni]) < 0)
        return;
    if (ver)
        client_set_resp(c, (int)ver);
    reply_map(c, 7);
    reply_bulk_cstr(c, "server");
    reply_bulk_cstr(c, MNEMOSYNE_SERVER_NAME);
    reply_bulk_cstr(c, "version");
    reply_bulk_cstr(c, MN_REDIS_COMPAT_VERSION);
    reply_bulk_cstr(c, "proto");
    reply_long(c, c->resp);
    reply_bulk_cstr(c, "id");
    reply_long(c, (long long)c->id);
    reply_bulk_cstr(c, "mode");
    reply_bulk_cstr(c, "standalone");
    reply_bulk_cstr(c, "role");
    reply_bulk_cstr(c, "master");
    reply_bulk_cstr(c, "modules");
    reply_array(c, 0);
}

static void cmd_select(client *c)
{
    long long id;
    if (!resp_str2ll(c->argv[1], c->argvlen[1], &id)) {
        reply_error_not_int(c);
        return;
    }
    if (id != 0) {
        reply_error(c, "DB index is out of range");
        return;
    }
    reply_ok(c);
}

static void cmd_reset(client *c)
{
    multi_discard(c);
    pubsub_unsubscribe_all(c, 0);
    c->flags &= ~(CLIENT_REPLY_OFF | CLIENT_REPLY_SKIP | CLIENT_REPLY_SKIP_NEXT);
    client_reset_target(c);
    client_set_resp(c, 2);
    free(c->name);
    c->name = NULL;
    if (server.cfg.requirepass[0])
        c->flags &= ~CLIENT_AUTHED;
    reply_simple(c, "RESET");
}

/* ---- CLIENT ---- */

static void cmd_client_id(client *c) { reply_long(c, (long long)c->id); }

static void cmd_client_setname(client *c)
{
    if (set_name(c, c->argv[2], c->argvlen[2]) == 0)
        reply_ok(c);
}

static void cmd_client_getname(client *c)
{
    if (c->name)
        reply_bulk_cstr(c, c->name);
    else
        reply_null(c);
}

static void cmd_client_info(client *c)
{
    char line[1024];
    client_info_line(c, line, sizeof(line));
    reply_verbatim(c, line, strlen(line), "txt");
}

static client *find_client(uint64_t id)
{
    for (clink *n = server.clients.next; n != &server.clients; n = n->next) {
        client *o = CLIST_ENTRY(n, client, all);
        if (o->id == id)
            return o;
    }
    return NULL;
}

static void cmd_client_list(client *c)
{
    int type = -1; /* -1 any, else OBL_* */
    int id_from = 0;
    if (c->argc == 4 && !strcasecmp(c->argv[2], "type")) {
        if (!strcasecmp(c->argv[3], "normal"))
            type = OBL_NORMAL;
        else if (!strcasecmp(c->argv[3], "pubsub"))
            type = OBL_PUBSUB;
        else if (!strcasecmp(c->argv[3], "replica") || !strcasecmp(c->argv[3], "slave") ||
                 !strcasecmp(c->argv[3], "master"))
            type = OBL_REPLICA;
        else {
            reply_errorf(c, "Unknown client type '%s'", c->argv[3]);
            return;
        }
    } else if (c->argc > 3 && !strcasecmp(c->argv[2], "id")) {
        id_from = 3;
        for (int i = 3; i < c->argc; i++) {
            long long v;
            if (!resp_str2ll(c->argv[i], c->argvlen[i], &v) || v <= 0) {
                reply_error(c, "Invalid client ID");
                return;
            }
        }
    } else if (c->argc != 2) {
        reply_error_syntax(c);
        return;
    }
    size_t cap = 4096, len = 0;
    char *out = malloc(cap);
    if (!out) {
        reply_error(c, "-OOM out of memory");
        return;
    }
    for (clink *n = server.clients.next; n != &server.clients; n = n->next) {
        client *o = CLIST_ENTRY(n, client, all);
        if (type >= 0 && client_obl_class(o) != type)
            continue;
        if (id_from) {
            int hit = 0;
            for (int i = id_from; i < c->argc; i++) {
                long long v = 0;
                resp_str2ll(c->argv[i], c->argvlen[i], &v);
                if ((uint64_t)v == o->id)
                    hit = 1;
            }
            if (!hit)
                continue;
        }
        char line[1024];
        client_info_line(o, line, sizeof(line));
        size_t l = strlen(line);
        if (len + l > cap) {
            while (len + l > cap)
                cap *= 2;
            char *p = realloc(out, cap);
            if (!p) {
                free(out);
                reply_error(c, "-OOM out of memory");
                return;
            }
            out = p;
        }
        memcpy(out + len, line, l);
        len += l;
    }
    reply_verbatim(c, out, len, "txt");
    free(out);
}

static void cmd_client_reply(client *c)
{
    if (!strcasecmp(c->argv[2], "on")) {
        c->flags &= ~(CLIENT_REPLY_OFF | CLIENT_REPLY_SKIP | CLIENT_REPLY_SKIP_NEXT);
        client_reset_target(c);
        reply_ok(c);
    } else if (!strcasecmp(c->argv[2], "off")) {
        c->flags |= CLIENT_REPLY_OFF;
        c->flags &= ~CLIENT_REPLY_SKIP_NEXT;
    } else if (!strcasecmp(c->argv[2], "skip")) {
        if (!(c->flags & CLIENT_REPLY_OFF))
            c->flags |= CLIENT_REPLY_SKIP_NEXT;
    } else {
        reply_error_syntax(c);
    }
}

static void cmd_client_setinfo(client *c)
{
    char **slot;
    if (!strcasecmp(c->argv[2], "lib-name"))
        slot = &c->lib_name;
    else if (!strcasecmp(c->argv[2], "lib-ver"))
        slot = &c->lib_ver;
    else {
        reply_errorf(c, "Unrecognized option '%s'", c->argv[2]);
        return;
    }
    if (!valid_name(c->argv[3], c->argvlen[3])) {
        reply_errorf(c, "%s cannot contain spaces, newlines or special characters.", c->argv[2]);
        return;
    }
    free(*slot);
    *slot = c->argvlen[3] ? strndup(c->argv[3], c->argvlen[3]) : NULL;
    reply_ok(c);
}

static void cmd_client_kill(client *c)
{
    /* CLIENT KILL addr (old form) or CLIENT KILL ID id / ADDR addr ... */
    long long killed = 0;
    if (c->argc == 3) {
        for (clink *n = server.clients.next; n != &server.clients; n = n->next) {
            client *o = CLIST_ENTRY(n, client, all);
            if (strcmp(o->addr, c->argv[2]) == 0) {
                client_close_asap(o);
                reply_ok(c);
                return;
            }
        }
        reply_error(c, "No such client");
        return;
    }
    if ((c->argc - 2) % 2 != 0) {
        reply_error_syntax(c);
        return;
    }
    uint64_t id = 0;
    const char *addr = NULL;
    for (int i = 2; i < c->argc; i += 2) {
        if (!strcasecmp(c->argv[i], "id")) {
            long long v;
            if (!resp_str2ll(c->argv[i + 1], c->argvlen[i + 1], &v) || v <= 0) {
                reply_error(c, "client-id should be greater than 0");
                return;
            }
            id = (uint64_t)v;
        } else if (!strcasecmp(c->argv[i], "addr")) {
            addr = c->argv[i + 1];
        } else if (!strcasecmp(c->argv[i], "skipme")) {
            /* accepted; a client never kills itself here unless it names itself */
        } else {
            reply_error_syntax(c);
            return;
        }
    }
    for (clink *n = server.clients.next; n != &server.clients; n = n->next) {
        client *o = CLIST_ENTRY(n, client, all);
        if ((id && o->id != id) || (addr && strcmp(o->addr, addr) != 0))
            continue;
        if (!id && !addr)
            continue;
        if (o == c) {
            c->flags |= CLIENT_CLOSE_AFTER_REPLY;
        } else {
            client_close_asap(o);
        }
        killed++;
    }
    reply_long(c, killed);
}

static void cmd_client_unblock(client *c)
{
    long long id;
    int err = 0;
    if (!resp_str2ll(c->argv[2], c->argvlen[2], &id)) {
        reply_error_not_int(c);
        return;
    }
    if (c->argc == 4) {
        if (!strcasecmp(c->argv[3], "error"))
            err = 1;
        else if (strcasecmp(c->argv[3], "timeout") != 0) {
            reply_error(c, "CLIENT UNBLOCK reason should be TIMEOUT or ERROR");
            return;
        }
    } else if (c->argc > 4) {
        reply_error_syntax(c);
        return;
    }
    client *o = find_client((uint64_t)id);
    if (!o || !o->blocked) {
        reply_long(c, 0);
        return;
    }
    client_reset_target(o);
    if (err) {
        command *saved = o->err_cmd;
        o->err_cmd = o->cmd;
        o->cmd_failed = 0;
        reply_error(o, "-UNBLOCKED client unblocked via CLIENT UNBLOCK");
        o->err_cmd = saved;
    } else if (o->block_timeout) {
        o->block_timeout(o, o->block_priv);
    } else {
        reply_null_array(o);
    }
    client_reset_target(c);
    client_unblock(o);
    reply_long(c, 1);
}

static void cmd_client_no_evict(client *c)
{
    if (strcasecmp(c->argv[2], "on") && strcasecmp(c->argv[2], "off")) {
        reply_error_syntax(c);
        return;
    }
    reply_ok(c);
}

static void cmd_client_help(client *c)
{
    static const char *lines[] = {
        "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "GETNAME", "    Return the name of the current connection.",
        "ID", "    Return the ID of the current connection.",
        "INFO", "    Return information about the current client connection.",
        "KILL <ip:port> | ID <client-id> | ADDR <ip:port>", "    Kill connections.",
        "LIST [TYPE (NORMAL|PUBSUB)] [ID <client-id> [...]]", "    Return information about client connections.",
        "REPLY (ON|OFF|SKIP)", "    Control the replies sent to the current connection.",
        "SETNAME <name>", "    Assign the name <name> to the current connection.",
        "SETINFO <LIB-NAME|LIB-VER> <value>", "    Set client library name or version.",
        "UNBLOCK <clientid> [TIMEOUT|ERROR]", "    Unblock the specified blocked client.",
        "HELP", "    Print this help.",
    };
    size_t n = sizeof(lines) / sizeof(lines[0]);
    reply_array(c, (long)n);
    for (size_t i = 0; i < n; i++)
        reply_simple(c, lines[i]);
}

#define CONN "connection"

static const cmd_def client_subcommands[] = {
    {"id", cmd_client_id, 2, CMD_LOADING | CMD_STALE, 0, 0, 0, CONN, "5.0.0",
     "Returns the unique client ID of the connection.", "O(1)", NULL},
    {"setname", cmd_client_setname, 3, CMD_LOADING | CMD_STALE, 0, 0, 0, CONN, "2.6.9",
     "Sets the connection name.", "O(1)", NULL},
    {"getname", cmd_client_getname, 2, CMD_LOADING | CMD_STALE, 0, 0, 0, CONN, "2.6.9",
     "Returns the name of the connection.", "O(1)", NULL},
    {"info", cmd_client_info, 2, CMD_LOADING | CMD_STALE, 0, 0, 0, CONN, "6.2.0",
     "Returns information about the connection.", "O(1)", NULL},
    {"list", cmd_client_list, -2, CMD_ADMIN | CMD_LOADING | CMD_STALE, 0, 0, 0, CONN, "2.4.0",
     "Lists open connections.", "O(N) where N is the number of client connections", NULL},
    {"reply", cmd_client_reply, 3, CMD_LOADING | CMD_STALE, 0, 0, 0, CONN, "3.2.0",
     "Instructs the server whether to reply to commands.", "O(1)", NULL},
    {"setinfo", cmd_client_setinfo, 4, CMD_LOADING | CMD_STALE, 0, 0, 0, CONN, "7.2.0",
     "Sets information specific to the client or connection.", "O(1)", NULL},
    {"kill", cmd_client_kill, -3, CMD_ADMIN | CMD_LOADING | CMD_STALE, 0, 0, 0, CONN, "2.4.0",
     "Terminates open connections.", "O(N) where N is the number of client connections", NULL},
    {"unblock", cmd_client_unblock, -3, CMD_ADMIN | CMD_LOADING | CMD_STALE, 0, 0, 0, CONN,
     "5.0.0", "Unblocks a client blocked by a blocking command from a different connection.",
     "O(log N) where N is the number of client connections", NULL},
    {"no-evict", cmd_client_no_evict, 3, CMD_ADMIN | CMD_LOADING | CMD_STALE, 0, 0, 0, CONN,
     "7.0.0", "Sets the client eviction mode of the connection (accepted; no eviction here).",
     "O(1)", NULL},
    {"help", cmd_client_help, 2, CMD_LOADING | CMD_STALE, 0, 0, 0, CONN, "5.0.0",
     "Returns helpful text about the different subcommands.", "O(1)", NULL},
    CMD_END,
};

const cmd_def conn_commands[] = {
    {"ping", cmd_ping, -1, CMD_FAST | CMD_SUBSCRIBED_OK, 0, 0, 0, CONN, "1.0.0",
     "Returns the server's liveliness response.", "O(1)", NULL},
    {"echo", cmd_echo, 2, CMD_FAST, 0, 0, 0, CONN, "1.0.0", "Returns the given string.", "O(1)",
     NULL},
    {"hello", cmd_hello, -1, CMD_FAST | CMD_NO_AUTH | CMD_LOADING | CMD_STALE, 0, 0, 0, CONN,
     "6.0.0", "Handshakes with the server.", "O(1)", NULL},
    {"auth", cmd_auth, -2, CMD_FAST | CMD_NO_AUTH | CMD_LOADING | CMD_STALE, 0, 0, 0, CONN,
     "1.0.0", "Authenticates the connection.", "O(N) where N is the number of passwords defined for the user", NULL},
    {"select", cmd_select, 2, CMD_FAST | CMD_LOADING | CMD_STALE, 0, 0, 0, CONN, "1.0.0",
     "Changes the selected database (only 0 exists).", "O(1)", NULL},
    {"quit", cmd_quit, -1, CMD_FAST | CMD_NO_AUTH | CMD_LOADING | CMD_STALE | CMD_MULTI_NOW |
     CMD_SUBSCRIBED_OK, 0, 0, 0, CONN, "1.0.0", "Closes the connection.", "O(1)", NULL},
    {"reset", cmd_reset, 1, CMD_FAST | CMD_NO_AUTH | CMD_LOADING | CMD_STALE | CMD_MULTI_NOW |
     CMD_SUBSCRIBED_OK, 0, 0, 0, CONN, "6.2.0", "Resets the connection.", "O(1)", NULL},
    {"client", NULL, -2, 0, 0, 0, 0, CONN, "2.4.0",
     "A container for client connection commands.", "Depends on subcommand.", client_subcommands},
    CMD_END,
};
