/* SPDX-License-Identifier: Apache-2.0 */
/* Kernel launches, arguments, the per-context kernel cache and the
 * profiling-event recorder (see launch.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "launch.h"

/* ---- kernel cache ---- */

/* Tuned group size for a kernel allowing at most kmax items per group. */
static size_t tuned_local(const clsp_context *ctx, size_t kmax) {
  return clsp__group_within(ctx->tuning.local_size, kmax);
}

static clsp_status kernel_get(clsp_context *ctx, const clsp_kernel_def *k,
                              cl_kernel *out) {
  clsp_kernel_slot *slot = &ctx->kernels[k->id];
  if (slot->kernel) {
    *out = slot->kernel;
    return CLSP_SUCCESS;
  }
  cl_program prog;
  clsp_status st = clsp__program_get(ctx, k->program, &prog);
  if (st != CLSP_SUCCESS) return st;
  cl_int err = CL_SUCCESS;
  cl_kernel kernel = clCreateKernel(prog, k->name, &err);
  if (err != CL_SUCCESS) {
    char what[256];
    snprintf(what, sizeof what, "clCreateKernel(%s)", k->name);
    return clsp__cl_fail(ctx, err, what);
  }
  size_t kmax = 0;
  if (clGetKernelWorkGroupInfo(kernel, ctx->device, CL_KERNEL_WORK_GROUP_SIZE,
                               sizeof kmax, &kmax, NULL) != CL_SUCCESS)
    kmax = 0;
  slot->kernel = kernel;
  slot->max_group = kmax ? kmax : 1;
  slot->tuned_local = tuned_local(ctx, kmax);
  *out = kernel;
  return CLSP_SUCCESS;
}

clsp_status clsp__kernel_max_group(clsp_context *ctx, const clsp_kernel_def *k,
                                   size_t *out) {
  cl_kernel kernel;
  clsp_status st = kernel_get(ctx, k, &kernel);
  if (st == CLSP_SUCCESS) *out = ctx->kernels[k->id].max_group;
  return st;
}

void clsp__kernels_retune(clsp_context *ctx) {
  for (int i = 0; i < CLSP_MAX_KERNELS; i++)
    if (ctx->kernels[i].kernel)
      ctx->kernels[i].tuned_local = tuned_local(ctx, ctx->kernels[i].max_group);
}

void clsp__programs_release(clsp_context *ctx) {
  for (int i = 0; i < CLSP_MAX_KERNELS; i++)
    if (ctx->kernels[i].kernel) clReleaseKernel(ctx->kernels[i].kernel);
  for (int i = 0; i < CLSP_MAX_PROGRAMS; i++)
    if (ctx->programs[i]) clReleaseProgram(ctx->programs[i]);
  memset(ctx->kernels, 0, sizeof ctx->kernels);
  memset(ctx->programs, 0, sizeof ctx->programs);
}

/* ---- launching ---- */

static clsp_status set_args(clsp_context *ctx, const clsp_kernel_def *k, cl_kernel kernel,
                            const clsp_arg *args, int n) {
  for (int i = 0; i < n; i++) {
    cl_int err = clSetKernelArg(kernel, (cl_uint)i, args[i].size, args[i].value);
    if (err != CL_SUCCESS) {
      char what[256];
      snprintf(what, sizeof what, "clSetKernelArg(%s, %d)", k->name, i);
      return clsp__cl_fail(ctx, err, what);
    }
  }
  return CLSP_SUCCESS;
}

static clsp_status enqueue(clsp_context *ctx, const clsp_kernel_def *k, cl_kernel kernel,
                           clsp_range r, cl_event *ev) {
  size_t global[2] = {r.global[0], r.global[1]};
  int tuned = r.local == CLSP_LOCAL_TUNED || (r.local == 0 && ctx->tuning.fixed_groups);
  size_t local = tuned ? ctx->kernels[k->id].tuned_local : r.local;
  int use_local = r.dims == 1 && local > 0;
  if (use_local) global[0] = (global[0] + local - 1) / local * local;
  cl_int err = clEnqueueNDRangeKernel(ctx->queue, kernel, r.dims, NULL, global,
                                      use_local ? &local : NULL, 0, NULL, ev);
  if (err != CL_SUCCESS) {
    char what[256];
    if (r.dims == 1)
      snprintf(what, sizeof what, "clEnqueueNDRangeKernel(%s, %zu items)", k->name,
               global[0]);
    else
      snprintf(what, sizeof what, "clEnqueueNDRangeKernel(%s, %zu x %zu items)", k->name,
               global[0], global[1]);
    return clsp__cl_fail(ctx, err, what);
  }
  return CLSP_SUCCESS;
}

clsp_status clsp__launch(clsp_context *ctx, const clsp_kernel_def *k, clsp_range r,
                         clsp_events *events, const clsp_arg *args, int n) {
  if (r.global[0] == 0 || (r.dims == 2 && r.global[1] == 0)) return CLSP_SUCCESS;
  cl_kernel kernel;
  clsp_status st = kernel_get(ctx, k, &kernel);
  if (st == CLSP_SUCCESS) st = set_args(ctx, k, kernel, args, n);
  if (st != CLSP_SUCCESS) return st;
  return enqueue(ctx, k, kernel, r,
                 clsp__event_slot(events, events ? events->tag : 0, 0));
}

/* ---- profiling events ---- */

static int events_grow(clsp_events *e) {
  size_t cap = e->cap ? 2 * e->cap : 64;
  cl_event *ev = realloc(e->ev, cap * sizeof *ev);
  if (ev) e->ev = ev;
  uint8_t *stage = realloc(e->stage, cap);
  if (stage) e->stage = stage;
  uint8_t *since = realloc(e->since_prev, cap);
  if (since) e->since_prev = since;
  if (!ev || !stage || !since) return 0;
  e->cap = cap;
  return 1;
}

cl_event *clsp__event_slot(clsp_events *e, int stage, int since_prev) {
  if (!e || (e->n == e->cap && !events_grow(e))) return NULL;
  e->stage[e->n] = (uint8_t)stage;
  e->since_prev[e->n] = (uint8_t)since_prev;
  e->ev[e->n] = NULL; /* stays NULL if the command fails */
  return &e->ev[e->n++];
}

static int event_times(cl_event ev, cl_ulong *start, cl_ulong *end) {
  return ev &&
         clGetEventProfilingInfo(ev, CL_PROFILING_COMMAND_START, sizeof *start, start,
                                 NULL) == CL_SUCCESS &&
         clGetEventProfilingInfo(ev, CL_PROFILING_COMMAND_END, sizeof *end, end, NULL) ==
           CL_SUCCESS;
}

clsp_status clsp__events_finish(clsp_context *ctx, const clsp_events *e, double *stage_ms,
                                int n_stages, double *sum_ms, double *span_ms) {
  if (sum_ms) *sum_ms = 0.0;
  if (span_ms) *span_ms = 0.0;
  if (!e || e->n == 0) return CLSP_SUCCESS;
  CLSP_CL_CHECK(ctx, clFinish(ctx->queue), "clFinish (collecting timings)");
  if (!ctx->profiling) return CLSP_SUCCESS;
  cl_ulong first = 0, prev_end = 0, s, t;
  double sum = 0.0;
  for (size_t i = 0; i < e->n; i++) {
    if (!event_times(e->ev[i], &s, &t)) continue;
    if (first == 0) first = s;
    cl_ulong from = (e->since_prev[i] && prev_end && prev_end < t) ? prev_end : s;
    double ms = t > from ? (double)(t - from) * 1e-6 : 0.0;
    if (stage_ms && e->stage[i] < n_stages) stage_ms[e->stage[i]] += ms;
    sum += ms;
    prev_end = t;
  }
  if (sum_ms) *sum_ms = sum;
  if (span_ms) *span_ms = prev_end > first ? (double)(prev_end - first) * 1e-6 : 0.0;
  return CLSP_SUCCESS;
}

void clsp__events_release(clsp_events *e) {
  if (!e) return;
  for (size_t i = 0; i < e->n; i++)
    if (e->ev[i]) clReleaseEvent(e->ev[i]);
  free(e->ev);
  free(e->stage);
  free(e->since_prev);
  *e = (clsp_events){0};
}
