/*
 * query_int.h: the loaders (hq__ prefix), grouped by defining file: what a report, a picture or
 * a comparison computes from a database, as structures, before anything is written.  The
 * writers (analyzer/output/) build on these; nothing here prints.  Not installed; not public.
 */
#ifndef HQ_QUERY_INT_H
#define HQ_QUERY_INT_H

#include "base/base_int.h"

/* ---- hq_report.c ---- */
/* The report SQL shared with docs/schema.md: growth rate and R^2 over samples, fragmentation,
 * efficiency.  %1$s is the samples table (or one process's samples). */
extern const char hq__sql_growth[];
extern const char hq__sql_fragmentation[];
extern const char hq__sql_efficiency[];

/* ---- hq_growth.c: growth that the teardown does not hide ---- */
#define HQ__TREND_MIN_POINTS 10
#define HQ__TREND_MIN_NS     100000000 /* 100 ms */
extern const char hq__sql_leak_growth[];   /* %1$s = the samples; agg_leak_time, meta */
extern const char hq__sql_live_growth[];   /* %1$s = the samples: teardown and live growth */
/* Fill r's trend_ok, leak and live growth and teardown_t_ns; samples: "samples" or one
 * process's.  Needs r->n_samples and r->duration_ns. */
int  hq__growth_compute(hq_db_t *db, const char *samples, hq_report_t *r);

/* ---- hq_regions.c: annotated regions by path, counters summarised (heapql regions) ---- */
#define HQ__REGION_CLASSES 4 /* heap, pool, device, mmap: the kinds' classes, in that order */
typedef struct {
  int64_t pid;
  char *name;
  size_t parent;             /* index of the enclosing path's row; SIZE_MAX at the top */
  int depth;                 /* 0 at the top */
  int64_t first_begin_ns;    /* the first instance's begin */
  uint64_t instances, unfinished, time_ns; /* unfinished: never closed (ended with the process) */
  struct {
    uint64_t allocations, bytes; /* made inside an instance (or one nested in it), summed */
    uint64_t peak_live_bytes;    /* the highest instance's peak of those still live, while open */
    uint64_t kept_bytes;         /* of those, still live when their instance closed, summed */
  } cls[HQ__REGION_CLASSES];
} hq__region_t;
typedef struct {
  int64_t pid;
  char *name;
  uint64_t samples;
  double min, max, first, last;
} hq__counter_t;
typedef struct {
  hq__region_t *regions;     /* tree order: a path's row, then its children's, by first begin */
  size_t n_regions;
  hq__counter_t *counters;   /* by pid, then name */
  size_t n_counters, cap_counters;
} hq__regions_t;
/* Fill out (zeroed first; free with hq__regions_free, also after a failure). */
int  hq__regions_compute(hq_db_t *db, hq__regions_t *out);
void hq__regions_free(hq__regions_t *out);
/* The outermost region instances of process pid (of every process when pid_null), by begin,
 * at most max: name, begin and end (t_end when never closed).  The timeline shades them. */
typedef struct {
  char *name;
  int64_t t_begin, t_end;
} hq__span_t;
int  hq__regions_outer(hq_db_t *db, int64_t pid, int pid_null, int64_t t_end, size_t max,
                       hq__span_t **out, size_t *out_n);
void hq__spans_free(hq__span_t *s, size_t n);

/* ---- hq_recommend.c ---- */
/* Fill r->findings from db and the figures already in r. */
int  hq__recommend(hq_db_t *db, hq_report_t *r);
void hq__findings_free(hq_finding_t *f, size_t n);

/* ---- hq_wrappers.c: allocation wrappers, the frames a site looks past ---- */
typedef struct hq__wrappers_s hq__wrappers_t;
/* The built-in patterns plus the user's (comma- or newline-separated; "@FILE" reads a file of
 * one pattern a line).  err gets one line ("FILE:LINE: ...") on failure.  Returns HQ_OK,
 * HQ_EINVAL (a malformed pattern), HQ_ENOENT/HQ_EIO (a pattern file), HQ_ENOMEM. */
int  hq__wrappers_parse(const char *user, hq__wrappers_t **out, char *err, size_t cap);
void hq__wrappers_free(hq__wrappers_t *w);
/* 1 when the frame is a wrapper; any argument may be NULL (unknown). */
int  hq__wrappers_match(const hq__wrappers_t *w, const char *function, const char *file,
                        const char *module);
/* A number that changes when the user's patterns do. */
uint64_t hq__wrappers_signature(const hq__wrappers_t *w);

/* ---- hq_callsite.c: the site of every stack (table stack_sites) ---- */
/* Make sure the aggregates and stack_sites are current for db's wrapper patterns. */
int  hq__callsites_ensure(hq_db_t *db);

/* ---- hq_failures.c: device allocation failures ---- */
/* The failures (only_id 0: all, in time order, at most limit; else that one), each with its
 * top_live largest live sites; *out_total (may be NULL): how many the database has. */
int  hq__failures_load(hq_db_t *db, int64_t only_id, size_t limit, size_t top_live,
                       hq_device_failure_t **out, size_t *out_n, uint64_t *out_total);
void hq__failures_free(hq_device_failure_t *v, size_t n);
/* The directory that holds the program's own sources (the common directory of the sites'
 * absolute source paths outside /usr), with its trailing '/'; NULL (HQ_OK) when there is none. */
int  hq__source_root(hq_db_t *db, char **out);
/* "path (changed), path (missing)" for the modules whose file changed or went missing since the
 * run (their frames may be wrong); NULL (HQ_OK) when none did. */
int  hq__stale_modules(hq_db_t *db, char **out);

/* ---- hq_sites.c: ranked sites (agg_stack), lines (agg_line), stacks as frames ---- */
/* The agg_stack column a metric ranks by ("allocations", "bytes", ...); NULL for no metric. */
const char *hq__metric_column(hq_metric_t metric);
/* Load sites (agg_stack grouped by stack_sites.site, per class): WHERE class = cls (all classes
 * when cls < 0) AND metric > 0, ORDER BY metric DESC, site, LIMIT limit; each with its details
 * and top callers by the metric. */
int  hq__sites_load(hq_db_t *db, hq_metric_t metric, int cls, size_t limit, hq_site_t **out,
                    size_t *out_n);
/* Load sites selected by suffix ("WHERE ... ORDER BY ... LIMIT n" over the columns site, class
 * and the summed figures of hq_site_t, stacks); col: the agg_stack column that picks each
 * site's representative stack and ranks its callers. */
int  hq__sites_sql(hq_db_t *db, const char *suffix, const char *col, hq_site_t **out,
                   size_t *out_n);

/* ---- hq_sitemap.c: frame labels, stack chains and per-stack sums shared by flame graphs, diff and the
 * HTML report ---- */
typedef struct hq__sitemap_s hq__sitemap_t;   /* frames and stacks of one database, in memory */
enum { HQ__LABEL_DISPLAY = 0, HQ__LABEL_KEY = 1 };
/* Per-stack sums, the columns of hq__sites_scan(). */
enum { HQ__V_COUNT, HQ__V_BYTES, HQ__V_LEAKED_BLOCKS, HQ__V_LEAKED_BYTES, HQ__V_PEAK_BYTES,
       HQ__V_N };
int  hq__sitemap_load(hq_db_t *db, hq__sitemap_t **out_map);
void hq__sitemap_free(hq__sitemap_t *map);
const char *hq__sitemap_label(const hq__sitemap_t *map, int32_t label);
/* 1 when the label names a Python frame (docs/python.md): pictures colour those apart. */
int  hq__sitemap_label_is_python(const hq__sitemap_t *map, int32_t label);
/* A trie of label paths (root first), one node per distinct path, values per node. */
typedef struct hq__tnode_s {
  int32_t parent, label, depth;
  int32_t first_child, next_sibling;  /* filled by hq__tree_link(), siblings sorted by label */
  int64_t rep_stack;                  /* the stack that contributed most bytes here */
  int64_t rep_bytes;
} hq__tnode_t;
typedef struct hq__tree_s {
  const hq__sitemap_t *map;
  int mode;                 /* HQ__LABEL_DISPLAY or HQ__LABEL_KEY */
  hq__tnode_t *nodes;       /* nodes[0] is the root */
  int64_t *self;            /* HQ__V_N self values per node */
  size_t n, cap;
  uint64_t *hkeys;          /* (parent, label) -> node */
  int32_t *hvals;
  size_t hcap;
  int32_t *stack_node;      /* memo: stack id -> node (0 = not yet) */
  int64_t nstack;
} hq__tree_t;
int  hq__tree_init(hq__tree_t *t, const hq__sitemap_t *map, int mode);
void hq__tree_free(hq__tree_t *t);
/* The node of stack_id (NULL stack: pass 0 -> "[no stack]" node); -1 on out of memory. */
int32_t hq__tree_stack_node(hq__tree_t *t, int64_t stack_id);
int  hq__tree_link(hq__tree_t *t);
/* Run one scan of allocations (class filter; "all" = every class; pid 0 = all) and add each
 * stack's sums to its node.  want_peak computes HQ__V_PEAK_BYTES (needs the peak moment). */
int  hq__sites_scan(hq_db_t *db, hq__tree_t *t, const char *kind_class, int64_t pid,
                    int want_peak);
/* The class's largest live bytes and the first moment they were reached, by a sweep over
 * allocations and frees of one process's clock (0 and -1 when there are none). */
int  hq__sites_peak(hq_db_t *db, const char *kind_class, int64_t *out_bytes, int64_t *out_t);
/* FNV-1a of a string, for the hash tables of sites and labels. */
uint64_t hq__sites_hash(const char *s);
/* Is kind_class one of heap, mmap, pool, device, all? */
int  hq__sites_class_ok(const char *kind_class);

/* ---- hq_headline.c: the headline figures of one run (compare, diff, the HTML report) ---- */
typedef struct hq__headline_s {
  char program[256];
  char command_line[1024];
  int64_t processes, pid;
  int64_t duration_ns;
  int64_t alloc_count, alloc_bytes, free_count;
  int64_t peak_heap_bytes, peak_heap_t;  /* peak_heap_t -1 when unknown */
  int64_t peak_device_bytes, peak_rss_bytes, peak_mmap_bytes;
  int64_t leaked_blocks, leaked_bytes;
  int64_t temporary_count;
  int complete;                           /* -1 unknown */
} hq__headline_t;
int  hq__headline_load(hq_db_t *db, hq__headline_t *out);

/* ---- hq_series.c: the timeline's data ---- */
enum { HQ__S_HEAP, HQ__S_MMAP, HQ__S_DEVICE, HQ__S_RSS, HQ__S_N };
/* One series: points in time order (downsampled: each bucket's minimum and maximum). */
typedef struct hq__series_s {
  int64_t *t, *v;
  size_t n, cap;
  /* the bucket being filled */
  int64_t bucket;
  int64_t min_t, min_v, max_t, max_v;
  int have;
} hq__series_t;
typedef struct hq__timeline_s {
  int64_t pid;
  int pid_null;           /* samples without a pid */
  int64_t processes;      /* distinct pids in samples */
  int64_t rows, t0, t1;
  int64_t max[HQ__S_N];
  int present[HQ__S_N];   /* series to draw */
  int64_t peak_bytes, peak_t;
  int64_t dev_peak_bytes, dev_peak_t;
  char program[256];
  hq__series_t ser[HQ__S_N];
} hq__timeline_t;
/* The samples of one process (opts->pid, else meta 'pid' when it has samples, else the lowest),
 * at most max_points per series.  Free with hq__timeline_free (also done on failure).
 * Returns HQ_OK, HQ_ENOENT (opts->pid has no samples), HQ_EDB, HQ_ENOMEM. */
int  hq__timeline_load(hq_db_t *db, const hq_timeline_opts_t *opts, int max_points,
                       hq__timeline_t *out);
void hq__timeline_free(hq__timeline_t *tl);


/* ---- hq_gate.c, hq_suppress.c: the leak gate (hq_gate in analyzer.h) ---- */

/* A leak record: the blocks of one process, one stack and one leak class still live at exit. */
enum { HQ__GATE_COUNTED = 0, HQ__GATE_SUPPRESSED, HQ__GATE_BASELINED, HQ__GATE_BUDGETED };
#define HQ__GATE_UNCLASSIFIED HQ_GATE_CLASSES  /* cls of blocks no leak check classified */
typedef struct hq__gate_frame_s {
  char *text, *function, *file, *module;
  int64_t line;
} hq__gate_frame_t;
typedef struct hq__gate_leak_s {
  int cls;                  /* HQ_GATE_* or HQ__GATE_UNCLASSIFIED */
  uint64_t blocks, bytes;
  int64_t pid, stack_id;
  const char *program;      /* the process's (owned by the gate) */
  char *site, *function, *file, *module; /* the site (the caller beyond allocation wrappers) */
  int64_t line;
  hq__gate_frame_t *frames; /* the whole stack, allocation first */
  size_t n_frames;
  char fp_lines[17], fp_funcs[17]; /* fingerprints: frames with lines; function names only */
  int status;               /* HQ__GATE_* */
  char *why;                /* what suppressed it, or the budget it fits in */
} hq__gate_leak_t;
typedef struct hq__gate_proc_s {
  int64_t pid;
  char *program, *leak_check, *db;
  int complete;
} hq__gate_proc_t;
struct hq_gate_s {
  hq_gate_opts_t opts;
  int failed;
  char **reasons;           /* one sentence per failed check */
  size_t n_reasons;
  hq__gate_leak_t *leaks;   /* counted ones first, largest first */
  size_t n_leaks;
  uint64_t blocks[HQ_GATE_CLASSES + 1], bytes[HQ_GATE_CLASSES + 1]; /* counted, + unclassified */
  uint64_t peak, allocations;
  hq__gate_proc_t *procs;
  size_t n_procs;
  char **stale;             /* baseline entries nothing matched (their lines) */
  size_t n_stale;
  size_t suppressed, baselined, budgeted;
  char *source_root;        /* of the first database, for relative paths */
};
extern const char *const hq__gate_class_names[HQ_GATE_CLASSES + 1]; /* "definitely_lost", ... */

/* Suppressions (hq_suppress.c): LeakSanitizer's `leak:PATTERN` lines. */
typedef struct hq__supp_s hq__supp_t;
/* Add the suppressions of text (from where, for messages; "FILE" or "embedded").  HQ_EFORMAT with
 * "WHERE:LINE: ..." in err for a line that is not a comment, blank or leak:PATTERN. */
int  hq__supp_add(hq__supp_t **s, const char *text, const char *where, char *err, size_t cap);
/* The pattern that matches a frame of leak, or NULL. */
const char *hq__supp_match(const hq__supp_t *s, const hq__gate_leak_t *leak);
void hq__supp_free(hq__supp_t *s);
/* A baseline (hq_suppress.c): its entries, and the matching of leak records to them. */
typedef struct hq__baseline_s hq__baseline_t;
int  hq__baseline_read(const char *path, hq__baseline_t **out, char *err, size_t cap);
/* Mark the leaks matched (HQ__GATE_BASELINED); list the entries left unmatched in *stale. */
int  hq__baseline_match(hq__baseline_t *b, hq__gate_leak_t *leaks, size_t n, char ***stale,
                        size_t *n_stale);
void hq__baseline_free(hq__baseline_t *b);

#endif /* HQ_QUERY_INT_H */
