/* SPDX-License-Identifier: Apache-2.0 */
/* Internal layout of tensors and rulebooks, shared by the pipeline stages
 * (hash -> rulebook -> gather -> gemm -> scatter). Not installed. */
#ifndef CLSP_PIPELINE_H
#define CLSP_PIPELINE_H

#include "internal.h"

struct clsp_tensor {
  clsp_context *ctx;
  clsp_tensor_desc desc;
  cl_mem coords;     /* n_sites x (1 + ndim) int32 */
  cl_mem feats;      /* n_sites x channels float */
  int wrapped;       /* buffers are the caller's (retained, not accounted) */
  /* Identity of the site set: tensors with equal ids have the same sites
   * in the same order (a conv output carries its rulebook's out id). */
  uint64_t sites_id;
};

struct clsp_rulebook {
  clsp_context *ctx;
  clsp_rulebook_info info;
  uint64_t in_sites_id;  /* sites_id of the tensor it was built for */
  uint64_t out_sites_id; /* submanifold: = in; inverse: regular's in */
  cl_mem out_coords;     /* n_out x (1 + ndim) int32 (retained when shared) */
  /* Pairs grouped by tap: tap t owns [start[t], start[t+1]). Within a tap
   * each output row appears at most once (and each input row too). */
  cl_mem pair_in, pair_out; /* uint32 x n_pairs (retained when shared) */
  uint32_t *start;          /* host copy, kernel_volume + 1 entries */
  const clsp_rulebook *parent; /* inverse: the regular rulebook it reverses */
};

/* A fresh process-wide site-set identity. */
uint64_t clsp__new_sites_id(void);

/* Creates a tensor around device buffers the library just made (takes
 * ownership of both; releases them on failure). Used for conv outputs. */
clsp_status clsp__tensor_adopt(clsp_context *ctx, const clsp_tensor_desc *desc,
                               cl_mem coords, cl_mem feats, uint64_t sites_id,
                               clsp_tensor **out);

/* Validates a descriptor; names the offending field in the message. */
clsp_status clsp__tensor_desc_check(clsp_context *ctx, const clsp_tensor_desc *desc);

#endif
