/*
 * index.h — the derived indexes, in one LMDB environment (DIR/index/).
 *
 * Everything here can be rebuilt from the log (mn_reindex). Each write
 * transaction stores, with its changes, the log position it reflects
 * ("checkpoint"), so the index is always exactly the log up to a known
 * position and opening replays only the tail after it.
 *
 * Databases and their keys (integers in keys are big-endian so that LMDB's
 * byte order is numeric order; values are host little-endian structs):
 *   meta     "checkpoint" → u64; "next_stream_id" → u64; "events" → u64;
 *            "qpol" ‖ be64 group_id → a group's queue policy (engine/queue.c)
 *   streams  stream name → stream_state (engine/stream.h)
 *   names    be64 stream_id → stream name
 *   events   be64 stream_id ‖ be64 version → event_loc
 *   ids      16-byte event id → id_loc   (client-given ids only: dedup)
 *   groups   be64 stream_id ‖ group name → group_state (engine/store.h)
 *   consumers be64 group_id ‖ consumer name → consumer_state
 *   pel      be64 group_id ‖ be64 ms ‖ be64 seq → pel_entry ‖ consumer name
 *   views    view ‖ be16 len ‖ key ‖ be64 position → (empty): the virtual
 *            streams $ce-<category> ('c'), $et-<type> ('t') and the
 *            correlation index for TRACE ('r')
 *
 * Why LMDB: readers never block the writer nor each other (MVCC), lookups are
 * memory-mapped B+tree descents, and a crash of the process cannot tear it.
 * Why MDB_NOSYNC: the log is the durable copy; the index is synced at
 * checkpoints and on close, and after a machine crash the tail is replayed
 * (or, if the index is unusable, rebuilt).
 */
#ifndef MN_STORAGE_INDEX_H
#define MN_STORAGE_INDEX_H

#include <lmdb.h>
#include <stdint.h>

typedef struct index_env {
    MDB_env *env;      /* the environment */
    MDB_dbi meta;      /* see above */
    MDB_dbi streams;
    MDB_dbi names;
    MDB_dbi events;
    MDB_dbi ids;
    MDB_dbi groups;
    MDB_dbi consumers;
    MDB_dbi pel;
    MDB_dbi views;
    int read_only;     /* opened MDB_RDONLY */
    void *map_addr;    /* where data.mdb is mapped (index_release_pages), or NULL */
} index_env;

/* Where an event is. */
typedef struct event_loc {
    uint64_t pos;      /* global position of its record */
    uint32_t len;      /* record length (header + payload) */
    uint32_t zero;
    uint64_t ms, seq;  /* entry id */
} event_loc;

/* What a client-given event id refers to. */
typedef struct id_loc {
    uint64_t stream_id;
    int64_t version;
    uint64_t pos;
} id_loc;

/* Opens (creating) DIR/index. map_size: LMDB map size. */
int index_open(index_env *ix, const char *dir, uint64_t map_size, int read_only);
void index_close(index_env *ix);
/* Flushes to disk (a checkpoint the next open can trust after a machine crash). */
int index_sync(index_env *ix);
/* Drops this process's mappings of the index's pages (MADV_DONTNEED on
 * the used part of LMDB's read-only shared map). The pages stay in the
 * page cache; the next read of one is a minor fault. Keeps the resident
 * set to what was touched lately instead of every page ever read. */
void index_release_pages(index_env *ix);
/* Bytes of data.mdb in use (its last page's end). */
uint64_t index_used_bytes(index_env *ix);
/* Removes DIR/index entirely (before a rebuild). */
int index_remove(const char *dir);

/* The seal (index.c): a clean close records data.mdb's size and CRC32C in
 * DIR/index/seal (index_seal, after index_close); an open checks it before
 * LMDB reads the file (index_seal_check: MN_OK with *sealed 0 when there is
 * no seal, 1 when it matches; MN_ECORRUPT when the file changed) and removes
 * it before the first write (index_unseal). */
int index_seal(const char *dir);
int index_seal_check(const char *dir, int *sealed);
int index_unseal(const char *dir);

/* Maps an LMDB error to MN_E* with a message naming what failed. */
int index_error(int mdb_rc, const char *what);

/* Key encoders. */
static inline void be64_put(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) { p[i] = (uint8_t)v; v >>= 8; }
}
static inline uint64_t be64_get(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v = (v << 8) | p[i];
    return v;
}
static inline void event_key(uint8_t k[16], uint64_t stream_id, uint64_t version)
{
    be64_put(k, stream_id);
    be64_put(k + 8, version);
}

/* meta u64 get/put in a transaction; get returns def when absent. */
uint64_t index_meta_get(index_env *ix, MDB_txn *txn, const char *key, uint64_t def);
int index_meta_put(index_env *ix, MDB_txn *txn, const char *key, uint64_t v);

#endif
