/* SPDX-License-Identifier: Apache-2.0 */
/* Model handle: loading from a file, queries, results of a forward. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "model_internal.h"
#include "onnx_import.h"

/* Reads a whole file; the message names the path and the system error. */
static clsp_status read_file(clsp_context *ctx, const char *path, void **data,
                             size_t *size) {
  *data = NULL;
  FILE *fp = fopen(path, "rb");
  if (!fp)
    return clsp__fail(ctx, CLSP_ERROR_INVALID_ARGUMENT, "path '%s': %s", path,
                      strerror(errno));
  clsp_status st = CLSP_SUCCESS;
  long len = -1;
  if (fseek(fp, 0, SEEK_END) == 0) len = ftell(fp);
  if (len < 0 || fseek(fp, 0, SEEK_SET) != 0)
    st = clsp__fail(ctx, CLSP_ERROR_INVALID_ARGUMENT, "path '%s': cannot seek", path);
  if (st == CLSP_SUCCESS && !(*data = malloc(len ? (size_t)len : 1)))
    st =
      clsp__fail(ctx, CLSP_ERROR_OUT_OF_HOST_MEMORY, "path '%s': %ld bytes", path, len);
  if (st == CLSP_SUCCESS && fread(*data, 1, (size_t)len, fp) != (size_t)len)
    st = clsp__fail(ctx, CLSP_ERROR_INVALID_ARGUMENT, "path '%s': short read", path);
  fclose(fp);
  if (st != CLSP_SUCCESS) {
    free(*data);
    *data = NULL;
  }
  *size = (size_t)(len > 0 ? len : 0);
  return st;
}

clsp_status clsp_model_load_file(clsp_context *ctx, const char *path,
                                 const clsp_model_options *options, clsp_model **out) {
  if (!ctx) return CLSP_ERROR_INVALID_ARGUMENT;
  if (!out) return clsp__fail(ctx, CLSP_ERROR_INVALID_ARGUMENT, "out: NULL");
  *out = NULL;
  if (!path) return clsp__fail(ctx, CLSP_ERROR_INVALID_ARGUMENT, "path: NULL");
  void *data = NULL;
  size_t size = 0;
  clsp_status st = read_file(ctx, path, &data, &size);
  if (st != CLSP_SUCCESS) return st;
  st = clsp_model_load_memory(ctx, data, size, options, out);
  free(data);
  return st;
}

clsp_status clsp_model_load_memory(clsp_context *ctx, const void *data, size_t size,
                                   const clsp_model_options *options, clsp_model **out) {
  if (!ctx) return CLSP_ERROR_INVALID_ARGUMENT;
  if (!out) return clsp__fail(ctx, CLSP_ERROR_INVALID_ARGUMENT, "out: NULL");
  *out = NULL;
  if (!data) return clsp__fail(ctx, CLSP_ERROR_INVALID_ARGUMENT, "data: NULL");
  return monnx_import(ctx, data, size, options ? options->flags : 0, out);
}

void clsp_model_destroy(clsp_model *m) {
  if (!m) return;
  mforward_release(m);
  mgraph_free(&m->g);
  free(m->slots);
  free(m->kept);
  free(m->rbh);
  free(m->outputs);
  free(m);
}

static void describe(const clsp_model *m, int v, clsp_model_value_info *info) {
  const mvalue *val = &m->g.values[v];
  memset(info, 0, sizeof *info);
  info->name = val->name;
  info->dense = val->dense;
  info->ndim = val->ndim;
  memcpy(info->spatial_shape, val->shape, sizeof info->spatial_shape);
  info->channels = val->channels;
  info->n_dims = val->n_dims;
  memcpy(info->dims, val->dims, sizeof info->dims);
  info->float16 = val->half;
}

clsp_status clsp_model_input(const clsp_model *m, clsp_model_value_info *info) {
  if (!m || !info) return CLSP_ERROR_INVALID_ARGUMENT;
  describe(m, 0, info);
  return CLSP_SUCCESS;
}

clsp_status clsp_model_output_count(const clsp_model *m, size_t *count) {
  if (!m || !count) return CLSP_ERROR_INVALID_ARGUMENT;
  *count = m->n_outputs;
  return CLSP_SUCCESS;
}

clsp_status clsp_model_output(const clsp_model *m, size_t index,
                              clsp_model_value_info *info) {
  if (!m || !info) return CLSP_ERROR_INVALID_ARGUMENT;
  if (index >= m->n_outputs)
    return clsp__fail(m->g.ctx, CLSP_ERROR_INVALID_ARGUMENT,
                      "index = %zu: the model has %zu outputs", index, m->n_outputs);
  describe(m, m->outputs[index], info);
  return CLSP_SUCCESS;
}

clsp_status clsp_model_node_count(const clsp_model *m, size_t *count) {
  if (!m || !count) return CLSP_ERROR_INVALID_ARGUMENT;
  *count = m->g.n_nodes;
  return CLSP_SUCCESS;
}

clsp_status clsp_model_node_stats(const clsp_model *m, size_t index,
                                  clsp_model_layer_stats *out) {
  if (!m || !out) return CLSP_ERROR_INVALID_ARGUMENT;
  if (index >= m->g.n_nodes)
    return clsp__fail(m->g.ctx, CLSP_ERROR_INVALID_ARGUMENT,
                      "index = %zu: the model has %zu nodes", index, m->g.n_nodes);
  *out = m->g.nodes[index].stats;
  out->name = m->g.nodes[index].name;
  out->op = m->g.nodes[index].op_type;
  return CLSP_SUCCESS;
}

/* The value holding result `name` (NULL: the first output), or -1 with
 * the error recorded. */
static int result_value(const clsp_model *m, const char *name) {
  int v = name ? mgraph_resolve(&m->g, name) : m->outputs[0];
  if (v >= 0 && (m->slots[v].t || m->slots[v].dense)) return v;
  clsp__fail(m->g.ctx, CLSP_ERROR_INVALID_ARGUMENT, "result '%s': %s",
             name ? name : "(first output)",
             v < 0 ? "no tensor or node of that name"
                   : "not held (run a forward, and name intermediate tensors in `keep`)");
  return -1;
}

clsp_status clsp_model_result(const clsp_model *m, const char *name,
                              clsp_model_value_info *info) {
  if (!m || !info) return CLSP_ERROR_INVALID_ARGUMENT;
  int v = result_value(m, name);
  if (v < 0) return CLSP_ERROR_INVALID_ARGUMENT;
  describe(m, v, info);
  const mslot *s = &m->slots[v];
  if (s->dense) {
    memcpy(info->dims, s->dims, sizeof info->dims);
  } else {
    clsp_tensor_desc d;
    clsp_status st = clsp_tensor_describe(s->t, &d);
    if (st != CLSP_SUCCESS) return st;
    info->n_sites = d.n_sites;
  }
  return CLSP_SUCCESS;
}

clsp_status clsp_model_result_download(clsp_model *m, const char *name, float *values,
                                       int32_t *coords) {
  if (!m) return CLSP_ERROR_INVALID_ARGUMENT;
  int v = result_value(m, name);
  if (v < 0) return CLSP_ERROR_INVALID_ARGUMENT;
  const mslot *s = &m->slots[v];
  if (!s->dense) return clsp_tensor_download(m->g.ctx, s->t, coords, values);
  if (!values) return CLSP_SUCCESS;
  size_t bytes = sizeof(float);
  for (int k = 0; k < m->g.values[v].n_dims; k++) bytes *= (size_t)s->dims[k];
  CLSP_CL_CHECK(m->g.ctx,
                clEnqueueReadBuffer(m->g.ctx->queue, s->dense, CL_TRUE, 0, bytes, values,
                                    0, NULL, NULL),
                "reading a dense result");
  return CLSP_SUCCESS;
}

clsp_status clsp_model_result_device(const clsp_model *m, const char *name,
                                     const clsp_tensor **tensor, cl_mem *buffer) {
  if (!m) return CLSP_ERROR_INVALID_ARGUMENT;
  int v = result_value(m, name);
  if (v < 0) return CLSP_ERROR_INVALID_ARGUMENT;
  if (tensor) *tensor = m->slots[v].t;
  if (buffer) *buffer = m->slots[v].dense;
  return CLSP_SUCCESS;
}

clsp_status clsp_model_release_results(clsp_model *m) {
  if (!m) return CLSP_ERROR_INVALID_ARGUMENT;
  mforward_release(m);
  return CLSP_SUCCESS;
}
