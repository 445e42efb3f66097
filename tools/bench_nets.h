/* SPDX-License-Identifier: Apache-2.0 */
/* The benchmark networks with seeded random weights: OpenPCDet's
 * VoxelBackBone8x (SECOND), TorchSparse's MinkUNet, and single layers,
 * described layer by layer for the reports and run as a clsp_model made
 * with the library's builder (include/clspconv/model.h). Used by clsp
 * bench. */
#ifndef CLSP_TOOL_BENCH_NETS_H
#define CLSP_TOOL_BENCH_NETS_H

#include <stddef.h>
#include <stdint.h>
#include "clspconv/clspconv.h"

#define NET_MAX_LAYERS 96
#define NET_MAX_SLOTS 128
#define NET_MAX_RULEBOOKS 32

typedef enum net_kind {
  NET_SUBM,       /* submanifold conv */
  NET_CONV,       /* regular (strided) conv */
  NET_TRANSPOSED, /* transposed conv (own rulebook) */
  NET_INVERSE,    /* inverse of the REGULAR conv whose rulebook key it names */
  NET_ADD,        /* slot in += slot in2, ReLU (residual join); out == in */
  NET_CONCAT,     /* out = [in, in2] channels */
} net_kind;

typedef struct net_layer {
  char name[40];
  net_kind kind;
  int in, in2, out; /* tensor slots */
  char rb_key[24];  /* rulebook to build or reuse */
  clsp_conv_geometry geo;
  int kvol, c_in, c_out;
  int relu;                /* ReLU after the layer */
  float *weights, *bias;   /* host, native layout (given to the builder) */
  int first_node, n_nodes; /* the model nodes that run this layer */
} net_layer;

typedef struct net {
  net_layer layers[NET_MAX_LAYERS];
  int n_layers, n_slots;
  int input, output; /* slots */
  uint64_t rng;      /* splitmix64 state for weights */
  clsp_model *model; /* built at the first forward, for its input's
                                spatial shape and channels */
  clsp_tensor_desc model_input;
} net;

/* Measurements of one layer in one forward pass. */
typedef struct net_layer_stats {
  size_t in_sites, out_sites, pairs;
  double gflop;                      /* 2 x pairs x Cin x Cout / 1e9 */
  double stage_ms[CLSP_STAGE_COUNT]; /* CLSP_STAGE_RULEBOOK: build_ms of a
                                       rulebook built by this layer;
                                       OTHER includes ReLU/add/concat */
  double ms;                         /* device time, all stages */
  double host_start_ms, host_end_ms; /* wall clock around the layer */
  int fused;                         /* conv: the fused dataflow ran */
  int in_epilogue;                   /* add: run in the previous conv's
                                        epilogue (its time is the conv's) */
} net_layer_stats;

/* Builds a network description and uploads seeded random weights (He
 * uniform, bias small). `in_channels`: channels of the input tensor.
 * Returns 0, or nonzero with a message in err. */
int net_build_second(net *n, clsp_context *ctx, uint64_t seed, int in_channels, char *err,
                     size_t errlen);
int net_build_minkunet(net *n, clsp_context *ctx, uint64_t seed, int in_channels,
                       char *err, size_t errlen);
/* spec: subm:CIN:COUT:K, conv:CIN:COUT:K:S, transposed:CIN:COUT:K:S. */
int net_build_layer(net *n, clsp_context *ctx, uint64_t seed, const char *spec, int *c_in,
                    char *err, size_t errlen);
void net_free(net *n);

/* Runs one forward pass on `input` (not consumed). `stats` takes
 * n->n_layers entries. *output (may be NULL) receives a copy of the output
 * tensor (caller destroys). The model is built at the first call (and
 * again when the input's shape or channels change); every rulebook is
 * built during the pass and freed after its last layer. Returns a
 * clsp_status (the context's last error names the layer). */
clsp_status net_forward(net *n, clsp_context *ctx, const clsp_tensor *input,
                        net_layer_stats *stats, clsp_tensor **output);

const char *net_kind_name(net_kind k);

#endif
