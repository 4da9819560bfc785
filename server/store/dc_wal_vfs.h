/* dc_wal_vfs.h: a SQLite VFS over the platform's own that writes each
 * commit's WAL frames with one system call.
 *
 * SQLite appends a transaction to the WAL as two writes per page (the frame
 * header, then the page): about thirty pwrite calls for a commit of eight
 * registrations, each costing more than its bytes on a small board. This VFS
 * gathers the contiguous appends to a WAL file in memory and writes them at
 * once when the commit frame is complete (the frame whose header carries the
 * database size, SQLite's documented WAL format), so an error (a full disk)
 * is still returned by the write that completes the commit and the
 * transaction fails as before. Anything that could look at the file (sync,
 * read, size, truncate, locks, the wal-index barrier, close) writes what is
 * gathered first. The bytes, their order and the file are SQLite's own; only
 * the number of calls changes. The database file and every other file pass
 * straight through.
 *
 * Design notes: a connection's files are used by the thread that uses the
 * connection (the store is the writer thread's); the VFS object is
 * registered once (pthread_once) and never changes after. */
#ifndef DC_WAL_VFS_H
#define DC_WAL_VFS_H

#include <stdint.h>

/* Registers the VFS (not as the default) and returns its name for
 * sqlite3_open_v2, or NULL when it cannot be registered (then open with the
 * default VFS). */
const char *dc_wal_vfs_name(void);

/* The write calls made to WAL files through this VFS so far (every store of
 * the process): what the unit test counts. */
uint64_t dc_wal_vfs_writes(void);

#endif
