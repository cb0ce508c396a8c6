/*
 * mapsize_shim.c — LD_PRELOAD'ed by make test-valgrind (scripts/test-valgrind.sh).
 *
 * The engine maps LMDB's index with a 64 GiB map (virtual, sparse); valgrind's
 * address-space manager cannot give a client a mapping that big, so under
 * valgrind mdb_env_open fails with EINVAL ("index: ...: Invalid argument")
 * and neither mnemosyned nor mn_reindex with default options can open a
 * store. This shim caps the map size at MN_VG_MAPSIZE (default 1 GiB) and
 * otherwise calls LMDB's own mdb_env_set_mapsize. Test-only: nothing in src/
 * knows about it.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <lmdb.h>
#include <stdlib.h>

int mdb_env_set_mapsize(MDB_env *env, size_t size)
{
    static int (*real)(MDB_env *, size_t);
    if (!real) real = (int (*)(MDB_env *, size_t))dlsym(RTLD_NEXT, "mdb_env_set_mapsize");
    if (!real) return 22; /* EINVAL */
    const char *e = getenv("MN_VG_MAPSIZE");
    size_t cap = e ? strtoull(e, NULL, 0) : (size_t)1 << 30;
    return real(env, size > cap ? cap : size);
}
