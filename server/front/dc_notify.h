/* dc_notify.h: the systemd notify protocol without libsystemd: a datagram
 * to the unix socket named by $NOTIFY_SOCKET ("@..." is the abstract
 * namespace). Every call is a no-op when the variable is unset. */
#ifndef DC_NOTIFY_H
#define DC_NOTIFY_H

#include <stdbool.h>
#include <stdint.h>

/* Sends state (e.g. "READY=1\nSTATUS=serving"). Returns 0, -1 on error, or 1
 * when not running under a notify-aware manager. */
int dc_notify(const char *state);

/* The watchdog interval systemd asked for ($WATCHDOG_USEC, honouring
 * $WATCHDOG_PID), in ms; 0 when there is none. */
uint64_t dc_notify_watchdog_ms(void);

#endif
