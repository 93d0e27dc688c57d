/*
 * hq_faultvfs.c: HEAPQL_FAULT's database sites (heapql/internal/fault.h).  A VFS shim over the
 * default one fails the N-th read or write SQLite makes to a file, and an allocator shim fails
 * SQLite's N-th allocation: the real failure paths of SQLite and of heapql above it, without a
 * full disk or a starved machine.  Installed once, before the first database is opened, only
 * when HEAPQL_FAULT names a database site.
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "base/base_int.h"
#include "heapql/internal/fault.h"

typedef struct fault_file_s {
  sqlite3_file base;          /* methods: ours */
  sqlite3_file *real;         /* the default VFS's file, right after this struct */
} fault_file_t;

static sqlite3_vfs *real_vfs;
static sqlite3_vfs fault_vfs;
static sqlite3_io_methods fault_methods;
static sqlite3_mem_methods real_mem;

#define REAL(f) (((fault_file_t *)(f))->real)

static int f_close(sqlite3_file *f) {
  int rc = REAL(f)->pMethods ? REAL(f)->pMethods->xClose(REAL(f)) : SQLITE_OK;
  return rc;
}
static int f_read(sqlite3_file *f, void *buf, int n, sqlite3_int64 off) {
  if (hq__fault(HQ_FAULT_DB_READ)) return SQLITE_IOERR_READ;
  return REAL(f)->pMethods->xRead(REAL(f), buf, n, off);
}
static int f_write(sqlite3_file *f, const void *buf, int n, sqlite3_int64 off) {
  int err = hq__fault(HQ_FAULT_DB_WRITE);
  if (err) return err == ENOSPC ? SQLITE_FULL : SQLITE_IOERR_WRITE;
  return REAL(f)->pMethods->xWrite(REAL(f), buf, n, off);
}
static int f_truncate(sqlite3_file *f, sqlite3_int64 size) { return REAL(f)->pMethods->xTruncate(REAL(f), size); }
static int f_sync(sqlite3_file *f, int flags) { return REAL(f)->pMethods->xSync(REAL(f), flags); }
static int f_size(sqlite3_file *f, sqlite3_int64 *out) { return REAL(f)->pMethods->xFileSize(REAL(f), out); }
static int f_lock(sqlite3_file *f, int l) { return REAL(f)->pMethods->xLock(REAL(f), l); }
static int f_unlock(sqlite3_file *f, int l) { return REAL(f)->pMethods->xUnlock(REAL(f), l); }
static int f_check(sqlite3_file *f, int *out) { return REAL(f)->pMethods->xCheckReservedLock(REAL(f), out); }
static int f_ctl(sqlite3_file *f, int op, void *arg) { return REAL(f)->pMethods->xFileControl(REAL(f), op, arg); }
static int f_sector(sqlite3_file *f) { return REAL(f)->pMethods->xSectorSize(REAL(f)); }
static int f_chars(sqlite3_file *f) { return REAL(f)->pMethods->xDeviceCharacteristics(REAL(f)); }

static int f_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *file, int flags, int *out_flags) {
  fault_file_t *ff = (fault_file_t *)file;
  int rc;
  (void)vfs;
  ff->real = (sqlite3_file *)(ff + 1);
  rc = real_vfs->xOpen(real_vfs, name, ff->real, flags, out_flags);
  if (ff->real->pMethods) {
    file->pMethods = &fault_methods;
  } else {
    file->pMethods = NULL;
  }
  return rc;
}

static int m_init(void *arg) { return real_mem.xInit(arg); }
static void m_shutdown(void *arg) { real_mem.xShutdown(arg); }
static void *m_malloc(int n) { return hq__fault(HQ_FAULT_DB_ALLOC) ? NULL : real_mem.xMalloc(n); }
static void *m_realloc(void *p, int n) {
  return hq__fault(HQ_FAULT_DB_ALLOC) ? NULL : real_mem.xRealloc(p, n);
}
static void m_free(void *p) { real_mem.xFree(p); }
static int m_size(void *p) { return real_mem.xSize(p); }
static int m_roundup(int n) { return real_mem.xRoundup(n); }

static void install(void) {
  static sqlite3_mem_methods ours;
  if (!hq__fault_enabled()) return;
  /* Before SQLite initializes: allocator first (it cannot change later). */
  if (sqlite3_config(SQLITE_CONFIG_GETMALLOC, &real_mem) == SQLITE_OK) {
    ours = real_mem;
    ours.xMalloc = m_malloc;
    ours.xRealloc = m_realloc;
    ours.xFree = m_free;
    ours.xSize = m_size;
    ours.xRoundup = m_roundup;
    ours.xInit = m_init;
    ours.xShutdown = m_shutdown;
    sqlite3_config(SQLITE_CONFIG_MALLOC, &ours);
  }
  real_vfs = sqlite3_vfs_find(NULL);
  if (!real_vfs) return;
  fault_vfs = *real_vfs;
  fault_vfs.zName = "heapql-fault";
  fault_vfs.szOsFile = (int)sizeof(fault_file_t) + real_vfs->szOsFile;
  fault_vfs.xOpen = f_open;
  fault_vfs.pNext = NULL;
  fault_methods = (sqlite3_io_methods){
    .iVersion = 1, .xClose = f_close, .xRead = f_read, .xWrite = f_write,
    .xTruncate = f_truncate, .xSync = f_sync, .xFileSize = f_size, .xLock = f_lock,
    .xUnlock = f_unlock, .xCheckReservedLock = f_check, .xFileControl = f_ctl,
    .xSectorSize = f_sector, .xDeviceCharacteristics = f_chars,
  };
  sqlite3_vfs_register(&fault_vfs, 1);
}

void hq__fault_db_install(void) {
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  pthread_once(&once, install);
}
