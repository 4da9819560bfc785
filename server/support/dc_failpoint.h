/* dc_failpoint.h: crash points for the crash-consistency tests, compiled in
 * only when DISCOD_FAILPOINTS is set at build time (test builds; the Debian
 * package is built without).
 *
 * DISCOD_FAILPOINT=NAME[:N] in the environment arms one point: the N-th time
 * (default the first) NAME is reached, the daemon kills itself with SIGKILL,
 * exactly as a crash would stop it. Points: before-commit, after-commit,
 * checkpoint (killed a moment after a WAL checkpoint starts), answer-forward
 * (a cluster's leader, with a forwarded write committed and applied, before
 * it answers the follower). slow-commit:MS instead delays every commit by MS
 * milliseconds (a slow disk), hold-merge:MS keeps a follower from sending
 * the leader what it took while cut off for MS ms after its first try (as
 * a first leader after a heal that does not last would,
 * dc_cluster_forward.c); drop-snapshot:N drops the first N Raft
 * snapshots sent to this member, as if lost on the way (dc_cluster_start.c),
 * old-member-channel makes the member speak the member channel as releases
 * before "H" and "G" did (dc_cluster_forward.c: a mixed cluster's test). */
#ifndef DC_FAILPOINT_H
#define DC_FAILPOINT_H

#include <stdint.h>

#ifdef DISCOD_FAILPOINTS
void dc_failpoint(const char *name);
/* The N of an armed NAME:N, or 0 when NAME is not armed. */
uint64_t dc_failpoint_value(const char *name);
#else
#define dc_failpoint(name) ((void)0)
#define dc_failpoint_value(name) ((uint64_t)0)
#endif

#endif
