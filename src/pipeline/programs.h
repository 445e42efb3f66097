/* SPDX-License-Identifier: Apache-2.0 */
/* The pipeline's kernel programs and kernels, by id (table rows in
 * programs.c), and CLSP_RUN, the launch call of pipeline code. Adding a
 * kernel: one CLSP_KERNEL_LIST line (and one program row for a new .cl
 * file); see docs/architecture.md. Not installed. */
#ifndef CLSP_PIPELINE_PROGRAMS_H
#define CLSP_PIPELINE_PROGRAMS_H

#include "launch.h"

/* Programs: one per group of cl/ files built together. */
typedef enum clsp_program_id {
  CLSP_P_UTIL,
  CLSP_P_HASH, /* hash.cl + rulebook.cl */
  CLSP_P_SCAN,
  CLSP_P_SORT,
  CLSP_P_GATHER,
  CLSP_P_SCATTER,
  CLSP_P_ELEMENTWISE,
  CLSP_P_VOXELIZE,
  CLSP_P_CONV_FUSED,
  CLSP_P_PEAK,
  CLSP_P_DENSE,
  CLSP_P_BACKWARD, /* conv backward helpers */
  CLSP_P_POOL,
  /* The same sources with float16 feature and weight storage
   * (-DCLSP_HALF_STORAGE=1, cl/vec.clh): the models' float16 option. */
  CLSP_P_CONV_FUSED_HALF,
  CLSP_P_ELEMENTWISE_HALF,
  CLSP_P_DENSE_HALF,
  CLSP_PROGRAM_COUNT
} clsp_program_id;

/* Kernels: X(ID, PROGRAM, function name). */
#define CLSP_KERNEL_LIST(X)                                                              \
  X(FILL_U32, UTIL, clsp_fill_u32)                                                       \
  X(IOTA_U32, UTIL, clsp_iota_u32)                                                       \
  X(KEYS_FROM_COORDS, HASH, clsp_keys_from_coords)                                       \
  X(HASH_INSERT, HASH, clsp_hash_insert)                                                 \
  X(HASH_FIRSTS, HASH, clsp_hash_firsts)                                                 \
  X(HASH_FIRSTS_BY_SLOT, HASH, clsp_hash_firsts_by_slot)                                 \
  X(HASH_PROBE_STATS, HASH, clsp_hash_probe_stats)                                       \
  X(RB_CANDIDATES, HASH, clsp_rb_candidates)                                             \
  X(RB_CANDIDATES_ROWS, HASH, clsp_rb_candidates_rows)                                   \
  X(RB_CANDIDATES3, HASH, clsp_rb_candidates3)                                           \
  X(RB_GATHER_KEYS, HASH, clsp_rb_gather_keys)                                           \
  X(RB_UNPACK, HASH, clsp_rb_unpack)                                                     \
  X(RB_MAP, HASH, clsp_rb_map)                                                           \
  X(RB_MAP_ROWS, HASH, clsp_rb_map_rows)                                                 \
  X(RB_MAP_SUBM3, HASH, clsp_rb_map_subm3)                                               \
  X(RB_MAP_SCATTER, HASH, clsp_rb_map_scatter)                                           \
  X(RB_BITMAP_MARK, HASH, clsp_rb_bitmap_mark)                                           \
  X(RB_BITMAP_COUNT, HASH, clsp_rb_bitmap_count)                                         \
  X(RB_BITMAP_EMIT, HASH, clsp_rb_bitmap_emit)                                           \
  X(RB_MAP_BITMAP, HASH, clsp_rb_map_bitmap)                                             \
  X(RB_BITMAP2_MARK_L1, HASH, clsp_rb_bitmap2_mark_l1)                                   \
  X(RB_BITMAP2_MARK_L0, HASH, clsp_rb_bitmap2_mark_l0)                                   \
  X(RB_BITMAP2_SITES, HASH, clsp_rb_bitmap2_sites)                                       \
  X(RB_SUBM3_BITMAP_COUNT, HASH, clsp_rb_subm3_bitmap_count)                             \
  X(RB_SUBM3_BITMAP_FILL, HASH, clsp_rb_subm3_bitmap_fill)                               \
  X(RB_RANK, HASH, clsp_rb_rank)                                                         \
  X(RB_MERGE, HASH, clsp_rb_merge)                                                       \
  X(FILL_RANGE_U32, SCAN, clsp_fill_range_u32)                                           \
  X(SCAN_REDUCE, SCAN, clsp_scan_reduce)                                                 \
  X(SCAN_APPLY, SCAN, clsp_scan_apply)                                                   \
  X(SCAN_ONE, SCAN, clsp_scan_one)                                                       \
  X(COMPACT_COUNT, SCAN, clsp_compact_count)                                             \
  X(COMPACT_EMIT, SCAN, clsp_compact_emit)                                               \
  X(COMPACT_POSITIONS, SCAN, clsp_compact_positions)                                     \
  X(RADIX_HIST, SORT, clsp_radix_hist)                                                   \
  X(RADIX_SCATTER, SORT, clsp_radix_scatter)                                             \
  X(GATHER_ROWS, GATHER, clsp_gather_rows)                                               \
  X(GATHER_ROWS_CPU, GATHER, clsp_gather_rows_cpu)                                       \
  X(SCATTER_ATOMIC, SCATTER, clsp_scatter_atomic)                                        \
  X(SCATTER_ATOMIC_CPU, SCATTER, clsp_scatter_atomic_cpu)                                \
  X(SCATTER_ADD, SCATTER, clsp_scatter_add)                                              \
  X(SCATTER_ADD_CPU, SCATTER, clsp_scatter_add_cpu)                                      \
  X(FILL_BIAS, SCATTER, clsp_fill_bias)                                                  \
  X(EW_RELU, ELEMENTWISE, clsp_ew_relu)                                                  \
  X(EW_ADD, ELEMENTWISE, clsp_ew_add)                                                    \
  X(EW_SCALE_SHIFT, ELEMENTWISE, clsp_ew_scale_shift)                                    \
  X(DENSE_SCATTER, DENSE, clsp_dense_scatter)                                            \
  X(DENSE_PERMUTE, DENSE, clsp_dense_permute)                                            \
  X(EW_SIGMOID, DENSE, clsp_ew_sigmoid)                                                  \
  X(EW_LEAKY_RELU, DENSE, clsp_ew_leaky_relu)                                            \
  X(EW_ROUND_HALF, DENSE, clsp_ew_round_half)                                            \
  X(VOX_KEYS_RANGE, VOXELIZE, clsp_vox_keys_range)                                       \
  X(VOX_KEYS_RANGE64, VOXELIZE, clsp_vox_keys_range64)                                   \
  X(VOX_ROUND_BOUNDS, VOXELIZE, clsp_vox_round_bounds)                                   \
  X(VOX_KEYS_ROUND, VOXELIZE, clsp_vox_keys_round)                                       \
  X(VOX_KEYS_ROUND_FAR, VOXELIZE, clsp_vox_keys_round_far)                               \
  X(VOX_KEYS_ROUND64, VOXELIZE, clsp_vox_keys_round64)                                   \
  X(VOX_KEYS_ROUND64_FAR, VOXELIZE, clsp_vox_keys_round64_far)                           \
  X(VOX_HASH_INSERT, VOXELIZE, clsp_vox_hash_insert)                                     \
  X(VOX_HASH_INSERT64, VOXELIZE, clsp_vox_hash_insert64)                                 \
  X(VOX_SORT_INIT, VOXELIZE, clsp_vox_sort_init)                                         \
  X(VOX_RUN_HEADS, VOXELIZE, clsp_vox_run_heads)                                         \
  X(VOX_RUN_SLOTS, VOXELIZE, clsp_vox_run_slots)                                         \
  X(VOX_HEADS, VOXELIZE, clsp_vox_heads)                                                 \
  X(VOX_SCAN_BLOCK, VOXELIZE, clsp_vox_scan_block)                                       \
  X(VOX_SCAN_ADD, VOXELIZE, clsp_vox_scan_add)                                           \
  X(VOX_EMIT, VOXELIZE, clsp_vox_emit)                                                   \
  X(VOX_EMIT64, VOXELIZE, clsp_vox_emit64)                                               \
  X(VOX_COUNT, VOXELIZE, clsp_vox_count)                                                 \
  X(VOX_BUCKET, VOXELIZE, clsp_vox_bucket)                                               \
  X(VOX_MEAN, VOXELIZE, clsp_vox_mean)                                                   \
  X(FUSED_COUNT, CONV_FUSED, clsp_fused_count)                                           \
  X(FUSED_FILL, CONV_FUSED, clsp_fused_fill)                                             \
  X(FUSED_SORT_ROWS, CONV_FUSED, clsp_fused_sort_rows)                                   \
  X(FUSED_COUNT_MAP, CONV_FUSED, clsp_fused_count_map)                                   \
  X(FUSED_FILL_MAP, CONV_FUSED, clsp_fused_fill_map)                                     \
  X(FUSED_LIST_TO_MAP, CONV_FUSED, clsp_fused_list_to_map)                               \
  X(FUSED_TILE_SORT, CONV_FUSED, clsp_fused_tile_sort)                                   \
  X(CONV_FUSED_16X4, CONV_FUSED, clsp_conv_fused_16x4)                                   \
  X(CONV_FUSED_16X4K2, CONV_FUSED, clsp_conv_fused_16x4k2)                               \
  X(CONV_FUSED_16X3, CONV_FUSED, clsp_conv_fused_16x3)                                   \
  X(CONV_FUSED_16X3K2, CONV_FUSED, clsp_conv_fused_16x3k2)                               \
  X(CONV_FUSED_16X2, CONV_FUSED, clsp_conv_fused_16x2)                                   \
  X(CONV_FUSED_16X1, CONV_FUSED, clsp_conv_fused_16x1)                                   \
  X(CONV_FUSED_8X1, CONV_FUSED, clsp_conv_fused_8x1)                                     \
  X(CONV_FUSED_4X1, CONV_FUSED, clsp_conv_fused_4x1)                                     \
  X(CONV_FUSED_1X1, CONV_FUSED, clsp_conv_fused_1x1)                                     \
  X(CONV_FUSED_ROWS16X4, CONV_FUSED, clsp_conv_fused_rows16x4)                           \
  X(CONV_FUSED_ROWS16X3, CONV_FUSED, clsp_conv_fused_rows16x3)                           \
  X(CONV_FUSED_ROWS16X2, CONV_FUSED, clsp_conv_fused_rows16x2)                           \
  X(CONV_FUSED_ROWS16X1, CONV_FUSED, clsp_conv_fused_rows16x1)                           \
  X(CONV_FUSED_ROWS8X1, CONV_FUSED, clsp_conv_fused_rows8x1)                             \
  X(CONV_FUSED_ROWS4X1, CONV_FUSED, clsp_conv_fused_rows4x1)                             \
  X(CONV_FUSED_ROWS1X1, CONV_FUSED, clsp_conv_fused_rows1x1)                             \
  X(CONV_FUSED_GROUP64, CONV_FUSED, clsp_conv_fused_group64)                             \
  X(CONV_FUSED_GROUP32, CONV_FUSED, clsp_conv_fused_group32)                             \
  X(CONV_FUSED_GROUP16, CONV_FUSED, clsp_conv_fused_group16)                             \
  X(FMA_PEAK_8, PEAK, clsp_fma_peak_8)                                                   \
  X(FMA_PEAK_16, PEAK, clsp_fma_peak_16)                                                 \
  X(BW_TRANSPOSE_WEIGHTS, BACKWARD, clsp_bw_transpose_weights)                           \
  X(BW_COLUMN_PARTIALS, BACKWARD, clsp_bw_column_partials)                               \
  X(BW_COLUMN_TOTAL, BACKWARD, clsp_bw_column_total)                                     \
  X(BW_GATHER_TRANSPOSED, BACKWARD, clsp_bw_gather_transposed)                           \
  X(BW_DW_16X4, BACKWARD, clsp_bw_dw_16x4)                                               \
  X(BW_DW_16X1, BACKWARD, clsp_bw_dw_16x1)                                               \
  X(BW_DW_8X4, BACKWARD, clsp_bw_dw_8x4)                                                 \
  X(BW_DW_8X1, BACKWARD, clsp_bw_dw_8x1)                                                 \
  X(BW_DW_4X4, BACKWARD, clsp_bw_dw_4x4)                                                 \
  X(BW_DW_4X1, BACKWARD, clsp_bw_dw_4x1)                                                 \
  X(BW_DW_1X4, BACKWARD, clsp_bw_dw_1x4)                                                 \
  X(BW_DW_1X1, BACKWARD, clsp_bw_dw_1x1)                                                 \
  X(POOL_TABLES, POOL, clsp_pool_tables)                                                 \
  X(POOL_MAX_FORWARD, POOL, clsp_pool_max_forward)                                       \
  X(POOL_COUNTS, POOL, clsp_pool_counts)                                                 \
  X(POOL_AVG_FORWARD, POOL, clsp_pool_avg_forward)                                       \
  X(POOL_BACKWARD, POOL, clsp_pool_backward)                                             \
  X(GPOOL_FORWARD, POOL, clsp_gpool_forward)                                             \
  X(GPOOL_BACKWARD, POOL, clsp_gpool_backward)                                           \
  X(EW_TO_HALF, DENSE, clsp_ew_to_half)                                                  \
  X(EW_TO_FLOAT, DENSE, clsp_ew_to_float)                                                \
  X(H_CONV_FUSED_16X4, CONV_FUSED_HALF, clsp_conv_fused_16x4)                            \
  X(H_CONV_FUSED_16X4K2, CONV_FUSED_HALF, clsp_conv_fused_16x4k2)                        \
  X(H_CONV_FUSED_16X3, CONV_FUSED_HALF, clsp_conv_fused_16x3)                            \
  X(H_CONV_FUSED_16X3K2, CONV_FUSED_HALF, clsp_conv_fused_16x3k2)                        \
  X(H_CONV_FUSED_16X2, CONV_FUSED_HALF, clsp_conv_fused_16x2)                            \
  X(H_CONV_FUSED_16X1, CONV_FUSED_HALF, clsp_conv_fused_16x1)                            \
  X(H_CONV_FUSED_8X1, CONV_FUSED_HALF, clsp_conv_fused_8x1)                              \
  X(H_CONV_FUSED_4X1, CONV_FUSED_HALF, clsp_conv_fused_4x1)                              \
  X(H_CONV_FUSED_1X1, CONV_FUSED_HALF, clsp_conv_fused_1x1)                              \
  X(H_CONV_FUSED_GROUP64, CONV_FUSED_HALF, clsp_conv_fused_group64)                      \
  X(H_CONV_FUSED_GROUP32, CONV_FUSED_HALF, clsp_conv_fused_group32)                      \
  X(H_CONV_FUSED_GROUP16, CONV_FUSED_HALF, clsp_conv_fused_group16)                      \
  X(H_EW_RELU, ELEMENTWISE_HALF, clsp_ew_relu)                                           \
  X(H_EW_ADD, ELEMENTWISE_HALF, clsp_ew_add)                                             \
  X(H_EW_SIGMOID, DENSE_HALF, clsp_ew_sigmoid)                                           \
  X(H_EW_LEAKY_RELU, DENSE_HALF, clsp_ew_leaky_relu)                                     \
  X(H_DENSE_SCATTER, DENSE_HALF, clsp_dense_scatter)

#define CLSP_KERNEL_ENUM_(id, program, name) CLSP_K_##id,
typedef enum clsp_kernel_id {
  CLSP_KERNEL_LIST(CLSP_KERNEL_ENUM_) CLSP_KERNEL_COUNT
} clsp_kernel_id;

/* The tables (programs.c), indexed by the ids above. */
extern const clsp_program_def clsp__programs[CLSP_PROGRAM_COUNT];
extern const clsp_kernel_def clsp__kernels[CLSP_KERNEL_COUNT];

/* Launches kernel `id` (a clsp_kernel_id) over `range` (clsp_items(n),
 * clsp_grid(x, y), ...), recording its event in `events` (a clsp_events *,
 * or NULL), with the arguments in kernel order:
 *   CLSP_RUN(ctx, CLSP_K_SCAN_APPLY, clsp_items(nc), l,
 *            CLSP_A(data), CLSP_A(n), CLSP_A(chunk), CLSP_A(sums), CLSP_A(nc)); */
#define CLSP_RUN(ctx, id, range, events, ...)                                            \
  CLSP_LAUNCH(ctx, &clsp__kernels[id], range, events, __VA_ARGS__)
/* The same with an argument array (clsp_arg args[n]). */
#define CLSP_RUN_ARRAY(ctx, id, range, events, args, n)                                  \
  clsp__launch(ctx, &clsp__kernels[id], range, events, args, n)

#endif
