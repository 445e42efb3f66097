/* SPDX-License-Identifier: Apache-2.0 */
#include "rulebook_from_ref.h"
#include <stdlib.h>
#include <string.h>
#include "pipeline.h"

uint64_t rulebook_tensor_sites_id(const clsp_tensor *t) { return t->sites_id; }

static void fill_info(const ref_rulebook *ref, const ref_geom *g, const clsp_tensor *in,
                      clsp_rulebook_info *i) {
  memset(i, 0, sizeof *i);
  i->kind = (clsp_conv_kind)ref->kind;
  i->ndim = ref->ndim;
  for (int a = 0; a < g->ndim; a++) {
    i->geometry.kernel[a] = g->kernel[a];
    i->geometry.stride[a] = g->stride[a];
    i->geometry.padding[a] = g->padding[a];
    i->geometry.dilation[a] = g->dilation[a];
    i->in_shape[a] = ref->in_shape[a];
    i->out_shape[a] = ref->out_shape[a];
  }
  i->batch_size = in->desc.batch_size;
  i->n_in = in->desc.n_sites;
  i->n_out = ref->n_out;
  i->kernel_volume = ref->kvol;
  i->n_pairs = ref->start[ref->kvol];
}

static cl_mem upload(clsp_context *ctx, const void *data, size_t bytes) {
  cl_mem m = NULL;
  void *copy = NULL;
  if (bytes == 0) { /* a handle must exist; contents are never read */
    copy = calloc(1, 4);
    data = copy;
    bytes = 4;
  }
  clsp__buffer_create(ctx, CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR, bytes, (void *)data,
                      "test rulebook", &m);
  free(copy);
  return m;
}

clsp_status rulebook_from_ref(clsp_context *ctx, const ref_rulebook *ref,
                              const ref_geom *g, const clsp_tensor *in,
                              uint64_t out_sites_id, clsp_rulebook **out) {
  *out = NULL;
  clsp_rulebook *rb = calloc(1, sizeof *rb);
  if (!rb) return CLSP_ERROR_OUT_OF_HOST_MEMORY;
  rb->ctx = ctx;
  fill_info(ref, g, in, &rb->info);
  rb->in_sites_id = in->sites_id;
  rb->out_sites_id = ref->kind == REF_SUBM ? in->sites_id
                     : out_sites_id        ? out_sites_id
                                           : clsp__new_sites_id();
  size_t n_pairs = ref->start[ref->kvol];
  rb->start = malloc((ref->kvol + 1) * sizeof *rb->start);
  if (rb->start)
    for (size_t t = 0; t <= ref->kvol; t++) rb->start[t] = (uint32_t)ref->start[t];
  rb->out_coords = upload(ctx, ref->out_coords,
                          ref->n_out * (size_t)(1 + ref->ndim) * sizeof(int32_t));
  rb->pair_in = upload(ctx, ref->in_rows, n_pairs * sizeof(uint32_t));
  rb->pair_out = upload(ctx, ref->out_rows, n_pairs * sizeof(uint32_t));
  if (!rb->start || !rb->out_coords || !rb->pair_in || !rb->pair_out) {
    rulebook_from_ref_destroy(rb);
    return CLSP_ERROR_OUT_OF_DEVICE_MEMORY;
  }
  *out = rb;
  return CLSP_SUCCESS;
}

void rulebook_from_ref_destroy(clsp_rulebook *rb) {
  if (!rb) return;
  clsp__buffer_release(rb->ctx, &rb->out_coords);
  clsp__buffer_release(rb->ctx, &rb->pair_in);
  clsp__buffer_release(rb->ctx, &rb->pair_out);
  free(rb->start);
  free(rb);
}
