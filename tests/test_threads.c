/* SPDX-License-Identifier: Apache-2.0 */
/* Concurrency (the contract in clspconv.h): several threads, each with its
 * own context, run the same chain of convolutions at once (rulebooks,
 * submanifold, regular and inverse convs, CLBlast GEMMs), creating and
 * destroying contexts while the others compute; then the same with one
 * cl_context shared through clsp_context_wrap, one queue per thread.
 * Results equal the single-threaded ones bit for bit (deterministic mode). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "harness.h"

#define N_THREADS 4
#define C0 8
#define C1 16

typedef struct workload {
  clsp_tensor_desc desc;
  int32_t *coords;
  float *feats, *w1, *w2, *w3, *bias;
} workload;

typedef struct result {
  size_t n1, n2;
  float *f1, *f2, *f3;
  int32_t *c2;
} result;

static void result_free(result *r) {
  free(r->f1);
  free(r->f2);
  free(r->f3);
  free(r->c2);
  memset(r, 0, sizeof *r);
}

static float *random_floats(harness_rng *r, size_t n) {
  float *v = malloc(n * sizeof *v);
  for (size_t i = 0; i < n && v; i++) v[i] = harness_unit(r);
  return v;
}

/* Unique random sites on a side^3 grid, batch 1. */
static void workload_make(workload *w, uint64_t seed) {
  int side = harness_small() ? 6 : 12;
  size_t cells = (size_t)side * side * side, n = harness_small() ? 30 : 300;
  harness_rng r = {seed};
  uint32_t *perm = malloc(cells * sizeof *perm);
  assert_non_null(perm);
  for (size_t i = 0; i < cells; i++) perm[i] = (uint32_t)i;
  for (size_t i = 0; i < n; i++) {
    size_t j = i + harness_below(&r, (uint32_t)(cells - i));
    uint32_t t = perm[i];
    perm[i] = perm[j];
    perm[j] = t;
  }
  w->desc = (clsp_tensor_desc){3, {side, side, side, 1}, 1, n, C0, 0};
  w->coords = malloc(n * 4 * sizeof *w->coords);
  assert_non_null(w->coords);
  for (size_t i = 0; i < n; i++) {
    uint32_t c = perm[i];
    w->coords[i * 4 + 0] = 0;
    w->coords[i * 4 + 1] = (int32_t)(c / (side * side));
    w->coords[i * 4 + 2] = (int32_t)(c / side % side);
    w->coords[i * 4 + 3] = (int32_t)(c % side);
  }
  free(perm);
  w->feats = random_floats(&r, n * C0);
  w->w1 = random_floats(&r, 27 * C0 * C1);
  w->w2 = random_floats(&r, 27 * C1 * C0);
  w->w3 = random_floats(&r, 27 * C0 * C0);
  w->bias = random_floats(&r, C1);
  assert_true(w->feats && w->w1 && w->w2 && w->w3 && w->bias);
}

static void workload_free(workload *w) {
  free(w->coords);
  free(w->feats);
  free(w->w1);
  free(w->w2);
  free(w->w3);
  free(w->bias);
}

/* Runs the chain on ctx: submanifold k3 C0->C1 (bias), regular k3 s2 p1
 * C1->C0, its inverse C0->C0. Thread-safe: no cmocka calls. Returns 0 or
 * a message in err. */
static int run_chain(clsp_context *ctx, const workload *w, result *res, char *err,
                     size_t cap) {
  clsp_tensor *in = NULL, *o1 = NULL, *o2 = NULL, *o3 = NULL;
  clsp_rulebook *rs = NULL, *rr = NULL, *ri = NULL;
  clsp_weights *w1 = NULL, *w2 = NULL, *w3 = NULL;
  clsp_conv_geometry sub = {{3, 3, 3}, {1, 1, 1}, {1, 1, 1}, {1, 1, 1}};
  clsp_conv_geometry down = {{3, 3, 3}, {2, 2, 2}, {1, 1, 1}, {1, 1, 1}};
  clsp_tensor_desc d2;
  const char *step = "tensor";
  memset(res, 0, sizeof *res);
  clsp_status st = clsp_tensor_create(ctx, &w->desc, w->coords, w->feats, &in);
  if (!st)
    step = "weights", st = clsp_weights_create(ctx, 27, C0, C1, w->w1, w->bias, &w1);
  if (!st) st = clsp_weights_create(ctx, 27, C1, C0, w->w2, NULL, &w2);
  if (!st) st = clsp_weights_create(ctx, 27, C0, C0, w->w3, NULL, &w3);
  if (!st)
    step = "subm rulebook",
    st = clsp_rulebook_build(ctx, CLSP_CONV_SUBMANIFOLD, &sub, in, &rs);
  if (!st) step = "subm conv", st = clsp_conv_forward(ctx, rs, in, w1, 0, &o1, NULL);
  if (!st)
    step = "regular rulebook",
    st = clsp_rulebook_build(ctx, CLSP_CONV_REGULAR, &down, o1, &rr);
  if (!st) step = "regular conv", st = clsp_conv_forward(ctx, rr, o1, w2, 0, &o2, NULL);
  if (!st) step = "inverse rulebook", st = clsp_rulebook_inverse(ctx, rr, &ri);
  if (!st) step = "inverse conv", st = clsp_conv_forward(ctx, ri, o2, w3, 0, &o3, NULL);
  if (!st) step = "describe", st = clsp_tensor_describe(o2, &d2);
  if (!st) {
    step = "download";
    res->n1 = w->desc.n_sites;
    res->n2 = d2.n_sites;
    res->f1 = malloc(res->n1 * C1 * sizeof(float) + 4);
    res->f2 = malloc(res->n2 * C0 * sizeof(float) + 4);
    res->f3 = malloc(res->n1 * C0 * sizeof(float) + 4);
    res->c2 = malloc(res->n2 * 4 * sizeof(int32_t) + 4);
    if (!res->f1 || !res->f2 || !res->f3 || !res->c2) st = CLSP_ERROR_OUT_OF_HOST_MEMORY;
  }
  if (!st) st = clsp_tensor_download(ctx, o1, NULL, res->f1);
  if (!st) st = clsp_tensor_download(ctx, o2, res->c2, res->f2);
  if (!st) st = clsp_tensor_download(ctx, o3, NULL, res->f3);
  if (st)
    snprintf(err, cap, "%s: %s: %s", step, clsp_status_string(st),
             clsp_context_last_error(ctx));
  clsp_tensor_destroy(o3);
  clsp_tensor_destroy(o2);
  clsp_tensor_destroy(o1);
  clsp_rulebook_destroy(ri);
  clsp_rulebook_destroy(rr);
  clsp_rulebook_destroy(rs);
  clsp_weights_destroy(w1);
  clsp_weights_destroy(w2);
  clsp_weights_destroy(w3);
  clsp_tensor_destroy(in);
  return st != CLSP_SUCCESS;
}

/* 0 if equal bit for bit, else a description in err. */
static int compare(const result *a, const result *b, char *err, size_t cap) {
  if (a->n1 != b->n1 || a->n2 != b->n2) {
    snprintf(err, cap, "site counts %zu/%zu vs %zu/%zu", a->n1, a->n2, b->n1, b->n2);
    return 1;
  }
  if (memcmp(a->c2, b->c2, a->n2 * 4 * sizeof(int32_t)) != 0)
    return snprintf(err, cap, "regular conv output coordinates differ"), 1;
  if (memcmp(a->f1, b->f1, a->n1 * C1 * sizeof(float)) != 0)
    return snprintf(err, cap, "submanifold conv features differ"), 1;
  if (memcmp(a->f2, b->f2, a->n2 * C0 * sizeof(float)) != 0)
    return snprintf(err, cap, "regular conv features differ"), 1;
  if (memcmp(a->f3, b->f3, a->n1 * C0 * sizeof(float)) != 0)
    return snprintf(err, cap, "inverse conv features differ"), 1;
  return 0;
}

typedef struct worker {
  pthread_t thread;
  int index, shared, iterations;
  const workload *w;
  const result *want;
  cl_context cl;
  cl_device_id dev;
  int failed;
  char err[1024];
} worker;

static clsp_context *own_context(char *err, size_t cap) {
  clsp_context_options o = {0};
  o.device = harness_device_spec();
  o.flags = CLSP_CONTEXT_DETERMINISTIC;
  clsp_context *ctx = NULL;
  clsp_status st = clsp_context_create(&o, &ctx);
  if (st) snprintf(err, cap, "clsp_context_create: %s", clsp_status_string(st));
  return ctx;
}

static void *worker_main(void *arg) {
  worker *k = arg;
  for (int it = 0; it < k->iterations && !k->failed; it++) {
    clsp_context *ctx = NULL;
    cl_command_queue q = NULL;
    if (k->shared) {
      cl_int e;
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
      q = clCreateCommandQueue(k->cl, k->dev, 0, &e);
#pragma GCC diagnostic pop
      if (e != CL_SUCCESS) {
        snprintf(k->err, sizeof k->err, "clCreateCommandQueue: %d", (int)e);
        k->failed = 1;
        break;
      }
      clsp_context_options o = {0};
      o.flags = CLSP_CONTEXT_DETERMINISTIC;
      clsp_status st = clsp_context_wrap(k->cl, k->dev, q, &o, &ctx);
      if (st)
        snprintf(k->err, sizeof k->err, "clsp_context_wrap: %s", clsp_status_string(st));
    } else {
      ctx = own_context(k->err, sizeof k->err);
    }
    if (!ctx) {
      k->failed = 1;
    } else {
      result got;
      char why[768];
      if (run_chain(ctx, k->w, &got, why, sizeof why) != 0) {
        snprintf(k->err, sizeof k->err, "iteration %d: %s", it, why);
        k->failed = 1;
      } else if (compare(&got, k->want, why, sizeof why) != 0) {
        snprintf(k->err, sizeof k->err, "iteration %d: %s", it, why);
        k->failed = 1;
      }
      result_free(&got);
    }
    /* Destroyed while other threads may be inside CLBlast. */
    clsp_context_destroy(ctx);
    if (q) clReleaseCommandQueue(q);
  }
  return NULL;
}

static void run_threads(int shared) {
  if (!strcmp(clsp_context_caps(harness_ctx())->platform_name, "Oclgrind"))
    HARNESS_SKIP(
      "oclgrind's simulator is not thread-safe (run concurrently, the "
      "threads got wrong coordinates and the process crashed under it)");
  uint64_t seed = harness_seed() + 7 + (uint64_t)shared;
  workload w;
  workload_make(&w, seed);
  /* The single-threaded reference, on a context of its own. */
  char err[1024] = "";
  clsp_context *ref_ctx = own_context(err, sizeof err);
  if (!ref_ctx) fail_msg("%s", err);
  result want;
  if (run_chain(ref_ctx, &w, &want, err, sizeof err) != 0) fail_msg("reference: %s", err);
  clsp_context_destroy(ref_ctx);
  worker k[N_THREADS];
  cl_context cl = NULL;
  cl_device_id dev = NULL;
  assert_int_equal(clsp_context_cl(harness_ctx(), &cl, &dev, NULL), CLSP_SUCCESS);
  for (int i = 0; i < N_THREADS; i++) {
    k[i] = (worker){0};
    k[i].index = i;
    k[i].shared = shared;
    k[i].iterations = harness_small() ? 2 : 3;
    k[i].w = &w;
    k[i].want = &want;
    k[i].cl = cl;
    k[i].dev = dev;
    assert_int_equal(pthread_create(&k[i].thread, NULL, worker_main, &k[i]), 0);
  }
  int failed = 0;
  for (int i = 0; i < N_THREADS; i++) {
    pthread_join(k[i].thread, NULL);
    if (k[i].failed) {
      print_error("thread %d: %s\n", i, k[i].err);
      failed = 1;
    }
  }
  /* The suite's own context still works after all that. */
  result again;
  if (run_chain(harness_ctx(), &w, &again, err, sizeof err) != 0)
    fail_msg("harness context afterwards: %s", err);
  result_free(&again);
  result_free(&want);
  workload_free(&w);
  HARNESS_CHECK(!failed, seed);
}

static void test_own_contexts(void **state) {
  (void)state;
  run_threads(0);
}

static void test_shared_cl_context(void **state) {
  (void)state;
  run_threads(1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_own_contexts),
    cmocka_unit_test(test_shared_cl_context),
  };
  return HARNESS_RUN("threads", tests, 1);
}
