/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CLSPCONV_MODEL_H
#define CLSPCONV_MODEL_H

#include <stddef.h>
#include <stdint.h>
#include "clspconv/conv.h"
#include "clspconv/ops.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Whole sparse-conv networks: loaded from the SCN ONNX deployment file
 * NVIDIA's exporter writes for libspconv (CUDA-CenterPoint, BEVFusion), or
 * built in C with the builder below, then run frame after frame.
 *
 * A model has one sparse input (coordinates + features; the coordinates
 * are a side input, as in libspconv) and one or more outputs: sparse
 * tensors, or dense float32 tensors (ScatterDense, then Reshape/Transpose)
 * in the model's layout. Weights go to the device once, at load (float16
 * initializers converted to float32 there). A forward builds the frame's
 * rulebooks (shared by the layers whose `rulebook` key names them), frees
 * every tensor and rulebook after its last consumer, and keeps the
 * outputs (and any tensors the caller asked for) until the next forward:
 * one model runs any number of frames without rebuilding programs and
 * without growing device memory.
 *
 * A model belongs to the context it was made on and follows its thread
 * rules (one thread at a time). Destroy models before their context.
 */
typedef struct clsp_model clsp_model;

#define CLSP_MODEL_MAX_DIMS 8

/* A tensor of the graph, as declared or as computed by the last forward. */
typedef struct clsp_model_value_info {
  const char *name; /* lives as long as the model */
  int dense;        /* 1: dense float32 row-major; 0: sparse */
  /* sparse: spatial axes, extents and channels; n_sites after a forward
   * (0 for declared values) */
  int ndim;
  int32_t spatial_shape[CLSP_MAX_DIMS];
  size_t channels;
  size_t n_sites;
  /* dense: n_dims extents, dims[0] the batch (the file's value for
   * declared values, the input's batch size after a forward) */
  int n_dims;
  int64_t dims[CLSP_MODEL_MAX_DIMS];
  /* the sparse input: 1 when the file declares it FLOAT16 (NVIDIA's
   * exporter does); its features are then rounded to float16 on entry
   * (clsp_round_half) unless the model was loaded with
   * CLSP_MODEL_INPUT_FLOAT32. 0 otherwise and for built models. */
  int float16;
} clsp_model_value_info;

enum clsp_model_flag {
  /* Pass CLSP_CONV_DETERMINISTIC to every convolution. */
  CLSP_MODEL_DETERMINISTIC = 1u << 0,
  /* Keep the input's float32 features where the file declares a FLOAT16
   * input (by default they are rounded to float16 on entry, as the
   * half input of libspconv, for which these files are made, holds). */
  CLSP_MODEL_INPUT_FLOAT32 = 1u << 1,
  /* Keep the weights and every sparse tensor between nodes as float16 on
   * the device (half the memory and memory traffic of float32), through
   * vload_half / vstore_half (core OpenCL 1.2: every device, no
   * cl_khr_fp16 needed); arithmetic and accumulation stay float32 and the
   * bias float32. The input is rounded to float16 on entry (so
   * CLSP_MODEL_INPUT_FLOAT32 has no effect), each node's output when it is
   * written; dense tensors (ScatterDense and after) are float32, and
   * outputs and tensors held through `keep` are returned as float32.
   * Convolutions run the fused dataflow. Measured against the float32 path
   * on the shared SECOND and CenterPoint bundles (tests/test_model.c):
   * relative L2 difference of the BEV output within 1e-2 on every matrix
   * device (docs/models.md has the figures). No backward pass. */
  CLSP_MODEL_FLOAT16_STORAGE = 1u << 2,
};

/* Load options; a zero-initialised struct (or NULL) asks for defaults. */
typedef struct clsp_model_options {
  uint32_t flags; /* clsp_model_flag bits */
} clsp_model_options;

/*
 * Reads an SCN ONNX model from `path` (see clsp_model_load_memory).
 * Errors also: CLSP_ERROR_INVALID_ARGUMENT (the file cannot be read; the
 * message names the path and the system error).
 */
CLSP_API clsp_status clsp_model_load_file(clsp_context *ctx, const char *path,
                                          const clsp_model_options *options,
                                          clsp_model **out);

/*
 * Reads an SCN ONNX model from `size` bytes at `data` (not kept: the
 * caller may free it after the call) and uploads its weights.
 * Nodes: SparseConvolution (every libspconv attribute; weight float16 or
 * float32 [Cout, k..., Cin], optional bias [Cout]; activation ReLU, None,
 * Sigmoid or LeakyReLU with optional float `alpha`, default 0.01), Add,
 * Relu, Concat (axis 1 or -1, channels), ScatterDense (format zyx or xyz),
 * Reshape (`dims` attribute or a constant int64 shape input; keeps the
 * batch axis), Transpose (`perm` or `dims`). The graph input is the
 * features [N, C]; N is dynamic. Anything else is refused.
 * Errors: CLSP_ERROR_INVALID_ARGUMENT (NULL, not an ONNX protobuf, a
 * malformed graph: a tensor used before it is defined, a cycle, a missing
 * initializer, a weight whose shape does not match the attributes, Add or
 * Concat of tensors on different site sets, an unknown node type or
 * attribute value; the message names the node, its type and the
 * attribute), CLSP_ERROR_OUT_OF_HOST_MEMORY, CLSP_ERROR_TOO_LARGE,
 * CLSP_ERROR_OUT_OF_DEVICE_MEMORY, OpenCL codes. `*out` is NULL on error
 * and nothing is left allocated.
 */
CLSP_API clsp_status clsp_model_load_memory(clsp_context *ctx, const void *data,
                                            size_t size,
                                            const clsp_model_options *options,
                                            clsp_model **out);

/* Releases the model, its weights and any results. NULL is a no-op. */
CLSP_API void clsp_model_destroy(clsp_model *m);

/* The sparse input as declared (n_sites 0). Errors:
 * CLSP_ERROR_INVALID_ARGUMENT (NULL). */
CLSP_API clsp_status clsp_model_input(const clsp_model *m, clsp_model_value_info *info);

/* Number of declared outputs. Errors: CLSP_ERROR_INVALID_ARGUMENT. */
CLSP_API clsp_status clsp_model_output_count(const clsp_model *m, size_t *count);

/* Output `index` as declared. Errors: CLSP_ERROR_INVALID_ARGUMENT (NULL,
 * index out of range). */
CLSP_API clsp_status clsp_model_output(const clsp_model *m, size_t index,
                                       clsp_model_value_info *info);

/* Number of nodes (layers), in execution order; clsp_model_node_stats
 * gives each one's name and type. Errors: CLSP_ERROR_INVALID_ARGUMENT. */
CLSP_API clsp_status clsp_model_node_count(const clsp_model *m, size_t *count);

/* What one forward measured. Device times need a context with
 * CLSP_CONTEXT_PROFILING (else 0). */
typedef struct clsp_model_stats {
  double wall_ms;             /* host wall time of the forward, waited */
  double device_ms;           /* sum of the nodes' device times */
  uint64_t peak_device_bytes; /* most device memory the context held
                                 during the forward (weights included) */
  uint64_t held_device_bytes; /* held after it: weights and results */
  size_t rulebooks_built;
} clsp_model_stats;

/* One node of the last forward that was given stats. */
typedef struct clsp_model_layer_stats {
  const char *name;                  /* node name */
  const char *op;                    /* node type as in the file */
  double device_ms;                  /* the node's device time, rulebook build included */
  double rulebook_ms;                /* rulebook built by this node (0 when reused) */
  size_t in_sites, out_sites, pairs; /* sparse nodes; pairs: convs */
  double stage_ms[CLSP_STAGE_COUNT]; /* device_ms by stage: a conv's
                                        rulebook, gather, GEMM, scatter;
                                        activations, adds and the rest in
                                        CLSP_STAGE_OTHER */
  double host_start_ms, host_end_ms; /* wall clock around the node (the
                                        clock of clsp's tools: monotonic) */
  int fused;                         /* convs: 1 when the fused dataflow ran
                           (clsp_conv_stats.fused) */
  const char *epilogue_of;           /* an Add, or the activation after it,
                                        that the preceding conv ran in its
                                        epilogue (clsp_conv_forward_epilogue):
                                        that conv's name, and this node's
                                        times are in its figures; else NULL */
} clsp_model_layer_stats;

/*
 * Runs the model on `input` (not modified; its spatial shape and channels
 * must be the model input's, any batch size; an input declared FLOAT16
 * runs on a copy rounded to float16, see clsp_model_value_info.float16).
 * Results of the previous
 * forward are released first. The declared outputs, and the tensors named
 * in `keep` (n_keep names of tensors or of the nodes producing them; may
 * be NULL), stay available through clsp_model_result* until the next
 * forward or clsp_model_release_results. `stats` may be NULL; when given,
 * the forward waits for every node to time it (slower) and per-node
 * figures are kept for clsp_model_node_stats.
 * A convolution applies its activation, and a residual Add that reads
 * its output (with the activation after that Add), in its epilogue
 * (clsp_conv_forward_epilogue: no pass over memory of their own) unless
 * an intermediate is an output or held through `keep`; the results are
 * the same bit for bit as the separate nodes' (sigmoid: within rounding).
 * Errors: CLSP_ERROR_INVALID_ARGUMENT (NULL, a `keep` name that is no
 * tensor or node), CLSP_ERROR_MISMATCH (input shape or channels, tensor of
 * another context), the errors of the operations run (the message names
 * the node). After an error no result is held.
 */
CLSP_API clsp_status clsp_model_forward(clsp_model *m, const clsp_tensor *input,
                                        const char *const *keep, size_t n_keep,
                                        clsp_model_stats *stats);

/*
 * The same from host arrays: n_sites coordinate rows (batch, axes...) and
 * n_sites x channels features, batch indices below batch_size. The input
 * tensor is made (and validated: CLSP_ERROR_OUT_OF_RANGE,
 * CLSP_ERROR_DUPLICATE_COORDS) and released by the call.
 */
CLSP_API clsp_status clsp_model_forward_host(clsp_model *m, const int32_t *coords,
                                             const float *feats, size_t n_sites,
                                             int32_t batch_size, const char *const *keep,
                                             size_t n_keep, clsp_model_stats *stats);

/* Node `index`'s name and type (strings live as long as the model) and
 * its figures from the last forward given stats (zeros otherwise).
 * Errors: CLSP_ERROR_INVALID_ARGUMENT (NULL, index out of range). */
CLSP_API clsp_status clsp_model_node_stats(const clsp_model *m, size_t index,
                                           clsp_model_layer_stats *out);

/*
 * A result of the last forward: `name` is an output, a kept tensor, or a
 * node producing one; NULL means the first declared output.
 * Errors: CLSP_ERROR_INVALID_ARGUMENT (NULL m or info, no such result).
 */
CLSP_API clsp_status clsp_model_result(const clsp_model *m, const char *name,
                                       clsp_model_value_info *info);

/*
 * Copies a result to the host: dense results write every float to
 * `values` (the product of dims) and ignore `coords`; sparse results write
 * n_sites x channels features to `values` and n_sites x (1 + ndim)
 * coordinates to `coords` (either may be NULL). Blocks.
 * Errors: CLSP_ERROR_INVALID_ARGUMENT (no such result), OpenCL codes.
 */
CLSP_API clsp_status clsp_model_result_download(clsp_model *m, const char *name,
                                                float *values, int32_t *coords);

/* The device objects of a result (owned by the model, valid until the next
 * forward): `tensor` for sparse results, `buffer` for dense ones (the
 * other is set to NULL). Either pointer may be NULL. */
CLSP_API clsp_status clsp_model_result_device(const clsp_model *m, const char *name,
                                              const clsp_tensor **tensor, cl_mem *buffer);

/* Releases the results of the last forward now. */
CLSP_API clsp_status clsp_model_release_results(clsp_model *m);

/* ---- Building a model in C ------------------------------------------- */

typedef struct clsp_model_builder clsp_model_builder;

/*
 * Starts a network whose sparse input `input_name` has `ndim` spatial axes
 * of extents `spatial_shape` and `channels` features.
 * Errors: CLSP_ERROR_INVALID_ARGUMENT (NULL, ndim outside 1..4, an extent
 * or channels < 1), CLSP_ERROR_OUT_OF_HOST_MEMORY.
 */
CLSP_API clsp_status clsp_model_builder_create(clsp_context *ctx, const char *input_name,
                                               int ndim, const int32_t *spatial_shape,
                                               size_t channels, clsp_model_builder **out);

/* Releases a builder that was not finished. NULL is a no-op. */
CLSP_API void clsp_model_builder_destroy(clsp_model_builder *b);

/* One convolution layer. */
typedef struct clsp_model_conv {
  clsp_conv_kind kind;         /* INVERSE: reverses the REGULAR conv whose
                                  rulebook key `rulebook` names */
  clsp_conv_geometry geometry; /* submanifold padding is ignored */
  size_t c_in, c_out;
  const char *rulebook; /* key shared by submanifold layers on the
                                  same sites, or named by an inverse; NULL
                                  or "": own rulebook */
  clsp_activation activation;
  float alpha; /* LEAKY_RELU slope */
} clsp_model_conv;

/*
 * Every node below reads tensors by name (the input or an earlier node's
 * output) and defines a new tensor `output` (a fresh name). `name` names
 * the node in errors and stats. The builder checks shapes, channels and
 * site sets as nodes are added; a failed call leaves the builder as it
 * was. Errors common to all: CLSP_ERROR_INVALID_ARGUMENT (NULL, an
 * unknown input, an output name already defined; the message names the
 * node), CLSP_ERROR_OUT_OF_HOST_MEMORY.
 */

/* A sparse convolution with weights in `layout` (kernel_volume x c_in x
 * c_out floats, copied) and optional bias (c_out floats). Errors also:
 * geometry or kind invalid for the input's shape, c_in not the input's
 * channels, a rulebook key reused by a layer of another kind, kernel or
 * site set. */
CLSP_API clsp_status clsp_model_builder_conv(clsp_model_builder *b, const char *name,
                                             const char *input, const char *output,
                                             const clsp_model_conv *conv,
                                             clsp_weight_layout layout,
                                             const float *weights, const float *bias);

/* output = a + b (the same sites and channels). */
CLSP_API clsp_status clsp_model_builder_add(clsp_model_builder *b, const char *name,
                                            const char *a, const char *bb,
                                            const char *output);

/* output = activation(input) (sparse). */
CLSP_API clsp_status clsp_model_builder_activation(clsp_model_builder *b,
                                                   const char *name, const char *input,
                                                   const char *output,
                                                   clsp_activation activation,
                                                   float alpha);

/* output = [a, b] channels (the same sites). */
CLSP_API clsp_status clsp_model_builder_concat(clsp_model_builder *b, const char *name,
                                               const char *a, const char *bb,
                                               const char *output);

/* output = the dense [B, C, spatial axes in `format` order] of a sparse
 * input. */
CLSP_API clsp_status clsp_model_builder_scatter_dense(clsp_model_builder *b,
                                                      const char *name, const char *input,
                                                      const char *output,
                                                      clsp_dense_format format);

/* output = the dense input viewed as n_dims extents `dims` (row-major);
 * dims[0] is the batch axis and must be the input's (or -1/0); one other
 * entry may be -1 (inferred). */
CLSP_API clsp_status clsp_model_builder_reshape(clsp_model_builder *b, const char *name,
                                                const char *input, const char *output,
                                                int n_dims, const int64_t *dims);

/* output = the dense input with axes permuted (numpy.transpose). */
CLSP_API clsp_status clsp_model_builder_transpose(clsp_model_builder *b, const char *name,
                                                  const char *input, const char *output,
                                                  int n_dims, const int *perm);

/* Options of the model clsp_model_builder_finish makes (flags:
 * clsp_model_flag bits; NULL: defaults). Errors: CLSP_ERROR_INVALID_ARGUMENT
 * (NULL b). */
CLSP_API clsp_status clsp_model_builder_options(clsp_model_builder *b,
                                                const clsp_model_options *options);

/*
 * Declares `outputs` (n_outputs tensor names), uploads the weights and
 * makes the model. The builder is consumed on success and on error (do not
 * destroy it afterwards). Errors: CLSP_ERROR_INVALID_ARGUMENT (no outputs,
 * an unknown name), CLSP_ERROR_OUT_OF_DEVICE_MEMORY, OpenCL codes.
 */
CLSP_API clsp_status clsp_model_builder_finish(clsp_model_builder *b,
                                               const char *const *outputs,
                                               size_t n_outputs, clsp_model **out);

#ifdef __cplusplus
}
#endif
#endif
