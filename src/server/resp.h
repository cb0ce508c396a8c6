/*
 * resp.h — the RESP2/RESP3 codec: the request parser and the reply writer.
 *
 * Parser. Incremental and zero-copy: resp_parse() is called with the bytes
 * of the query buffer from the start of the current command; it remembers
 * how far it got (resp_req) and resumes there when more bytes arrive. A
 * completed command's arguments are (offset, length) pairs into that same
 * buffer; each argument is followed by a NUL the parser writes over the
 * '\r' (multibulk) or the separator (inline), so arguments are also C
 * strings. Inline arguments are unquoted/unescaped in place (the output
 * never overtakes the input). Offsets, not pointers, because the buffer
 * may be reallocated while a command is incomplete.
 *
 * Writer. Replies are appended to an output chain (ochain) of blocks.
 * The reply_* functions write to the client's current reply target
 * (client->target): normally its own chain, the chain of a deferred reply
 * while that reply is produced, or nowhere (CLIENT REPLY OFF/SKIP). They
 * pick the RESP2 or RESP3 encoding from client->resp. Every function is
 * safe to call on a client that is being closed (the bytes are dropped).
 */
#ifndef MN_SERVER_RESP_H
#define MN_SERVER_RESP_H

#include <stddef.h>
#include <stdint.h>

/* ------------------------------------------------------------------ */
/* Parser                                                               */
/* ------------------------------------------------------------------ */

#define RESP_INLINE_MAX (64 * 1024)      /* longest inline line / header */
#define RESP_MAX_MULTIBULK (1024 * 1024) /* most arguments in one command */
#define RESP_UNAUTH_MAX_ARGS 10          /* before AUTH, as Redis 7 */
#define RESP_UNAUTH_MAX_BULK 16384       /* before AUTH, as Redis 7 */

enum { RESP_INCOMPLETE = 0, RESP_COMPLETE = 1, RESP_ERROR = -1 };
enum { RESP_KIND_NONE = 0, RESP_KIND_MULTIBULK = 1, RESP_KIND_INLINE = 2 };

typedef struct resp_req {
    int kind;             /* RESP_KIND_*: what the current command is */
    int header_done;      /* multibulk: the *N line was read */
    long long mbulk_left; /* multibulk: arguments still to read */
    long long bulklen;    /* multibulk: length of the next argument, -1 before its $ line */
    size_t pos;           /* where parsing resumes, relative to the command start */
    int argc;             /* arguments completed so far */
    int cap;              /* capacity of off[] and len[] */
    size_t *off;          /* argument offsets, relative to the command start */
    size_t *len;          /* argument lengths */
    char err[96];         /* the protocol error text when RESP_ERROR */
} resp_req;

/* Limits for one parse call. */
typedef struct resp_limits {
    long long max_bulk;   /* proto-max-bulk-len */
    int authed;           /* 0: the tighter unauthenticated limits apply */
} resp_limits;

void resp_req_init(resp_req *r);
/* Forgets the current command (keeps the arrays for the next one). */
void resp_req_reset(resp_req *r);
void resp_req_free(resp_req *r);

/* Parses from buf (len bytes: the current command starts at buf[0]).
 * RESP_COMPLETE: r->argc args are ready and the command is r->pos bytes
 * long (argc may be 0: an empty line or *0, to be skipped).
 * RESP_INCOMPLETE: call again with more bytes (same buf start).
 * RESP_ERROR: r->err holds the text to reply ("Protocol error: ..."); the
 * connection must be closed after replying. */
int resp_parse(resp_req *r, char *buf, size_t len, const resp_limits *lim);

/* Strict decimal parsing as Redis's string2ll: optional '-', no '+', no
 * leading zeros, no spaces, no overflow. 1 on success. */
int resp_str2ll(const char *s, size_t len, long long *out);

/* ------------------------------------------------------------------ */
/* Output chain                                                         */
/* ------------------------------------------------------------------ */

struct deferred;

enum { OBLOCK_DATA = 0, OBLOCK_SLOT = 1, OBLOCK_LEN = 2 };

typedef struct oblock {
    struct oblock *next;   /* next block in the chain */
    int kind;              /* OBLOCK_DATA; OBLOCK_SLOT: placeholder of a deferred
                              reply (no bytes until it completes); OBLOCK_LEN: a
                              deferred aggregate length (filled before the loop
                              writes; never appended to) */
    struct deferred *slot; /* for OBLOCK_SLOT: the deferred reply */
    size_t size;           /* capacity of data[] */
    size_t used;           /* bytes written into data[] */
    size_t sent;           /* bytes of data[] already written to the socket */
    char data[];           /* the bytes */
} oblock;

typedef struct ochain {
    oblock *head;          /* first block (next to send) */
    oblock *tail;          /* last block (appends go here) */
    size_t bytes;          /* bytes appended and not yet sent */
} ochain;

void ochain_append(ochain *ch, const void *p, size_t n);
void ochain_free(ochain *ch);
/* Appends an empty slot block for a deferred reply. NULL on OOM. */
oblock *ochain_add_slot(ochain *ch, struct deferred *d);

/* ------------------------------------------------------------------ */
/* Replies (to client->target, in client->resp)                         */
/* ------------------------------------------------------------------ */

struct client;

void reply_raw(struct client *c, const void *p, size_t n);      /* pre-encoded */
void reply_simple(struct client *c, const char *s);              /* +s */
void reply_ok(struct client *c);                                 /* +OK */
/* An error line. As in Redis: msg "syntax error" is sent as "-ERR syntax
 * error"; a msg starting with '-' carries its own code word
 * ("-WRONGPASS invalid ..."). CR/LF in msg become spaces. Counted in INFO
 * errorstats and as a failed call of the running command. */
void reply_error(struct client *c, const char *msg);
void reply_errorf(struct client *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void reply_error_syntax(struct client *c);                       /* ERR syntax error */
void reply_error_arity(struct client *c);                        /* wrong number of arguments */
void reply_error_not_int(struct client *c);                      /* value is not an integer ... */
void reply_long(struct client *c, long long v);                  /* :v */
void reply_bulk(struct client *c, const void *p, size_t n);      /* $n */
void reply_bulk_cstr(struct client *c, const char *s);           /* NULL: null */
void reply_bulk_long(struct client *c, long long v);             /* v as a bulk string */
void reply_null(struct client *c);                               /* $-1 / _ */
void reply_null_array(struct client *c);                         /* *-1 / _ */
void reply_array(struct client *c, long n);                      /* *n */
void reply_map(struct client *c, long pairs);                    /* %n / *2n */
void reply_set(struct client *c, long n);                        /* ~n / *n */
void reply_push(struct client *c, long n);                       /* >n / *n */
void reply_double(struct client *c, double d);                   /* ,d / bulk */
void reply_bool(struct client *c, int b);                        /* #t / :1 */
/* =len\r\ntxt:... in RESP3 (ext is 3 chars, "txt" or "mkd"); bulk in RESP2. */
void reply_verbatim(struct client *c, const char *p, size_t n, const char *ext);
/* Aggregates whose length is known only after their elements: take a
 * handle first, write the elements, then set the length. The handle must
 * be filled before the command (or deferred reply) returns to the loop. */
void *reply_deferred_len(struct client *c);
void reply_set_array_len(struct client *c, void *h, long n);
void reply_set_map_len(struct client *c, void *h, long pairs);

/* Taking a reply back. A command's reply is built whole before the loop
 * writes any of it, so what was appended since a mark can be dropped:
 * client.c marks where each command's reply starts and, if the command
 * flagged a failure half-way (client_reply_failed: a damaged record in the
 * middle of XRANGE), replaces the half reply with the error. */
typedef struct reply_mark {
    ochain *ch;            /* the chain marked; NULL: nothing to take back */
    oblock *tail;          /* its tail then */
    size_t used;           /* the tail's used bytes then */
    size_t bytes;          /* the chain's byte count then */
} reply_mark;
void reply_mark_set(struct client *c, reply_mark *m);
void reply_rollback(struct client *c, const reply_mark *m);

#endif
