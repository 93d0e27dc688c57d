/* cli_option.c: reading "--name VALUE" / "--name=VALUE" options the same way in every command. */
#include <string.h>

#include "cli.h"

int hq_cli_option(int argc, char **argv, int *i, const char *name, const char **out_value) {
  size_t len = strlen(name);
  if (strncmp(argv[*i], name, len) != 0) return 0;
  if (argv[*i][len] == '=') {
    *out_value = argv[*i] + len + 1;
    return 1;
  }
  if (argv[*i][len] != '\0') return 0;
  if (*i + 1 >= argc) {
    hq_cli_error("%s: option %s needs a value", argv[0], name);
    return -1;
  }
  *out_value = argv[++*i];
  return 1;
}
