/*
 * mnemosyne.h — the Mnemosyne event store, embedded.
 *
 * This is the only public header. Everything the server (`mnemosyned`), the CLI
 * (`mnemo`) and your own C programs can do with a store goes through the
 * functions below. Read it top to bottom once: concepts, lifecycle, appends,
 * reads, waiting, maintenance.
 *
 * CONCEPTS
 *
 *   store     A directory (DIR) holding one append-only, segmented log
 *             (DIR/log/) — the source of truth — and derived indexes
 *             (DIR/index/, LMDB) that can always be rebuilt from the log.
 *   stream    A named, ordered sequence of events ("account-1"). Names are
 *             1..MN_MAX_STREAM_NAME bytes of any value. A stream exists once
 *             its first event is appended.
 *   event     Immutable: event id (128-bit UUID, given or generated), stream,
 *             version (0 for the stream's first event, then +1), global
 *             position, timestamp, type, data (bytes, usually JSON), metadata
 *             (bytes, usually a JSON object with correlation_id/causation_id).
 *   version   Of a stream: the version of its last event, or MN_NO_VERSION (-1)
 *             when it has none. Versions never go back, even after deletions.
 *   position  Global order across all streams ("$all"): the byte offset of the
 *             event's record in the log. Strictly increasing, not contiguous.
 *   entry id  Every event also has a Redis-style stream entry id ms-seq
 *             (mn_entry_id), strictly increasing within its stream, so that the
 *             same events are Redis stream entries to the server's X* commands.
 *
 * THREADS
 *
 *   An mn_store is safe to use from any number of threads at once. Appends
 *   are queued to the store's single writer thread, which batches everything
 *   that arrived together into one write and one fdatasync (group commit).
 *   Readers never wait for the writer or for fsync. An mn_iter belongs to the
 *   thread that uses it: one iterator must not be used by two threads at once.
 *
 * ERRORS
 *
 *   Functions return MN_OK (0) or a negative MN_E* code. mn_strerror() names
 *   a code; mn_errmsg() returns the detailed message of the last failure on
 *   the calling thread ("expected version 3, stream is at 5"). When a function
 *   fails, nothing it was asked to write has been written.
 *
 * DURABILITY
 *
 *   An append is reported successful only once it is as durable as the
 *   store's fsync policy says: MN_FSYNC_ALWAYS — after fdatasync of the log;
 *   MN_FSYNC_INTERVAL — after write(2), synced within interval_ms;
 *   MN_FSYNC_NEVER — after write(2). If an fdatasync ever fails, the store
 *   latches read-only (MN_EREADONLY) and says why: a failed fsync is never
 *   retried, because the kernel may already have dropped the dirty pages.
 */
#ifndef MNEMOSYNE_H
#define MNEMOSYNE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Version                                                                    */
/* ------------------------------------------------------------------------ */

#define MN_VERSION_MAJOR 0
#define MN_VERSION_MINOR 1
#define MN_VERSION_PATCH 0
#define MN_VERSION_STRING "0.1.0"

/* The library's version string at run time ("0.1.0"). */
const char *mn_version(void);

/* ------------------------------------------------------------------------ */
/* Errors                                                                     */
/* ------------------------------------------------------------------------ */

enum {
    MN_OK = 0,
    MN_EINVAL = -1,         /* a bad argument (too long a name, bad UUID, ...) */
    MN_ENOMEM = -2,         /* out of memory */
    MN_EIO = -3,            /* an I/O error from the operating system */
    MN_ENOSPC = -4,         /* the disk is full; nothing was written; retry later */
    MN_ECORRUPT = -5,       /* the log is damaged in the middle (see mn_errmsg) */
    MN_EFORMAT = -6,        /* not a Mnemosyne directory, or another format version */
    MN_EWRONGVERSION = -7,  /* the expected version did not hold */
    MN_ENOTFOUND = -8,      /* no such stream (or event) */
    MN_EDELETED = -9,       /* the stream is deleted (tombstoned) */
    MN_ETOOBIG = -10,       /* an event is larger than max_event_size */
    MN_EDUPLICATE = -11,    /* some (not all) of the event ids are already stored,
                               or stored in another stream */
    MN_EREADONLY = -12,     /* opened read-only, or latched after a failed fsync */
    MN_ECLOSED = -13,       /* the store is closing */
    MN_ELOCKED = -14,       /* another process has the directory open */
    MN_ETIMEOUT = -15,      /* a wait ran out of time */
    MN_EIDORDER = -16,      /* an explicit entry id is not above the stream's top */
    MN_EEXISTS = -17,       /* already exists (a consumer group) */
    MN_ENOGROUP = -18,      /* no such consumer group */
};

/* A short constant name for an error code ("wrong expected version"). */
const char *mn_strerror(int err);

/* The detailed message of the last failed call on this thread. The string is
 * thread-local and valid until the next failing call on the same thread. */
const char *mn_errmsg(void);

/* ------------------------------------------------------------------------ */
/* Limits and special values                                                  */
/* ------------------------------------------------------------------------ */

/* Stream names are keys of the LMDB index, whose keys are at most 511 bytes. */
#define MN_MAX_STREAM_NAME 400u
#define MN_MAX_TYPE_LEN 1024u

/* A stream's version when it has no events. */
#define MN_NO_VERSION ((int64_t)-1)

/* Expected versions for appends (the EventStoreDB numbers). A value >= 0
 * means "the stream's version must be exactly this". */
#define MN_EXPECT_ANY ((int64_t)-2)        /* no check */
#define MN_EXPECT_NOSTREAM ((int64_t)-1)   /* the stream must have no events */
#define MN_EXPECT_EXISTS ((int64_t)-4)     /* the stream must have events */

/* A Redis stream entry id, ms-seq. {0,0} is never a valid entry id. */
typedef struct mn_entry_id {
    uint64_t ms;  /* milliseconds part */
    uint64_t seq; /* sequence within the millisecond */
} mn_entry_id;

/* ------------------------------------------------------------------------ */
/* Opening and closing a store                                                */
/* ------------------------------------------------------------------------ */

typedef struct mn_store mn_store; /* opaque */

enum mn_fsync_policy {
    MN_FSYNC_ALWAYS = 0,   /* fdatasync before acknowledging (default) */
    MN_FSYNC_INTERVAL = 1, /* acknowledge after write; fdatasync every interval_ms */
    MN_FSYNC_NEVER = 2,    /* acknowledge after write; the OS syncs when it likes */
};

/* Log levels for mn_options.log_fn. */
enum { MN_LOG_DEBUG = 0, MN_LOG_INFO = 1, MN_LOG_WARN = 2, MN_LOG_ERROR = 3 };

typedef struct mn_options {
    int fsync_policy;          /* enum mn_fsync_policy; default MN_FSYNC_ALWAYS */
    uint32_t fsync_interval_ms;/* for MN_FSYNC_INTERVAL; default 1000 */
    uint64_t segment_size;     /* roll to a new segment past this; default 64 MiB */
    uint32_t max_event_size;   /* type+data+meta of one event; default 1 MiB */
    uint64_t retention_bytes;  /* drop oldest whole segments past this total; 0 = keep all */
    uint64_t retention_ms;     /* drop whole segments whose newest record is older; 0 = keep */
    int read_only;             /* open without the writer; appends get MN_EREADONLY.
                                  Takes a shared lock: it fails (MN_ELOCKED) while a
                                  read-write open (e.g. mnemosyned) holds the store,
                                  and shows the store as of the index checkpoint */
    int create;                /* create DIR if missing (default 1) */
    int repair;                /* truncate the log at mid-log corruption instead of
                                  refusing to open; what was dropped is reported in
                                  mn_recovery_report */
    uint64_t index_map_size;   /* LMDB map size (virtual, sparse); default 64 GiB */
    /* Called for notable events (recovery, truncation, latching read-only).
     * May be called from the writer thread. NULL: log to nothing. */
    void (*log_fn)(void *ud, int level, const char *msg);
    void *log_ud;
} mn_options;

/* Fills *opts with the defaults above. Always call it before setting fields,
 * so that fields added in later versions get their defaults. */
void mn_options_init(mn_options *opts);

/* Opens (and, with opts->create, creates) the store in directory dir. opts may
 * be NULL for the defaults. On success *out owns the store; close it with
 * mn_close. Opening verifies the log's tail after the index checkpoint (what
 * a crash can have torn); mn_check verifies all of it, and so does an open
 * with opts->repair. An index changed since a clean mn_close (it is sealed
 * with its CRC32C then) is rebuilt from the log; read-only, MN_ECORRUPT. Errors: MN_EFORMAT (another format version or not a
 * store), MN_ECORRUPT (damage in the verified part that is not a torn tail;
 * nothing is changed unless opts->repair), reads of a damaged record later
 * answer MN_ECORRUPT too (records are CRC-checked on every read),
 * MN_ELOCKED, MN_EIO (unwritable directory...), MN_ENOMEM. */
int mn_open(const char *dir, const mn_options *opts, mn_store **out);

/* Stops accepting appends, waits for queued ones to finish, syncs the log and
 * the indexes, frees everything. mn_close(NULL) is a no-op. Iterators must
 * have been freed before. */
void mn_close(mn_store *store);

/* What opening found and did. */
typedef struct mn_recovery_report {
    uint64_t checkpoint;        /* log position the persisted index reflected */
    uint64_t replayed_records;  /* records re-applied from the log tail */
    uint64_t truncated_bytes;   /* torn tail (or, with repair, damaged part) dropped */
    uint64_t dropped_events;    /* events in what was dropped: in a torn tail (never
                                   acknowledged under MN_FSYNC_ALWAYS; under the
                                   relaxed policies a machine crash can take
                                   acknowledged ones), or cut off by repair */
    int index_rebuilt;          /* 1 if the index was rebuilt from the whole log */
} mn_recovery_report;

void mn_recovery_info(mn_store *store, mn_recovery_report *out);

/* ------------------------------------------------------------------------ */
/* Appending                                                                  */
/* ------------------------------------------------------------------------ */

/* How an event's entry id is chosen. */
enum mn_entry_id_mode {
    MN_ID_AUTO = 0,     /* ms = now (or the stream's top ms if the clock went back) */
    MN_ID_EXPLICIT = 1, /* entry_id as given; must be above the stream's top */
    MN_ID_AUTO_SEQ = 2, /* entry_id.ms as given, seq chosen ("ms-*") */
};

/* One event to append. The caller owns every pointer; the store copies what it
 * needs before mn_append/mn_append_async return. */
typedef struct mn_event {
    uint8_t id[16];     /* event id; all zero = generate a UUIDv7. A given id makes
                           the append idempotent: see mn_append. */
    const char *type;   /* event type, 1..MN_MAX_TYPE_LEN bytes */
    size_t type_len;
    const void *data;   /* payload, any bytes (usually JSON); may be empty */
    size_t data_len;
    const void *meta;   /* metadata, usually a JSON object; may be NULL/0 */
    size_t meta_len;
    int entry_id_mode;  /* enum mn_entry_id_mode; default MN_ID_AUTO */
    mn_entry_id entry_id; /* for MN_ID_EXPLICIT / MN_ID_AUTO_SEQ */
    uint32_t flags;     /* MN_EVENT_FIELDS */
} mn_event;

/* The event's data is a Redis stream entry's field/value list, encoded with
 * mn_fields_encode (what XADD writes). Readers that want an event's data as
 * JSON get the fields as a JSON object; the X* commands get them back as
 * they were given. */
#define MN_EVENT_FIELDS 0x2u

/* One stream's part of an append. An append is one or more parts; all of them
 * are written, atomically, or none. */
typedef struct mn_append_part {
    /* In */
    const char *stream;   /* stream name, 1..MN_MAX_STREAM_NAME bytes */
    size_t stream_len;
    int64_t expected;     /* MN_EXPECT_ANY / _NOSTREAM / _EXISTS or a version >= 0 */
    const mn_event *events;
    size_t count;         /* >= 1 */
    /* Out (filled by mn_append; for async appends see mn_append_result) */
    int64_t version;      /* the version of the part's last event */
    uint64_t position;    /* the global position of the part's last event */
    mn_entry_id last_id;  /* the entry id of the part's last event */
    int64_t actual;       /* the stream's version before the append; for the part
                             whose check failed (MN_EWRONGVERSION), the version
                             that made it fail. Parts after a failing one are
                             not looked at and keep what they had. */
} mn_append_part;

/* Appends the events of every part atomically and waits until the append is
 * as durable as the fsync policy says. Fills the parts' out fields.
 *
 * Conditions: each part's expected version must hold; a deleted stream
 * refuses appends (MN_EDELETED); explicit entry ids must be above the top.
 * If any condition fails, nothing is written: the error is returned, and the
 * failing part's `actual` says the stream's version.
 *
 * Idempotence: if every event carries a given id and all those ids are already
 * stored, in the same streams, nothing is written and the result is the
 * original one (versions and positions of the first write) — MN_OK, with
 * *idempotent (if not NULL) set to 1. If only some are stored: MN_EDUPLICATE.
 *
 * Errors: MN_EINVAL, MN_ETOOBIG, MN_EWRONGVERSION, MN_EDELETED, MN_EIDORDER,
 * MN_EDUPLICATE, MN_ENOSPC, MN_EIO, MN_EREADONLY, MN_ECLOSED. */
int mn_append(mn_store *store, mn_append_part *parts, size_t nparts, int *idempotent);

/* Convenience: one stream. *version_out / *position_out (may be NULL) receive
 * the last event's version and global position. */
int mn_append_one(mn_store *store, const char *stream, size_t stream_len, int64_t expected,
                  const mn_event *events, size_t count, int64_t *version_out,
                  uint64_t *position_out);

/* The result of an asynchronous append, delivered to its callback. */
typedef struct mn_append_result {
    int rc;                   /* MN_OK or an error code */
    const char *errmsg;       /* detail when rc != MN_OK; valid during the callback */
    int idempotent;           /* 1 if this was a retry and nothing was written */
    size_t nparts;
    const mn_append_part *parts; /* the parts with their out fields set; the in
                                    pointers are the store's copies; valid during
                                    the callback only */
} mn_append_result;

typedef void (*mn_append_cb)(void *ud, const mn_append_result *res);

/* Queues an append and returns at once. The store copies the parts and events
 * first, so the caller may free them on return. cb is called exactly once, on
 * the store's writer thread, in submission order, when the append is durable
 * or has failed; it must
 * be quick and must not call back into mn_append (hand the result over to your
 * own thread instead). If mn_append_async itself returns an error (MN_EINVAL,
 * MN_ETOOBIG, MN_ENOMEM, MN_EREADONLY, MN_ECLOSED), cb is never called. */
int mn_append_async(mn_store *store, const mn_append_part *parts, size_t nparts,
                    mn_append_cb cb, void *ud);

/* Deletes a stream. With expected != MN_EXPECT_ANY the stream's version must
 * match. MN_DELETE_TOMBSTONE makes it permanent: reads answer MN_EDELETED and
 * appends are refused forever. Without it (soft delete, what Redis DEL does)
 * the stream's events disappear from reads and a later append starts a new
 * stream of the same name at version 0. The events stay in the log (and in
 * $all) until retention drops their segment. Durable like an append.
 * Errors: MN_ENOTFOUND, MN_EWRONGVERSION, MN_EDELETED, MN_EIO, MN_EREADONLY. */
#define MN_DELETE_TOMBSTONE 1
int mn_delete_stream(mn_store *store, const char *stream, size_t stream_len,
                     int64_t expected, int flags);

/* ------------------------------------------------------------------------ */
/* Reading                                                                    */
/* ------------------------------------------------------------------------ */

/* An event as read. Every pointer is borrowed from the iterator: valid until
 * the next mn_iter_next or mn_iter_free on it. */
typedef struct mn_event_view {
    const char *stream;   /* stream name (not NUL-terminated) */
    size_t stream_len;
    int64_t version;      /* version within the stream */
    uint64_t position;    /* global position */
    uint8_t id[16];       /* event id */
    uint64_t timestamp_us;/* append time, microseconds since the epoch */
    mn_entry_id entry_id; /* Redis-style entry id */
    const char *type;
    size_t type_len;
    const void *data;
    size_t data_len;
    const void *meta;     /* NULL when the event has none */
    size_t meta_len;
    uint32_t flags;       /* MN_EVENT_FIELDS if data is a field list */
} mn_event_view;

typedef struct mn_iter mn_iter; /* opaque */

/* Reads a stream from version `from` (inclusive) onwards, or, with backward,
 * from `from` down to version 0; `from` = -1 with backward starts at the last
 * event. At most max_count events (0 = no limit). Cost: O(log S) to find the
 * start, then O(1) per event (an index step and one pread).
 * Errors: MN_ENOTFOUND (no such stream), MN_EDELETED (tombstoned), MN_EINVAL. */
int mn_read_stream(mn_store *store, const char *stream, size_t stream_len, int64_t from,
                   uint64_t max_count, int backward, mn_iter **out);

/* Reads a stream's events whose entry ids are in [start, end] (inclusive), in
 * entry id order, or reversed with backward. At most max_count (0 = all). */
int mn_read_stream_range(mn_store *store, const char *stream, size_t stream_len,
                         mn_entry_id start, mn_entry_id end, uint64_t max_count,
                         int backward, mn_iter **out);

/* Reads $all — every event of every stream in global order — from position
 * `from` (the first event at or after it), at most max_count (0 = all). Only
 * what was acknowledged is visible. Events of soft-deleted streams are still
 * in $all until retention drops them. */
int mn_read_all(mn_store *store, uint64_t from, uint64_t max_count, mn_iter **out);

/* Virtual streams. Each is an index of global positions kept in the same
 * transaction as the events, so it is exactly as current as the log:
 *   MN_VIEW_CATEGORY     $ce-<category>: events of streams named "<category>-..."
 *                        (the category is the name up to its first '-', or the
 *                        whole name if it has none)
 *   MN_VIEW_TYPE         $et-<type>: events of one type
 *   MN_VIEW_CORRELATION  events whose metadata is a JSON object with the string
 *                        member "correlation_id" equal to key (TRACE)
 * Events of soft-deleted streams stay in views, as in $all. */
enum mn_view {
    MN_VIEW_ALL = 'a',         /* $all (key ignored): the log itself; no MN_READ_BACKWARD */
    MN_VIEW_CATEGORY = 'c',
    MN_VIEW_TYPE = 't',
    MN_VIEW_CORRELATION = 'r',
};

#define MN_READ_BACKWARD 0x1     /* newest first */
#define MN_READ_POSITION_IDS 0x2 /* report entry_id as {position, 0}: the ids the
                                    Redis commands use for virtual streams */

/* Reads a view's events whose positions are in [from, to], in position
 * order (or reversed with MN_READ_BACKWARD), at most max_count (0 = all). */
int mn_read_view(mn_store *store, int view, const char *key, size_t key_len, uint64_t from,
                 uint64_t to, uint64_t max_count, int flags, mn_iter **out);

/* 1 if name is a virtual stream's ("$all", "$ce-<category>", "$et-<type>"),
 * with its view and key (borrowed from name; NULL/0 for $all); else 0. */
int mn_virtual_parse(const char *name, size_t len, int *view, const char **key, size_t *key_len);

/* Counts a view's events (MN_VIEW_ALL: every event of the retained log). */
int mn_view_count(mn_store *store, int view, const char *key, size_t key_len, uint64_t *count);

/* Advances: 1 and *ev filled, 0 at the end, or a negative error (MN_EIO,
 * MN_ECORRUPT). */
int mn_iter_next(mn_iter *it, mn_event_view *ev);

/* Frees an iterator; NULL is a no-op. */
void mn_iter_free(mn_iter *it);

/* A stream's state. */
typedef struct mn_stream_info {
    int64_t version;          /* version of the last event, MN_NO_VERSION if none */
    uint64_t length;          /* events readable now */
    int64_t first_version;    /* version of the first readable event, -1 if none */
    uint64_t first_position;  /* global position of the first readable event */
    uint64_t last_position;   /* global position of the last event */
    mn_entry_id first_id;     /* entry id of the first readable event */
    mn_entry_id last_id;      /* the stream's top entry id (last generated) */
    uint64_t created_us;      /* when its first event was appended */
    int deleted;              /* 1 if tombstoned */
    uint64_t entries_added;   /* events ever appended (Redis entries-added) */
    mn_entry_id max_deleted_id; /* largest entry id removed by XDEL (Redis: trims
                                   from the head do not move it) */
    uint64_t groups;          /* consumer groups on the stream */
} mn_stream_info;

/* Errors: MN_ENOTFOUND. A tombstoned stream is found, with deleted = 1. */
int mn_stream_info_get(mn_store *store, const char *stream, size_t stream_len,
                       mn_stream_info *out);

/* A virtual stream's state, as the Redis commands show it, ids being
 * <position>-0: length (mn_view_count), first_id/first_position (its first
 * event), last_id/last_position (its last event; 0-0 if none),
 * entries_added = length, groups (its consumer groups); versions -1.
 * MN_EINVAL if name is not a virtual stream's. */
int mn_virtual_info(mn_store *store, const char *name, size_t len, mn_stream_info *out);

/* The store as a whole. */
typedef struct mn_store_info {
    uint64_t first_position;  /* where the retained log starts */
    uint64_t end_position;    /* one past the last acknowledged record */
    uint64_t durable_position;/* one past the last fdatasync'ed record */
    uint64_t streams;         /* live streams */
    uint64_t events;          /* events appended (in the retained log) */
    uint64_t segments;        /* segment files */
    uint64_t log_bytes;       /* their total size */
    int read_only;            /* opened so, or latched after a failed fsync */
    int fsync_policy;
} mn_store_info;

void mn_store_info_get(mn_store *store, mn_store_info *out);

/* Calls fn for every live stream name, in byte order, starting after `after`
 * (NULL = from the first). Stops when fn returns non-zero and returns that. */
int mn_list_streams(mn_store *store, const char *after, size_t after_len,
                    int (*fn)(void *ud, const char *name, size_t len), void *ud);

/* ------------------------------------------------------------------------ */
/* Stream operations and consumer groups (what the Redis commands need)       */
/* ------------------------------------------------------------------------ */

/* Every state change below is a record in the log, applied to the index like
 * an append, and acknowledged only when durable under the fsync policy:
 * deletions of entries, trims, set ids, groups, deliveries, acks, claims all
 * survive a crash. Each is described by an mn_op: fill the `in` fields for
 * its kind, run it with mn_op_run (blocking) or mn_op_async (callback on the
 * writer thread, like mn_append_async), read the `out` fields.
 *
 * Consumer groups follow Redis 7: a group has a last-delivered id, an
 * entries-read counter, consumers, and a pending entries list (PEL) of
 * delivered, unacknowledged entries with their consumer, last delivery time
 * and delivery count. Times are wall-clock milliseconds and persist, so idle
 * times keep counting across restarts.
 *
 * Groups on virtual streams ($all, $ce-<category>, $et-<type>): every group
 * op and list function below takes a virtual stream's name too (persistent
 * subscriptions). Entry ids are then <position>-0; GROUP_CREATE needs no
 * mkstream ('$' is the view's last event); DELIVER hands out the view's next
 * events (at most 10000 per call, COUNT or not) and reports the first and
 * last position delivered in from_version/to_version; CLAIM/AUTOCLAIM see
 * an entry as deleted once retention dropped it. A group's lag is the exact
 * number of the view's events after its last-delivered id. */

enum mn_op_kind {
    MN_OP_STREAM_CREATE = 1, /* create an empty stream; out n = 1 if created */
    MN_OP_ENTRIES_DELETE,    /* XDEL ids[nids]; out n = how many existed */
    MN_OP_TRIM,              /* XTRIM by trim; out n = entries removed */
    MN_OP_SETID,             /* XSETID id [entries_added] [max_deleted] */
    MN_OP_GROUP_CREATE,      /* XGROUP CREATE: id (or '$' if !id_set), mkstream, entries_read */
    MN_OP_GROUP_SETID,       /* XGROUP SETID: id (or '$'), entries_read */
    MN_OP_GROUP_DESTROY,     /* out n = 1 if it existed */
    MN_OP_CONSUMER_CREATE,   /* out n = 1 if created */
    MN_OP_CONSUMER_DELETE,   /* out n = the pending entries it had */
    MN_OP_DELIVER,           /* XREADGROUP '>': up to count new entries to consumer
                                (noack: not added to the PEL); out from_version,
                                to_version, n (0: nothing new) */
    MN_OP_ACK,               /* XACK ids; out n = acknowledged */
    MN_OP_CLAIM,             /* XCLAIM ids with min_idle_ms and options; out ids */
    MN_OP_AUTOCLAIM,         /* XAUTOCLAIM from start, count; out ids, deleted, next */
    MN_OP_QUEUE_POLICY,      /* QUEUE.POLICY: set a group's visibility_ms, maxdeliver,
                                deadletter (each -1 / deadletter_set 0: keep) */
    MN_OP_QUEUE_REPLAY,      /* QUEUE.REPLAY: up to count (0 = all) dead letters of
                                `stream` back to their source streams; out n */
};

enum mn_trim_mode { MN_TRIM_NONE = 0, MN_TRIM_MAXLEN = 1, MN_TRIM_MINID = 2 };

typedef struct mn_trim {
    int mode;                 /* enum mn_trim_mode */
    uint64_t maxlen;          /* MAXLEN: keep at most this many entries */
    mn_entry_id minid;        /* MINID: remove entries below this id */
    uint64_t limit;           /* remove at most this many (0 = no limit) */
} mn_trim;

typedef struct mn_op {
    /* in */
    int kind;                 /* enum mn_op_kind */
    const char *stream;       /* the stream */
    size_t stream_len;
    const char *group;        /* group ops */
    size_t group_len;
    const char *consumer;     /* consumer ops, deliver, claim */
    size_t consumer_len;
    const mn_entry_id *ids;   /* XDEL, XACK, XCLAIM */
    size_t nids;
    mn_entry_id id;           /* SETID, GROUP_CREATE/SETID (when id_set) */
    int id_set;               /* 0: the stream's last id ('$') */
    int64_t entries_read;     /* GROUP_CREATE/SETID: -1 = unknown / default */
    int64_t entries_added;    /* SETID: -1 = keep */
    mn_entry_id max_deleted;  /* SETID (when max_deleted_set) */
    int max_deleted_set;
    int mkstream;             /* GROUP_CREATE */
    mn_trim trim;             /* TRIM */
    uint64_t count;           /* DELIVER, AUTOCLAIM: at most this many (0 = all/100) */
    int noack;                /* DELIVER */
    uint64_t min_idle_ms;     /* CLAIM, AUTOCLAIM */
    int64_t idle_ms;          /* CLAIM IDLE (-1: not given) */
    int64_t time_ms;          /* CLAIM TIME (-1: not given) */
    int64_t retrycount;       /* CLAIM RETRYCOUNT (-1: not given) */
    int force;                /* CLAIM FORCE */
    int justid;               /* CLAIM/AUTOCLAIM JUSTID: no delivery count bump */
    mn_entry_id lastid;       /* CLAIM LASTID (when lastid_set) */
    int lastid_set;
    mn_entry_id start;        /* AUTOCLAIM */
    int64_t visibility_ms;    /* QUEUE_POLICY: -1 keep, 0 off, else ms */
    int64_t maxdeliver;       /* QUEUE_POLICY: -1 keep, 0 unlimited, else deliveries */
    const char *deadletter;   /* QUEUE_POLICY (when deadletter_set): the dead-letter
                                 stream; length 0 clears it */
    size_t deadletter_len;
    int deadletter_set;
    /* out */
    uint64_t n;               /* see each kind */
    int64_t from_version;     /* DELIVER: first and last version delivered */
    int64_t to_version;
    mn_entry_id *out_ids;     /* CLAIM/AUTOCLAIM: claimed ids; DELIVER: the ids delivered
                                 again by the group's visibility timeout, which come
                                 before the new entries (malloc'ed; mn_op_free) */
    size_t out_n;
    mn_entry_id *deleted_ids; /* AUTOCLAIM: PEL ids whose entries no longer exist */
    size_t deleted_n;         /* DELIVER: how many entries went to the dead-letter stream */
    mn_entry_id next;         /* AUTOCLAIM: cursor for the next call (0-0: done) */
} mn_op;

/* Fills *op with defaults for kind (every -1 "not given" set). */
void mn_op_init(mn_op *op, int kind);
/* Frees the out arrays (not op itself). */
void mn_op_free(mn_op *op);

/* Runs op and waits until it is durable. Errors: MN_ENOTFOUND (no stream;
 * "no group" is MN_ENOGROUP), MN_EEXISTS (group exists), MN_EINVAL,
 * MN_EIDORDER (SETID below the top), MN_EIO, MN_ENOSPC, MN_EREADONLY. */
int mn_op_run(mn_store *store, mn_op *op);

/* Queues op; cb gets a result whose `op` field is the store's copy with the
 * out fields set (valid during the callback; its out arrays are freed after
 * it returns unless the callback takes them and sets them to NULL). */
typedef struct mn_op_result {
    int rc;
    const char *errmsg;
    mn_op *op;
} mn_op_result;
int mn_op_async(mn_store *store, const mn_op *op, void (*cb)(void *ud, mn_op_result *res),
                void *ud);

/* A consumer group, as listed. Pointers valid during the callback. */
typedef struct mn_group_info {
    const char *name;
    size_t name_len;
    mn_entry_id last_delivered;
    int64_t entries_read;     /* -1 if unknown */
    int64_t lag;              /* -1 if it cannot be known (Redis: nil) */
    uint64_t pending;
    uint64_t consumers;
} mn_group_info;

typedef struct mn_consumer_info {
    const char *name;
    size_t name_len;
    uint64_t pending;
    uint64_t seen_ms;         /* last interaction (read, claim attempt) */
    uint64_t active_ms;       /* last successful delivery or claim; 0 never */
} mn_consumer_info;

typedef struct mn_pending_entry {
    mn_entry_id id;
    const char *consumer;
    size_t consumer_len;
    uint64_t delivered_ms;    /* last delivery time */
    uint64_t deliveries;      /* delivery count */
} mn_pending_entry;

/* Lists the groups of a stream (name order). fn returning non-zero stops.
 * MN_ENOTFOUND if the stream does not exist. */
int mn_list_groups(mn_store *store, const char *stream, size_t stream_len,
                   int (*fn)(void *ud, const mn_group_info *g), void *ud);
/* One group's info. MN_ENOTFOUND (stream) / MN_ENOGROUP. */
int mn_group_get(mn_store *store, const char *stream, size_t stream_len, const char *group,
                 size_t group_len, int (*fn)(void *ud, const mn_group_info *g), void *ud);
/* Lists a group's consumers (name order). */
int mn_list_consumers(mn_store *store, const char *stream, size_t stream_len, const char *group,
                      size_t group_len, int (*fn)(void *ud, const mn_consumer_info *c), void *ud);
/* Walks a group's PEL in id order within [start, end], at most count (0 =
 * all), only entries of `consumer` if given, only those idle >= min_idle_ms. */
int mn_list_pending(mn_store *store, const char *stream, size_t stream_len, const char *group,
                    size_t group_len, mn_entry_id start, mn_entry_id end, uint64_t count,
                    const char *consumer, size_t consumer_len, uint64_t min_idle_ms,
                    int (*fn)(void *ud, const mn_pending_entry *p), void *ud);

/* Work-queue policy of a consumer group (QUEUE.POLICY; see docs/commands.md).
 *
 * With visibility_ms > 0, a pending entry whose last delivery is at least
 * visibility_ms old is delivered again by the group's next MN_OP_DELIVER
 * (XREADGROUP '>'), to whichever consumer asks, before any new entry: it moves
 * to that consumer's PEL and its delivery count goes up. With maxdeliver > 0,
 * an entry due again that has already been delivered maxdeliver times is
 * instead appended to the dead-letter stream and leaves the PEL, in one
 * atomic, durable step. The dead-letter entry's fields are, in this order:
 * dlq-source, dlq-id, dlq-group, dlq-deliveries, dlq-consumer, dlq-reason
 * ("maxdeliver"), then the original entry's fields verbatim. maxdeliver > 0
 * needs a dead-letter stream (as SQS's maxReceiveCount needs a DLQ). */
typedef struct mn_queue_policy {
    uint64_t visibility_ms;   /* 0: off (entries stay pending until acked or claimed) */
    uint64_t maxdeliver;      /* 0: unlimited */
    size_t deadletter_len;    /* 0: none */
    char deadletter[MN_MAX_STREAM_NAME]; /* the dead-letter stream (not NUL-terminated) */
} mn_queue_policy;

/* The names of the dead-letter fields, in their order (MN_DLQ_NFIELDS). */
#define MN_DLQ_NFIELDS 6
extern const char *const mn_dlq_fields[MN_DLQ_NFIELDS];

/* A group's policy; all zero when none was set. MN_ENOTFOUND (stream) /
 * MN_ENOGROUP. */
int mn_queue_policy_get(mn_store *store, const char *stream, size_t stream_len, const char *group,
                        size_t group_len, mn_queue_policy *out);

/* When the group's next redelivery is due: *due_ms = the wall-clock ms at
 * which its oldest pending delivery passes the visibility timeout (if some
 * entry is due already, the due time of one of them: a time not after now),
 * or 0 when nothing can become due (no visibility timeout, or an empty PEL).
 * Cost: a walk of the group's PEL, up to the first due entry. Errors as
 * mn_queue_policy_get. */
int mn_queue_next_due(mn_store *store, const char *stream, size_t stream_len, const char *group,
                      size_t group_len, uint64_t *due_ms);

/* An iterator over the one event with entry id `id` (for a PEL entry):
 * mn_iter_next gives it, or 0 if the stream no longer has it. MN_ENOTFOUND
 * if the stream does not exist. A virtual stream's name reads its view at
 * position id.ms (entry ids <position>-0). */
int mn_read_entry(mn_store *store, const char *stream, size_t stream_len, mn_entry_id id,
                  mn_iter **out);

/* ------------------------------------------------------------------------ */
/* Waiting for new events                                                     */
/* ------------------------------------------------------------------------ */

/* Blocks until events past global position `after` are readable (end_position
 * > after), for at most timeout_ms (-1: forever). Returns MN_OK, MN_ETIMEOUT
 * or MN_ECLOSED. For blocking readers in threads. */
int mn_wait(mn_store *store, uint64_t after, int timeout_ms);

/* Registers fn to be called on the writer thread each time newly appended
 * events become readable, with the new end position. One per store (NULL
 * removes it). For event loops: have fn write to an eventfd or pipe and do
 * the work on your own thread. fn must be quick and must not call mn_append. */
void mn_set_notify(mn_store *store, void (*fn)(void *ud, uint64_t end_position), void *ud);

/* Changes the fsync policy of an open store, from the next batch on (what
 * Redis's CONFIG SET appendfsync does). Appends acknowledged before keep
 * the durability they were acknowledged with; switching to MN_FSYNC_ALWAYS
 * also syncs what earlier appends left unsynced, at the writer's next pass.
 * MN_EINVAL for a bad policy or a zero interval, MN_EREADONLY. */
int mn_set_fsync(mn_store *store, int policy, uint32_t interval_ms);

/* Batching submissions from an event loop. Between mn_submit_hold and
 * mn_submit_flush, the calling thread's asynchronous submissions
 * (mn_append_async, mn_op_async) are kept on the thread and handed to the
 * writer all at once by mn_submit_flush: one lock and one wake-up for a
 * whole pass of the loop instead of one per request, and the writer sees
 * them as one batch. Call hold when a pass starts and flush before the loop
 * sleeps. A synchronous call (mn_append, mn_op_run) in between flushes
 * first, so order is kept. Holding is per thread, for one store at a time;
 * if the store is closing, flush fails each held request through its
 * callback with MN_ECLOSED. */
void mn_submit_hold(mn_store *store);
void mn_submit_flush(mn_store *store);

/* ------------------------------------------------------------------------ */
/* Maintenance (on a directory; these open it themselves)                     */
/* ------------------------------------------------------------------------ */

typedef struct mn_check_report {
    uint64_t segments;        /* segment files verified */
    uint64_t records;         /* records verified (framing, CRC, payload) */
    uint64_t events;          /* of which events */
    uint64_t bytes;           /* bytes verified */
    int ok;                   /* 1 if the log is intact */
    uint64_t bad_position;    /* if not ok: global position of the first damage */
    char what[200];           /* if not ok: what is wrong there */
    int index_seal;           /* the index (derived, rebuilt from the log when
                                 needed): 1 sealed by a clean close and
                                 unchanged; 0 not sealed (left by a crash,
                                 or by a version without seals: not
                                 verifiable); -1 changed since it
                                 was sealed (the next read-write open rebuilds
                                 it; what[] says how, if the log is intact) */
} mn_check_report;

/* Verifies every record of the log in dir (framing, CRC32C, and that its
 * payload decodes as its kind says, as recovery would) and the index's seal
 * (rep->index_seal) without changing anything; a torn tail counts as damage.
 * Returns MN_OK if the log is intact (whatever the index), MN_ECORRUPT with
 * *rep describing the first damage, or another error. */
int mn_check(const char *dir, mn_check_report *rep);

/* Rebuilds the derived indexes of dir from the log alone. progress (may be
 * NULL) is called now and then with the bytes done and the total. The store
 * must not be open elsewhere (MN_ELOCKED). */
int mn_reindex(const char *dir, void (*progress)(void *ud, uint64_t done, uint64_t total),
               void *ud);

/* ------------------------------------------------------------------------ */
/* Field lists (Redis stream entries)                                         */
/* ------------------------------------------------------------------------ */

/* The encoding of MN_EVENT_FIELDS data: u32 count of pairs, then for each
 * field and each value a u32 length and the bytes (little-endian lengths).
 * Binary-safe, order-preserving, duplicates allowed — as Redis keeps them. */

/* Bytes needed to encode n pairs with the given lengths. */
size_t mn_fields_size(size_t n, const size_t *lens /* 2n: field, value, ... */);
/* Encodes n pairs from ptrs/lens (2n each) into out (mn_fields_size bytes). */
void mn_fields_encode(void *out, size_t n, const void *const *ptrs, const size_t *lens);
/* Walks an encoded list: call with *off = 0; returns 1 and the next pair,
 * 0 at the end, -1 if the encoding is damaged. */
int mn_fields_next(const void *data, size_t len, size_t *off, const void **field,
                   size_t *field_len, const void **value, size_t *value_len);
/* The number of pairs, or -1 if damaged. */
long mn_fields_count(const void *data, size_t len);

/* ------------------------------------------------------------------------ */
/* Event ids                                                                  */
/* ------------------------------------------------------------------------ */

/* Parses a UUID "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" (any case; hyphens
 * required). MN_EINVAL if malformed. */
int mn_uuid_parse(const char *text, size_t len, uint8_t out[16]);

/* Writes the lowercase, hyphenated form and a NUL into out (37 bytes). */
void mn_uuid_format(const uint8_t id[16], char out[37]);

#ifdef __cplusplus
}
#endif

#endif /* MNEMOSYNE_H */
