/* hq_kinds.c: the tables generated from HQ_KIND_MAP and HQ_FREE_MAP, and the class names. */
#include <stdio.h>
#include <string.h>

#include "heapql/internal/kinds.h"

#define HQ__KIND_ROW(id, num, nm, cls, dev) [num] = {nm, sizeof nm - 1, cls, dev},
const hq__kind_info_t hq__kinds[HQ_KIND_MAX_] = {HQ_KIND_MAP(HQ__KIND_ROW)};
#undef HQ__KIND_ROW

#define HQ__FREE_ROW(id, num, nm) [num] = {nm, sizeof nm - 1, -1, 0},
const hq__kind_info_t hq__free_kinds[HQ_FREE_MAX_] = {
  [0] = {"unseen", 6, -1, 0}, HQ_FREE_MAP(HQ__FREE_ROW)};
#undef HQ__FREE_ROW

static const char *const class_names[HQ_CLASS_COUNT] = {
  [HQ_CLASS_HEAP] = "heap", [HQ_CLASS_MMAP] = "mmap", [HQ_CLASS_POOL] = "pool",
  [HQ_CLASS_DEVICE] = "device",
};

const char *hq_class_name(int cls) {
  return cls >= 0 && cls < HQ_CLASS_COUNT ? class_names[cls] : NULL;
}

int hq_class_parse(const char *name) {
  for (int i = 0; name && i < HQ_CLASS_COUNT; i++)
    if (strcmp(name, class_names[i]) == 0) return i;
  return -1;
}

int hq__kind_parse(const char *name) {
  for (int k = 1; name && k < HQ_KIND_MAX_; k++)
    if (hq__kinds[k].name && strcmp(name, hq__kinds[k].name) == 0) return k;
  return 0;
}

int hq__free_kind_parse(const char *name) {
  for (int k = 1; name && k < HQ_FREE_MAX_; k++)
    if (strcmp(name, hq__free_kinds[k].name) == 0) return k;
  return HQ_FREE_UNSEEN;
}

int hq__kinds_insert_sql(char *buf, size_t cap) {
  size_t o;
  const char *sep = "";
  int n = snprintf(buf, cap, "INSERT INTO kinds(kind, class) VALUES");
  if (n < 0 || (size_t)n >= cap) return -1;
  o = (size_t)n;
  for (int k = 1; k < HQ_KIND_MAX_; k++) {
    if (!hq__kinds[k].name) continue;
    n = snprintf(buf + o, cap - o, "%s('%s','%s')", sep, hq__kinds[k].name,
                 class_names[hq__kinds[k].cls]);
    if (n < 0 || (size_t)n >= cap - o) return -1;
    o += (size_t)n;
    sep = ",";
  }
  if (o + 2 > cap) return -1;
  memcpy(buf + o, ";", 2);
  return 0;
}
