/* SPDX-License-Identifier: Apache-2.0 */
/* Progress lines and bar on stderr: see progress.h. */
#include "progress.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "clsp.h"

#define BAR_WIDTH 24

void progress_begin(progress *p, const char *tool, const char *what, int warmup, int runs,
                    int quiet) {
  memset(p, 0, sizeof *p);
  p->tool = tool;
  p->what = what;
  p->warmup = warmup;
  p->runs = runs;
  p->quiet = quiet;
  p->tty = isatty(2);
  p->t0_ms = clsp_tool_now_ms();
}

/* Of the first PROGRESS_KEPT timed runs. */
static double running_median(const progress *p) {
  int n = p->done < PROGRESS_KEPT ? p->done : PROGRESS_KEPT;
  double v[PROGRESS_KEPT];
  memcpy(v, p->times, (size_t)n * sizeof v[0]);
  return n ? clsp_tool_median(v, n) : 0.0;
}

/* One redrawn line: [#####.....] warm-up | run 3/5 | median 12.3 ms | 4.5 s */
static void draw_bar(const progress *p, const char *state) {
  int total = p->warmup + p->runs, finished = p->done + p->warm_done;
  int fill = total ? (int)((long long)finished * BAR_WIDTH / total) : 0;
  char bar[BAR_WIDTH + 1];
  for (int i = 0; i < BAR_WIDTH; i++) bar[i] = i < fill ? '#' : '.';
  bar[BAR_WIDTH] = 0;
  fprintf(stderr, "\r%s: %s [%s] %-12s", p->tool, p->what, bar, state);
  if (p->done) fprintf(stderr, " median %.2f ms", running_median(p));
  fprintf(stderr, " (%.1f s)\033[K", (clsp_tool_now_ms() - p->t0_ms) / 1e3);
  fflush(stderr);
}

void progress_pass_start(progress *p, int run) {
  if (p->quiet) return;
  char state[32];
  if (run < 0)
    snprintf(state, sizeof state, "warm-up");
  else
    snprintf(state, sizeof state, "run %d/%d", run + 1, p->runs);
  if (p->tty)
    draw_bar(p, state);
  else if (run < 0)
    fprintf(stderr,
            "%s: %s: warm-up pass (the first use of a device compiles its "
            "kernels: minutes on a cold cache)\n",
            p->tool, p->what);
}

void progress_pass_done(progress *p, int run, double ms) {
  if (run < 0)
    p->warm_done = 1;
  else if (p->done++ < PROGRESS_KEPT)
    p->times[p->done - 1] = ms;
  if (p->quiet) return;
  if (p->tty) {
    char state[32];
    if (run < 0)
      snprintf(state, sizeof state, "warm-up done");
    else
      snprintf(state, sizeof state, "run %d/%d", run + 1, p->runs);
    draw_bar(p, state);
  } else if (run < 0) {
    fprintf(stderr, "%s: %s: warm-up %.1f ms\n", p->tool, p->what, ms);
  } else {
    fprintf(stderr, "%s: %s: run %d/%d %.2f ms, median so far %.2f ms\n", p->tool,
            p->what, run + 1, p->runs, ms, running_median(p));
  }
}

void progress_end(progress *p) {
  if (!p->quiet && p->tty) fputc('\n', stderr);
}
