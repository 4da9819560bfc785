/* dc_mismatch.h: subscribers and publishers of a topic that do not agree on
 * its message type: the rule, finding them, and packing them for replies,
 * events and GRAPH.
 *
 * A subscription states the type and fingerprint it expects; an empty type
 * or a fingerprint of 0 expects anything of that part. A publisher whose
 * type or fingerprint differs from what is expected is a mismatch: the
 * subscriber would receive messages it cannot decode (Cortex drops them
 * silently), so discod says so everywhere it can.
 *
 * Design notes: the functions taking registries read them like any reader
 * (the registry's own lock, references held while packing), so workers, the
 * front and the writer thread all may call them. */
#ifndef DC_MISMATCH_H
#define DC_MISMATCH_H

#include "dc_registry.h"

#include <msgpack.h>

/* Does publication pub fail what subscription sub expects? */
bool dc_mismatch_between(const dc_entry_t *pub, const dc_entry_t *sub);

/* Packs the publishers among pubs (count) that sub's expectation fails, as
 * an array of {node, message_type, fingerprint, address} (a publisher's
 * side of a mismatch). Packs nothing and returns 0 when there are none;
 * otherwise returns how many. */
size_t dc_mismatch_pack_publishers(const dc_entry_t *sub, dc_entry_t *const *pubs, size_t count,
                                   msgpack_packer *pk);

/* The same for the subscription of node to name, read from the registries:
 * packs into buf (appending) the publishers of name its expectation fails.
 * Returns how many (0: none, or no such subscription). */
size_t dc_mismatch_for(dc_registry_t *pubs, dc_registry_t *subs, dc_str_t name, dc_str_t node,
                       msgpack_sbuffer *buf);

/* Packs one mismatch as GRAPH and events show it: {topic, subscriber: {node,
 * message_type, fingerprint}, publisher: {node, message_type, fingerprint}}. */
void dc_mismatch_pack(const dc_entry_t *pub, const dc_entry_t *sub, msgpack_packer *pk);

/* Calls fn for each mismatch between the publisher or subscription e (sub:
 * which of the two it is) and the other side of its topic in the registries
 * (e itself is skipped; e need not be in them). Returns how many. */
size_t dc_mismatch_each(dc_registry_t *pubs, dc_registry_t *subs, const dc_entry_t *e, bool sub,
                        void (*fn)(void *arg, const dc_entry_t *pub, const dc_entry_t *sub),
                        void *arg);

#endif
