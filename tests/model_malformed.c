/* SPDX-License-Identifier: Apache-2.0 */
/* Malformed models: bytes that are not ONNX, and the shared bundles edited
 * through the protobuf-c code generated from Debian's onnx.proto (missing
 * initializer, weight shape against attributes, unknown node, unsupported
 * attribute, cycle, tensor used before it is defined, Add on different
 * site sets). Each load fails with a message naming the node, and leaves
 * no device memory behind. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "harness.h"
#include "model_util.h"
#include "onnx.pb-c.h"

/* Loads `size` bytes; expects INVALID_ARGUMENT with every `mention` in the
 * message and the context's device memory unchanged. */
static void expect_refused(const void *data, size_t size, const char *what,
                           const char *const *mention, int n_mention) {
  clsp_context *ctx = harness_ctx();
  uint64_t before, after, peak;
  clsp_context_memory(ctx, &before, &peak);
  clsp_model *m = (clsp_model *)&m; /* poison: must come back NULL */
  clsp_status st = clsp_model_load_memory(ctx, data, size, NULL, &m);
  const char *msg = clsp_context_last_error(ctx);
  print_message("  %-22s -> %s\n", what, msg);
  if (st != CLSP_ERROR_INVALID_ARGUMENT)
    fail_msg("%s: status %d (%s), expected INVALID_ARGUMENT; %s", what, (int)st,
             clsp_status_string(st), msg);
  assert_null(m);
  for (int i = 0; i < n_mention; i++)
    if (!strstr(msg, mention[i]))
      fail_msg("%s: '%s' does not mention '%s'", what, msg, mention[i]);
  clsp_context_memory(ctx, &after, &peak);
  assert_int_equal(before, after);
}

#define REFUSED(data, size, what, ...)                                                   \
  do {                                                                                   \
    const char *m_[] = {__VA_ARGS__};                                                    \
    expect_refused(data, size, what, m_, (int)(sizeof m_ / sizeof *m_));                 \
  } while (0)

static unsigned char *bundle_bytes(const char *bundle, const char *file, size_t *size) {
  char path[1024];
  if (!model_path(path, sizeof path, bundle, file)) return NULL;
  unsigned char *d = model_read_file(path, size);
  assert_non_null(d);
  return d;
}

void test_malformed_models(void **state) {
  (void)state;
  size_t size;
  unsigned char *d = bundle_bytes("second-scn", "second.scn.onnx", &size);
  if (!d) HARNESS_SKIP("%s/second-scn absent (../shared not mounted)", model_dir());
  REFUSED(d, size / 2, "truncated file", "not an ONNX ModelProto");
  REFUSED(d, 0, "empty file", "no graph");
  /* A valid protobuf of another message type. */
  Onnx__TensorProto t = ONNX__TENSOR_PROTO__INIT;
  int64_t dims[2] = {3, 4};
  t.n_dims = 2;
  t.dims = dims;
  t.has_data_type = 1;
  t.data_type = 1;
  t.name = "not a model";
  size_t n = onnx__tensor_proto__get_packed_size(&t);
  unsigned char *buf = malloc(n);
  onnx__tensor_proto__pack(&t, buf);
  REFUSED(buf, n, "wrong protobuf", "model");
  free(buf);
  unsigned char junk[64];
  for (size_t i = 0; i < sizeof junk; i++) junk[i] = (unsigned char)(i * 37 + 11);
  REFUSED(junk, sizeof junk, "random bytes", "model");
  free(d);
  clsp_model *m = NULL;
  assert_int_equal(clsp_model_load_file(harness_ctx(), "/nonexistent/x.onnx", NULL, &m),
                   CLSP_ERROR_INVALID_ARGUMENT);
  assert_non_null(strstr(clsp_context_last_error(harness_ctx()), "/nonexistent/x.onnx"));
}

/* The bundle's model, unpacked for editing. */
static Onnx__ModelProto *unpack(const char *bundle, const char *file) {
  size_t size;
  unsigned char *d = bundle_bytes(bundle, file, &size);
  if (!d) return NULL;
  Onnx__ModelProto *m = onnx__model_proto__unpack(NULL, size, d);
  free(d);
  assert_non_null(m);
  return m;
}

static void refuse_edited(Onnx__ModelProto *m, const char *what,
                          const char *const *mention, int n_mention) {
  size_t n = onnx__model_proto__get_packed_size(m);
  unsigned char *buf = malloc(n);
  assert_non_null(buf);
  onnx__model_proto__pack(m, buf);
  expect_refused(buf, n, what, mention, n_mention);
  free(buf);
}

#define REFUSED_EDIT(m, what, ...)                                                       \
  do {                                                                                   \
    const char *m_[] = {__VA_ARGS__};                                                    \
    refuse_edited(m, what, m_, (int)(sizeof m_ / sizeof *m_));                           \
  } while (0)

static Onnx__AttributeProto *attr(Onnx__NodeProto *n, const char *name) {
  for (size_t i = 0; i < n->n_attribute; i++)
    if (!strcmp(n->attribute[i]->name, name)) return n->attribute[i];
  fail_msg("node %s has no attribute %s", n->name, name);
  return NULL;
}

static void edits_second(Onnx__ModelProto *m) {
  Onnx__NodeProto **nd = m->graph->node;
  char *saved = nd[0]->input[1];
  nd[0]->input[1] = "spconv0.nothing";
  REFUSED_EDIT(m, "missing initializer", "conv0", "SparseConvolution",
               "missing initializer", "spconv0.nothing");
  nd[0]->input[1] = saved;

  Onnx__AttributeProto *k = attr(nd[1], "kernel_size");
  k->ints[2] = 1;
  REFUSED_EDIT(m, "weight shape", "conv1", "initializer 'spconv1.weight' has shape");
  k->ints[2] = 3;

  Onnx__AttributeProto *g = attr(nd[2], "groups");
  g->i = 2;
  REFUSED_EDIT(m, "groups = 2", "conv2", "'groups'");
  g->i = 1;

  char *op = nd[3]->op_type;
  nd[3]->op_type = "SparseMaxPool";
  REFUSED_EDIT(m, "unknown node", "conv3", "SparseMaxPool", "not supported");
  nd[3]->op_type = op;

  Onnx__AttributeProto *a = attr(nd[4], "activation");
  ProtobufCBinaryData act = a->s;
  a->s.data = (uint8_t *)"GELU";
  a->s.len = 4;
  REFUSED_EDIT(m, "unknown activation", "conv4", "'activation' = 'GELU'");
  a->s = act;

  /* conv1 reads conv2's output, conv2 reads conv1's: a cycle. */
  char *in1 = nd[1]->input[0];
  nd[1]->input[0] = nd[2]->output[0];
  REFUSED_EDIT(m, "cycle", "cycle", "conv1");
  nd[1]->input[0] = in1;

  Onnx__NodeProto *first = nd[0];
  nd[0] = nd[1];
  nd[1] = first;
  REFUSED_EDIT(m, "used before defined", "conv1", "used before node 'conv0' defines it");
  nd[1] = nd[0];
  nd[0] = first;
}

void test_malformed_graphs(void **state) {
  (void)state;
  Onnx__ModelProto *m = unpack("second-scn", "second.scn.onnx");
  if (!m) HARNESS_SKIP("%s/second-scn absent (../shared not mounted)", model_dir());
  edits_second(m);
  /* Unedited again: loads. */
  size_t n = onnx__model_proto__get_packed_size(m);
  unsigned char *buf = malloc(n);
  onnx__model_proto__pack(m, buf);
  clsp_model *model = NULL;
  assert_int_equal(clsp_model_load_memory(harness_ctx(), buf, n, NULL, &model),
                   CLSP_SUCCESS);
  clsp_model_destroy(model);
  free(buf);
  onnx__model_proto__free_unpacked(m, NULL);

  m = unpack("centerpoint-scn", "centerpoint.scn.onnx");
  if (!m) HARNESS_SKIP("%s/centerpoint-scn absent", model_dir());
  /* add2 adds conv7's output to relu1's (16 channels, full resolution)
   * instead of conv5's (32 channels, half resolution). */
  Onnx__NodeProto *add = NULL, *relu1 = NULL;
  for (size_t i = 0; i < m->graph->n_node; i++) {
    if (!strcmp(m->graph->node[i]->name, "add2")) add = m->graph->node[i];
    if (!strcmp(m->graph->node[i]->name, "relu1")) relu1 = m->graph->node[i];
  }
  assert_true(add && relu1 && add->n_input == 2);
  char *saved = add->input[1];
  add->input[1] = relu1->output[0];
  REFUSED_EDIT(m, "add of other sites", "add2", "Add", "different site sets");
  add->input[1] = saved;
  onnx__model_proto__free_unpacked(m, NULL);
}
