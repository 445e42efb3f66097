/* SPDX-License-Identifier: Apache-2.0 */
/*
 * clspconv: portable sparse convolution on OpenCL.
 *
 * Include this header only. Every function returns a clsp_status (or is a
 * pure accessor documented as infallible); no function prints, exits or
 * aborts, and every function frees what it allocated before returning an
 * error.
 *
 * Thread safety:
 *  - Distinct contexts are independent and may be used from different
 *    threads at once, and created or destroyed while other contexts are in
 *    use. This includes several contexts that wrap the same cl_context and
 *    device (clsp_context_wrap), provided each has its own command queue.
 *  - One context, and every handle created from it (tensors, rulebooks,
 *    weights, models), must be used by one thread at a time: callers serialise
 *    access themselves. A handle is only ever passed to calls on the
 *    context that created it (else CLSP_ERROR_MISMATCH).
 *  - OpenCL orders commands only within one queue: caller buffers wrapped
 *    by contexts on different queues (clsp_tensor_wrap,
 *    clsp_voxelize_buffer) must not be written through one while another
 *    uses them, unless the caller synchronises (clsp_context_finish).
 *  - Process-wide state is shared safely: CLBlast's program cache is
 *    cleared only when the last live context is destroyed (so programs of
 *    destroyed contexts, and their cl_context, stay cached until then), and
 *    binary cache entries are written under unique names and renamed.
 *  - Device enumeration (clsp_devices_list, clsp_device_select) and the
 *    host-only functions (clsp_status_string, clsp_status_origin,
 *    clsp_weights_convert, clsp_weights_convert_back,
 *    clsp_conv_output_shape, clsp_voxelize_defaults,
 *    clsp_stage_name) are safe from any thread.
 */
#ifndef CLSPCONV_H
#define CLSPCONV_H

#include "clspconv/version.h"
#include "clspconv/status.h"
#include "clspconv/context.h"
#include "clspconv/tensor.h"
#include "clspconv/rulebook.h"
#include "clspconv/conv.h"
#include "clspconv/voxelize.h"
#include "clspconv/ops.h"
#include "clspconv/perf.h"
#include "clspconv/model.h"
#include "clspconv/train.h"
#include "clspconv/tuning.h"

#endif
