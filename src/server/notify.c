/*
 * notify.c — thin event notifications ("event notification" in DESIGN §1):
 * for every event appended, a small JSON message on pub/sub channels
 *
 *     __mnemo__:<stream>   __mnemo__:$ce-<category>   __mnemo__:$et-<type>
 *     __mnemo__:$all
 *
 * carrying the event's identity only — {"stream","version","position","id",
 * "type","entry"} (entry: its Redis entry id, for XRANGE users); consumers
 * call back (ES.READ / ES.READALL / XRANGE) for the data and metadata. The model is Redis's
 * keyspace notifications (__keyspace@0__:<key>): ordinary channels, so
 * SUBSCRIBE and PSUBSCRIBE work with every client, RESP3 gets pushes, and
 * a subscriber that does not read is cut by the pubsub output-buffer limit.
 *
 * Invariants:
 *   1. Only events below the log's visible end are notified. The writer
 *      moves that end only once a batch is durable under the fsync policy
 *      (writer.c, step 4), and before it answers the appenders: a
 *      notification never announces an event a crash could take back, and
 *      a refused or failed append, which writes nothing, notifies nothing.
 *   2. `next` only moves forward: each event is notified at most once, in
 *      global position order, so on every channel messages arrive in
 *      position order.
 *   3. No subscriber that may match (pubsub_notify_wanted() == 0): nothing
 *      is read, nothing is encoded. When the first one appears (notify_start)
 *      `next` jumps to the store's end: like any pub/sub message, a
 *      notification goes to those subscribed when it is published.
 *   4. Bounded work: at most NOTIFY_BUDGET events per pass of the loop; the
 *      rest waits for the next pass (a post of more_item), so other clients
 *      are served in between. Subscribers that fall behind are cut by their
 *      output-buffer limit, not buffered without end; after a gap they
 *      catch up with ES.READALL FROM <last position + 1>.
 *
 * Runs on the loop thread only (called from server.c's store-advance post).
 */
#include <stdio.h>
#include <string.h>

#include "server.h"
#include "stream_util.h"
#include "util/buf.h"
#include "util/json.h"

/* Events notified per loop pass; a few hundred microseconds of work. */
#define NOTIFY_BUDGET 1024

static void more_run(void *arg);

static uint64_t from;                    /* a record boundary to read from */
static uint64_t next;                    /* events below this are notified */
static uint64_t known_end;               /* the store's visible end, as last told */
static int more_pending;                 /* more_item is queued */
static server_post_item more_item = {NULL, more_run, NULL}; /* continues a pass
                                            cut by the budget */
static buf chan;                         /* channel name being built (reused) */
static buf msg;                          /* message being built (reused) */

void notify_start(void)
{
    if (!server.store)
        return;
    mn_store_info info;
    mn_store_info_get(server.store, &info);
    if (info.end_position > known_end)
        known_end = info.end_position;
    if (known_end > next)
        from = next = known_end;
}

/* The category of a stream, as the engine's $ce- view defines it
 * (mnemosyne.h, MN_VIEW_CATEGORY): the name up to its first '-', or the
 * whole name if it has none. */
static size_t category_len(const char *s, size_t len)
{
    const char *dash = memchr(s, '-', len);
    return dash ? (size_t)(dash - s) : len;
}

static void publish_on(const char *infix, const char *name, size_t len)
{
    buf_reset(&chan);
    buf_append(&chan, NOTIFY_PREFIX, NOTIFY_PREFIX_LEN);
    buf_append_str(&chan, infix);
    buf_append(&chan, name, len);
    if (!chan.oom)
        pubsub_publish(chan.data, chan.len, msg.data, msg.len);
}

static void notify_event(const mn_event_view *ev)
{
    char id[37], entry[STREAM_ID_STR_MAX];
    mn_uuid_format(ev->id, id);
    stream_format_id(ev->entry_id, entry);
    buf_reset(&msg);
    buf_append_str(&msg, "{\"stream\":");
    json_append_string(&msg, ev->stream, ev->stream_len);
    buf_printf(&msg, ",\"version\":%lld,\"position\":%llu,\"id\":\"%s\",\"type\":",
               (long long)ev->version, (unsigned long long)ev->position, id);
    json_append_string(&msg, ev->type, ev->type_len);
    buf_printf(&msg, ",\"entry\":\"%s\"}", entry);
    if (msg.oom)
        return;
    publish_on("", ev->stream, ev->stream_len);
    publish_on("$ce-", ev->stream, category_len(ev->stream, ev->stream_len));
    publish_on("$et-", ev->type, ev->type_len);
    publish_on("$all", "", 0);
}

static void more_run(void *arg)
{
    (void)arg;
    more_pending = 0;
    notify_store_advanced(known_end);
}

void notify_store_advanced(uint64_t end)
{
    if (end > known_end)
        known_end = end;
    /* While an EXEC holds the barrier, nobody may see it half done:
     * exec_barrier_lift calls again (client.c). */
    if (!server.store || server.exec_barrier || !pubsub_notify_wanted() || next >= known_end)
        return;
    end = known_end;
    mn_iter *it = NULL;
    mn_event_view ev;
    uint64_t last = 0;
    int n = 0, rc;
    /* one more than the budget: the event at `from` may be one already sent */
    if ((rc = mn_read_all(server.store, from, NOTIFY_BUDGET + 1, &it)) != MN_OK)
        goto fail;
    while (n < NOTIFY_BUDGET && (rc = mn_iter_next(it, &ev)) > 0) {
        if (ev.position < next)
            continue;
        notify_event(&ev);
        last = ev.position;
        n++;
        /* the last subscriber may have been cut for its output: stop early */
        if (!pubsub_notify_wanted())
            break;
    }
    if (rc < 0)
        goto fail;
    if (n > 0 && last >= end) {
        /* the iterator saw past `end` (the store advanced meanwhile) */
        from = last;
        next = last + 1;
    } else {
        /* everything below `end` has been seen: events and the records
         * that are not events (deliveries, acks), which are passed over
         * once rather than on every pass */
        from = next = end;
    }
    if (n == NOTIFY_BUDGET) {
        from = last;
        next = last + 1;
        if (!more_pending) {
            more_pending = 1;
            server_post_submit(&more_item);
        }
    }
    mn_iter_free(it);
    return;
fail:
    /* A damaged record cannot be notified; skip what is committed so the
     * next pass does not fail on it again. ES.READALL reports the damage. */
    server_log(LL_WARNING, "Event notifications: reading the log at %llu: %s; skipping to %llu",
               (unsigned long long)from, mn_errmsg(), (unsigned long long)end);
    from = next = end;
    mn_iter_free(it);
}
