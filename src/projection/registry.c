/*
 * registry.c — the projections of a store: their names, their definitions
 * on disk, their generations, and the switch from one generation to the
 * next.
 *
 * On disk, in DIR/projections/:
 *   <name>.def        the current definition: a short header (format,
 *                     generation, paused) and the Lua source
 *   <name>.next.def   a definition being built (new version, RESET)
 *   <name>.<gen>.db   the read model of generation <gen> (+ -wal, -shm)
 * Why files and not events in a system stream: definitions are settings of
 * derived data that lives in this same directory (the read models); kept
 * together, removing the directory removes both and nothing in the log
 * points at a read model that is gone. Events in a stream would also show up
 * in $all and feed every projection reading $all.
 *
 * Durability: a definition file is written to <file>.tmp, fsync'ed, renamed
 * over, and the directory fsync'ed, before the command that wrote it
 * answers. The switch to a next generation is the rename of its .def over
 * the current one: a crash before it keeps the old generation (the next one
 * goes on building after restart), after it the new one; files of any other
 * generation are removed at start.
 *
 * Switching (invariant): p->cur changes only under reg->mu, and a query
 * takes its reference to p->cur under the same lock, so every query sees
 * exactly one generation. The old generation is stopped and removed once
 * its last query has dropped its reference.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "projection/internal.h"

#define DEF_MAGIC "mnemosyne-projection 1"

const char *proj_state_name(int state)
{
    switch (state) {
    case PROJ_RUNNING: return "running";
    case PROJ_PAUSED: return "paused";
    case PROJ_FAILED: return "failed";
    default: return "stopped";
    }
}

static int valid_name(const char *name, size_t len)
{
    if (len == 0 || len > PROJ_MAX_NAME)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

static int name_ok(const char *name, size_t len, char *err, size_t errcap)
{
    if (valid_name(name, len))
        return 1;
    snprintf(err, errcap, "ERR projection names are 1..%d characters of A-Z a-z 0-9 _ -",
             PROJ_MAX_NAME);
    return 0;
}

/* ---- files ---- */

static void def_path(const proj_registry *reg, const char *name, int next, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%s%s.def", reg->dir, name, next ? ".next" : "");
}

static void db_path(const proj_registry *reg, const char *name, uint64_t gen, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%s.%llu.db", reg->dir, name, (unsigned long long)gen);
}

static int fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

static int write_def(proj_registry *reg, const char *name, int next, uint64_t gen, int paused,
                     const char *src, size_t len, char *err, size_t errcap)
{
    char path[PATH_MAX], tmp[PATH_MAX + 8], head[128];
    def_path(reg, name, next, path, sizeof path);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int hl = snprintf(head, sizeof head, DEF_MAGIC "\ngeneration %llu\npaused %d\n\n",
                      (unsigned long long)gen, paused);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        goto fail;
    if (write(fd, head, (size_t)hl) != hl || write(fd, src, len) != (ssize_t)len || fsync(fd) < 0) {
        close(fd);
        unlink(tmp);
        goto fail;
    }
    close(fd);
    if (rename(tmp, path) < 0 || fsync_dir(reg->dir) < 0)
        goto fail;
    return 0;
fail:
    snprintf(err, errcap, "ERR cannot write %s: %s", path, strerror(errno));
    return -1;
}

/* Reads a .def file: its generation, paused flag and source (malloc'ed). */
static int read_def(const char *path, uint64_t *gen, int *paused, char **src, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    char *all = NULL;
    size_t cap = 0, n = 0;
    int rc = -1;
    for (;;) {
        if (n + 4096 + 1 > cap) {
            cap = cap ? cap * 2 : 8192;
            char *m = realloc(all, cap);
            if (!m)
                goto out;
            all = m;
        }
        size_t k = fread(all + n, 1, cap - n - 1, f);
        n += k;
        if (k == 0)
            break;
    }
    if (!all)
        goto out;
    all[n] = '\0';
    unsigned long long g;
    int pz, off = 0;
    if (sscanf(all, DEF_MAGIC "\ngeneration %llu\npaused %d\n\n%n", &g, &pz, &off) != 2 || off == 0)
        goto out;
    *gen = g;
    *paused = pz;
    *len = n - (size_t)off;
    *src = malloc(*len + 1);
    if (!*src)
        goto out;
    memcpy(*src, all + off, *len);
    (*src)[*len] = '\0';
    rc = 0;
out:
    free(all);
    fclose(f);
    return rc;
}

static void remove_db_files(const char *path)
{
    char p[PATH_MAX + 8];
    unlink(path);
    snprintf(p, sizeof p, "%s-wal", path);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", path);
    unlink(p);
}

/* ---- generations ---- */

/* src must have passed def_check, which gave `source`. */
static proj_inst *inst_new(proj_registry *reg, proj *p, uint64_t gen, const char *src, size_t len,
                           const char *source, char *err, size_t errcap)
{
    proj_inst *in = calloc(1, sizeof *in);
    if (!in || !(in->src = malloc(len + 1))) {
        free(in);
        snprintf(err, errcap, "OOM out of memory");
        return NULL;
    }
    memcpy(in->src, src, len);
    in->src[len] = '\0';
    in->src_len = len;
    in->reg = reg;
    in->p = p;
    in->gen = gen;
    in->refs = 1;
    in->handlers_ref = in->init_ref = in->db_ref = -2; /* LUA_NOREF */
    snprintf(in->source, sizeof in->source, "%s", source);
    if (def_parse_source(in->source, &in->src_kind, (const char **)&in->key, &in->key_len) < 0) {
        snprintf(err, errcap, "ERR bad source '%s'", source);
        free(in->src);
        free(in);
        return NULL;
    }
    db_path(reg, p->name, gen, in->path, sizeof in->path);
    pthread_mutex_init(&in->mu, NULL);
    pthread_cond_init(&in->cv, NULL);
    pthread_mutex_init(&in->ro_mu, NULL);
    in->want_pause = p->paused;
    atomic_store(&in->state, p->paused ? PROJ_PAUSED : PROJ_RUNNING);
    return in;
}

static void inst_free(proj_inst *in)
{
    query_close(in);
    def_free_types(in->types, in->ntypes);
    pthread_mutex_destroy(&in->mu);
    pthread_cond_destroy(&in->cv);
    pthread_mutex_destroy(&in->ro_mu);
    free(in->src);
    free(in);
}

void registry_unref(proj_inst *in)
{
    if (!in)
        return;
    proj_registry *reg = in->reg;
    pthread_mutex_lock(&reg->mu);
    int last = --in->refs == 0;
    pthread_mutex_unlock(&reg->mu);
    if (last)
        inst_free(in);
}

/* Stops a generation for good and removes its files; the memory goes with
 * its last reference. */
static void retire(proj_inst *in, int remove_files)
{
    if (!in)
        return;
    runner_stop(in);
    if (remove_files)
        remove_db_files(in->path);
    registry_unref(in);
}

void registry_switch(proj_inst *in)
{
    proj_registry *reg = in->reg;
    char from[PATH_MAX], to[PATH_MAX];
    pthread_mutex_lock(&reg->admin);
    pthread_mutex_lock(&reg->mu);
    proj *p = in->p;
    int mine = p->next == in;
    pthread_mutex_unlock(&reg->mu);
    if (!mine) {
        pthread_mutex_unlock(&reg->admin);
        return;
    }
    def_path(reg, p->name, 1, from, sizeof from);
    def_path(reg, p->name, 0, to, sizeof to);
    /* the paused flag travels in the current file: write it into the next
     * one's before it becomes current */
    char err[256];
    if (write_def(reg, p->name, 1, in->gen, p->paused, in->src, in->src_len, err, sizeof err) < 0 ||
        rename(from, to) < 0 || fsync_dir(reg->dir) < 0) {
        pthread_mutex_unlock(&reg->admin);
        pthread_mutex_lock(&in->mu);
        snprintf(in->err, sizeof in->err, "switching to generation %llu: %s",
                 (unsigned long long)in->gen, strerror(errno));
        pthread_mutex_unlock(&in->mu);
        return;
    }
    pthread_mutex_lock(&reg->mu);
    proj_inst *old = p->cur;
    p->cur = in;
    p->next = NULL;
    pthread_mutex_unlock(&reg->mu);
    pthread_mutex_unlock(&reg->admin);
    retire(old, 1);
    if (reg->on_progress)
        reg->on_progress(reg->ud); /* waiting queries look at the new one */
}

/* ---- the list ---- */

static proj *find(proj_registry *reg, const char *name, size_t len)
{
    for (proj *p = reg->list; p; p = p->link)
        if (strlen(p->name) == len && memcmp(p->name, name, len) == 0)
            return p;
    return NULL;
}

static void insert_sorted(proj_registry *reg, proj *p)
{
    proj **pp = &reg->list;
    while (*pp && strcmp((*pp)->name, p->name) < 0)
        pp = &(*pp)->link;
    p->link = *pp;
    *pp = p;
}

static void unlink_proj(proj_registry *reg, proj *p)
{
    for (proj **pp = &reg->list; *pp; pp = &(*pp)->link)
        if (*pp == p) {
            *pp = p->link;
            return;
        }
}

static int not_found(const char *name, size_t len, char *err, size_t errcap)
{
    snprintf(err, errcap, "NOPROJECTION no projection named '%.*s'", (int)len, name);
    return -1;
}

/* Takes reg->admin and finds name; if there is none, lets admin go and
 * returns NULL with err set. */
static proj *admin_find(proj_registry *reg, const char *name, size_t len, char *err, size_t errcap)
{
    pthread_mutex_lock(&reg->admin);
    pthread_mutex_lock(&reg->mu);
    proj *p = find(reg, name, len);
    pthread_mutex_unlock(&reg->mu);
    if (!p) {
        pthread_mutex_unlock(&reg->admin);
        not_found(name, len, err, errcap);
    }
    return p;
}

/* Starts in's thread; if that fails in stays registered, failed (DROP
 * removes it). */
static void start_or_fail(proj_inst *in)
{
    char err[128];
    if (runner_start(in, err, sizeof err) == 0)
        return;
    pthread_mutex_lock(&in->mu);
    snprintf(in->err, sizeof in->err, "%s", err);
    pthread_mutex_unlock(&in->mu);
    atomic_store(&in->state, PROJ_FAILED);
}

/* Start-up: one stored projection. */
static void load_one(proj_registry *reg, const char *name)
{
    char path[PATH_MAX], err[PROJ_ERR_MAX];
    uint64_t gen, ngen;
    int paused, npaused;
    char *src = NULL, *nsrc = NULL;
    size_t len, nlen;
    def_path(reg, name, 0, path, sizeof path);
    if (read_def(path, &gen, &paused, &src, &len) < 0) {
        fprintf(stderr, "projections: cannot read %s; skipped\n", path);
        return;
    }
    proj *p = calloc(1, sizeof *p);
    if (!p)
        goto out;
    snprintf(p->name, sizeof p->name, "%s", name);
    p->paused = paused;
    char source[MN_MAX_STREAM_NAME + 8];
    if (def_check(src, len, name, source, sizeof source, err, sizeof err) == 0)
        p->cur = inst_new(reg, p, gen, src, len, source, err, sizeof err);
    if (!p->cur) {
        fprintf(stderr, "projections: %s no longer loads (%s); skipped\n", name, err);
        free(p);
        goto out;
    }
    def_path(reg, name, 1, path, sizeof path);
    if (read_def(path, &ngen, &npaused, &nsrc, &nlen) == 0) {
        if (ngen > gen && def_check(nsrc, nlen, name, source, sizeof source, err, sizeof err) == 0)
            p->next = inst_new(reg, p, ngen, nsrc, nlen, source, err, sizeof err);
        if (!p->next)
            unlink(path); /* already switched (crash after the rename), or bad */
    }
    insert_sorted(reg, p);
out:
    free(src);
    free(nsrc);
}

/* Start-up: removes read models of no current or next generation. */
static void sweep(proj_registry *reg)
{
    DIR *d = opendir(reg->dir);
    if (!d)
        return;
    struct dirent *de;
    while ((de = readdir(d))) {
        char name[PROJ_MAX_NAME + 1];
        unsigned long long gen;
        int off = 0;
        const char *s = de->d_name;
        if (sscanf(s, "%64[A-Za-z0-9_-].%llu.db%n", name, &gen, &off) != 2 || off == 0)
            continue;
        const char *rest = s + off;
        if (*rest && strcmp(rest, "-wal") != 0 && strcmp(rest, "-shm") != 0)
            continue;
        proj *p = find(reg, name, strlen(name));
        if (p && ((p->cur && p->cur->gen == gen) || (p->next && p->next->gen == gen)))
            continue;
        if (!p) {
            char def[PATH_MAX];
            def_path(reg, name, 0, def, sizeof def);
            if (access(def, F_OK) == 0)
                continue; /* its definition did not load (logged): keep its data */
        }
        char path[PATH_MAX + 300];
        snprintf(path, sizeof path, "%s/%s", reg->dir, s);
        unlink(path);
    }
    closedir(d);
}

int proj_registry_open(mn_store *store, const char *store_dir, void (*on_progress)(void *ud),
                       void *ud, proj_registry **out, char *err, size_t errcap)
{
    proj_registry *reg = calloc(1, sizeof *reg);
    if (!reg) {
        snprintf(err, errcap, "out of memory");
        return -1;
    }
    reg->store = store;
    reg->on_progress = on_progress;
    reg->ud = ud;
    pthread_mutex_init(&reg->mu, NULL);
    pthread_mutex_init(&reg->admin, NULL);
    if ((size_t)snprintf(reg->dir, sizeof reg->dir, "%s/projections", store_dir) >= sizeof reg->dir) {
        snprintf(err, errcap, "the store's path is too long");
        goto fail;
    }
    if (mkdir(reg->dir, 0755) < 0 && errno != EEXIST) {
        snprintf(err, errcap, "cannot create %s: %s", reg->dir, strerror(errno));
        goto fail;
    }
    DIR *d = opendir(reg->dir);
    if (!d) {
        snprintf(err, errcap, "cannot read %s: %s", reg->dir, strerror(errno));
        goto fail;
    }
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t n = strlen(de->d_name);
        if (n > 4 && strcmp(de->d_name + n - 4, ".def") == 0 && valid_name(de->d_name, n - 4)) {
            char name[PROJ_MAX_NAME + 1];
            memcpy(name, de->d_name, n - 4);
            name[n - 4] = '\0';
            load_one(reg, name);
        }
    }
    closedir(d);
    sweep(reg);
    for (proj *p = reg->list; p; p = p->link) {
        if (runner_start(p->cur, err, errcap) < 0 || (p->next && runner_start(p->next, err, errcap) < 0))
            goto fail;
    }
    *out = reg;
    return 0;
fail:
    proj_registry_close(reg);
    return -1;
}

void proj_registry_close(proj_registry *reg)
{
    if (!reg)
        return;
    pthread_mutex_lock(&reg->mu);
    proj *list = reg->list;
    reg->list = NULL;
    pthread_mutex_unlock(&reg->mu);
    while (list) {
        proj *p = list;
        list = p->link;
        pthread_mutex_lock(&reg->mu);
        proj_inst *cur = p->cur, *next = p->next;
        p->cur = p->next = NULL;
        pthread_mutex_unlock(&reg->mu);
        retire(next, 0);
        retire(cur, 0);
        free(p);
    }
    pthread_mutex_destroy(&reg->mu);
    pthread_mutex_destroy(&reg->admin);
    free(reg);
}

/* ---- commands ---- */

int proj_create(proj_registry *reg, const char *name, size_t name_len, const char *src,
                size_t src_len, const char **what, char *err, size_t errcap)
{
    char nm[PROJ_MAX_NAME + 1], source[MN_MAX_STREAM_NAME + 8];
    if (!name_ok(name, name_len, err, errcap))
        return -1;
    memcpy(nm, name, name_len);
    nm[name_len] = '\0';
    /* runs the chunk (bounded by the sandbox's budgets): outside every lock */
    if (def_check(src, src_len, nm, source, sizeof source, err, errcap) < 0)
        return -1;
    pthread_mutex_lock(&reg->admin);
    pthread_mutex_lock(&reg->mu);
    proj *p = find(reg, name, name_len);
    proj_inst *latest = p ? (p->next ? p->next : p->cur) : NULL;
    uint64_t gen = latest ? latest->gen + 1 : 1;
    int same = latest && latest->src_len == src_len && memcmp(latest->src, src, src_len) == 0;
    int paused = p ? p->paused : 0;
    pthread_mutex_unlock(&reg->mu);
    proj *fresh = NULL;
    proj_inst *in = NULL, *replaced = NULL;
    if (same) {
        pthread_mutex_unlock(&reg->admin);
        *what = "unchanged";
        return 0;
    }
    if (!p) {
        if (!(fresh = calloc(1, sizeof *fresh))) {
            snprintf(err, errcap, "OOM out of memory");
            goto fail;
        }
        memcpy(fresh->name, nm, name_len + 1);
    }
    if (!(in = inst_new(reg, p ? p : fresh, gen, src, src_len, source, err, errcap)))
        goto fail;
    /* a leftover read model of this generation (a crash between its
     * creation and its .def) must not be taken for this one's */
    remove_db_files(in->path);
    if (write_def(reg, nm, p != NULL, gen, paused, src, src_len, err, errcap) < 0)
        goto fail;
    pthread_mutex_lock(&reg->mu);
    if (p) {
        replaced = p->next;
        p->next = in;
        *what = "rebuilding";
    } else {
        fresh->cur = in;
        insert_sorted(reg, fresh);
        *what = "created";
    }
    pthread_mutex_unlock(&reg->mu);
    start_or_fail(in);
    if (!p) {
        /* a query right after CREATE finds the read model (empty, with
         * init's tables) rather than no file */
        pthread_mutex_lock(&in->mu);
        while (in->started && !in->ready)
            pthread_cond_wait(&in->cv, &in->mu);
        pthread_mutex_unlock(&in->mu);
    }
    pthread_mutex_unlock(&reg->admin);
    retire(replaced, 1);
    return 0;
fail:
    pthread_mutex_unlock(&reg->admin);
    if (in)
        inst_free(in);
    free(fresh);
    return -1;
}

int proj_drop(proj_registry *reg, const char *name, size_t name_len, char *err, size_t errcap)
{
    proj *p = admin_find(reg, name, name_len, err, errcap);
    if (!p)
        return -1;
    char path[PATH_MAX];
    def_path(reg, p->name, 1, path, sizeof path);
    unlink(path);
    def_path(reg, p->name, 0, path, sizeof path);
    if (unlink(path) < 0 && errno != ENOENT) {
        snprintf(err, errcap, "ERR cannot remove %s: %s", path, strerror(errno));
        pthread_mutex_unlock(&reg->admin);
        return -1;
    }
    fsync_dir(reg->dir);
    pthread_mutex_lock(&reg->mu);
    unlink_proj(reg, p);
    proj_inst *cur = p->cur, *next = p->next;
    p->cur = p->next = NULL;
    pthread_mutex_unlock(&reg->mu);
    pthread_mutex_unlock(&reg->admin);
    retire(next, 1);
    retire(cur, 1);
    free(p);
    if (reg->on_progress)
        reg->on_progress(reg->ud); /* queries waiting on it get NOPROJECTION now */
    return 0;
}

static void inst_pause(proj_inst *in, int pause)
{
    if (!in)
        return;
    pthread_mutex_lock(&in->mu);
    in->want_pause = pause;
    if (!pause && atomic_load(&in->state) == PROJ_FAILED)
        in->retry = 1;
    pthread_cond_broadcast(&in->cv);
    pthread_mutex_unlock(&in->mu);
}

int proj_pause(proj_registry *reg, const char *name, size_t name_len, int pause, char *err,
               size_t errcap)
{
    proj *p = admin_find(reg, name, name_len, err, errcap);
    if (!p)
        return -1;
    int rc = -1;
    /* cur and next change only under admin, which we hold */
    if (p->paused != pause &&
        write_def(reg, p->name, 0, p->cur->gen, pause, p->cur->src, p->cur->src_len, err, errcap) < 0)
        goto out;
    pthread_mutex_lock(&reg->mu);
    p->paused = pause;
    pthread_mutex_unlock(&reg->mu);
    inst_pause(p->cur, pause);
    inst_pause(p->next, pause);
    rc = 0;
out:
    pthread_mutex_unlock(&reg->admin);
    return rc;
}

int proj_reset(proj_registry *reg, const char *name, size_t name_len, char *err, size_t errcap)
{
    proj *p = admin_find(reg, name, name_len, err, errcap);
    if (!p)
        return -1;
    proj_inst *latest = p->next ? p->next : p->cur;
    uint64_t gen = latest->gen + 1;
    proj_inst *in = inst_new(reg, p, gen, latest->src, latest->src_len, latest->source, err, errcap);
    if (in)
        remove_db_files(in->path);
    if (!in || write_def(reg, p->name, 1, gen, p->paused, in->src, in->src_len, err, errcap) < 0) {
        pthread_mutex_unlock(&reg->admin);
        if (in)
            inst_free(in);
        return -1;
    }
    pthread_mutex_lock(&reg->mu);
    proj_inst *replaced = p->next;
    p->next = in;
    pthread_mutex_unlock(&reg->mu);
    start_or_fail(in);
    pthread_mutex_unlock(&reg->admin);
    retire(replaced, 1);
    return 0;
}

/* ---- status ---- */

/* Source events not processed yet. Exact for a stream and for $all; for a
 * category or type it is counted by reading the view from the position on,
 * which costs a read per event, so it stops at PROJ_LAG_CAP (meaning "at
 * least that many"). */
static uint64_t lag_of(proj_registry *reg, proj_inst *in)
{
    uint64_t n = 0, done = atomic_load(&in->events);
    if (in->src_kind == SRC_STREAM) {
        mn_stream_info si;
        int64_t nv = atomic_load(&in->next_version);
        if (mn_stream_info_get(reg->store, in->key, in->key_len, &si) == MN_OK && !si.deleted &&
            si.version + 1 > nv)
            n = (uint64_t)(si.version + 1 - nv);
        return n;
    }
    if (in->src_kind == SRC_ALL) {
        mn_view_count(reg->store, MN_VIEW_ALL, NULL, 0, &n);
        return n > done ? n - done : 0;
    }
    mn_iter *it;
    mn_event_view ev;
    int view = in->src_kind == SRC_CATEGORY ? MN_VIEW_CATEGORY : MN_VIEW_TYPE;
    if (mn_read_view(reg->store, view, in->key, in->key_len, atomic_load(&in->next_pos), UINT64_MAX,
                     PROJ_LAG_CAP, 0, &it) != MN_OK)
        return 0;
    while (mn_iter_next(it, &ev) == 1)
        n++;
    mn_iter_free(it);
    return n;
}

/* with_lag: count the lag too (a read per lagging event, up to the cap) */
static void fill_status(proj_registry *reg, proj *p, proj_status *st, int with_lag)
{
    proj_inst *in = p->cur;
    memset(st, 0, sizeof *st);
    snprintf(st->name, sizeof st->name, "%s", p->name);
    snprintf(st->source, sizeof st->source, "%s", in->source);
    st->generation = in->gen;
    st->state = atomic_load(&in->state);
    st->position = atomic_load(&in->next_pos);
    st->events = atomic_load(&in->events);
    st->lag = with_lag ? lag_of(reg, in) : 0;
    st->rate = st->state == PROJ_RUNNING ? (double)atomic_load(&in->rate_milli) / 1000.0 : 0.0;
    pthread_mutex_lock(&in->mu);
    snprintf(st->last_error, sizeof st->last_error, "%s", in->err);
    st->error_position = in->err_pos;
    pthread_mutex_unlock(&in->mu);
    if (p->next) {
        proj_inst *nx = p->next;
        st->rebuilding = 1;
        st->next_generation = nx->gen;
        st->next_state = atomic_load(&nx->state);
        st->next_position = atomic_load(&nx->next_pos);
        pthread_mutex_lock(&nx->mu);
        snprintf(st->next_error, sizeof st->next_error, "%s", nx->err);
        pthread_mutex_unlock(&nx->mu);
    }
}

int proj_get_status(proj_registry *reg, const char *name, size_t name_len, proj_status *out,
                    char *err, size_t errcap)
{
    pthread_mutex_lock(&reg->mu);
    proj *p = find(reg, name, name_len);
    if (p)
        fill_status(reg, p, out, 1);
    pthread_mutex_unlock(&reg->mu);
    return p ? 0 : not_found(name, name_len, err, errcap);
}

int proj_list(proj_registry *reg, int (*fn)(void *ud, const proj_status *st), void *ud)
{
    int rc = 0;
    pthread_mutex_lock(&reg->mu);
    for (proj *p = reg->list; p && rc == 0; p = p->link) {
        proj_status st;
        fill_status(reg, p, &st, 0);
        rc = fn(ud, &st);
    }
    pthread_mutex_unlock(&reg->mu);
    return rc;
}

int proj_reached(proj_registry *reg, const char *name, size_t name_len, uint64_t position,
                 char *err, size_t errcap)
{
    int rc;
    pthread_mutex_lock(&reg->mu);
    proj *p = find(reg, name, name_len);
    if (!p) {
        pthread_mutex_unlock(&reg->mu);
        return not_found(name, name_len, err, errcap);
    }
    proj_inst *in = p->cur;
    if (atomic_load(&in->next_pos) > position) {
        rc = 1;
    } else if (atomic_load(&in->state) == PROJ_FAILED) {
        pthread_mutex_lock(&in->mu);
        snprintf(err, errcap, "PROJECTIONFAILED projection '%s' has failed and will not reach "
                 "position %llu: %s", p->name, (unsigned long long)position, in->err);
        pthread_mutex_unlock(&in->mu);
        rc = -1;
    } else {
        rc = 0;
    }
    pthread_mutex_unlock(&reg->mu);
    return rc;
}

/* For query.c: the current generation with a reference, or NULL. */
proj_inst *registry_acquire(proj_registry *reg, const char *name, size_t name_len);
proj_inst *registry_acquire(proj_registry *reg, const char *name, size_t name_len)
{
    pthread_mutex_lock(&reg->mu);
    proj *p = find(reg, name, name_len);
    proj_inst *in = p ? p->cur : NULL;
    if (in)
        in->refs++;
    pthread_mutex_unlock(&reg->mu);
    return in;
}
