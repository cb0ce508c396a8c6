/*
 * error.c — error codes to words (mn_strerror) and the per-thread detail of
 * the last failure (mn_errmsg).
 *
 * Invariants:
 *   1. The detail lives in a _Thread_local buffer, so threads never see each
 *      other's messages and no locking is needed; mn_errmsg's pointer stays
 *      valid for the life of the thread, its contents until the next
 *      error_set/error_clear on that thread.
 *   2. error_set never fails and never allocates (it runs on paths that are
 *      already failing, ENOMEM included); an over-long message is truncated
 *      and ends in "...". It preserves errno, so a caller can still look at
 *      errno after recording the message, and it may be passed mn_errmsg()
 *      itself as an argument (to wrap an inner failure's detail).
 *   3. mn_strerror names every MN_E* code of mnemosyne.h; adding a code there
 *      means adding its line here (tests/unit/test_uuid.c checks each has a
 *      name of its own).
 */
#include "util/error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "mnemosyne.h"

#define ERRMSG_SIZE 512

static _Thread_local char errmsg[ERRMSG_SIZE]; /* "" when nothing is recorded */

/* Formats into a local buffer first: wrapping an inner failure's detail,
 * error_set(rc, "recovery: %s", mn_errmsg()), is a natural thing to write and
 * must not hand vsnprintf overlapping source and destination. */
int error_set(int err, const char *fmt, ...)
{
    char tmp[ERRMSG_SIZE];
    int saved = errno;
    va_list ap;
    int n;

    if (fmt == NULL)
        fmt = "";
    va_start(ap, fmt);
    n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0)
        tmp[0] = '\0';
    else if ((size_t)n >= sizeof tmp)
        memcpy(tmp + sizeof tmp - 4, "...", 4);
    memcpy(errmsg, tmp, sizeof errmsg);
    errno = saved;
    return err;
}

void error_clear(void)
{
    errmsg[0] = '\0';
}

const char *mn_errmsg(void)
{
    return errmsg;
}

const char *mn_strerror(int err)
{
    switch (err) {
    case MN_OK: return "success";
    case MN_EINVAL: return "invalid argument";
    case MN_ENOMEM: return "out of memory";
    case MN_EIO: return "I/O error";
    case MN_ENOSPC: return "no space left on device";
    case MN_ECORRUPT: return "log corrupted";
    case MN_EFORMAT: return "not a Mnemosyne store or unsupported format version";
    case MN_EWRONGVERSION: return "wrong expected version";
    case MN_ENOTFOUND: return "not found";
    case MN_EDELETED: return "stream deleted";
    case MN_ETOOBIG: return "event too big";
    case MN_EDUPLICATE: return "some event ids already stored";
    case MN_EREADONLY: return "store is read-only";
    case MN_ECLOSED: return "store is closing";
    case MN_ELOCKED: return "store is locked by another process";
    case MN_ETIMEOUT: return "timed out";
    case MN_EIDORDER: return "entry id not above the stream's top";
    case MN_EEXISTS: return "already exists";
    case MN_ENOGROUP: return "no such consumer group";
    default: return "unknown error";
    }
}
