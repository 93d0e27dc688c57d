/* hq_import.c: raw trace -> database (placeholder). */
#include "analyzer_int.h"
#include "hq_rawfmt.h"

int hq_import(const char *raw_path, const char *db_path, const hq_import_opts_t *opts,
              hq_import_stats_t *out_stats, char *errbuf, size_t errcap) {
  (void)raw_path; (void)db_path; (void)opts; (void)out_stats; (void)errbuf; (void)errcap;
  return HQ_ENOTSUP;
}
