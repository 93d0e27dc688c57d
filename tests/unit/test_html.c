/* test_html.c: the HTML report: well-formed, self-contained, the expected sites, small for big
 * runs, and rendered by headless Chromium without console errors, zoom working. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hq_test.h"
#include "hq_fixture.h"
#include "output/output_int.h"

static void write_report(const char *db_path, const char *html_path) {
  hq_db_t *db = NULL;
  FILE *f = fopen(html_path, "w");
  assert_non_null(f);
  assert_int_equal(hq_db_open(db_path, HQ_DB_READONLY, &db), HQ_OK);
  assert_int_equal(hq__report_html(db, f, NULL), HQ_OK);
  hq_db_close(db);
  assert_int_equal(fclose(f), 0);
}

static void test_html_report_content(void **state) {
  (void)state;
  const char *dir = hq_test_tmpdir();
  char *db = strdup(hq_test_join(dir, "new.db")), *html = strdup(hq_test_join(dir, "r.html"));
  char *text;
  hq_db_close(hq_fx_victim(db, 2000, 1));
  write_report(db, html);
  hq_fx_xml_ok(html); /* the page is polyglot: well-formed XML as well as HTML */
  text = hq_test_read_file(html, NULL);
  assert_int_equal(strncmp(text, "<!DOCTYPE html>\n<html xmlns=\"http://www.w3.org/1999/xhtml\"", 58), 0);
  assert_non_null(strstr(text, "<title>heapql report: victim</title>"));
  assert_non_null(strstr(text, "<code>./victim --new</code>"));
  /* headline cards */
  assert_non_null(strstr(text, "<div class=\"l\">peak heap</div><div class=\"v\">2.26 KiB</div><div class=\"l\">at 0.750 s</div>"));
  assert_non_null(strstr(text, "<div class=\"l\">heap allocations</div><div class=\"v\">9</div>"));
  assert_non_null(strstr(text, "<div class=\"l\">leaked</div><div class=\"v\">314 B</div><div class=\"l\">in 3 blocks</div>"));
  /* the timeline, inline */
  assert_non_null(strstr(text, ">peak heap 2.26 KiB at 0.750 s</text>"));
  /* four flame graphs, one per measure, and the sites */
  assert_int_equal(hq_fx_count(text, "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"hq-flame\""), 4);
  assert_non_null(strstr(text, "data-n=\"leak2 (victim.c:60)\""));
  assert_non_null(strstr(text, "data-n=\"libfoo.so+0x1234\""));
  assert_non_null(strstr(text, "data-n=\"inner_helper (util.h:7)\""));
  /* sites with their callers: shortened text, the full location on hover */
  assert_non_null(strstr(text, "<span class=\"leaf\" title=\"leak2 /src/victim.c:60\">leak2 victim.c:60</span>"
                               "<br/><span class=\"caller\" title=\"work /src/victim.c:21\">100.0% &lt;- work victim.c:21</span>"));
  assert_non_null(strstr(text, "<h2>Leaks by site</h2>"));
  /* size histogram: four allocations of 64..127 bytes (3 x 100 and the 64) */
  assert_non_null(strstr(text, "<td class=\"n\">64 B - 127 B</td><td class=\"n\">4</td><td class=\"n\">364 B</td>"));
  /* self-contained: nothing fetched from anywhere */
  assert_null(strstr(text, " src="));
  assert_null(strstr(text, " href="));
  assert_null(strstr(text, "<link"));
  assert_null(strstr(text, "@import"));
  free(text);
  free(db);
  free(html);
}

/* 20000 distinct stacks: the page is aggregated, capped, and stays small. */
static void test_html_large_run_stays_small(void **state) {
  (void)state;
  const char *dir = hq_test_tmpdir();
  char *db_path = strdup(hq_test_join(dir, "big.db")), *html = strdup(hq_test_join(dir, "big.html"));
  hq_db_t *db = hq_fx_create(db_path, 9, "big");
  int64_t m = hq_fx_module(db, 9, "/bin/big", 0x1000, 0x1000000);
  size_t len;
  char *text;
  hq_fx_exec(db, "BEGIN");
  hq_fx_exec(db, "INSERT INTO frames(id, module_id, ip, offset, function, file, line)"
                 " VALUES(1, %lld, 4096, 0, 'main', 'big.c', 1)", (long long)m);
  hq_fx_exec(db, "INSERT INTO stacks(id, parent_id, frame_id, depth) VALUES(1, NULL, 1, 1)");
  /* 200 callers x 100 leaves, frames and stacks numbered 2.. */
  hq_fx_exec(db, "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 199)"
                 " INSERT INTO frames(id, module_id, ip, offset, function, file, line)"
                 " SELECT 2 + i, %lld, 8192 + i, 4096 + i, 'caller_' || i, 'big.c', 10 + i FROM n", (long long)m);
  hq_fx_exec(db, "INSERT INTO stacks(id, parent_id, frame_id, depth) SELECT id, 1, id, 2 FROM frames WHERE id >= 2");
  hq_fx_exec(db, "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 19999)"
                 " INSERT INTO frames(id, module_id, ip, offset, function, file, line)"
                 " SELECT 1000 + i, %lld, 65536 + i, 61440 + i, 'leaf_' || (i %% 100), 'big.c', 1000 + i FROM n", (long long)m);
  hq_fx_exec(db, "INSERT INTO stacks(id, parent_id, frame_id, depth)"
                 " SELECT id, 2 + ((id - 1000) / 100), id, 3 FROM frames WHERE id >= 1000");
  hq_fx_exec(db, "INSERT INTO allocations(pid, kind, address, size, stack_id, tid, t_alloc, t_free)"
                 " SELECT 9, 'malloc', id * 16, 16 + (id %% 977), id, 9, id, CASE WHEN id %% 3 = 0 THEN NULL ELSE id + 5 END"
                 " FROM stacks WHERE depth = 3");
  hq_fx_exec(db, "COMMIT");
  hq_db_close(db);
  write_report(db_path, html);
  hq_fx_xml_ok(html);
  text = hq_test_read_file(html, &len);
  assert_true(len < 3 * 1024 * 1024);
  assert_true(hq_fx_count(text, "<g class=\"f\"") <= 4 * 2500);
  assert_true(hq_fx_count(text, "small frames]") >= 1);
  assert_int_equal(hq_fx_count(text, "<tr><td class=\"n\">25</td>"), 3); /* top 25 per table */
  assert_non_null(strstr(text, "More sites: <code>heapql top</code>"));
  free(text);
  free(db_path);
  free(html);
}

/* Chromium loads a copy of the report with one extra script at the end that clicks a frame and
 * writes what happened into attributes of <body>, which --dump-dom then shows. */
static const char probe[] =
  "<script>//<![CDATA[\n"
  "(function () {\n"
  "  var view = document.querySelector('div.hq-flame-view[data-metric=\"allocated\"]');\n"
  "  var work = view.querySelector('g.f[data-n=\"work (victim.c:21)\"]');\n"
  "  work.dispatchEvent(new MouseEvent('click', {bubbles: true}));\n"
  "  document.body.setAttribute('data-zoom-width', work.querySelector('rect').getAttribute('width'));\n"
  "  document.body.setAttribute('data-zoom-other', view.querySelector('g.f[data-n=\"libfoo.so+0x1234\"]').style.display);\n"
  "  var tab = document.querySelector('button.hq-tab[data-metric=\"leaked\"]');\n"
  "  tab.dispatchEvent(new MouseEvent('click', {bubbles: true}));\n"
  "  document.body.setAttribute('data-leaked-shown', document.querySelector('div.hq-flame-view[data-metric=\"leaked\"]').style.display === '' ? 'yes' : 'no');\n"
  "})();\n"
  "//]]></script>\n</body>";

static int no_console_errors(const char *log) {
  for (const char *line = log; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
    const char *eol = strchr(line, '\n');
    size_t n = eol ? (size_t)(eol - line) : strlen(line);
    char buf[2048];
    snprintf(buf, sizeof buf, "%.*s", (int)(n < sizeof buf - 1 ? n : sizeof buf - 1), line);
    if (strstr(buf, ":CONSOLE") || strstr(buf, "Uncaught")) {
      print_message("console: %s\n", buf);
      return 0;
    }
  }
  return 1;
}

static void test_html_renders_in_chromium(void **state) {
  (void)state;
  const char *chromium = hq_test_which("chromium");
  const char *dir = hq_test_tmpdir();
  char *db = strdup(hq_test_join(dir, "new.db")), *html = strdup(hq_test_join(dir, "r.html"));
  char *probed = strdup(hq_test_join(dir, "probed.html")), *png = strdup(hq_test_join(dir, "shot.png"));
  char *profile = strdup(hq_test_join(dir, "chromium-profile"));
  char url[4200], url2[4200], shot[4200], udd[4200];
  char *text, *body;
  size_t png_len = 0;
  hq_test_proc_t p;
  FILE *f;

  HQ_TEST_REQUIRE(chromium, "chromium (Debian chromium)");
  hq_db_close(hq_fx_victim(db, 2000, 1));
  write_report(db, html);
  text = hq_test_read_file(html, NULL);
  body = strstr(text, "</body>");
  assert_non_null(body);
  f = fopen(probed, "w");
  fprintf(f, "%.*s%s%s", (int)(body - text), text, probe, body + 7);
  fclose(f);
  free(text);
  snprintf(url, sizeof url, "file://%s", html);
  snprintf(url2, sizeof url2, "file://%s", probed);
  snprintf(shot, sizeof shot, "--screenshot=%s", png);
  snprintf(udd, sizeof udd, "--user-data-dir=%s", profile);

  {
    char *argv[] = {(char *)chromium, "--headless", "--no-sandbox", "--disable-gpu", udd,
                    "--enable-logging=stderr", "--v=0", "--window-size=1200,900", shot, url, NULL};
    assert_int_equal(hq_test_run(argv, NULL, NULL, 120, &p), 0);
    assert_int_equal(p.exit_status, 0);
    assert_true(no_console_errors(p.err));
    hq_test_proc_free(&p);
  }
  text = hq_test_read_file(png, &png_len);
  assert_non_null(text);
  assert_int_equal(memcmp(text, "\x89PNG", 4), 0);
  assert_true(png_len > 20000); /* a blank 1200x900 page compresses to a few KB */
  free(text);

  {
    char *argv[] = {(char *)chromium, "--headless", "--no-sandbox", "--disable-gpu", udd,
                    "--enable-logging=stderr", "--v=0", "--dump-dom", url2, NULL};
    assert_int_equal(hq_test_run(argv, NULL, NULL, 120, &p), 0);
    assert_int_equal(p.exit_status, 0);
    assert_true(no_console_errors(p.err));
    assert_non_null(strstr(p.out, "data-hq-ready=\"1\""));
    assert_int_equal(hq_fx_count(p.out, "class=\"hq-flame\""), 4);
    assert_int_equal(hq_fx_count(p.out, "data-ready=\"1\""), 4);
    /* zoomed into work(): it spans the whole width (1180 px less the gap), libfoo is hidden */
    assert_non_null(strstr(p.out, "data-zoom-width=\"1179.50\""));
    assert_non_null(strstr(p.out, "data-zoom-other=\"none\""));
    assert_non_null(strstr(p.out, "data-leaked-shown=\"yes\""));
    hq_test_proc_free(&p);
  }
  /* The standalone flame graph SVG runs its own script too. */
  {
    char *svg = strdup(hq_test_join(dir, "flame.svg")), svg_url[4200];
    hq_db_t *h = NULL;
    f = fopen(svg, "w");
    assert_int_equal(hq_db_open(db, HQ_DB_READONLY, &h), HQ_OK);
    assert_int_equal(hq_flame_write_svg(h, NULL, f), HQ_OK);
    hq_db_close(h);
    fclose(f);
    snprintf(svg_url, sizeof svg_url, "file://%s", svg);
    char *argv[] = {(char *)chromium, "--headless", "--no-sandbox", "--disable-gpu", udd,
                    "--enable-logging=stderr", "--v=0", "--dump-dom", svg_url, NULL};
    assert_int_equal(hq_test_run(argv, NULL, NULL, 120, &p), 0);
    assert_int_equal(p.exit_status, 0);
    assert_true(no_console_errors(p.err));
    assert_non_null(strstr(p.out, "class=\"hq-flame\""));
    assert_non_null(strstr(p.out, "data-ready=\"1\""));
    hq_test_proc_free(&p);
    free(svg);
  }
  free(db);
  free(html);
  free(probed);
  free(png);
  free(profile);
}

/* `heapql compare --format html`: the table and one heap line per run, rendered by Chromium
 * without a console error. */
static void test_compare_html_in_chromium(void **state) {
  (void)state;
  const char *chromium = hq_test_which("chromium");
  const char *dir = hq_test_tmpdir();
  char *paths[2] = {strdup(hq_test_join(dir, "c0.db")), strdup(hq_test_join(dir, "c1.db"))};
  char *html = strdup(hq_test_join(dir, "compare.html")), *profile = strdup(hq_test_join(dir, "cprofile"));
  char url[4200], udd[4200];
  hq_db_t *dbs[2];
  hq_test_proc_t p;
  FILE *f;
  HQ_TEST_REQUIRE(chromium, "chromium (Debian chromium)");
  for (int i = 0; i < 2; i++) {
    dbs[i] = hq_fx_victim(paths[i], 100 + i, i);
    hq_fx_exec(dbs[i], "INSERT OR REPLACE INTO meta VALUES('command_line', 'app%s')", i ? " --fast" : "");
  }
  f = fopen(html, "w");
  assert_int_equal(hq_compare(dbs, NULL, 2, HQ_FORMAT_HTML, f), HQ_OK);
  fclose(f);
  for (int i = 0; i < 2; i++) hq_db_close(dbs[i]);
  snprintf(url, sizeof url, "file://%s", html);
  snprintf(udd, sizeof udd, "--user-data-dir=%s", profile);
  char *argv[] = {(char *)chromium, "--headless", "--no-sandbox", "--disable-gpu", udd,
                  "--enable-logging=stderr", "--v=0", "--dump-dom", url, NULL};
  assert_int_equal(hq_test_run(argv, NULL, NULL, 120, &p), 0);
  assert_int_equal(p.exit_status, 0);
  assert_true(no_console_errors(p.err));
  assert_int_equal(hq_fx_count(p.out, "<polyline class=\"hq-run\""), 2);
  assert_int_equal(hq_fx_count(p.out, "<tr><td style="), 2);
  assert_non_null(strstr(p.out, ">plain</td>"));
  assert_non_null(strstr(p.out, ">--fast</td>"));
  hq_test_proc_free(&p);
  free(paths[0]);
  free(paths[1]);
  free(html);
  free(profile);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_html_report_content),
    cmocka_unit_test(test_html_large_run_stays_small),
    cmocka_unit_test(test_html_renders_in_chromium),
    cmocka_unit_test(test_compare_html_in_chromium),
  };
  return cmocka_run_group_tests_name("html", tests, NULL, NULL);
}
