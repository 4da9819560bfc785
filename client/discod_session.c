/* discod_session.c: a lease kept alive by a thread (see include/discod.h).
 *
 * Design notes: one mutex guards the session: the topic and subscription
 * lists, the lease id and
 * the client (whose socket is used by the caller's thread and the renewal
 * thread in turn, never at once). The renewal thread sleeps on a condition
 * variable so destroy wakes it at once. */
#include "discod_internal.h"

#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct discod_session {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    pthread_t thread;
    bool stop;
    discod_client_t *client;
    uint64_t ttl_ms;
    uint64_t lease_id;
    uint64_t epoch; /* the daemon's epoch when the topics were last registered */
    discod_topic_t *topics;
    size_t count, cap;
    /* Subscriptions, as topics: name the topic, publisher_node the
     * subscriber, address "". */
    discod_topic_t *subs;
    size_t sub_count, sub_cap;
    uint64_t reregistrations;
    unsigned int seed;
};

static int s_copy_topic(discod_topic_t *dst, const discod_topic_t *src)
{
    dst->name = strdup(src->name);
    dst->address = strdup(src->address);
    dst->message_type = strdup(src->message_type);
    dst->publisher_node = strdup(src->publisher_node);
    dst->fingerprint = src->fingerprint;
    if (!dst->name || !dst->address || !dst->message_type || !dst->publisher_node) {
        discod_topic_clear(dst);
        return -1;
    }
    return 0;
}

/* One write of t under the session lease: a topic's registration, or (sub) a
 * subscription's declaration (mismatches as for discod_subscribe). */
static discod_result_t s_write(discod_session_t *s, const discod_topic_t *t, bool sub,
                               const discod_register_opts_t *opts, uint64_t *lease,
                               discod_mismatch_t **mismatches, size_t *count)
{
    if (!sub)
        return discod_register_ex(s->client, t, opts, lease);
    discod_subscription_t subscription = {t->name, t->publisher_node, t->message_type,
                                          t->fingerprint};
    return discod_subscribe(s->client, &subscription, opts, lease, mismatches, count);
}

/* Writes t (a topic, or with sub a subscription kept as a topic) under the
 * session lease, creating one when there is none. Called with the lock held. */
static discod_result_t s_write_locked(discod_session_t *s, const discod_topic_t *t, bool sub,
                                      discod_mismatch_t **mismatches, size_t *count)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        discod_register_opts_t opts = {0};
        if (s->lease_id)
            opts.lease_id = s->lease_id;
        else
            opts.lease_ttl_ms = s->ttl_ms;
        uint64_t lease = 0;
        discod_result_t r = s_write(s, t, sub, &opts, &lease, mismatches, count);
        if (r == DISCOD_OK) {
            if (lease)
                s->lease_id = lease;
            s->epoch = discod_client_epoch(s->client);
            return r;
        }
        /* Our lease vanished (expired while the daemon was away): new one. */
        if (r == DISCOD_NOT_FOUND && s->lease_id) {
            s->lease_id = 0;
            continue;
        }
        return r;
    }
    return DISCOD_NOT_FOUND;
}

static void s_register_all_locked(discod_session_t *s)
{
    s->lease_id = 0;
    for (size_t i = 0; i < s->count; i++)
        s_write_locked(s, &s->topics[i], false, NULL, NULL);
    for (size_t i = 0; i < s->sub_count; i++)
        s_write_locked(s, &s->subs[i], true, NULL, NULL);
    s->reregistrations++;
}

/* Keeps a copy of t in a list, replacing the one of the same name (and, with
 * by_node, the same node). */
static discod_result_t s_keep(discod_topic_t **list, size_t *count, size_t *cap,
                              const discod_topic_t *t, bool by_node)
{
    size_t i = 0;
    while (i < *count && (strcmp((*list)[i].name, t->name) != 0 ||
                          (by_node && strcmp((*list)[i].publisher_node, t->publisher_node) != 0)))
        i++;
    if (i == *count && *count == *cap) {
        size_t grown_cap = *cap ? *cap * 2 : 8;
        discod_topic_t *grown = realloc(*list, grown_cap * sizeof *grown);
        if (!grown)
            return DISCOD_NOMEM;
        *list = grown;
        *cap = grown_cap;
    }
    if (i < *count)
        discod_topic_clear(&(*list)[i]);
    if (s_copy_topic(&(*list)[i], t) != 0) {
        if (i < *count) /* the old copy is gone: close the hole */
            (*list)[i] = (*list)[--*count];
        return DISCOD_NOMEM;
    }
    if (i == *count)
        (*count)++;
    return DISCOD_OK;
}

static void s_deadline(struct timespec *ts, uint64_t ms)
{
    clock_gettime(CLOCK_REALTIME, ts);
    ts->tv_sec += (time_t)(ms / 1000);
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

static void *s_renew(void *arg)
{
    discod_session_t *s = arg;
    uint64_t period = s->ttl_ms / 3 ? s->ttl_ms / 3 : 1;
    pthread_mutex_lock(&s->lock);
    while (!s->stop) {
        struct timespec ts;
        s_deadline(&ts, period);
        pthread_cond_timedwait(&s->wake, &s->lock, &ts);
        if (s->stop || (s->count == 0 && s->sub_count == 0))
            continue;
        bool again = s->lease_id == 0;
        if (!again) {
            discod_result_t r = discod_heartbeat(s->client, s->lease_id, NULL);
            again = r == DISCOD_NOT_FOUND ||
                    (r == DISCOD_OK && discod_client_epoch(s->client) != s->epoch);
        }
        if (!again)
            continue;
        /* Spread the herd: wait up to a period (at most a second) first. */
        uint64_t spread = period < 1000 ? period : 1000;
        s_deadline(&ts, (uint64_t)rand_r(&s->seed) % (spread + 1));
        pthread_cond_timedwait(&s->wake, &s->lock, &ts);
        if (!s->stop)
            s_register_all_locked(s);
    }
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

discod_session_t *discod_session_new(const char *const *endpoints, size_t count,
                                     const discod_options_t *options, uint64_t ttl_ms)
{
    if (ttl_ms == 0)
        return NULL;
    discod_options_t o;
    if (options)
        o = *options;
    else
        discod_options_init(&o);
    /* A renewal must not outlast its period. */
    uint64_t period = ttl_ms / 3;
    if (period < 100)
        period = 100;
    if ((uint64_t)o.timeout_ms > period)
        o.timeout_ms = (int)period;
    discod_session_t *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->client = discod_client_new_multi(endpoints, count, &o);
    if (!s->client) {
        free(s);
        return NULL;
    }
    s->ttl_ms = ttl_ms;
    s->seed = (unsigned int)time(NULL) ^ (unsigned int)getpid() ^ (unsigned int)(uintptr_t)s;
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->wake, NULL);
    /* The renewal thread takes no signals: they belong to the application's
     * threads (only this thread's mask is touched, and restored). */
    sigset_t all, saved;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &saved);
    int rc = pthread_create(&s->thread, NULL, s_renew, s);
    pthread_sigmask(SIG_SETMASK, &saved, NULL);
    if (rc != 0) {
        discod_client_destroy(&s->client);
        pthread_mutex_destroy(&s->lock);
        pthread_cond_destroy(&s->wake);
        free(s);
        return NULL;
    }
    return s;
}

discod_result_t discod_session_register(discod_session_t *s, const discod_topic_t *t)
{
    if (!s || !t)
        return DISCOD_INVALID;
    pthread_mutex_lock(&s->lock);
    discod_result_t r = s_write_locked(s, t, false, NULL, NULL);
    if (r == DISCOD_OK)
        r = s_keep(&s->topics, &s->count, &s->cap, t, false);
    pthread_mutex_unlock(&s->lock);
    return r;
}

discod_result_t discod_session_subscribe(discod_session_t *s, const discod_subscription_t *sub,
                                         discod_mismatch_t **mismatches, size_t *mismatch_count)
{
    if (!s || !sub || !sub->topic || !sub->node)
        return DISCOD_INVALID;
    discod_topic_t t = {(char *)sub->topic, (char *)"",
                        (char *)(sub->message_type ? sub->message_type : ""), sub->fingerprint,
                        (char *)sub->node};
    pthread_mutex_lock(&s->lock);
    discod_result_t r = s_write_locked(s, &t, true, mismatches, mismatch_count);
    if (r == DISCOD_OK && (r = s_keep(&s->subs, &s->sub_count, &s->sub_cap, &t, true)) != 0 &&
        mismatches) {
        discod_mismatches_free(*mismatches, *mismatch_count);
        *mismatches = NULL;
        *mismatch_count = 0;
    }
    pthread_mutex_unlock(&s->lock);
    return r;
}

discod_result_t discod_session_unsubscribe(discod_session_t *s, const char *topic,
                                           const char *node)
{
    if (!s || !topic || !node)
        return DISCOD_INVALID;
    pthread_mutex_lock(&s->lock);
    discod_result_t r = discod_unsubscribe(s->client, topic, node);
    for (size_t i = 0; i < s->sub_count; i++)
        if (!strcmp(s->subs[i].name, topic) && !strcmp(s->subs[i].publisher_node, node)) {
            discod_topic_clear(&s->subs[i]);
            s->subs[i] = s->subs[--s->sub_count];
            break;
        }
    pthread_mutex_unlock(&s->lock);
    return r;
}

discod_result_t discod_session_unregister(discod_session_t *s, const char *name)
{
    if (!s || !name)
        return DISCOD_INVALID;
    pthread_mutex_lock(&s->lock);
    size_t i = 0;
    while (i < s->count && strcmp(s->topics[i].name, name) != 0)
        i++;
    /* Our own registration: by our node, where a topic may have several
     * publishers (by name alone when the node is unnamed or unknown). */
    const char *node = i < s->count ? s->topics[i].publisher_node : "";
    discod_result_t r = *node ? discod_unregister_node_topic(s->client, name, node)
                              : discod_unregister(s->client, name);
    if (i < s->count) {
        discod_topic_clear(&s->topics[i]);
        s->topics[i] = s->topics[--s->count];
    }
    pthread_mutex_unlock(&s->lock);
    return r;
}

uint64_t discod_session_lease_id(discod_session_t *s)
{
    pthread_mutex_lock(&s->lock);
    uint64_t id = s->lease_id;
    pthread_mutex_unlock(&s->lock);
    return id;
}

uint64_t discod_session_reregistrations(discod_session_t *s)
{
    pthread_mutex_lock(&s->lock);
    uint64_t n = s->reregistrations;
    pthread_mutex_unlock(&s->lock);
    return n;
}

void discod_session_destroy(discod_session_t **s_p)
{
    if (!s_p || !*s_p)
        return;
    discod_session_t *s = *s_p;
    pthread_mutex_lock(&s->lock);
    s->stop = true;
    pthread_cond_signal(&s->wake);
    pthread_mutex_unlock(&s->lock);
    pthread_join(s->thread, NULL);
    if (s->lease_id)
        discod_revoke_lease(s->client, s->lease_id);
    discod_client_destroy(&s->client);
    discod_topic_list_free(s->topics, s->count);
    discod_topic_list_free(s->subs, s->sub_count);
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->wake);
    free(s);
    *s_p = NULL;
}
