/*
 * dict.c — see dict.h. Invariants: nbuckets is a power of two (or 0 before
 * the first add); every entry is in bucket hash & (nbuckets - 1); size is
 * the number of entries.
 */
#include "dict.h"

#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

struct dict {
    dict_entry **buckets; /* nbuckets chains */
    size_t nbuckets;      /* power of two, or 0 */
    size_t size;          /* entries */
};

static uint64_t sip_key[2];
static int sip_key_set;

static uint64_t rotl(uint64_t x, int b) { return (x << b) | (x >> (64 - b)); }

#define SIPROUND                                                                            \
    do {                                                                                    \
        v0 += v1; v1 = rotl(v1, 13); v1 ^= v0; v0 = rotl(v0, 32);                           \
        v2 += v3; v3 = rotl(v3, 16); v3 ^= v2;                                              \
        v0 += v3; v3 = rotl(v3, 21); v3 ^= v0;                                              \
        v2 += v1; v1 = rotl(v1, 17); v1 ^= v2; v2 = rotl(v2, 32);                           \
    } while (0)

uint64_t dict_hash(const void *data, size_t len)
{
    if (!sip_key_set) {
        if (getrandom(sip_key, sizeof(sip_key), 0) != (ssize_t)sizeof(sip_key)) {
            sip_key[0] = (uint64_t)(uintptr_t)&sip_key ^ 0x9e3779b97f4a7c15ull;
            sip_key[1] = (uint64_t)len * 0xbf58476d1ce4e5b9ull;
        }
        sip_key_set = 1;
    }
    const unsigned char *p = data;
    uint64_t v0 = 0x736f6d6570736575ull ^ sip_key[0];
    uint64_t v1 = 0x646f72616e646f6dull ^ sip_key[1];
    uint64_t v2 = 0x6c7967656e657261ull ^ sip_key[0];
    uint64_t v3 = 0x7465646279746573ull ^ sip_key[1];
    size_t n8 = len & ~(size_t)7;
    for (size_t i = 0; i < n8; i += 8) {
        uint64_t m;
        memcpy(&m, p + i, 8); /* little-endian hosts only (x86-64, arm64) */
        v3 ^= m;
        SIPROUND;
        v0 ^= m;
    }
    uint64_t b = (uint64_t)len << 56;
    for (size_t i = 0; i < (len & 7); i++)
        b |= (uint64_t)p[n8 + i] << (8 * i);
    v3 ^= b;
    SIPROUND;
    v0 ^= b;
    v2 ^= 0xff;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    return v0 ^ v1 ^ v2 ^ v3;
}

dict *dict_create(void) { return calloc(1, sizeof(dict)); }

void dict_free(dict *d, void (*free_val)(void *))
{
    if (!d)
        return;
    for (size_t i = 0; i < d->nbuckets; i++) {
        dict_entry *e = d->buckets[i];
        while (e) {
            dict_entry *n = e->next;
            if (free_val)
                free_val(e->val);
            free(e);
            e = n;
        }
    }
    free(d->buckets);
    free(d);
}

size_t dict_size(const dict *d) { return d ? d->size : 0; }

static void resize(dict *d, size_t n)
{
    dict_entry **nb = calloc(n, sizeof(*nb));
    if (!nb)
        return; /* keep the old table: slower chains, still correct */
    for (size_t i = 0; i < d->nbuckets; i++) {
        dict_entry *e = d->buckets[i];
        while (e) {
            dict_entry *next = e->next;
            size_t j = e->hash & (n - 1);
            e->next = nb[j];
            nb[j] = e;
            e = next;
        }
    }
    free(d->buckets);
    d->buckets = nb;
    d->nbuckets = n;
}

dict_entry *dict_find(dict *d, const void *key, size_t klen)
{
    if (!d || d->size == 0)
        return NULL;
    uint64_t h = dict_hash(key, klen);
    for (dict_entry *e = d->buckets[h & (d->nbuckets - 1)]; e; e = e->next)
        if (e->hash == h && e->klen == klen && memcmp(e->key, key, klen) == 0)
            return e;
    return NULL;
}

dict_entry *dict_add(dict *d, const void *key, size_t klen, void *val)
{
    if (d->size >= d->nbuckets)
        resize(d, d->nbuckets ? d->nbuckets * 2 : 8);
    if (d->nbuckets == 0)
        return NULL;
    dict_entry *e = malloc(sizeof(*e) + klen + 1);
    if (!e)
        return NULL;
    e->hash = dict_hash(key, klen);
    e->val = val;
    e->klen = klen;
    memcpy(e->key, key, klen);
    e->key[klen] = '\0';
    size_t j = e->hash & (d->nbuckets - 1);
    e->next = d->buckets[j];
    d->buckets[j] = e;
    d->size++;
    return e;
}

int dict_delete(dict *d, const void *key, size_t klen, void **val)
{
    if (!d || d->size == 0)
        return 0;
    uint64_t h = dict_hash(key, klen);
    dict_entry **pp = &d->buckets[h & (d->nbuckets - 1)];
    for (; *pp; pp = &(*pp)->next) {
        dict_entry *e = *pp;
        if (e->hash == h && e->klen == klen && memcmp(e->key, key, klen) == 0) {
            *pp = e->next;
            if (val)
                *val = e->val;
            free(e);
            d->size--;
            if (d->nbuckets > 8 && d->size < d->nbuckets / 8)
                resize(d, d->nbuckets / 2);
            return 1;
        }
    }
    return 0;
}

void dict_iter_init(dict_iter *it)
{
    it->bucket = 0;
    it->next = NULL;
}

/* Deleting the returned entry is safe because `next` was read before the
 * entry is returned. Deleting others, or adding, during iteration is not
 * (the table may resize): callers collect first, then change. */
dict_entry *dict_next(dict *d, dict_iter *it)
{
    if (!d)
        return NULL;
    while (!it->next) {
        if (it->bucket >= d->nbuckets)
            return NULL;
        it->next = d->buckets[it->bucket++];
    }
    dict_entry *e = it->next;
    it->next = e->next;
    return e;
}
