/*
 * hq_weak_defaults.c: weak fallbacks for functions another part of the analyzer may provide.
 *
 * Kept alone in a file whose name sorts after the others: the linker takes from libheapql.a the
 * first member that defines a needed symbol, so a strong definition in any other analyzer file
 * is found before this weak one; in libheapql.so the strong one always wins.
 */
#include "analyzer_int.h"

__attribute__((weak)) int hq__report_html(hq_db_t *db, FILE *out, const void *report) {
  (void)out;
  (void)report;
  return hq__db_seterr(db, HQ_ENOTSUP, "the HTML report is not part of this build");
}
