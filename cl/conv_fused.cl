/* SPDX-License-Identifier: Apache-2.0 */
/* Fused output-stationary sparse convolution (src/pipeline/conv_fused.c).
 *
 * 1. An output-major list of the rulebook's pairs is built on the device:
 *    count per output row (integer atomics: the count does not depend on
 *    the order), exclusive scan (scan.cl, by the host code), fill (slot
 *    from an atomic cursor, so the order within a row varies), then every
 *    row's entries sorted by tap. Within a tap an output row appears at
 *    most once, so after the sort each row's list is unique and fixed:
 *    the sums below run in the same order on every run.
 * 2. One work-item per (output row, slice of NB * V output channels):
 *    accumulators of explicit vector type in registers (PoCL's work-group
 *    vectorizer gives up on kernels with an inner reduction loop), fma()
 *    (mad() compiles to a separate multiply and add on PoCL 3.1), every
 *    output element written once, bias added in the epilogue, no atomics.
 *    Or, on CPUs, one work-item per (tile of rows, slice): row tiles, which
 *    walk a copy of the list sorted by tap within each tile
 *    (clsp_fused_tile_sort); or, on GPUs, work-group tiles.
 *
 * List entries are uint2 (tap, input row). Where the rulebook builder
 * still holds its [tap][out row] map matrix, the list comes from it
 * directly (clsp_fused_count_map, clsp_fused_fill_map). */

kernel void clsp_fused_count(global const uint *pair_out, uint n_pairs,
                             global uint *counts) {
  uint p = get_global_id(0);
  if (p >= n_pairs) return;
  atomic_inc(counts + pair_out[p]);
}

/* The tap of pair p: the t with start[t] <= p < start[t + 1]. */
static uint tap_of(global const uint *start, uint kvol, uint p) {
  uint lo = 0, hi = kvol; /* start[lo] <= p < start[hi] */
  while (hi - lo > 1) {
    uint mid = lo + (hi - lo) / 2;
    if (start[mid] <= p) lo = mid;
    else hi = mid;
  }
  return lo;
}

kernel void clsp_fused_fill(global const uint *pair_in, global const uint *pair_out,
                            uint n_pairs, global const uint *start, uint kvol,
                            global const uint *offsets, global uint *cursor,
                            global uint2 *entries) {
  uint p = get_global_id(0);
  if (p >= n_pairs) return;
  uint o = pair_out[p];
  uint slot = offsets[o] + atomic_inc(cursor + o);
  entries[slot] = (uint2)(tap_of(start, kvol, p), pair_in[p]);
}

/* Insertion sort of one row's entries by tap (at most kvol of them). */
kernel void clsp_fused_sort_rows(global const uint *offsets, uint n_out,
                                 global uint2 *entries) {
  uint o = get_global_id(0);
  if (o >= n_out) return;
  uint begin = offsets[o], end = offsets[o + 1];
  for (uint i = begin + 1; i < end; i++) {
    uint2 e = entries[i];
    uint j = i;
    while (j > begin && entries[j - 1].x > e.x) {
      entries[j] = entries[j - 1];
      j--;
    }
    entries[j] = e;
  }
}

/* The same list straight from a rulebook's [tap][out row] map matrix
 * (rulebook.c, CLSP_NONE_U32 where a tap reads nothing): a work-item per
 * output row walks its column in tap order, so neither atomics nor a sort
 * are needed. Count, then (after the scan) fill. */
kernel void clsp_fused_count_map(global const uint *sel, uint n_out, uint kvol,
                                 global uint *counts) {
  uint o = get_global_id(0);
  if (o == 0) counts[n_out] = 0; /* the total after the scan */
  if (o >= n_out) return;
  uint c = 0;
  for (uint t = 0; t < kvol; t++) c += sel[(size_t)t * n_out + o] != CLSP_NONE_U32;
  counts[o] = c;
}

/* Without a branch on each tap (about half of them miss: a mispredicted
 * branch each): every tap writes the row's next free slot, and only a
 * present one advances it, so an absent tap's entry is overwritten by the
 * next present one. Past the row's last present tap the slot is the next
 * row's: no write. */
kernel void clsp_fused_fill_map(global const uint *sel, uint n_out, uint kvol,
                                global const uint *offsets, global uint2 *entries) {
  uint o = get_global_id(0);
  if (o >= n_out) return;
  uint slot = offsets[o], end = offsets[o + 1];
  for (uint t = 0; t < kvol; t++) {
    uint i = sel[(size_t)t * n_out + o];
    if (slot < end) entries[slot] = (uint2)(t, i);
    slot += i != CLSP_NONE_U32;
  }
}

/* The inverse of clsp_fused_fill_map: the [tap][out row] matrix back from
 * the list (sel filled with CLSP_NONE_U32 first), when the tap-major pairs
 * are asked for after the build (clsp__rulebook_pairs). */
kernel void clsp_fused_list_to_map(global const uint *offsets, global const uint2 *entries,
                                   uint n_out, global uint *sel) {
  uint o = get_global_id(0);
  if (o >= n_out) return;
  for (uint e = offsets[o]; e < offsets[o + 1]; e++)
    sel[(size_t)entries[e].x * n_out + o] = entries[e].y;
}


/* The pair list regrouped for the row tiles (CLSP_FUSED_TILE_KERNEL
 * below) of `rows` rows: work-item `tile` takes its tile's entries, one
 * range of the output-major list, and writes them to the same range of
 * `sorted` ordered by tap, rows ascending within a tap (a counting sort,
 * kvol <= CLSP_TILE_SORT_TAPS counters in private memory: the host runs
 * row tiles only for such kernels), each as ((tap << CLSP_TILE_ROW_BITS)
 * | the row's index in the tile, input row). A row reads a tap at most
 * once, so every row still meets its taps in ascending order: its sum
 * runs in the same order as in the one-row kernels without a k split. */
kernel void clsp_fused_tile_sort(global const uint *offsets, global const uint2 *entries,
                                 uint n_out, uint rows, uint kvol, global uint2 *sorted) {
  uint tile = get_global_id(0);
  if (tile >= (n_out + rows - 1) / rows || kvol > CLSP_TILE_SORT_TAPS) return;
  uint r0 = tile * rows, nr = min(rows, n_out - r0);
  uint b = offsets[r0], e = offsets[r0 + nr];
  uint cnt[CLSP_TILE_SORT_TAPS];
  for (uint t = 0; t < kvol; t++) cnt[t] = 0u;
  for (uint j = b; j < e; j++) cnt[entries[j].x]++;
  for (uint t = 0, s = b; t < kvol; t++) {
    uint c = cnt[t];
    cnt[t] = s;
    s += c;
  }
  for (uint r = 0; r < nr; r++)
    for (uint j = offsets[r0 + r], je = offsets[r0 + r + 1]; j < je; j++) {
      uint2 te = entries[j];
      sorted[cnt[te.x]++] = (uint2)((te.x << CLSP_TILE_ROW_BITS) | r, te.y);
    }
}

/* Accumulate x[k] * w[k][c0 ..] for k in [k0, k1) into the first NB of
 * accumulators A0..A3, stepping wk by STEP rows per k. */
#define CLSP_FUSED_STEP(V, NB, T, XK, WK, A0, A1, A2, A3)                     \
  {                                                                          \
    T xv = (T)(XK);                                                          \
    A0 = fma(xv, SLOAD_##V(0, WK), A0);                                      \
    if (NB > 1) A1 = fma(xv, SLOAD_##V(1, WK), A1);                          \
    if (NB > 2) A2 = fma(xv, SLOAD_##V(2, WK), A2);                          \
    if (NB > 3) A3 = fma(xv, SLOAD_##V(3, WK), A3);                          \
  }

/* The epilogue on one accumulator: + the residual row's columns, then the
 * activation (the same expressions as the separate passes, elementwise.cl
 * and dense.cl, so ReLU and leaky ReLU give the same bits; sigmoid's exp
 * may differ in the last bit between vector and scalar builds). */
#define CLSP_ACTIVATE(T, A, ACT, ALPHA)                                        \
  if (ACT == CLSP_ACT_RELU)                                                  \
    A = fmax(A, 0.0f);                                                       \
  else if (ACT == CLSP_ACT_LEAKY_RELU)                                       \
    A = select(A, A * (ALPHA), A < (T)(0.0f));                               \
  else if (ACT == CLSP_ACT_SIGMOID)                                          \
    A = 1.0f / (1.0f + exp(-A));

#define CLSP_FUSED_EPILOGUE(V, NB, T, RR, HAS_RES, ACT, ALPHA, A0, A1, A2, A3)  \
  {                                                                          \
    global const STORE_T *rr = (RR);                                         \
    if (HAS_RES) {                                                           \
      A0 += SLOAD_##V(0, rr);                                                \
      if (NB > 1) A1 += SLOAD_##V(1, rr);                                    \
      if (NB > 2) A2 += SLOAD_##V(2, rr);                                    \
      if (NB > 3) A3 += SLOAD_##V(3, rr);                                    \
    }                                                                        \
    if (ACT != CLSP_ACT_NONE) {                                              \
      CLSP_ACTIVATE(T, A0, ACT, ALPHA)                                       \
      if (NB > 1) { CLSP_ACTIVATE(T, A1, ACT, ALPHA) }                       \
      if (NB > 2) { CLSP_ACTIVATE(T, A2, ACT, ALPHA) }                       \
      if (NB > 3) { CLSP_ACTIVATE(T, A3, ACT, ALPHA) }                       \
    }                                                                        \
  }

/* The end of every fused kernel for one (row, column block): + the bias,
 * the epilogue, the store at y + Y0. Reads the kernel's own parameters
 * (bias, has_bias, c0, res, has_res, act, alpha, y) by name. */
#define CLSP_FUSED_FINISH(V, NB, T, Y0, A0, A1, A2, A3)                        \
  {                                                                          \
    if (has_bias) {                                                          \
      global const float *b_ = bias + c0;                                    \
      A0 += LOAD_##V(0, b_);                                                 \
      if (NB > 1) A1 += LOAD_##V(1, b_);                                     \
      if (NB > 2) A2 += LOAD_##V(2, b_);                                     \
      if (NB > 3) A3 += LOAD_##V(3, b_);                                     \
    }                                                                        \
    CLSP_FUSED_EPILOGUE(V, NB, T, res + (Y0), has_res, act, alpha, A0, A1,   \
                        A2, A3)                                              \
    global STORE_T *y_ = y + (Y0);                                           \
    SSTORE_##V(A0, 0, y_);                                                   \
    if (NB > 1) SSTORE_##V(A1, 1, y_);                                       \
    if (NB > 2) SSTORE_##V(A2, 2, y_);                                       \
    if (NB > 3) SSTORE_##V(A3, 3, y_);                                       \
  }

/* The parameters of every conv kernel below, in the order conv_fused.c
 * binds them (fused_args): the row tiles add their row count. */
#define CLSP_FUSED_PARAMS                                                     \
  global const STORE_T *x, uint cin, global const STORE_T *w, uint cout,      \
      global const float *bias, uint has_bias, global const uint *offsets,    \
      global const uint2 *entries, uint n_out, uint col0, uint n_blocks,      \
      global const STORE_T *res, uint has_res, uint act, float alpha,         \
      global STORE_T *y

/* y[row][c0 .. c0 + NB*V) for the work-item's (row, block): blocks of
 * NB*V columns start at col0, n_blocks of them per row. NB <= 4; the
 * accumulators past NB are dead code the compiler removes. KS = 2 keeps a
 * second set of accumulators for odd input channels (even ones and a
 * last odd-count channel go to the first), added at the end: twice the
 * independent FMA chains, to cover the FMA latency where a tile has few
 * accumulators or the register file is large (docs/performance.md).
 * Either way the order of every sum is fixed. */
#define CLSP_FUSED_KERNEL(NAME, V, NB, T, KS)                                 \
  kernel void NAME(CLSP_FUSED_PARAMS) {                                      \
    size_t gid = get_global_id(0);                                           \
    if (gid >= (size_t)n_out * n_blocks) return;                             \
    uint row = (uint)(gid / n_blocks);                                       \
    uint c0 = col0 + (uint)(gid - (size_t)row * n_blocks) * (V * NB);        \
    T a0 = (T)(0.0f), a1 = a0, a2 = a0, a3 = a0;                             \
    T b0 = a0, b1 = a0, b2 = a0, b3 = a0;                                    \
    uint end = offsets[row + 1];                                             \
    for (uint e = offsets[row]; e < end; e++) {                              \
      uint2 te = entries[e];                                                 \
      global const STORE_T *xi = x + (size_t)te.y * cin;                     \
      global const STORE_T *wk = w + ((size_t)te.x * cin) * cout + c0;       \
      uint k = 0;                                                            \
      if (KS == 2)                                                           \
        for (; k + 1 < cin; k += 2, wk += 2 * cout) {                        \
          CLSP_FUSED_STEP(V, NB, T, SLOAD_1(k, xi), wk, a0, a1, a2, a3)      \
          CLSP_FUSED_STEP(V, NB, T, SLOAD_1(k + 1, xi), wk + cout, b0, b1, b2, \
                          b3)                                                \
        }                                                                    \
      for (; k < cin; k++, wk += cout)                                       \
        CLSP_FUSED_STEP(V, NB, T, SLOAD_1(k, xi), wk, a0, a1, a2, a3)        \
    }                                                                        \
    if (KS == 2) {                                                           \
      a0 += b0;                                                              \
      if (NB > 1) a1 += b1;                                                  \
      if (NB > 2) a2 += b2;                                                  \
      if (NB > 3) a3 += b3;                                                  \
    }                                                                        \
    CLSP_FUSED_FINISH(V, NB, T, (size_t)row * cout + c0, a0, a1, a2, a3)     \
  }

/* Tiles of up to two float16 accumulators per set always split k (at
 * most 4 float16 live: 8 ymm on AVX2); 3 and 4 blocks come both ways
 * (4 float16 per set would need 16 ymm on AVX2, 8 zmm on AVX-512). */
CLSP_FUSED_KERNEL(clsp_conv_fused_16x4, 16, 4, float16, 1)
CLSP_FUSED_KERNEL(clsp_conv_fused_16x4k2, 16, 4, float16, 2)
CLSP_FUSED_KERNEL(clsp_conv_fused_16x3, 16, 3, float16, 1)
CLSP_FUSED_KERNEL(clsp_conv_fused_16x3k2, 16, 3, float16, 2)
CLSP_FUSED_KERNEL(clsp_conv_fused_16x2, 16, 2, float16, 2)
CLSP_FUSED_KERNEL(clsp_conv_fused_16x1, 16, 1, float16, 2)
CLSP_FUSED_KERNEL(clsp_conv_fused_8x1, 8, 1, float8, 2)
CLSP_FUSED_KERNEL(clsp_conv_fused_4x1, 4, 1, float4, 2)
CLSP_FUSED_KERNEL(clsp_conv_fused_1x1, 1, 1, float, 2)

#if !CLSP_HALF_STORAGE
/* Row tiles (float storage): one work-item owns `rows` consecutive
 * output rows x V*NB columns and walks its tile's entries in the order
 * clsp_fused_tile_sort gave them (`entries` is that list): by tap, each
 * tap's run holding the rows that read it. It multiplies a run's input
 * rows with the tap's weights slice four rows at a time (Q4: 16x4 and
 * 16x2 tiles, within AVX-512's 32 registers), then two, then one. The
 * slice (cin x V*NB floats) is then read from memory once per tile and
 * tap and reused from L1 by every row of the tile, where the
 * one-row kernels above stream it once per (row, tap): on CPUs that
 * weight traffic, not the FMAs, bounds them. Rows processed together
 * share every weight load (two or four times the independent FMA chains
 * of one row) without computing anything for absent neighbours. The
 * partial sums live in y's rows (written by this work-item only, and in
 * L1 while the tile runs), each row's sum in the same order as the
 * one-row kernels (taps ascending, input channels ascending; bias,
 * residual and activation last), so they give the same bits as the
 * one-row kernels without a k split (16x4 and 16x3 with ksplit 1; the
 * narrower ones always split). */
#define CLSP_TILE_LOAD_ACC(V, NB, T, YR, A0, A1, A2, A3)                      \
  T A0 = LOAD_##V(0, YR), A1 = A0, A2 = A0, A3 = A0;                         \
  if (NB > 1) A1 = LOAD_##V(1, YR);                                          \
  if (NB > 2) A2 = LOAD_##V(2, YR);                                          \
  if (NB > 3) A3 = LOAD_##V(3, YR);

#define CLSP_TILE_STORE_ACC(V, NB, YR, A0, A1, A2, A3)                        \
  STORE_##V(A0, 0, YR);                                                      \
  if (NB > 1) STORE_##V(A1, 1, YR);                                          \
  if (NB > 2) STORE_##V(A2, 2, YR);                                          \
  if (NB > 3) STORE_##V(A3, 3, YR);

/* One row's step k: x[K] times the loaded weight vectors W0..W3 into its
 * accumulators. */
#define CLSP_TILE_ROW_STEP(V, NB, T, XR, A0, A1, A2, A3, W0, W1, W2, W3, K)    \
  {                                                                          \
    T xr = (T)((XR)[K]);                                                     \
    A0 = fma(xr, W0, A0);                                                    \
    if (NB > 1) A1 = fma(xr, W1, A1);                                        \
    if (NB > 2) A2 = fma(xr, W2, A2);                                        \
    if (NB > 3) A3 = fma(xr, W3, A3);                                        \
  }

#define CLSP_TILE_WEIGHTS(V, NB, T, WK, W0, W1, W2, W3)                        \
  T W0 = LOAD_##V(0, WK), W1 = W0, W2 = W0, W3 = W0;                         \
  if (NB > 1) W1 = LOAD_##V(1, WK);                                          \
  if (NB > 2) W2 = LOAD_##V(2, WK);                                          \
  if (NB > 3) W3 = LOAD_##V(3, WK);

#define CLSP_TILE_PAIR(V, NB, T, XA, XB, WT, YA, YB, CIN, COUT)                \
  {                                                                          \
    CLSP_TILE_LOAD_ACC(V, NB, T, YA, a0, a1, a2, a3)                         \
    CLSP_TILE_LOAD_ACC(V, NB, T, YB, b0, b1, b2, b3)                         \
    global const float *wk = (WT);                                           \
    for (uint k = 0; k < (CIN); k++, wk += (COUT)) {                         \
      CLSP_TILE_WEIGHTS(V, NB, T, wk, w0, w1, w2, w3)                        \
      CLSP_TILE_ROW_STEP(V, NB, T, XA, a0, a1, a2, a3, w0, w1, w2, w3, k)    \
      CLSP_TILE_ROW_STEP(V, NB, T, XB, b0, b1, b2, b3, w0, w1, w2, w3, k)    \
    }                                                                        \
    CLSP_TILE_STORE_ACC(V, NB, YA, a0, a1, a2, a3)                           \
    CLSP_TILE_STORE_ACC(V, NB, YB, b0, b1, b2, b3)                           \
  }

#define CLSP_TILE_ONE(V, NB, T, XA, WT, YA, CIN, COUT)                         \
  {                                                                          \
    CLSP_TILE_LOAD_ACC(V, NB, T, YA, a0, a1, a2, a3)                         \
    global const float *wk = (WT);                                           \
    for (uint k = 0; k < (CIN); k++, wk += (COUT))                           \
      CLSP_FUSED_STEP(V, NB, T, (XA)[k], wk, a0, a1, a2, a3)                 \
    CLSP_TILE_STORE_ACC(V, NB, YA, a0, a1, a2, a3)                           \
  }

/* Four rows at a time: four sets of NB accumulators (16 vectors for a
 * 16x4 tile, for AVX-512's 32 registers), each weight vector used by four
 * independent FMA chains. */
#define CLSP_TILE_QUAD(V, NB, T, XA, XB, XC, XD, WT, YA, YB, YC, YD, CIN, COUT) \
  {                                                                          \
    CLSP_TILE_LOAD_ACC(V, NB, T, YA, a0, a1, a2, a3)                         \
    CLSP_TILE_LOAD_ACC(V, NB, T, YB, b0, b1, b2, b3)                         \
    CLSP_TILE_LOAD_ACC(V, NB, T, YC, c0_, c1_, c2_, c3_)                     \
    CLSP_TILE_LOAD_ACC(V, NB, T, YD, d0, d1, d2, d3)                         \
    global const float *wk = (WT);                                           \
    for (uint k = 0; k < (CIN); k++, wk += (COUT)) {                         \
      CLSP_TILE_WEIGHTS(V, NB, T, wk, w0, w1, w2, w3)                        \
      CLSP_TILE_ROW_STEP(V, NB, T, XA, a0, a1, a2, a3, w0, w1, w2, w3, k)    \
      CLSP_TILE_ROW_STEP(V, NB, T, XB, b0, b1, b2, b3, w0, w1, w2, w3, k)    \
      CLSP_TILE_ROW_STEP(V, NB, T, XC, c0_, c1_, c2_, c3_, w0, w1, w2, w3, k) \
      CLSP_TILE_ROW_STEP(V, NB, T, XD, d0, d1, d2, d3, w0, w1, w2, w3, k)    \
    }                                                                        \
    CLSP_TILE_STORE_ACC(V, NB, YA, a0, a1, a2, a3)                           \
    CLSP_TILE_STORE_ACC(V, NB, YB, b0, b1, b2, b3)                           \
    CLSP_TILE_STORE_ACC(V, NB, YC, c0_, c1_, c2_, c3_)                       \
    CLSP_TILE_STORE_ACC(V, NB, YD, d0, d1, d2, d3)                           \
  }

#define CLSP_FUSED_TILE_KERNEL(NAME, V, NB, T, Q4)                                \
  kernel void NAME(CLSP_FUSED_PARAMS, uint rows) {                           \
    size_t gid = get_global_id(0);                                           \
    uint n_tiles = (n_out + rows - 1) / rows;                                \
    if (gid >= (size_t)n_tiles * n_blocks) return;                           \
    uint tile = (uint)(gid / n_blocks);                                      \
    uint c0 = col0 + (uint)(gid - (size_t)tile * n_blocks) * (V * NB);       \
    uint r0 = tile * rows, nr = min(rows, n_out - r0);                       \
    for (uint r = 0; r < nr; r++) {                                          \
      global float *yr = y + (size_t)(r0 + r) * cout + c0;                   \
      for (uint b = 0; b < NB; b++) STORE_##V((T)(0.0f), b, yr);             \
    }                                                                        \
    uint e = offsets[r0], stop = offsets[r0 + nr];                           \
    while (e < stop) {                                                       \
      uint t = entries[e].x >> CLSP_TILE_ROW_BITS, f = e + 1;                \
      while (f < stop && (entries[f].x >> CLSP_TILE_ROW_BITS) == t) f++;     \
      global const float *wt = w + ((size_t)t * cin) * cout + c0;            \
      uint q = e;                                                            \
      for (; Q4 && q + 3 < f; q += 4) {                                      \
        uint2 ea = entries[q], eb = entries[q + 1], ec = entries[q + 2],     \
              ed = entries[q + 3];                                           \
        CLSP_TILE_QUAD(V, NB, T, x + (size_t)ea.y * cin,                     \
                       x + (size_t)eb.y * cin, x + (size_t)ec.y * cin,       \
                       x + (size_t)ed.y * cin, wt,                           \
                       y + (size_t)(r0 + (ea.x & CLSP_TILE_ROW_MASK)) * cout + c0, \
                       y + (size_t)(r0 + (eb.x & CLSP_TILE_ROW_MASK)) * cout + c0, \
                       y + (size_t)(r0 + (ec.x & CLSP_TILE_ROW_MASK)) * cout + c0, \
                       y + (size_t)(r0 + (ed.x & CLSP_TILE_ROW_MASK)) * cout + c0, \
                       cin, cout)                                            \
      }                                                                      \
      for (; q + 1 < f; q += 2) {                                            \
        uint2 ea = entries[q], eb = entries[q + 1];                          \
        CLSP_TILE_PAIR(V, NB, T, x + (size_t)ea.y * cin,                     \
                       x + (size_t)eb.y * cin, wt,                           \
                       y + (size_t)(r0 + (ea.x & CLSP_TILE_ROW_MASK)) * cout + c0, \
                       y + (size_t)(r0 + (eb.x & CLSP_TILE_ROW_MASK)) * cout + c0, \
                       cin, cout)                                            \
      }                                                                      \
      if (q < f) {                                                           \
        uint2 ea = entries[q];                                               \
        CLSP_TILE_ONE(V, NB, T, x + (size_t)ea.y * cin, wt,                  \
                      y + (size_t)(r0 + (ea.x & CLSP_TILE_ROW_MASK)) * cout + c0, \
                      cin, cout)                                             \
      }                                                                      \
      e = f;                                                                 \
    }                                                                        \
    for (uint r = 0; r < nr; r++) {                                          \
      size_t y0 = (size_t)(r0 + r) * cout + c0;                              \
      CLSP_TILE_LOAD_ACC(V, NB, T, y + y0, a0, a1, a2, a3)                   \
      CLSP_FUSED_FINISH(V, NB, T, y0, a0, a1, a2, a3)                        \
    }                                                                        \
  }

CLSP_FUSED_TILE_KERNEL(clsp_conv_fused_rows16x4, 16, 4, float16, 1)
CLSP_FUSED_TILE_KERNEL(clsp_conv_fused_rows16x3, 16, 3, float16, 0)
CLSP_FUSED_TILE_KERNEL(clsp_conv_fused_rows16x2, 16, 2, float16, 1)
CLSP_FUSED_TILE_KERNEL(clsp_conv_fused_rows16x1, 16, 1, float16, 0)
CLSP_FUSED_TILE_KERNEL(clsp_conv_fused_rows8x1, 8, 1, float8, 0)
CLSP_FUSED_TILE_KERNEL(clsp_conv_fused_rows4x1, 4, 1, float4, 0)
CLSP_FUSED_TILE_KERNEL(clsp_conv_fused_rows1x1, 1, 1, float, 0)
#endif

/* The GPU shape (work-group tiles; docs/performance.md): a work-group of
 * CLSP_GROUP_SIDE^2 work-items owns CLSP_GROUP_ROWS consecutive output
 * rows x TN columns from c0, each work-item RM = CLSP_GROUP_ROWS /
 * CLSP_GROUP_SIDE rows x RN = TN / CLSP_GROUP_SIDE columns of it, strided
 * by CLSP_GROUP_SIDE so that neighbouring work-items touch neighbouring
 * addresses. The tile's rows are merged by tap: at the smallest tap t
 * that any row's list holds next (a local atomic_min), each row owner
 * (work-items 0 .. CLSP_GROUP_ROWS - 1, its cursor in registers) posts
 * its input row for t, or none; then the work-group stages CLSP_GROUP_K
 * input channels of those rows (zeros for rows without t and channels
 * past cin) and the matching slice of t's weights in local memory, and
 * every work-item multiplies them into its accumulators: an implicit GEMM
 * per tap, over the taps the tile reads. Sums run in a fixed order (taps
 * ascending, then input channels ascending), so the result is the same on
 * every run. A row without the tap keeps its accumulators (a select, not
 * fma(0, w, acc), which an infinite weight would turn into NaN where the
 * other dataflows never read that weight for the row). The epilogue (bias,
 * residual, activation) follows the other fused kernels. Launched with
 * exactly CLSP_GROUP_SIDE^2 work-items per group, one group per (row
 * tile, column block of TN). */
#define CLSP_GROUP_RM (CLSP_GROUP_ROWS / CLSP_GROUP_SIDE)

#define CLSP_FUSED_GROUP_KERNEL(NAME, TN)                                        \
  kernel void NAME(CLSP_FUSED_PARAMS) {                                      \
    /* +1: the k-major stores of a row's channels hit different banks. */    \
    local float xs[CLSP_GROUP_K][CLSP_GROUP_ROWS + 1];                       \
    local float ws[CLSP_GROUP_K][TN];                                        \
    local uint in_row[CLSP_GROUP_ROWS];                                      \
    local uint next_tap;                                                     \
    const uint RN = (TN) / CLSP_GROUP_SIDE;                                  \
    uint lid = (uint)get_local_id(0), grp = (uint)get_group_id(0);           \
    uint tile = grp / n_blocks;                                              \
    uint c0 = col0 + (grp - tile * n_blocks) * (TN);                         \
    uint r0 = tile * CLSP_GROUP_ROWS;                                        \
    uint tr = lid / CLSP_GROUP_SIDE, tc = lid % CLSP_GROUP_SIDE;             \
    /* Row owners: the next entry of row r0 + lid. */                        \
    uint e = 0, e_end = 0;                                                   \
    uint2 te = (uint2)(CLSP_NONE_U32, 0);                                    \
    if (lid < CLSP_GROUP_ROWS && r0 + lid < n_out) {                         \
      e = offsets[r0 + lid];                                                 \
      e_end = offsets[r0 + lid + 1];                                         \
      if (e < e_end) te = entries[e];                                        \
    }                                                                        \
    if (lid == 0) next_tap = CLSP_NONE_U32;                                  \
    barrier(CLK_LOCAL_MEM_FENCE);                                            \
    if (lid < CLSP_GROUP_ROWS) atomic_min(&next_tap, te.x);                  \
    barrier(CLK_LOCAL_MEM_FENCE);                                            \
    uint t = next_tap;                                                       \
    float acc[CLSP_GROUP_RM][(TN) / CLSP_GROUP_SIDE];                        \
    for (uint i = 0; i < CLSP_GROUP_RM; i++)                                 \
      for (uint j = 0; j < RN; j++) acc[i][j] = 0.0f;                        \
    while (t != CLSP_NONE_U32) { /* the same t in every work-item */         \
      barrier(CLK_LOCAL_MEM_FENCE); /* next_tap read, in_row free */         \
      if (lid < CLSP_GROUP_ROWS) {                                           \
        uint hit = te.x == t;                                                \
        in_row[lid] = hit ? te.y : CLSP_NONE_U32;                            \
        if (hit) {                                                           \
          e++;                                                               \
          te = e < e_end ? entries[e] : (uint2)(CLSP_NONE_U32, 0);           \
        }                                                                    \
      }                                                                      \
      if (lid == 0) next_tap = CLSP_NONE_U32;                                \
      barrier(CLK_LOCAL_MEM_FENCE);                                          \
      if (lid < CLSP_GROUP_ROWS) atomic_min(&next_tap, te.x);                \
      uint has[CLSP_GROUP_RM]; /* which of this work-item's rows read t */   \
      for (uint i = 0; i < CLSP_GROUP_RM; i++)                               \
        has[i] = in_row[tr + i * CLSP_GROUP_SIDE] != CLSP_NONE_U32;          \
      global const STORE_T *wt = w + (size_t)t * cin * cout;                 \
      for (uint k0 = 0; k0 < cin; k0 += CLSP_GROUP_K) {                      \
        for (uint i = lid; i < CLSP_GROUP_K * CLSP_GROUP_ROWS;               \
             i += CLSP_GROUP_ITEMS) {                                        \
          uint kk = i % CLSP_GROUP_K, r = i / CLSP_GROUP_K, ir = in_row[r];  \
          xs[kk][r] = ir != CLSP_NONE_U32 && k0 + kk < cin                   \
                        ? SLOAD_1((size_t)ir * cin + k0 + kk, x)             \
                        : 0.0f;                                              \
        }                                                                    \
        for (uint i = lid; i < CLSP_GROUP_K * (TN); i += CLSP_GROUP_ITEMS) { \
          uint c = i % (TN), kk = i / (TN);                                  \
          ws[kk][c] = k0 + kk < cin && c0 + c < cout                         \
                        ? SLOAD_1((size_t)(k0 + kk) * cout + c0 + c, wt)     \
                        : 0.0f;                                              \
        }                                                                    \
        barrier(CLK_LOCAL_MEM_FENCE);                                        \
        for (uint kk = 0; kk < CLSP_GROUP_K; kk++) {                         \
          float a[CLSP_GROUP_RM], b[(TN) / CLSP_GROUP_SIDE];                 \
          for (uint i = 0; i < CLSP_GROUP_RM; i++)                           \
            a[i] = xs[kk][tr + i * CLSP_GROUP_SIDE];                         \
          for (uint j = 0; j < RN; j++) b[j] = ws[kk][tc + j * CLSP_GROUP_SIDE]; \
          for (uint i = 0; i < CLSP_GROUP_RM; i++)                           \
            for (uint j = 0; j < RN; j++)                                    \
              acc[i][j] = has[i] ? fma(a[i], b[j], acc[i][j]) : acc[i][j];   \
        }                                                                    \
        barrier(CLK_LOCAL_MEM_FENCE);                                        \
      }                                                                      \
      /* Read after the k loop's barriers (cin >= 1: clsp_weights_create    \
       * refuses 0 input channels), so every atomic_min above is done. */   \
      t = next_tap;                                                          \
    }                                                                        \
    for (uint i = 0; i < CLSP_GROUP_RM; i++) {                               \
      uint row = r0 + tr + i * CLSP_GROUP_SIDE;                              \
      for (uint j = 0; j < RN; j++) {                                        \
        uint col = c0 + tc + j * CLSP_GROUP_SIDE;                            \
        if (row >= n_out || col >= cout) continue;                           \
        size_t at = (size_t)row * cout + col;                                \
        float v = acc[i][j];                                                 \
        if (has_bias) v += bias[col];                                        \
        if (has_res) v += SLOAD_1(at, res);                                  \
        CLSP_ACTIVATE(float, v, act, alpha)                                  \
        SSTORE_1(v, at, y);                                                  \
      }                                                                      \
    }                                                                        \
  }

CLSP_FUSED_GROUP_KERNEL(clsp_conv_fused_group64, 64)
CLSP_FUSED_GROUP_KERNEL(clsp_conv_fused_group32, 32)
CLSP_FUSED_GROUP_KERNEL(clsp_conv_fused_group16, 16)
