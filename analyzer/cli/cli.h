/*
 * cli.h: what the `heapql` subcommands share.  Each subcommand lives in its own cmd_*.c file and
 * returns the process exit code:
 *   0 success / gate passed, 1 gate failed, 2 bad usage or bad input, 3 internal error.
 * `heapql run` returns the wrapped program's status instead (see cmd_run.c).
 */
#ifndef HQ_CLI_H
#define HQ_CLI_H

#include <stdio.h>
#include "heapql/heapql.h"

enum { HQ_EXIT_OK = 0, HQ_EXIT_GATE = 1, HQ_EXIT_USAGE = 2, HQ_EXIT_INTERNAL = 3 };

/* subcommands: argv[0] is the subcommand's name */
int hq_cmd_run(int argc, char **argv);
int hq_cmd_import(int argc, char **argv);
int hq_cmd_symbolize(int argc, char **argv);
int hq_cmd_query(int argc, char **argv);
int hq_cmd_report(int argc, char **argv);
int hq_cmd_leaks(int argc, char **argv);
int hq_cmd_top(int argc, char **argv);
int hq_cmd_peak(int argc, char **argv);
int hq_cmd_regions(int argc, char **argv);
int hq_cmd_flamegraph(int argc, char **argv);
int hq_cmd_timeline(int argc, char **argv);
int hq_cmd_gate(int argc, char **argv);
int hq_cmd_diff(int argc, char **argv);
int hq_cmd_compare(int argc, char **argv);
int hq_cmd_merge(int argc, char **argv);

/* Each command's synopsis ("heapql CMD ..."; continuation lines indented), printed by its
 * -h/--help and, all together, by `heapql --help`: the one place its options are listed. */
extern const char hq_usage_run[], hq_usage_import[], hq_usage_symbolize[], hq_usage_query[],
    hq_usage_report[], hq_usage_leaks[], hq_usage_top[], hq_usage_peak[], hq_usage_flamegraph[],
    hq_usage_timeline[], hq_usage_diff[], hq_usage_compare[], hq_usage_merge[], hq_usage_gate[],
    hq_usage_regions[];

/* cli_nvml.c: device memory as the driver counts it, sampled by heapql run through NVML */
typedef struct hq_cli_nvml_s hq_cli_nvml_t;
hq_cli_nvml_t *hq_cli_nvml_start(void);      /* NULL without NVML (libnvidia-ml.so.1) */
void hq_cli_nvml_stop(hq_cli_nvml_t *n);     /* stop sampling; n may be NULL */
/* The samples of db_path's process into it (device_memory_samples, meta peak_device_driver_*). */
int  hq_cli_nvml_write(hq_cli_nvml_t *n, const char *db_path);
void hq_cli_nvml_free(hq_cli_nvml_t *n);

/* cli_common.c */
/* "usage: SYNOPSIS" on stdout (the answer to -h/--help). */
void hq_cli_usage(const char *synopsis);
/* Print "heapql: <message>" on stderr (one line). */
void hq_cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Map an HQ_E* code to an exit code: bad input/usage -> 2, everything else -> 3. */
int  hq_cli_exit_code(int rc);
/* Open a database for analysis; symbolizes it first (read-write) if it has unresolved frames
 * and is writable.  On failure prints one line and returns the exit code; 0 on success. */
int  hq_cli_open(const char *path, int readonly, hq_db_t **out_db);
/* hq_cli_open with more hq_db_open() flags (HQ_DB_NO_CHECK for a database this process made). */
int  hq_cli_open_flags(const char *path, int readonly, int flags, hq_db_t **out_db);
/* Parse a non-negative size with optional K/M/G/T suffix (powers of 1024). 0 on success. */
int  hq_cli_parse_size(const char *s, unsigned long long *out);
/* Parse a positive decimal count (--limit, --top).  0 on success, -1 (nothing printed) if bad. */
int  hq_cli_parse_count(const char *s, size_t *out);
/* Parse --format text|json (and csv when allow_csv) for command cmd; on a bad value prints
 * "heapql: CMD: --format must be ..." and returns -1. */
int  hq_cli_parse_format(const char *s, const char *cmd, int allow_csv, hq_format_t *out);

/* cli_option.c */
/* If argv[*i] is option `name` ("--name VALUE" or "--name=VALUE"): set *out_value, move *i past
 * it and return 1.  A missing value prints one line and returns -1.  Any other argument: 0. */
int  hq_cli_option(int argc, char **argv, int *i, const char *name, const char **out_value);

/* cli_output.c */
typedef int (*hq_cli_writer_fn)(hq_db_t *db, const void *opts, FILE *out);
/* Run write_fn(db, opts, out) into out_path (NULL or "-" = stdout).  A file is written beside
 * the target and renamed over it only when complete; a device or FIFO is written in place and
 * never removed; a directory is refused.  Any failure prints one line.  Returns the exit code
 * (0 = written; 2 when the output cannot be written). */
int  hq_cli_write_output(hq_db_t *db, const char *out_path, hq_cli_writer_fn write_fn,
                         const void *opts);
/* Flush stdout after a command wrote it: 0, or one line and exit code 2 on a write error. */
int  hq_cli_finish_stdout(void);

/* cli_analysis.c: shared by report, leaks, top, peak and query */
/* An option: "--name VALUE" / "--name=VALUE" (value set) or a flag (flag set). */
typedef struct hq_cli_opt_s {
  const char *name;
  const char **value;
  int *flag;
} hq_cli_opt_t;
/* Parse argv[1..] of command cmd: the options in opts, -h/--help (prints "usage: USAGE"), "--",
 * and at most max_pos positional arguments into pos.  Returns -1 to go on, else the exit code to
 * return at once (0 after --help, 2 after a one-line error). */
int hq_cli_args(const char *cmd, const char *usage, int argc, char **argv,
                const hq_cli_opt_t *opts, size_t n_opts, const char **pos, size_t max_pos,
                size_t *out_n_pos);
/* How a command's reports find sites (docs/cli.md, "Sites"): --wrappers LIST|@FILE (after the
 * patterns of $HEAPQL_WRAPPERS) and --callers N; NULL = the default. */
typedef struct hq_cli_sites_s {
  const char *wrappers, *callers;
} hq_cli_sites_t;
#define HQ_CLI_SITE_OPTS(s) {"--wrappers", &(s)->wrappers, NULL}, {"--callers", &(s)->callers, NULL}
#define HQ_CLI_SITE_USAGE "[--wrappers LIST|@FILE] [--callers N]"
/* Apply sites (may be NULL) and HEAPQL_WRAPPERS to db.  Returns 0 or the exit code after one
 * line (a bad pattern, an unreadable pattern file, a bad --callers). */
int hq_cli_apply_sites(hq_db_t *db, const hq_cli_sites_t *sites);
/* Open path for analysis (hq_cli_open), apply sites (hq_cli_apply_sites; may be NULL) and write
 * fn's output with hq_cli_write_output() (one line on failure, no half-written file).  Returns
 * the exit code. */
int hq_cli_analyze(const char *path, const char *out_path, const hq_cli_sites_t *sites,
                   hq_cli_writer_fn fn, const void *ctx);

/* cli_gate.c: the leak gate's options, shared by `heapql gate` and `heapql run --gate` */
typedef struct hq_cli_gate_s {
  hq_gate_opts_t opts;
  const char **supp;            /* --suppressions files */
  size_t n_supp;
  char *budgets;                /* --budget GLOB=SIZE, comma-joined */
  const char *format, *output;  /* --format, -o */
  const char *json, *junit, *sarif, *github; /* more outputs; github "" = the default stream */
  const char *update_baseline;
  hq_cli_sites_t sites;         /* --wrappers */
  int just_imported;            /* run --gate: the databases were written by this process, so
                                 * they are not checked for damage again */
} hq_cli_gate_t;
void hq_cli_gate_init(hq_cli_gate_t *g);
void hq_cli_gate_free(hq_cli_gate_t *g);
/* A gate option at argv[*i]: 1 (taken, *i moved past its value), 0 (not one), -1 (one line
 * printed). */
int  hq_cli_gate_option(int argc, char **argv, int *i, hq_cli_gate_t *g);
/* Gate the databases together and write the verdict (--format to -o or stream, the other
 * outputs to their files; GitHub lines without a file to github_stream).  Returns 0 pass, 1
 * fail, 2 bad input, 3 internal. */
int  hq_cli_gate_run(hq_cli_gate_t *g, const char *const *paths, size_t n, FILE *stream,
                     FILE *github_stream);

#endif /* HQ_CLI_H */
