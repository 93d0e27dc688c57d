/* demo_args.c: heapql-demo's command line (MemoryConfig-like switches). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "demo.h"

void demo_usage(void) {
  fputs(
    "usage: heapql-demo [options]\n"
    "Train a risk-factor model on synthetic market data and report the memory it used.\n"
    "\n"
    "problem:\n"
    "  --assets N          assets (default 32)\n"
    "  --days N            trading days (default 2048)\n"
    "  --window N          days of returns per sample (default 8)\n"
    "  --factors N         latent risk factors to recover (default 4)\n"
    "  --seed N            seed of the data and the initial weights (default 42)\n"
    "model and training:\n"
    "  --layers N          hidden layers of width --hidden (default 4)\n"
    "  --hidden N          hidden width (default 64)\n"
    "  --heads N           start with a self-attention block over the window, N heads\n"
    "                      (N must divide --assets; default 0: none)\n"
    "  --sketch L,K        sketched hidden layers (Panther SKLinear), L terms of rank K\n"
    "  --epochs N          epochs (default 3)\n"
    "  --batch N           batch size (default 32)\n"
    "  --lr X              Adam learning rate (default 0.001)\n"
    "  --threads N         BLAS threads (default 1: OpenBLAS's threaded GEMM allocates a\n"
    "                      buffer per call, which would hide what the switches save)\n"
    "memory switches:\n"
    "  --pool              every buffer from the caching pool instead of malloc\n"
    "  --chunked           build training windows one chunk of samples at a time\n"
    "  --chunk-size N      samples per chunk (implies --chunked; default: from a 4 MiB budget)\n"
    "  --sparse-weights D  hidden weights sparse (CSR) at density D in (0, 1]\n"
    "  --checkpoint        gradient checkpointing, round(sqrt(layers)) segments\n"
    "  --segments N        checkpoint segments (implies --checkpoint)\n"
    "  --mmap-data         data in .npy memory maps in a temporary directory (removed at exit)\n"
    "  --f16-storage       returns stored as f16 (converted to f32 per window)\n"
    "  --help              this text\n",
    stdout);
}

static int bad(const char *fmt, const char *arg) {
  fputs("heapql-demo: ", stderr);
  fprintf(stderr, fmt, arg);
  fputs(" (see --help)\n", stderr);
  return DEMO_EXIT_USAGE;
}

/* A whole number in [lo, hi]. */
static int parse_size(const char *name, const char *arg, size_t lo, size_t hi, size_t *out) {
  char *end = NULL;
  errno = 0;
  unsigned long long v = strtoull(arg, &end, 10);
  if (errno || end == arg || *end || arg[0] == '-' || v < lo || v > hi) {
    fprintf(stderr, "heapql-demo: %s wants a whole number from %zu to %zu, not '%s'\n", name, lo,
            hi, arg);
    return DEMO_EXIT_USAGE;
  }
  *out = (size_t)v;
  return 0;
}

static int parse_double(const char *name, const char *arg, double lo, double hi, double *out) {
  char *end = NULL;
  errno = 0;
  double v = strtod(arg, &end);
  if (errno || end == arg || *end || !(v > lo && v <= hi)) {
    fprintf(stderr, "heapql-demo: %s wants a number in (%g, %g], not '%s'\n", name, lo, hi, arg);
    return DEMO_EXIT_USAGE;
  }
  *out = v;
  return 0;
}

enum {
  OPT_ASSETS = 256, OPT_DAYS, OPT_WINDOW, OPT_FACTORS, OPT_SEED, OPT_LAYERS, OPT_HIDDEN,
  OPT_HEADS, OPT_SKETCH, OPT_EPOCHS, OPT_BATCH, OPT_LR, OPT_THREADS, OPT_POOL, OPT_CHUNKED, OPT_CHUNK_SIZE,
  OPT_SPARSE, OPT_CHECKPOINT, OPT_SEGMENTS, OPT_MMAP, OPT_F16, OPT_HELP
};

static const struct option options[] = {
  {"assets", required_argument, NULL, OPT_ASSETS},
  {"days", required_argument, NULL, OPT_DAYS},
  {"window", required_argument, NULL, OPT_WINDOW},
  {"factors", required_argument, NULL, OPT_FACTORS},
  {"seed", required_argument, NULL, OPT_SEED},
  {"layers", required_argument, NULL, OPT_LAYERS},
  {"hidden", required_argument, NULL, OPT_HIDDEN},
  {"heads", required_argument, NULL, OPT_HEADS},
  {"sketch", required_argument, NULL, OPT_SKETCH},
  {"epochs", required_argument, NULL, OPT_EPOCHS},
  {"batch", required_argument, NULL, OPT_BATCH},
  {"lr", required_argument, NULL, OPT_LR},
  {"threads", required_argument, NULL, OPT_THREADS},
  {"pool", no_argument, NULL, OPT_POOL},
  {"chunked", no_argument, NULL, OPT_CHUNKED},
  {"chunk-size", required_argument, NULL, OPT_CHUNK_SIZE},
  {"sparse-weights", required_argument, NULL, OPT_SPARSE},
  {"checkpoint", no_argument, NULL, OPT_CHECKPOINT},
  {"segments", required_argument, NULL, OPT_SEGMENTS},
  {"mmap-data", no_argument, NULL, OPT_MMAP},
  {"f16-storage", no_argument, NULL, OPT_F16},
  {"help", no_argument, NULL, OPT_HELP},
  {NULL, 0, NULL, 0},
};

#define BIG ((size_t)1 << 30)

static int parse_sketch(const char *arg, demo_config_t *cfg) {
  char terms[32];
  const char *comma = strchr(arg, ',');
  if (!comma || (size_t)(comma - arg) >= sizeof terms) return bad("--sketch wants L,K, not '%s'", arg);
  memcpy(terms, arg, (size_t)(comma - arg));
  terms[comma - arg] = '\0';
  if (parse_size("--sketch L", terms, 1, 4096, &cfg->sketch_terms)) return DEMO_EXIT_USAGE;
  return parse_size("--sketch K", comma + 1, 1, 4096, &cfg->sketch_rank);
}

int demo_parse_args(int argc, char **argv, demo_config_t *cfg) {
  *cfg = (demo_config_t){
    .assets = 32, .days = 2048, .window = 8, .factors = 4, .seed = 42,
    .epochs = 3, .batch = 32, .layers = 4, .hidden = 64, .lr = 1e-3f, .threads = 1,
    .chunk_budget = (size_t)4 << 20, .segments = HQ_CKPT_AUTO,
  };
  size_t v = 0, seed = 0;
  double d = 0.0;
  int rc = 0, opt;
  opterr = 0;   /* our own messages, one line each */
  optind = 1;
  while (rc == 0 && (opt = getopt_long(argc, argv, ":", options, NULL)) != -1) {
    switch (opt) {
    case OPT_ASSETS: rc = parse_size("--assets", optarg, 1, BIG, &cfg->assets); break;
    case OPT_DAYS: rc = parse_size("--days", optarg, 2, BIG, &cfg->days); break;
    case OPT_WINDOW: rc = parse_size("--window", optarg, 1, 4096, &cfg->window); break;
    case OPT_FACTORS: rc = parse_size("--factors", optarg, 1, 4096, &cfg->factors); break;
    case OPT_SEED:
      rc = parse_size("--seed", optarg, 0, SIZE_MAX, &seed);
      cfg->seed = seed;
      break;
    case OPT_LAYERS: rc = parse_size("--layers", optarg, 1, 4096, &cfg->layers); break;
    case OPT_HIDDEN: rc = parse_size("--hidden", optarg, 1, 1 << 16, &cfg->hidden); break;
    case OPT_HEADS: rc = parse_size("--heads", optarg, 0, 4096, &cfg->heads); break;
    case OPT_SKETCH: rc = parse_sketch(optarg, cfg); break;
    case OPT_EPOCHS: rc = parse_size("--epochs", optarg, 1, 1 << 20, &cfg->epochs); break;
    case OPT_BATCH: rc = parse_size("--batch", optarg, 1, 1 << 20, &cfg->batch); break;
    case OPT_LR:
      rc = parse_double("--lr", optarg, 0.0, 10.0, &d);
      cfg->lr = (float)d;
      break;
    case OPT_THREADS: rc = parse_size("--threads", optarg, 1, 1024, &cfg->threads); break;
    case OPT_POOL: cfg->pool = 1; break;
    case OPT_CHUNKED: cfg->chunked = 1; break;
    case OPT_CHUNK_SIZE:
      rc = parse_size("--chunk-size", optarg, 1, BIG, &cfg->chunk_size);
      cfg->chunked = 1;
      break;
    case OPT_SPARSE: rc = parse_double("--sparse-weights", optarg, 0.0, 1.0, &cfg->sparse_density); break;
    case OPT_CHECKPOINT: cfg->checkpoint = 1; break;
    case OPT_SEGMENTS:
      rc = parse_size("--segments", optarg, 1, 1 << 20, &v);
      cfg->segments = (int)v;
      cfg->checkpoint = 1;
      break;
    case OPT_MMAP: cfg->mmap_data = 1; break;
    case OPT_F16: cfg->f16_storage = 1; break;
    case OPT_HELP: demo_usage(); return 1;
    case ':': rc = bad("option '%s' needs a value", argv[optind - 1]); break;
    default: rc = bad("unknown option '%s'", argv[optind - 1]); break;
    }
  }
  if (rc) return rc;
  if (optind < argc) return bad("unexpected argument '%s'", argv[optind]);
  if (cfg->window >= cfg->days) return bad("%s", "--window must be smaller than --days");
  if (cfg->heads && cfg->assets % cfg->heads)
    return bad("%s", "--heads must divide --assets (each token is one day of all assets)");
  if (cfg->sketch_terms && cfg->sparse_density > 0.0)
    return bad("%s", "--sketch and --sparse-weights are two kinds of hidden layer: pick one");
  return 0;
}
