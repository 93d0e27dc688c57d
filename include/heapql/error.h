/*
 * heapql/error.h: the one list of heapql error codes.
 *
 * Every fallible public function returns int: HQ_OK (0) or one of the negative HQ_E* codes
 * below.  Results travel through out-parameters, never through sentinel return values.
 * hq_strerror() and hq_err_name() are generated from the same list, so a code, its name and its
 * message cannot drift apart.  Detail beyond the code (SQLite's text, a file name) is kept on
 * the handle: see hq_db_errmsg().
 */
#ifndef HEAPQL_ERROR_H
#define HEAPQL_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

#ifndef HQ_API
#define HQ_API __attribute__((visibility("default")))
#endif

/* XX(name, value, message) */
#define HQ_ERRNO_MAP(XX)                                                          \
  XX(EINVAL,   -1, "invalid argument")                                            \
  XX(ENOMEM,   -2, "out of memory")                                               \
  XX(EIO,      -3, "input/output error")                                          \
  XX(ENOENT,   -4, "no such file or object")                                      \
  XX(EMISUSE,  -5, "API misuse")                                                  \
  XX(EDB,      -6, "database error")                                              \
  XX(ESCHEMA,  -7, "not a heapql database, or an unsupported schema version")     \
  XX(ENOTSUP,  -8, "not supported in this build")                                 \
  XX(ECUDA,    -9, "CUDA error")                                                  \
  XX(EFORMAT, -10, "malformed or truncated input")                                \
  XX(EEXIST,  -11, "output already exists")                                       \
  XX(ERANGE,  -12, "value out of range")

typedef enum {
  HQ_OK = 0,
#define HQ__ERR_ENUM(name, value, msg) HQ_##name = (value),
  HQ_ERRNO_MAP(HQ__ERR_ENUM)
#undef HQ__ERR_ENUM
} hq_err_t;

/* A fixed English message for rc (HQ_OK included); never NULL, never to be freed.
 * An unknown code gives "unknown error". */
HQ_API const char *hq_strerror(int rc);

/* The symbolic name of rc ("HQ_EINVAL"); never NULL ("HQ_UNKNOWN" for an unknown code). */
HQ_API const char *hq_err_name(int rc);

#ifdef __cplusplus
}
#endif
#endif /* HEAPQL_ERROR_H */
