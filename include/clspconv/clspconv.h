/* SPDX-License-Identifier: Apache-2.0 */
/*
 * clspconv: portable sparse convolution on OpenCL.
 *
 * Include this header only. Every function returns a clsp_status (or is a
 * pure accessor documented as infallible); no function prints, exits or
 * aborts, and every function frees what it allocated before returning an
 * error.
 *
 * Thread safety: distinct contexts are fully independent and may be used
 * from different threads at once. One context, and every handle created
 * from it, must be used by one thread at a time (callers serialise access
 * themselves); device enumeration functions are safe from any thread.
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

#endif
