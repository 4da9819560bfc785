/* dc_events.h: what applying a change tells the world: the registry event
 * stream (a PUB socket, CURVE on tcp) and the WAITs held until a topic
 * appears (woken by its first publisher; protocol 2 answers list them all).
 *
 * dc_events_applied is the observer dc_apply calls, so every member of a
 * cluster publishes the same events with the same seqs and wakes its own
 * waiters, whichever member decided the change.
 *
 * Design notes: owned and used by the writer thread alone; replies to held
 * WAITs go out on the answers queue to the front (ctx->answers, dc_handoff.h,
 * which any thread may push to). */
#ifndef DC_EVENTS_H
#define DC_EVENTS_H

#include "dc_apply.h"
#include "dc_write_op.h"

#include <czmq.h>

typedef struct dc_events dc_events_t;

/* Binds the events endpoint of ctx's config (none when it is NULL). Returns
 * NULL after logging why it could not. */
dc_events_t *dc_events_new(dc_context_t *ctx);

/* Answers every held WAIT (NOT_FOUND), closes the PUB socket and unlinks its
 * ipc file. Safe on NULL and twice. */
void dc_events_destroy(dc_events_t **self_p);

/* The observer for dc_apply: publishes a's event, wakes WAITs for a new topic. */
void dc_events_applied(dc_events_t *self, const dc_applied_t *a);

/* A WAIT_TOPIC op: answered now when the topic is registered, otherwise held
 * (taking the op's route) until it is or its time-out passes. */
void dc_events_wait(dc_events_t *self, dc_write_op_t *op, uint64_t now_mono_ms);

/* Answers the held WAITs whose time ran out (NOT_FOUND). */
void dc_events_expire(dc_events_t *self, uint64_t now_mono_ms);

/* When the next held WAIT times out (UINT64_MAX: none). */
uint64_t dc_events_next_deadline(const dc_events_t *self);

/* An isolated member's notices (cluster/dc_island), published on the same
 * stream but not part of the registry's: their seq is the registry's last
 * event's (no new one), and only this member publishes them.
 * - member.isolated: no leader for two election timeouts (mode serve-local
 *   or read-only);
 * - from dc_events_provisional(self, true) on, the events of the island's own
 *   changes carry provisional: true;
 * - member.rejoined: the state is back to what the cluster committed (seq:
 *   its last event; withdrawn: how many provisional events were published).
 *   A listener lists again and goes on from seq: the committed stream, the
 *   merged writes among it, reuses the seqs the provisional events had;
 * - member.conflict: a provisional write the cluster refused when merged
 *   ({kind: topic|subscription, topic, node, message: the refusal, which
 *   names the holder}). */
void dc_events_isolated(dc_events_t *self, uint64_t seq, bool serve_local);
void dc_events_provisional(dc_events_t *self, bool on);
void dc_events_rejoined(dc_events_t *self, uint64_t seq);
void dc_events_conflict(dc_events_t *self, uint64_t seq, const char *kind, const char *topic,
                        const char *node, const char *message);

/* Answers every held WAIT with NOT_FOUND (the daemon is stopping). */
void dc_events_flush(dc_events_t *self);

#endif
