/* hq_error.c: messages and names for the HQ_ERRNO_MAP codes. */
#include "heapql/error.h"

const char *hq_strerror(int rc) {
  switch (rc) {
  case HQ_OK: return "success";
#define HQ__ERR_MSG(name, value, msg) case HQ_##name: return msg;
  HQ_ERRNO_MAP(HQ__ERR_MSG)
#undef HQ__ERR_MSG
  default: return "unknown error";
  }
}

const char *hq_err_name(int rc) {
  switch (rc) {
  case HQ_OK: return "HQ_OK";
#define HQ__ERR_NAME(name, value, msg) case HQ_##name: return "HQ_" #name;
  HQ_ERRNO_MAP(HQ__ERR_NAME)
#undef HQ__ERR_NAME
  default: return "HQ_UNKNOWN";
  }
}
