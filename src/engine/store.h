/*
 * store.h — the engine's private view of a store, shared by its files:
 * store.c (open/close/recovery), writer.c (the writer thread and group
 * commit), append.c (conditions and encoding), apply.c (records → index),
 * read.c (iterators), wait.c (blocking and notification).
 *
 * Ownership: the writer thread alone writes the log and the index; every
 * other thread only reads them (log mapping, LMDB read transactions).
 */
#ifndef MN_ENGINE_STORE_H
#define MN_ENGINE_STORE_H

#include <lmdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "mnemosyne.h"
#include "storage/index.h"
#include "storage/log.h"

/* A stream's state, the value in the `streams` database. */
typedef struct stream_state {
    uint64_t stream_id;   /* numeric id, assigned at creation, never reused */
    int64_t version;      /* last event's version, MN_NO_VERSION if none */
    uint64_t length;      /* events readable */
    uint64_t last_pos;    /* global position of the last event */
    uint64_t created_us;  /* timestamp of the first event */
    uint64_t last_ms;     /* top entry id (last generated) */
    uint64_t last_seq;
    uint32_t flags;       /* STREAM_TOMBSTONE */
    uint32_t zero;
    uint64_t entries_added; /* Redis entries-added: events ever appended (XSETID may raise it) */
    uint64_t max_del_ms;  /* Redis max-deleted-entry-id */
    uint64_t max_del_seq;
} stream_state;

/* A consumer group, the value in `groups` (key: be64 stream_id ‖ name). */
typedef struct group_state {
    uint64_t group_id;    /* numeric id, never reused: keys of consumers and pel */
    uint64_t last_ms;     /* last delivered id */
    uint64_t last_seq;
    int64_t entries_read; /* Redis entries-read; -1 unknown */
    uint64_t pending;     /* PEL size */
    uint64_t consumers;   /* consumer count */
    uint64_t created_ms;
} group_state;

/* A consumer, the value in `consumers` (key: be64 group_id ‖ name). */
typedef struct consumer_state {
    uint64_t pending;     /* its PEL entries */
    uint64_t seen_ms;     /* last interaction */
    uint64_t active_ms;   /* last delivery or claim; 0 never */
} consumer_state;

/* A PEL entry, the value in `pel` (key: be64 group_id ‖ be64 ms ‖ be64 seq),
 * followed by the consumer's name. */
typedef struct pel_entry {
    uint64_t delivered_ms; /* last delivery time */
    uint64_t deliveries;   /* delivery count */
} pel_entry;

#define STREAM_TOMBSTONE 0x1u

/* A queued request to the writer. */
enum { REQ_APPEND = 1, REQ_DELETE = 2, REQ_OP = 3 };

typedef struct request {
    struct request *next;   /* queue link */
    int kind;               /* REQ_* */
    mn_append_part *parts;  /* appends: the parts (store-owned copy for async) */
    size_t nparts;
    /* deletes */
    const char *stream;
    size_t stream_len;
    int64_t expected;
    int flags;
    /* other operations (REQ_OP) */
    mn_op *op;              /* the operation, in and out */
    void (*op_cb)(void *ud, mn_op_result *res); /* its callback (instead of cb) */
    /* completion */
    mn_append_cb cb;        /* called once, on the writer thread */
    void *ud;
    int rc;                 /* result */
    int idempotent;         /* 1 if nothing was written because it was a retry */
    int staged;             /* 1 if its records are in the current batch */
    int owned;              /* 1 if the store allocated it (freed after cb) */
    char errmsg[512];       /* detail when rc != MN_OK */
} request;

struct mn_store {
    char dir[4096];               /* the store directory */
    mn_options opts;              /* as opened, with defaults filled in */
    int lock_fd;                  /* DIR/LOCK, flock'ed */
    struct log *log;              /* the source of truth */
    index_env ix;                 /* the derived indexes */
    mn_recovery_report recovery;  /* what opening did */
    uint64_t events_total;        /* events appended (writer's; mirrored in meta) */
    uint64_t next_stream_id;      /* writer's; mirrored in meta */
    uint64_t next_group_id;       /* writer's; mirrored in meta */
    uint64_t last_sync_ms;        /* interval policy: when the log was last synced */
    uint64_t last_index_sync_ms;  /* when the index was last flushed */
    uint64_t released_index_bytes;/* index size at the last index_release_pages */
    /* the fsync policy in force (opts has the one opened with; mn_set_fsync
     * changes these from any thread, the writer reads them per batch) */
    _Atomic int fsync_policy;
    _Atomic uint32_t fsync_interval_ms;
    /* writer queue */
    pthread_mutex_t mu;           /* queue, closing, and the wait condition */
    pthread_cond_t wake_writer;   /* a request arrived, or closing */
    pthread_cond_t advanced;      /* visible end moved (mn_wait) */
    request *q_head, *q_tail;     /* FIFO of requests */
    int closing;                  /* no new requests; the writer drains and exits */
    pthread_t writer;             /* the writer thread */
    int writer_started;
    /* notification */
    void (*notify_fn)(void *ud, uint64_t end);
    void *notify_ud;
    _Atomic uint64_t live_streams; /* for info */
};

/* writer.c */
int writer_start(mn_store *s);
void writer_stop(mn_store *s);
/* Queues r (the writer owns it until its callback). */
int writer_submit(mn_store *s, request *r);

/* append.c: stages one request into the current batch (writer thread). */
int append_stage(mn_store *s, MDB_txn *txn, request *r);
int delete_stage(mn_store *s, MDB_txn *txn, request *r);
/* The entry id XADD '*' gives after top at now_ms; MN_EIDORDER when the
 * stream has used up the id space. */
int append_auto_id(mn_entry_id top, uint64_t now_ms, mn_entry_id *id);

/* apply.c: applies one whole group of records to the index. Used both by the
 * writer right after staging and by recovery, so that the index a store
 * builds while running is the one a rebuild produces. */
int apply_group(mn_store *s, MDB_txn *txn, const log_rec *recs, size_t n);

/* stream state lookups (apply.c) */
int stream_get(mn_store *s, MDB_txn *txn, const char *name, size_t len, stream_state *out);
int stream_put(mn_store *s, MDB_txn *txn, const char *name, size_t len, const stream_state *st);

/* ops.c / group.c: stage an operation (writer thread) and apply its records. */
int op_stage(mn_store *s, MDB_txn *txn, request *r);
int ops_apply(mn_store *s, MDB_txn *txn, const log_rec *r);
int group_apply(mn_store *s, MDB_txn *txn, const log_rec *r);
/* queue.c: a REC_QUEUE_POLICY record; a group's policy dropped with it. */
int queue_apply(mn_store *s, MDB_txn *txn, const log_rec *r);
int queue_drop(mn_store *s, MDB_txn *txn, uint64_t group_id);
/* How many groups a stream has. */
uint64_t group_count(mn_store *s, MDB_txn *txn, uint64_t stream_id);
/* Drops a stream's groups, consumers and PELs (stream deleted). */
int group_drop_all(mn_store *s, MDB_txn *txn, uint64_t stream_id);
/* The first existing version >= v of a stream, with its location. */
int stream_seek(mn_store *s, MDB_txn *txn, uint64_t stream_id, uint64_t v, uint64_t *found,
                event_loc *loc);
/* The first version whose entry id >= target; 0 if none. */
int stream_lower_bound(mn_store *s, MDB_txn *txn, const stream_state *st, mn_entry_id target,
                       uint64_t *version, event_loc *loc);

/* views.c: the virtual streams' index. */
int views_apply_event(mn_store *s, MDB_txn *txn, const char *stream, size_t stream_len,
                      const char *type, size_t type_len, const void *meta, size_t meta_len,
                      uint64_t pos);
size_t view_category_len(const char *stream, size_t len);
int view_matches(int view, const char *key, size_t len, const mn_event_view *e);
int view_seek(MDB_cursor *cur, int view, const char *key, size_t len, uint64_t pos, int backward,
              uint64_t *found);
int view_step(MDB_cursor *cur, int view, const char *key, size_t len, int backward, uint64_t *found);
/* Counts the view's entries at positions in [from, end) from its keys alone
 * (no event is read): 1, or 0 when the key is too long to be told apart
 * from others by its index entries (the caller reads the events). */
int view_count_keys(MDB_cursor *cur, int view, const char *key, size_t len, uint64_t from,
                    uint64_t end, uint64_t *n);
/* read.c: the events of a category, type or correlation view at positions
 * >= from that readers may see (published, retained). */
int view_count_from(mn_store *s, int view, const char *key, size_t key_len, uint64_t from,
                    uint64_t *n);

/* wait.c: after the writer publishes a new end. */
void wait_advance(mn_store *s, uint64_t end);

/* store.c */
int store_validate_name(const char *name, size_t len);
/* Writes the checkpoint and the writer's counters into txn (every commit). */
int store_save_counters(mn_store *s, MDB_txn *txn, uint64_t checkpoint);
int store_load_counters(mn_store *s, MDB_txn *txn);

#endif
