/* dc_wal_vfs.c: the WAL's appends of a commit in one write (see the .h). */
#include "dc_wal_vfs.h"

#include <pthread.h>
#include <stdatomic.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define DC_WAL_VFS_NAME "discod-wal"
/* A WAL frame's header (SQLite's file format): bytes 4-7 hold the database
 * size in pages after a commit, 0 in any other frame. */
#define DC_WAL_FRAME_HEADER 24
/* Gathered at most before writing (a batch of 512 registrations is about
 * 600 pages); a larger write goes straight to the file. */
#define DC_WAL_GATHER_MAX (4u << 20)
/* Bytes handed to the platform's write at once: the unix VFS writes at most
 * 0x1ffff bytes a call (it masks the count: a gathered commit of exactly
 * 128 KiB came back as "database or disk is full"). */
#define DC_WAL_WRITE_MAX (124u << 10)

typedef struct {
    sqlite3_file base;  /* our methods */
    sqlite3_file *real; /* the platform VFS's file, in the memory after this struct */
    bool wal;
    bool commit_next;   /* the last write was a commit frame's header */
    unsigned char *buf; /* appends gathered: [start, start + used) of the file */
    size_t used, cap;
    sqlite3_int64 start;
} wfile_t;

static sqlite3_vfs *s_real;
static atomic_uint_fast64_t s_wal_writes; /* the platform's write calls for WAL files */
static sqlite3_vfs s_vfs;
static bool s_registered;
static pthread_once_t s_once = PTHREAD_ONCE_INIT;

#define REAL(file) (((wfile_t *)(file))->real)
#define RM(file) (REAL(file)->pMethods)

/* Writes what is gathered. Dropped when it fails: the transaction it
 * belongs to fails with the error. */
static int s_flush(wfile_t *f)
{
    int rc = SQLITE_OK;
    for (size_t done = 0; done < f->used && rc == SQLITE_OK; done += DC_WAL_WRITE_MAX) {
        size_t n = f->used - done < DC_WAL_WRITE_MAX ? f->used - done : DC_WAL_WRITE_MAX;
        rc = f->real->pMethods->xWrite(f->real, f->buf + done, (int)n,
                                       f->start + (sqlite3_int64)done);
        atomic_fetch_add_explicit(&s_wal_writes, 1, memory_order_relaxed);
    }
    f->used = 0;
    return rc;
}

/*==== The file's methods ====*/

static int s_close(sqlite3_file *file)
{
    wfile_t *f = (wfile_t *)file;
    int rc = s_flush(f);
    int closed = RM(file)->xClose(f->real);
    free(f->buf);
    f->buf = NULL;
    return rc != SQLITE_OK ? rc : closed;
}

static int s_read(sqlite3_file *file, void *data, int amt, sqlite3_int64 off)
{
    int rc = s_flush((wfile_t *)file);
    return rc != SQLITE_OK ? rc : RM(file)->xRead(REAL(file), data, amt, off);
}

static int s_write(sqlite3_file *file, const void *data, int amt, sqlite3_int64 off)
{
    wfile_t *f = (wfile_t *)file;
    if (!f->wal || amt <= 0)
        return RM(file)->xWrite(f->real, data, amt, off);
    bool header = amt == DC_WAL_FRAME_HEADER;
    bool ends_commit = f->commit_next && !header;
    const unsigned char *b = data;
    f->commit_next = header && (b[4] | b[5] | b[6] | b[7]) != 0;
    int rc = SQLITE_OK;
    if (f->used && (off != f->start + (sqlite3_int64)f->used ||
                    f->used + (size_t)amt > DC_WAL_GATHER_MAX))
        rc = s_flush(f);
    if (rc != SQLITE_OK)
        return rc;
    if (f->used + (size_t)amt > f->cap) {
        size_t cap = f->cap ? f->cap : 64u << 10;
        while (cap < f->used + (size_t)amt)
            cap *= 2;
        unsigned char *grown = cap <= DC_WAL_GATHER_MAX ? realloc(f->buf, cap) : NULL;
        if (!grown) { /* too large, or no memory: written as it comes */
            rc = s_flush(f);
            atomic_fetch_add_explicit(&s_wal_writes, 1, memory_order_relaxed);
            return rc != SQLITE_OK ? rc : RM(file)->xWrite(f->real, data, amt, off);
        }
        f->buf = grown;
        f->cap = cap;
    }
    if (!f->used)
        f->start = off;
    memcpy(f->buf + f->used, data, (size_t)amt);
    f->used += (size_t)amt;
    /* The commit frame is whole: the transaction's frames go to the file
     * now, and a failure is this write's, so the commit fails. */
    return ends_commit ? s_flush(f) : SQLITE_OK;
}

static int s_truncate(sqlite3_file *file, sqlite3_int64 size)
{
    int rc = s_flush((wfile_t *)file);
    return rc != SQLITE_OK ? rc : RM(file)->xTruncate(REAL(file), size);
}

static int s_sync(sqlite3_file *file, int flags)
{
    int rc = s_flush((wfile_t *)file);
    return rc != SQLITE_OK ? rc : RM(file)->xSync(REAL(file), flags);
}

static int s_file_size(sqlite3_file *file, sqlite3_int64 *size)
{
    int rc = s_flush((wfile_t *)file);
    return rc != SQLITE_OK ? rc : RM(file)->xFileSize(REAL(file), size);
}

static int s_lock(sqlite3_file *file, int level)
{
    return RM(file)->xLock(REAL(file), level);
}

static int s_unlock(sqlite3_file *file, int level)
{
    int rc = s_flush((wfile_t *)file);
    int unlocked = RM(file)->xUnlock(REAL(file), level);
    return rc != SQLITE_OK ? rc : unlocked;
}

static int s_check_reserved(sqlite3_file *file, int *out)
{
    return RM(file)->xCheckReservedLock(REAL(file), out);
}

static int s_file_control(sqlite3_file *file, int op, void *arg)
{
    int rc = s_flush((wfile_t *)file);
    return rc != SQLITE_OK ? rc : RM(file)->xFileControl(REAL(file), op, arg);
}

static int s_sector_size(sqlite3_file *file)
{
    return RM(file)->xSectorSize(REAL(file));
}

static int s_device(sqlite3_file *file)
{
    return RM(file)->xDeviceCharacteristics(REAL(file));
}

static int s_shm_map(sqlite3_file *file, int region, int size, int extend, void volatile **out)
{
    return RM(file)->xShmMap(REAL(file), region, size, extend, out);
}

static int s_shm_lock(sqlite3_file *file, int offset, int n, int flags)
{
    return RM(file)->xShmLock(REAL(file), offset, n, flags);
}

static void s_shm_barrier(sqlite3_file *file)
{
    RM(file)->xShmBarrier(REAL(file));
}

static int s_shm_unmap(sqlite3_file *file, int delete_flag)
{
    return RM(file)->xShmUnmap(REAL(file), delete_flag);
}

static int s_fetch(sqlite3_file *file, sqlite3_int64 off, int amt, void **out)
{
    int rc = s_flush((wfile_t *)file);
    return rc != SQLITE_OK ? rc : RM(file)->xFetch(REAL(file), off, amt, out);
}

static int s_unfetch(sqlite3_file *file, sqlite3_int64 off, void *p)
{
    return RM(file)->xUnfetch(REAL(file), off, p);
}

/* One table per version of the platform's methods, so SQLite never calls
 * a method the real file lacks. */
#define DC_WAL_METHODS(version)                                                                  \
    {version,          s_close,         s_read,       s_write,         s_truncate,   s_sync,     \
     s_file_size,      s_lock,          s_unlock,     s_check_reserved, s_file_control,          \
     s_sector_size,    s_device,        s_shm_map,    s_shm_lock,      s_shm_barrier, s_shm_unmap, \
     s_fetch,          s_unfetch}
static const sqlite3_io_methods s_methods[4] = {DC_WAL_METHODS(0), DC_WAL_METHODS(1),
                                                 DC_WAL_METHODS(2), DC_WAL_METHODS(3)};

/*==== The VFS's methods: the platform's, but for open ====*/

static int s_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *file, int flags, int *out_flags)
{
    (void)vfs;
    wfile_t *f = (wfile_t *)file;
    memset(f, 0, sizeof *f);
    f->real = (sqlite3_file *)(f + 1);
    int rc = s_real->xOpen(s_real, name, f->real, flags, out_flags);
    if (rc != SQLITE_OK) {
        if (f->real->pMethods)
            f->real->pMethods->xClose(f->real);
        f->base.pMethods = NULL;
        return rc;
    }
    int version = f->real->pMethods->iVersion;
    f->base.pMethods = &s_methods[version < 0 ? 0 : version > 3 ? 3 : version];
    f->wal = (flags & SQLITE_OPEN_WAL) != 0;
    return SQLITE_OK;
}

static int s_delete(sqlite3_vfs *vfs, const char *name, int sync_dir)
{
    (void)vfs;
    return s_real->xDelete(s_real, name, sync_dir);
}

static int s_access(sqlite3_vfs *vfs, const char *name, int flags, int *out)
{
    (void)vfs;
    return s_real->xAccess(s_real, name, flags, out);
}

static int s_full_pathname(sqlite3_vfs *vfs, const char *name, int size, char *out)
{
    (void)vfs;
    return s_real->xFullPathname(s_real, name, size, out);
}

static void *s_dl_open(sqlite3_vfs *vfs, const char *name)
{
    (void)vfs;
    return s_real->xDlOpen(s_real, name);
}

static void s_dl_error(sqlite3_vfs *vfs, int size, char *out)
{
    (void)vfs;
    s_real->xDlError(s_real, size, out);
}

static void (*s_dl_sym(sqlite3_vfs *vfs, void *handle, const char *name))(void)
{
    (void)vfs;
    return s_real->xDlSym(s_real, handle, name);
}

static void s_dl_close(sqlite3_vfs *vfs, void *handle)
{
    (void)vfs;
    s_real->xDlClose(s_real, handle);
}

static int s_randomness(sqlite3_vfs *vfs, int size, char *out)
{
    (void)vfs;
    return s_real->xRandomness(s_real, size, out);
}

static int s_sleep(sqlite3_vfs *vfs, int us)
{
    (void)vfs;
    return s_real->xSleep(s_real, us);
}

static int s_current_time(sqlite3_vfs *vfs, double *out)
{
    (void)vfs;
    return s_real->xCurrentTime(s_real, out);
}

static int s_last_error(sqlite3_vfs *vfs, int size, char *out)
{
    (void)vfs;
    return s_real->xGetLastError ? s_real->xGetLastError(s_real, size, out) : 0;
}

static int s_current_time64(sqlite3_vfs *vfs, sqlite3_int64 *out)
{
    (void)vfs;
    return s_real->xCurrentTimeInt64(s_real, out);
}

static void s_register(void)
{
    s_real = sqlite3_vfs_find(NULL);
    if (!s_real || s_real->iVersion < 2)
        return;
    s_vfs = (sqlite3_vfs){
        .iVersion = 2,
        .szOsFile = (int)sizeof(wfile_t) + s_real->szOsFile,
        .mxPathname = s_real->mxPathname,
        .zName = DC_WAL_VFS_NAME,
        .xOpen = s_open,
        .xDelete = s_delete,
        .xAccess = s_access,
        .xFullPathname = s_full_pathname,
        .xDlOpen = s_dl_open,
        .xDlError = s_dl_error,
        .xDlSym = s_dl_sym,
        .xDlClose = s_dl_close,
        .xRandomness = s_randomness,
        .xSleep = s_sleep,
        .xCurrentTime = s_current_time,
        .xGetLastError = s_last_error,
        .xCurrentTimeInt64 = s_current_time64,
    };
    s_registered = sqlite3_vfs_register(&s_vfs, 0) == SQLITE_OK;
}

const char *dc_wal_vfs_name(void)
{
    pthread_once(&s_once, s_register);
    return s_registered ? DC_WAL_VFS_NAME : NULL;
}

uint64_t dc_wal_vfs_writes(void)
{
    return atomic_load_explicit(&s_wal_writes, memory_order_relaxed);
}
