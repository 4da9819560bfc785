/* dc_front.h: the front thread (czmq actor): it owns the client-facing ROUTER
 * sockets, checks each tcp request's key and role (dc_keys), answers PING,
 * LOOKUP, HEARTBEAT and a WAIT whose topic is there inline (dc_quick_reply),
 * hands REGISTER, UNREGISTER, SUBSCRIBE, UNSUBSCRIBE and a WAIT to hold it
 * could decode straight to the writer, and load-balances the rest over the
 * workers, which it starts, with the writer (dc_writer or dc_cluster), the
 * prober and the datagram channel. Answers from the workers and the writer
 * come back through it. It also sends systemd's watchdog while its loop and
 * the writer's turn.
 *
 * Design notes: the front's sockets are its own (its loop drains those that
 * may hold a message and polls their descriptors only when none may); it
 * shares with the other threads only the context (dc_context.h, whose header
 * says the rule for each part). */
#ifndef DC_FRONT_H
#define DC_FRONT_H

#include "dc_pipeline.h"

/* Worker threads at most (--workers is capped to it). */
#define DC_MAX_WORKERS 64

/* The context, and the store and state the front hands to the writer it
 * starts (the writer's alone from then on). Must outlive the actor. */
typedef dc_writer_args_t dc_front_args_t;

/* Actor body: zactor_new(dc_front_actor, args). After the start signal it
 * sends "READY" or "FAILED" on the pipe ("FAILED": then it waits for
 * $TERM). A SHUTDOWN request, or $TERM, drains the in-flight requests (up
 * to a few seconds); after a SHUTDOWN it says "STOPPED" on the pipe and waits
 * for $TERM; then it stops every thread it started. */
void dc_front_actor(zsock_t *pipe, void *args);

#endif
