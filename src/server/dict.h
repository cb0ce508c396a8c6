/*
 * dict.h — a chained hash table with binary-safe string keys (copied into
 * the entry) and void * values: pub/sub channels and patterns, each client's
 * subscriptions, the command table, error statistics.
 *
 * Hashing is SipHash-1-3 with a per-process random key, so a client choosing
 * channel names cannot force every name into one bucket (hash flooding).
 * The table doubles when the load factor reaches 1 and halves below 1/8
 * (the whole table at once: the tables here are small, or grow rarely).
 * Iteration (dict_next) tolerates deleting the entry just returned.
 */
#ifndef MN_SERVER_DICT_H
#define MN_SERVER_DICT_H

#include <stddef.h>
#include <stdint.h>

typedef struct dict_entry {
    struct dict_entry *next; /* chain in the bucket */
    uint64_t hash;           /* cached hash of key */
    void *val;               /* the value (owned by the caller) */
    size_t klen;             /* key length */
    char key[];              /* key bytes, then a NUL (for convenience) */
} dict_entry;

typedef struct dict dict;

typedef struct dict_iter {
    size_t bucket;           /* next bucket to visit */
    dict_entry *next;        /* next entry to return */
} dict_iter;

dict *dict_create(void);
/* Frees the table; free_val (may be NULL) is called on every value. */
void dict_free(dict *d, void (*free_val)(void *));
size_t dict_size(const dict *d);
dict_entry *dict_find(dict *d, const void *key, size_t klen);
/* Adds key (must not exist). Returns the entry, or NULL on OOM. */
dict_entry *dict_add(dict *d, const void *key, size_t klen, void *val);
/* Removes key; returns 1 and its value in *val (if not NULL), or 0. */
int dict_delete(dict *d, const void *key, size_t klen, void **val);
void dict_iter_init(dict_iter *it);
dict_entry *dict_next(dict *d, dict_iter *it);
/* SipHash-1-3 of data under the process key. */
uint64_t dict_hash(const void *data, size_t len);

#endif
