/*
 * hq_json_flat.h: a minimal JSON reader for tests: flattens a document into (path, type, value)
 * entries, paths like "leaks.definitely_lost.blocks" or "top.by_count[0].stack_id".
 */
#ifndef HQ_JSON_FLAT_H
#define HQ_JSON_FLAT_H

#include <stddef.h>

typedef struct hq_json_entry_s {
  char *path;
  char type;      /* 'o' object, 'a' array, 's' string, 'd' number, 'b' true/false, 'n' null */
  char *value;    /* strings unescaped; numbers and true/false as written; NULL for o/a/n */
} hq_json_entry_t;

typedef struct hq_json_s {
  hq_json_entry_t *e;
  size_t n;
} hq_json_t;

/* Parse text; returns 0, or -1 on malformed JSON (with *out empty). */
int hq_json_parse(const char *text, hq_json_t *out);
void hq_json_free(hq_json_t *j);
/* The entry at path, or NULL. */
const hq_json_entry_t *hq_json_get(const hq_json_t *j, const char *path);

#endif /* HQ_JSON_FLAT_H */
