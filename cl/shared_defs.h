/* SPDX-License-Identifier: Apache-2.0 */
/* Constants shared by the host (C11) and the kernels (OpenCL C 1.2): the
 * host includes this file, and the program assembler (src/core/program.c)
 * puts it first in every kernel program. Plain macros only, valid in both
 * languages. */
#ifndef CLSP_SHARED_DEFS_H
#define CLSP_SHARED_DEFS_H

/* "No row / not selected / empty slot": 32-bit index sentinel. */
#define CLSP_NONE_U32 0xFFFFFFFFu
/* The same for 64-bit keys (the voxelizer's wide keys). */
#define CLSP_NONE_U64 0xFFFFFFFFFFFFFFFFu

/* Conv kinds, as kernels see them; equal to clsp_conv_kind (rulebook.h),
 * checked on the host by static assertions in src/pipeline/programs.c. */
#define CLSP_KIND_SUBMANIFOLD 0
#define CLSP_KIND_REGULAR 1
#define CLSP_KIND_TRANSPOSED 2
#define CLSP_KIND_INVERSE 3

/* Convolution epilogue activations, as kernels see them; equal to
 * clsp_activation (conv.h), checked on the host by static assertions in
 * src/pipeline/programs.c. */
#define CLSP_ACT_NONE 0
#define CLSP_ACT_RELU 1
#define CLSP_ACT_SIGMOID 2
#define CLSP_ACT_LEAKY_RELU 3

/* Chunk plan of a conv (src/pipeline/conv.c, read by gather.cl and
 * scatter.cl): CLSP_PLAN_WORDS uints per member, the member's first pair
 * index at CLSP_PLAN_BEGIN and its number of valid rows at CLSP_PLAN_VALID. */
#define CLSP_PLAN_WORDS 2
#define CLSP_PLAN_BEGIN 0
#define CLSP_PLAN_VALID 1

/* Rulebook kernels in a CPU shape (cl/rulebook.cl, src/pipeline/rulebook.c):
 * the largest kernel extent per axis of the row-shaped candidate kernel,
 * and the taps per batch of first-probe loads in the row-shaped map. */
#define CLSP_AXIS_MAX 8
#define CLSP_MAP_BATCH 32
/* Words per site that the submanifold 3x3x3 key-bitmap count keeps for
 * its fill (cl/rulebook.cl): the 27 taps' presence bits, then the first
 * rank of each of the 9 (z, y) rows. */
#define CLSP_SUBM3_RUN_WORDS 10

/* The most output rows one work-item of the row-tile fused kernels owns
 * (cl/conv_fused.cl; the tuning record's fused_rows). */
#define CLSP_FUSED_ROWS_MAX 128
/* The row tiles' sorted pair list (cl/conv_fused.cl) packs a row's index
 * in its tile under the tap: the low CLSP_TILE_ROW_BITS bits. */
#define CLSP_TILE_ROW_BITS 7
#define CLSP_TILE_ROW_MASK ((1u << CLSP_TILE_ROW_BITS) - 1u)
/* The most taps (kernel volume) of a conv that runs in row tiles: the
 * tile sort keeps a counter per tap in private memory (5 x 5 x 5 fits). */
#define CLSP_TILE_SORT_TAPS 128

/* The GPU shape of the fused kernels (cl/conv_fused.cl, "group" tiles):
 * a work-group of CLSP_GROUP_SIDE x CLSP_GROUP_SIDE work-items owns
 * CLSP_GROUP_ROWS output rows x 16, 32 or 64 columns, and stages
 * CLSP_GROUP_K input channels at a time in local memory. */
#define CLSP_GROUP_SIDE 16
#define CLSP_GROUP_ITEMS (CLSP_GROUP_SIDE * CLSP_GROUP_SIDE)
#define CLSP_GROUP_ROWS 64
#define CLSP_GROUP_K 16

/* Independent fma() chains per work-item of the FMA peak probe
 * (cl/peak.cl; src/pipeline/peak.c counts its FLOPs). */
#define CLSP_PEAK_CHAINS 12

#endif
