/* SPDX-License-Identifier: Apache-2.0 */
/* Progress of long commands on stderr (clsp bench, clsp conv --repeat): a
 * bar redrawn in place when stderr is a terminal, one plain line per event
 * otherwise (logs, CI). stdout stays the report. */
#ifndef CLSP_TOOL_PROGRESS_H
#define CLSP_TOOL_PROGRESS_H

#define PROGRESS_KEPT 128 /* timed runs the running median covers */

typedef struct progress {
  const char *tool;            /* "clsp bench" */
  const char *what;            /* "second", "subm layer", ... */
  int runs;                    /* timed runs after the warm-up (0: none) */
  int warmup;                  /* 1 when a warm-up pass comes first */
  int tty;                     /* stderr is a terminal: draw a bar */
  int quiet;                   /* print nothing */
  double t0_ms;                /* start of the command */
  double times[PROGRESS_KEPT]; /* the first timed runs, ms */
  int done;                    /* timed runs so far */
  int warm_done;               /* the warm-up has ended */
} progress;

/* Starts: the terminal check and a first line saying what comes. */
void progress_begin(progress *p, const char *tool, const char *what, int warmup, int runs,
                    int quiet);
/* A pass begins (run -1: the warm-up): says so, as the first one may
 * compile kernels for minutes. */
void progress_pass_start(progress *p, int run);
/* A pass ended after ms: the pass, and the running median of the timed runs. */
void progress_pass_done(progress *p, int run, double ms);
/* Ends the bar's line (terminal). */
void progress_end(progress *p);

#endif
