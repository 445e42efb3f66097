/* SPDX-License-Identifier: Apache-2.0 */
/* Output sites and kernel maps (needs hash.cl before it).
 *
 * Geometry per axis: kernel k, stride s, padding p, dilation d; taps are
 * row-major with the first axis slowest. Coordinates are computed in
 * 64-bit (long) so that no intermediate can wrap; the host guarantees the
 * shapes and site counts fit 32-bit indices.
 *
 * Kinds: 0 submanifold (centred: i = o + (t - (k-1)/2) d), 1 regular
 * (i = o s - p + t d), 2 transposed (o = i s - p + t d). */

/* Remainders are written a - (a / b) * b throughout: for a '/' and '%' of
 * the same operands LLVM emits a 'freeze' that Oclgrind's
 * uninitialized-value checker cannot execute (it then reports, and
 * computes, garbage). */
inline void clsp_tap(uint t, int ndim, int4 k, int *ta) {
  int kk[4] = {k.s0, k.s1, k.s2, k.s3};
  for (int a = ndim - 1; a >= 0; a--) {
    uint q = t / (uint)kk[a];
    ta[a] = (int)(t - q * (uint)kk[a]);
    t = q;
  }
}

/* How a tap offset relates two coordinates x -> y along one axis. */
#define CLSP_REACH_CENTRED 0 /* y = x + (t - (k-1)/2) d: submanifold */
#define CLSP_REACH_UP 1      /* y = x s - p + t d */
#define CLSP_REACH_DOWN 2    /* y = (x + p - t d) / s, only when exact */

/* One axis of the tap arithmetic: the coordinate that x reaches through
 * kernel offset ta (extent k, stride s, padding p, dilation d) by
 * relation `rel`; *ok &= it is exact and lies in [0, shape). */
inline int clsp_axis_reach(int rel, long x, int k, int s, int p, int d, int ta, int shape,
                           int *ok) {
  long v;
  if (rel == CLSP_REACH_CENTRED) {
    v = x + (long)(ta - (k - 1) / 2) * d;
  } else if (rel == CLSP_REACH_UP) {
    v = x * s - p + (long)ta * d;
  } else {
    long num = x + p - (long)ta * d;
    v = num / s;
    *ok = *ok && num >= 0 && v * s == num;
  }
  *ok = *ok && v >= 0 && v < shape;
  return (int)v;
}

/* The per-axis tap arithmetic of every rulebook kernel: the coordinates
 * tap t reaches from the site `row` (batch, then ndim axes) by relation
 * `rel`, into y[0..ndim). Returns 0 when some axis has no exact
 * coordinate or one outside [0, shape). */
inline int clsp_tap_reach(int rel, global const int *row, int ndim, uint t,
                          int4 k, int4 s, int4 p, int4 d, int4 shape,
                          int *y) {
  int ta[4];
  clsp_tap(t, ndim, k, ta);
  int kk[4] = {k.s0, k.s1, k.s2, k.s3}, ss[4] = {s.s0, s.s1, s.s2, s.s3};
  int pp[4] = {p.s0, p.s1, p.s2, p.s3}, dd[4] = {d.s0, d.s1, d.s2, d.s3};
  int sh[4] = {shape.s0, shape.s1, shape.s2, shape.s3};
  int ok = 1;
  for (int a = 0; a < ndim; a++)
    y[a] = clsp_axis_reach(rel, row[1 + a], kk[a], ss[a], pp[a], dd[a], ta[a], sh[a], &ok);
  return ok;
}

/* The relation a map kernel follows from an output site to its input. */
inline int clsp_map_rel(int kind) {
  return kind == CLSP_KIND_SUBMANIFOLD ? CLSP_REACH_CENTRED
         : kind == CLSP_KIND_REGULAR   ? CLSP_REACH_UP
                                       : CLSP_REACH_DOWN;
}

/* Candidate output key of every (input row i, tap t), index i*kvol + t,
 * or CLSP_KEY_EMPTY when that tap reaches no output site (regular: down
 * from the input, transposed: up). */
kernel void clsp_rb_candidates(global const int *coords, uint n_in, int ndim,
                               int kind, uint kvol, int4 k, int4 s, int4 p,
                               int4 d, int4 out_shape, uint4 out_bits,
                               global ulong *cand) {
  uint c = get_global_id(0);
  if (c >= n_in * kvol) return;
  uint i = c / kvol, t = c - i * kvol;
  int o[4] = {0, 0, 0, 0};
  global const int *row = coords + (size_t)i * (size_t)(1 + ndim);
  int rel = kind == CLSP_KIND_REGULAR ? CLSP_REACH_DOWN : CLSP_REACH_UP;
  int ok = clsp_tap_reach(rel, row, ndim, t, k, s, p, d, out_shape, o);
  cand[c] = ok ? clsp_pack(row[0], o, ndim, out_bits) : CLSP_KEY_EMPTY;
}

/* Per axis a and kernel offset x of the site `row`: the coordinate it
 * reaches by relation `rel`, already shifted to its place in the packed
 * key (bits), into part[a][x], and whether it exists, into ok[a][x]; the
 * batch's part into *base. Every extent <= CLSP_AXIS_MAX (the host checks).
 * A tap's key is then an OR of ndim table entries (clsp_key_next) instead
 * of ndim divisions, multiplications and shifts. */
__attribute__((always_inline)) inline void
clsp_key_parts(int rel, global const int *row, int ndim, int4 k, int4 s, int4 p, int4 d,
               int4 shape, uint4 bits, ulong part[4][CLSP_AXIS_MAX],
               int ok[4][CLSP_AXIS_MAX], ulong *base) {
  int kk[4] = {k.s0, k.s1, k.s2, k.s3}, ss[4] = {s.s0, s.s1, s.s2, s.s3};
  int pp[4] = {p.s0, p.s1, p.s2, p.s3}, dd[4] = {d.s0, d.s1, d.s2, d.s3};
  int sh[4] = {shape.s0, shape.s1, shape.s2, shape.s3};
  uint bb[4] = {bits.s0, bits.s1, bits.s2, bits.s3}, shift = 0;
  for (int a = ndim - 1; a >= 0; a--) {
    for (int x = 0; x < kk[a]; x++) {
      ok[a][x] = 1;
      int y = clsp_axis_reach(rel, row[1 + a], kk[a], ss[a], pp[a], dd[a], x, sh[a],
                              &ok[a][x]);
      part[a][x] = ok[a][x] ? (ulong)(uint)y << shift : 0ul;
    }
    shift += bb[a];
  }
  *base = (ulong)(uint)row[0] << shift;
}

/* The key of the tap at odometer position ta (or CLSP_KEY_EMPTY), then ta
 * advanced to the next tap, last axis fastest: taps in row-major order. */
__attribute__((always_inline)) inline ulong
clsp_key_next(int ndim, int4 k, ulong part[4][CLSP_AXIS_MAX], int ok[4][CLSP_AXIS_MAX],
              ulong base, int *ta) {
  int kk[4] = {k.s0, k.s1, k.s2, k.s3}, valid = 1;
  ulong key = base;
  for (int a = 0; a < ndim; a++) {
    valid = valid && ok[a][ta[a]];
    key |= part[a][ta[a]];
  }
  for (int a = ndim - 1; a >= 0; a--) {
    if (++ta[a] < kk[a]) break;
    ta[a] = 0;
  }
  return valid ? key : CLSP_KEY_EMPTY;
}

/* The same candidates in a CPU shape: one work-item per input row, the
 * per-axis tables of clsp_key_parts, the taps walked like an odometer.
 * The host uses it only when every extent <= CLSP_AXIS_MAX
 * (shared_defs.h). Row i owns `stride` slots from i * stride. With
 * stride == kvol, slot t is tap t (CLSP_KEY_EMPTY where it reaches
 * nothing). With stride < kvol (a regular conv reaches at most that many
 * outputs from one input: rulebook.c, valid_taps_bound) the valid
 * candidates are packed, in tap order, their taps in ctap, and the rest of
 * the row is CLSP_KEY_EMPTY: a k3 s2 layer writes 8 slots per row, not
 * 27, and every later pass reads 8. */
kernel void clsp_rb_candidates_rows(global const int *coords, uint n_in, int ndim,
                                    int kind, uint kvol, int4 k, int4 s, int4 p,
                                    int4 d, int4 out_shape, uint4 out_bits,
                                    global ulong *cand, global uint *ctap, uint stride) {
  uint i = get_global_id(0);
  if (i >= n_in) return;
  int rel = kind == CLSP_KIND_REGULAR ? CLSP_REACH_DOWN : CLSP_REACH_UP;
  global const int *row = coords + (size_t)i * (size_t)(1 + ndim);
  ulong part[4][CLSP_AXIS_MAX], base;
  int okv[4][CLSP_AXIS_MAX], ta[4] = {0, 0, 0, 0};
  clsp_key_parts(rel, row, ndim, k, s, p, d, out_shape, out_bits, part, okv, &base);
  global ulong *out = cand + (size_t)i * stride;
  if (stride == kvol) {
    for (uint t = 0; t < kvol; t++) out[t] = clsp_key_next(ndim, k, part, okv, base, ta);
    return;
  }
  global uint *taps = ctap + (size_t)i * stride;
  uint j = 0;
  for (uint t = 0; t < kvol; t++) {
    ulong key = clsp_key_next(ndim, k, part, okv, base, ta);
    if (key != CLSP_KEY_EMPTY && j < stride) {
      out[j] = key;
      taps[j++] = t;
    }
  }
  for (; j < stride; j++) out[j] = CLSP_KEY_EMPTY;
}

/* clsp_rb_candidates_rows for 3D kernels of at most 3 per axis (SECOND's
 * and CenterPoint's downsampling layers, every transposed k3), with the
 * per-axis tables and the tap walk unrolled at compile time: the tables
 * stay in registers. Taps past an axis' extent are never valid; the tap
 * number counts only real taps. Same slots as clsp_rb_candidates_rows. */
kernel void clsp_rb_candidates3(global const int *coords, uint n_in, int kind,
                                uint kvol, int4 k, int4 s, int4 p, int4 d,
                                int4 out_shape, uint4 out_bits, global ulong *cand,
                                global uint *ctap, uint stride) {
  uint i = get_global_id(0);
  if (i >= n_in) return;
  int rel = kind == CLSP_KIND_REGULAR ? CLSP_REACH_DOWN : CLSP_REACH_UP;
  global const int *row = coords + (size_t)i * 4u;
  int kk[3] = {k.s0, k.s1, k.s2}, ss[3] = {s.s0, s.s1, s.s2};
  int pp[3] = {p.s0, p.s1, p.s2}, dd[3] = {d.s0, d.s1, d.s2};
  int sh[3] = {out_shape.s0, out_shape.s1, out_shape.s2};
  uint shift[3] = {out_bits.s1 + out_bits.s2, out_bits.s2, 0u};
  ulong part[3][3];
  int okv[3][3];
#pragma unroll
  for (int a = 0; a < 3; a++) {
#pragma unroll
    for (int x = 0; x < 3; x++) {
      okv[a][x] = x < kk[a];
      int y = clsp_axis_reach(rel, row[1 + a], kk[a], ss[a], pp[a], dd[a], x, sh[a],
                              &okv[a][x]);
      part[a][x] = (ulong)(uint)y << shift[a];
    }
  }
  ulong base = (ulong)(uint)row[0] << (shift[0] + out_bits.s0);
  global ulong *out = cand + (size_t)i * stride;
  if (stride == kvol) {
#pragma unroll
    for (int t = 0; t < 27; t++) {
      int a = t / 9, b = (t / 3) % 3, e = t % 3;
      if (a >= kk[0] || b >= kk[1] || e >= kk[2]) continue;
      uint tap = ((uint)a * (uint)kk[1] + (uint)b) * (uint)kk[2] + (uint)e;
      int valid = okv[0][a] && okv[1][b] && okv[2][e];
      out[tap] = valid ? base | part[0][a] | part[1][b] | part[2][e] : CLSP_KEY_EMPTY;
    }
    return;
  }
  /* Compact slots: per axis the offsets that reach an output, ascending
   * (a strided conv's input reaches 1 or 2 of 3 per axis), then their
   * products in tap order: a k3 s2 input walks its 1 to 8 valid taps
   * instead of testing all 27. */
  ulong pv[3][3];
  uint xv[3][3], nv[3];
#pragma unroll
  for (int a = 0; a < 3; a++) {
    uint m = 0;
#pragma unroll
    for (int x = 0; x < 3; x++) {
      pv[a][m] = part[a][x];
      xv[a][m] = (uint)x;
      m += okv[a][x] != 0;
    }
    nv[a] = m;
  }
  global uint *taps = ctap + (size_t)i * stride;
  uint j = 0;
  for (uint i0 = 0; i0 < nv[0]; i0++)
    for (uint i1 = 0; i1 < nv[1]; i1++)
      for (uint i2 = 0; i2 < nv[2]; i2++, j++)
        if (j < stride) {
          out[j] = base | pv[0][i0] | pv[1][i1] | pv[2][i2];
          taps[j] = (xv[0][i0] * (uint)kk[1] + xv[1][i1]) * (uint)kk[2] + xv[2][i2];
        }
  for (; j < stride; j++) out[j] = CLSP_KEY_EMPTY;
}

/* out_keys[j] = cand[first[j]] (the de-duplicated candidates). */
kernel void clsp_rb_gather_keys(global const ulong *cand,
                                global const uint *first, uint n,
                                global ulong *out_keys) {
  uint j = get_global_id(0);
  if (j < n) out_keys[j] = cand[first[j]];
}

/* Coordinate rows from sorted keys. */
kernel void clsp_rb_unpack(global const ulong *keys, uint n, int ndim,
                           uint4 bits, global int *coords) {
  uint j = get_global_id(0);
  if (j >= n) return;
  int b, c[4];
  clsp_unpack(keys[j], ndim, bits, &b, c);
  global int *row = coords + (size_t)j * (size_t)(1 + ndim);
  row[0] = b;
  for (int a = 0; a < ndim; a++) row[1 + a] = c[a];
}

/* The gather-style map: for every (tap t, output row o), index
 * t * n_out + o, the input row that tap reads (from the input hash), or
 * CLSP_NONE_U32. Compacting this [tap][out] matrix in order yields the
 * pairs grouped by tap and sorted by output row, without any sort. */
kernel void clsp_rb_map(global const int *out_coords, uint n_out, int ndim,
                        int kind, uint kvol, int4 k, int4 s, int4 p, int4 d,
                        int4 in_shape, uint4 in_bits,
                        global const ulong *slot_keys,
                        global const uint *slot_vals, uint mask,
                        global const ulong *in_keys, global uint *sel) {
  uint idx = get_global_id(0);
  if (idx >= n_out * kvol) return;
  uint t = idx / n_out, o = idx - t * n_out;
  int x[4] = {0, 0, 0, 0};
  global const int *row = out_coords + (size_t)o * (size_t)(1 + ndim);
  int ok = clsp_tap_reach(clsp_map_rel(kind), row, ndim, t, k, s, p, d, in_shape, x);
  sel[idx] = ok ? clsp_hash_find(slot_keys, slot_vals, in_keys, mask,
                                 clsp_pack(row[0], x, ndim, in_bits))
                : CLSP_NONE_U32;
}

/* The first probe of `key`: the slot's key into *seen and its value into
 * *val (CLSP_HASH64; the 32-bit table has no keys to load ahead: then
 * CLSP_KEY_EMPTY and CLSP_NONE_U32, and clsp_map_lookup probes). */
__attribute__((always_inline)) inline void
clsp_first_probe(global const ulong *slot_keys, global const uint *slot_vals, uint mask,
                 ulong key, private ulong *seen, private uint *val) {
#if CLSP_HASH64
  uint h = clsp_hash_slot(key, mask);
  *seen = key == CLSP_KEY_EMPTY ? CLSP_KEY_EMPTY : slot_keys[h];
  *val = slot_vals[h];
#else
  *seen = CLSP_KEY_EMPTY;
  *val = CLSP_NONE_U32;
#endif
}

/* The input row of key `key` whose first probe, at its slot, read the key
 * `seen` and the value `val` (CLSP_HASH64: both loaded ahead), or
 * CLSP_NONE_U32. */
inline uint clsp_map_lookup(global const ulong *slot_keys, global const uint *slot_vals,
                            global const ulong *in_keys, uint mask, ulong key, ulong seen,
                            uint val) {
  if (key == CLSP_KEY_EMPTY) return CLSP_NONE_U32;
#if CLSP_HASH64
  if (seen == key) return val;
  if (seen == CLSP_KEY_EMPTY) return CLSP_NONE_U32;
#endif
  return clsp_hash_find(slot_keys, slot_vals, in_keys, mask, key);
}

/* The same map in a CPU shape: one work-item per output row, its taps in
 * batches whose first-probe loads are all issued before any is compared.
 * PoCL runs a group's work-items one after another, and a probe that
 * branches on its own load makes the core wait for each cache miss in
 * turn; independent loads let it overlap the misses of a whole batch.
 * Longer probe chains (rare at load <= 1/2) take clsp_hash_find.
 * mirror = 1 (submanifold: output sites = input sites, same rows, odd
 * kernel): only the taps up to the centre are looked up; input row i
 * found at offset delta for output o means o is at -delta from i, so
 * tap kvol-1-t of row i is o. The host fills the taps past the centre
 * with CLSP_NONE_U32 first; every (tap, row) is still written by one
 * item. */
kernel void clsp_rb_map_rows(global const int *out_coords, uint n_out, int ndim,
                             int kind, uint kvol, int4 k, int4 s, int4 p, int4 d,
                             int4 in_shape, uint4 in_bits,
                             global const ulong *slot_keys,
                             global const uint *slot_vals, uint mask,
                             global const ulong *in_keys, global uint *sel, uint mirror) {
  uint o = get_global_id(0);
  if (o >= n_out) return;
  global const int *row = out_coords + (size_t)o * (size_t)(1 + ndim);
  int rel = clsp_map_rel(kind);
  ulong part[4][CLSP_AXIS_MAX], base;
  int okv[4][CLSP_AXIS_MAX], ta[4] = {0, 0, 0, 0};
  clsp_key_parts(rel, row, ndim, k, s, p, d, in_shape, in_bits, part, okv, &base);
  ulong key[CLSP_MAP_BATCH], seen[CLSP_MAP_BATCH];
  uint val[CLSP_MAP_BATCH];
  uint centre = kvol / 2, t_end = mirror ? centre + 1 : kvol;
  for (uint t0 = 0; t0 < t_end; t0 += CLSP_MAP_BATCH) {
    uint nb = min((uint)CLSP_MAP_BATCH, t_end - t0);
    for (uint j = 0; j < nb; j++) key[j] = clsp_key_next(ndim, k, part, okv, base, ta);
    /* The first probe's key and value together: a hit's value then
     * arrives with its key instead of one miss later. */
    for (uint j = 0; j < nb; j++)
      clsp_first_probe(slot_keys, slot_vals, mask, key[j], &seen[j], &val[j]);
    for (uint j = 0; j < nb; j++) {
      uint v =
        clsp_map_lookup(slot_keys, slot_vals, in_keys, mask, key[j], seen[j], val[j]);
      sel[(size_t)(t0 + j) * n_out + o] = v;
      if (mirror && t0 + j < centre && v != CLSP_NONE_U32)
        sel[(size_t)(kvol - 1 - t0 - j) * n_out + v] = o;
    }
  }
}

/* Regular / transposed map in a CPU shape, scatter-style: one work-item
 * per input row i walks its candidates (clsp_rb_candidates_rows: its
 * `stride` slots, packed with their taps in ctap when stride < kvol); a
 * valid one names output key c, the output hash gives its row o, and
 * sel[t * n_out + o] = i. The same matrix as clsp_rb_map
 * (input i reaches o through tap t exactly when o reads i through t),
 * with one lookup per pair instead of one per (output row, tap). Every
 * (tap, out row) has at most one input row, so each entry is written at
 * most once; the host fills sel with CLSP_NONE_U32 first. */
kernel void clsp_rb_map_scatter(global const ulong *cand, global const uint *ctap,
                                uint stride, uint n_in, uint kvol, uint n_out,
                                global const ulong *slot_keys,
                                global const uint *slot_vals, uint mask,
                                global const ulong *out_keys, global uint *sel) {
  uint i = get_global_id(0);
  if (i >= n_in) return;
  global const ulong *c = cand + (size_t)i * stride;
  for (uint j = 0; j < stride; j++) {
    ulong key = c[j];
    uint o = key == CLSP_KEY_EMPTY
                 ? CLSP_NONE_U32
                 : clsp_hash_find(slot_keys, slot_vals, out_keys, mask, key);
    uint t = stride == kvol ? j : ctap[(size_t)i * stride + j];
    if (o != CLSP_NONE_U32) sel[(size_t)t * n_out + o] = i;
  }
}

/* rank[first[m]] = m. */
kernel void clsp_rb_rank(global const uint *first, uint m, global uint *rank) {
  uint j = get_global_id(0);
  if (j < m) rank[first[j]] = j;
}

/* Merging duplicate sites: keys/rows are sorted stably by key, so each
 * run of equal keys lists its rows in ascending order. The item at the
 * start of a run writes the merged site at rank[first row]: its
 * coordinates, and features summed in row order (deterministic). */
kernel void clsp_rb_merge(global const ulong *keys, global const uint *rows,
                          uint n, global const uint *rank,
                          global const int *coords, global const float *feats,
                          uint channels, int ndim, global int *coords_out,
                          global float *feats_out) {
  uint q = get_global_id(0);
  if (q >= n || (q > 0 && keys[q - 1] == keys[q])) return;
  uint r = rows[q], m = rank[r], w = (uint)(1 + ndim);
  for (uint a = 0; a < w; a++) coords_out[m * w + a] = coords[r * w + a];
  for (uint ch = 0; ch < channels; ch++) feats_out[m * channels + ch] = 0.0f;
  for (uint e = q; e < n && keys[e] == keys[q]; e++)
    for (uint ch = 0; ch < channels; ch++)
      feats_out[m * channels + ch] += feats[rows[e] * channels + ch];
}

/* The keys of the first `taps` taps (14: up to the centre; 27: all) of
 * site o of a submanifold 3 x 3 x 3 kernel (any dilation), CLSP_KEY_EMPTY
 * where the neighbour lies outside the shape. Callers pass a constant
 * `taps` and every loop unrolls at compile time, so the per-axis offsets
 * and their validity live in registers. A neighbour's key is the site's
 * own key plus a constant per tap: the axes are separate bit fields and an
 * in-range neighbour never carries out of its field. */
__attribute__((always_inline)) inline void
clsp_subm3_keys(global const int *coords, uint o, int4 d, int4 shape, uint4 bits,
                const int taps, private ulong *key) {
  global const int *row = coords + (size_t)o * 4u;
  int c[3] = {row[1], row[2], row[3]};
  int dd[3] = {d.s0, d.s1, d.s2}, sh[3] = {shape.s0, shape.s1, shape.s2};
  uint shift[3] = {bits.s1 + bits.s2, bits.s2, 0u};
  ulong key0 = clsp_pack(row[0], c, 3, bits);
  int okv[3][3];
  long step[3];
  for (int a = 0; a < 3; a++) {
    okv[a][0] = c[a] - dd[a] >= 0;
    okv[a][1] = 1;
    okv[a][2] = c[a] + dd[a] < sh[a];
    step[a] = (long)dd[a] << shift[a];
  }
#pragma unroll
  for (int t = 0; t < taps; t++) {
    int a = t / 9, b = (t / 3) % 3, e = t % 3;
    long delta = (a - 1) * step[0] + (b - 1) * step[1] + (e - 1) * step[2];
    key[t] = okv[0][a] && okv[1][b] && okv[2][e] ? key0 + (ulong)delta : CLSP_KEY_EMPTY;
  }
}

/* The submanifold map of the commonest geometry, 3 x 3 x 3 in 3D, in a
 * CPU shape: clsp_rb_map_rows with mirror = 1 and unrolled. */
kernel void clsp_rb_map_subm3(global const int *coords, uint n, int4 d, int4 shape,
                              uint4 bits, global const ulong *slot_keys,
                              global const uint *slot_vals, uint mask,
                              global const ulong *in_keys, global uint *sel) {
  uint o = get_global_id(0);
  if (o >= n) return;
  ulong key[14], seen[14];
  uint val[14];
  clsp_subm3_keys(coords, o, d, shape, bits, 14, key);
#pragma unroll
  for (int t = 0; t < 14; t++)
    clsp_first_probe(slot_keys, slot_vals, mask, key[t], &seen[t], &val[t]);
#pragma unroll
  for (int t = 0; t < 14; t++) {
    uint v = clsp_map_lookup(slot_keys, slot_vals, in_keys, mask, key[t], seen[t], val[t]);
    sel[(size_t)t * n + o] = v;
    if (t < 13 && v != CLSP_NONE_U32) sel[(size_t)(26 - t) * n + v] = o;
  }
}

/* The rank of a key whose bit is set in a key bitmap: the set bits before
 * it (its word's rank plus the bits below it in the word). */
inline uint clsp_bitmap_rank(global const uint *bitmap, global const uint *rank, ulong key) {
  uint w = (uint)(key >> 5), below = (1u << (uint)(key & 31ul)) - 1u;
  return rank[w] + popcount(bitmap[w] & below);
}

/* A two-level key bitmap (rulebook_bitmap.c) of the input keys of a
 * submanifold rulebook, for key spaces too large for one level: l1 has a
 * bit per 32-key word of the flat bitmap, set where that word has a key;
 * the nonempty words themselves are stored packed in w0, in order (the
 * one of flat word w at l1_rank[w / 32] + the l1 bits below w's), and
 * w0_rank gives each packed word's first rank. Build: mark l1, count and
 * scan it (clsp_rb_bitmap_count, scan.cl), mark w0, count and scan w0,
 * then site[] of every rank. */
kernel void clsp_rb_bitmap2_mark_l1(global const ulong *keys, uint n, global uint *l1) {
  uint i = get_global_id(0);
  if (i >= n) return;
  ulong key = keys[i];
  atomic_or(l1 + (size_t)(key >> 10), 1u << (uint)((key >> 5) & 31ul));
}

/* The packed index of flat word `fw` where it is nonempty (*has = 1;
 * else the next nonempty one's: at most the number of nonempty words). */
inline uint clsp_bitmap2_word(global const uint *l1, global const uint *l1_rank, ulong fw,
                              private uint *has) {
  size_t i1 = (size_t)(fw >> 5);
  uint w1 = l1[i1], b1 = (uint)(fw & 31ul);
  *has = (w1 >> b1) & 1u;
  return l1_rank[i1] + popcount(w1 & ((1u << b1) - 1u));
}

kernel void clsp_rb_bitmap2_mark_l0(global const ulong *keys, uint n,
                                    global const uint *l1, global const uint *l1_rank,
                                    global uint *w0) {
  uint i = get_global_id(0);
  if (i >= n) return;
  ulong key = keys[i];
  uint has;
  atomic_or(w0 + clsp_bitmap2_word(l1, l1_rank, key >> 5, &has), 1u << (uint)(key & 31ul));
}

/* Whether `key` (CLSP_KEY_EMPTY: no) is set, and its rank clamped to
 * `last` (an absent key's is the next present one's, which may be past
 * the last site). w0 has one spare zero word past the packed ones, which
 * an absent key of a word past the last nonempty one reads. */
__attribute__((always_inline)) inline uint
clsp_bitmap2_find(global const uint *l1, global const uint *l1_rank, global const uint *w0,
                  global const uint *w0_rank, ulong key, uint last, private uint *rank) {
  *rank = 0u;
  if (key == CLSP_KEY_EMPTY) return 0u;
  uint has1, cw = clsp_bitmap2_word(l1, l1_rank, key >> 5, &has1);
  uint w = w0[cw] & (0u - has1), b0 = (uint)(key & 31ul);
  *rank = min(w0_rank[cw] + popcount(w & ((1u << b0) - 1u)), last);
  return (w >> b0) & 1u;
}

/* site[rank of input i's key] = i. */
kernel void clsp_rb_bitmap2_sites(global const ulong *keys, uint n, global const uint *l1,
                                  global const uint *l1_rank, global const uint *w0,
                                  global const uint *w0_rank, global uint *site) {
  uint i = get_global_id(0);
  if (i >= n) return;
  uint r;
  clsp_bitmap2_find(l1, l1_rank, w0, w0_rank, keys[i], n - 1u, &r);
  site[r] = i;
}

/* The flat word `fw` of the two-level bitmap (0 where it holds no key)
 * and the rank of its first key. */
__attribute__((always_inline)) inline uint
clsp_bitmap2_flat(global const uint *l1, global const uint *l1_rank, global const uint *w0,
                  global const uint *w0_rank, ulong fw, private uint *rank) {
  uint has, cw = clsp_bitmap2_word(l1, l1_rank, fw, &has);
  *rank = w0_rank[cw];
  return w0[cw] & (0u - has);
}

/* A run of `len` (1 to 3) consecutive keys from `k`, the x neighbours of a
 * site with x dilation 1 on one (z, y) row: bit j of the result says
 * whether key k + j is set, *rank is k's rank (the keys' ranks follow on,
 * a present one's being *rank plus the set bits before it in the run).
 * One flat word holds the run unless it crosses into the next one. */
__attribute__((always_inline)) inline uint
clsp_bitmap2_run(global const uint *l1, global const uint *l1_rank, global const uint *w0,
                 global const uint *w0_rank, ulong k, uint len, private uint *rank) {
  uint b = (uint)(k & 31ul), r0;
  uint w = clsp_bitmap2_flat(l1, l1_rank, w0, w0_rank, k >> 5, &r0);
  *rank = r0 + popcount(w & ((1u << b) - 1u));
  uint run = w >> b;
  if (b + len > 32u) { /* k + len - 1 is a key of the space: the word exists */
    uint r1, w2 = clsp_bitmap2_flat(l1, l1_rank, w0, w0_rank, (k >> 5) + 1ul, &r1);
    run |= w2 << (32u - b);
  }
  return run & ((1u << len) - 1u);
}

/* Row r of the 3 x 3 (z, y) rows of site o's neighbours (key[27] from
 * clsp_subm3_keys; x dilation 1): whether the row lies in the grid, its
 * run of present x neighbours (bit e for tap 3 r + e) and the rank of
 * its first key (tap 3 r + first). */
__attribute__((always_inline)) inline uint
clsp_subm3_row(global const uint *l1, global const uint *l1_rank, global const uint *w0,
               global const uint *w0_rank, const private ulong *key, int r,
               private uint *rank, private uint *first) {
  *rank = 0u;
  *first = 0u;
  ulong centre = key[3 * r + 1];
  if (centre == CLSP_KEY_EMPTY) return 0u;
  uint lo = key[3 * r] != CLSP_KEY_EMPTY, hi = key[3 * r + 2] != CLSP_KEY_EMPTY;
  *first = 1u - lo;
  uint run = clsp_bitmap2_run(l1, l1_rank, w0, w0_rank, centre - lo, 1u + lo + hi, rank);
  return run << *first; /* bit e: tap 3 r + e */
}

/* The submanifold 3 x 3 x 3 rulebook as the fused conv's output-major
 * list, from the two-level bitmap of the input keys instead of an input
 * hash and a [tap][out row] matrix: every site counts its neighbours
 * (counts[n] = 0 becomes the total after the scan), then, from its
 * scanned offset, lists them as (tap, input row) in tap order, a
 * neighbour's row being site[] of its rank. With x dilation 1 (the
 * commonest) the three x neighbours on a (z, y) row are consecutive keys:
 * one lookup per row gives all three (clsp_subm3_row), and the count
 * keeps what it found for the fill (runs: CLSP_SUBM3_RUN_WORDS words per
 * site, the 27 taps' presence bits, then each row's first rank), which
 * then neither builds keys nor looks anything up; otherwise one lookup per
 * tap, in both passes. */
kernel void clsp_rb_subm3_bitmap_count(global const int *coords, uint n, int4 d,
                                       int4 shape, uint4 bits, global const uint *l1,
                                       global const uint *l1_rank, global const uint *w0,
                                       global const uint *w0_rank, global uint *counts,
                                       global uint *runs) {
  uint o = get_global_id(0);
  if (o == 0) counts[n] = 0u;
  if (o >= n) return;
  ulong key[27];
  clsp_subm3_keys(coords, o, d, shape, bits, 27, key);
  uint c = 0, r, first;
  if (d.s2 == 1) {
    global uint *kept = runs + (size_t)o * CLSP_SUBM3_RUN_WORDS;
    uint taps = 0;
#pragma unroll
    for (int row = 0; row < 9; row++) {
      uint run = clsp_subm3_row(l1, l1_rank, w0, w0_rank, key, row, &r, &first);
      c += popcount(run);
      taps |= run << (3 * row);
      kept[1 + row] = r;
    }
    kept[0] = taps;
  } else {
#pragma unroll
    for (int t = 0; t < 27; t++)
      c += clsp_bitmap2_find(l1, l1_rank, w0, w0_rank, key[t], 0u, &r);
  }
  counts[o] = c;
}

/* With the kept runs, a loop over the present taps (their bits in the
 * runs' first word); otherwise branch-free on presence, as
 * clsp_fused_fill_map (conv_fused.cl): every tap writes the row's next
 * free slot, and only a present one advances it. */
kernel void clsp_rb_subm3_bitmap_fill(global const int *coords, uint n, int4 d, int4 shape,
                                      uint4 bits, global const uint *l1,
                                      global const uint *l1_rank, global const uint *w0,
                                      global const uint *w0_rank, global const uint *site,
                                      global const uint *runs, global const uint *offsets,
                                      global uint2 *entries) {
  uint o = get_global_id(0);
  if (o >= n) return;
  uint slot = offsets[o], end = offsets[o + 1], last = n - 1u;
  if (d.s2 == 1) {
    global const uint *kept = runs + (size_t)o * CLSP_SUBM3_RUN_WORDS;
    uint taps = kept[0];
    /* The present taps only, in ascending order (about 6 of 27 on a LiDAR
     * scan): its row's first rank plus the row's present taps below it. */
    for (uint m = taps; m != 0u && slot < end; m &= m - 1u, slot++) {
      uint t = popcount((m & (0u - m)) - 1u), row = t / 3u, e = t - 3u * row;
      uint run = (taps >> (3u * row)) & 7u;
      uint rank = min(kept[1 + row] + popcount(run & ((1u << e) - 1u)), last);
      entries[slot] = (uint2)(t, site[rank]);
    }
  } else {
    ulong key[27];
    clsp_subm3_keys(coords, o, d, shape, bits, 27, key);
#pragma unroll
    for (int t = 0; t < 27; t++) {
      uint r, has = clsp_bitmap2_find(l1, l1_rank, w0, w0_rank, key[t], last, &r);
      if (slot < end) entries[slot] = (uint2)((uint)t, site[r]);
      slot += has;
    }
  }
}

/* Output sites from a bitmap over the packed output key space (CPU shape,
 * rulebook_sites.c): where that space is small next to the candidates,
 * bit `key` stands for the key, and the set bits in order are the distinct
 * keys in ascending order: no hash, no sort. Row i sets the bits of its
 * `stride` candidate slots (the host zeroed the bitmap). */
kernel void clsp_rb_bitmap_mark(global const ulong *cand, uint n_in, uint stride,
                                global uint *bitmap) {
  uint i = get_global_id(0);
  if (i >= n_in) return;
  global const ulong *c = cand + (size_t)i * stride;
  for (uint j = 0; j < stride; j++) {
    ulong key = c[j];
    if (key != CLSP_KEY_EMPTY)
      atomic_or(bitmap + (size_t)(key >> 5), 1u << (uint)(key & 31ul));
  }
}

/* rank[w] = the set bits of word w (the exclusive scan of rank then gives
 * each word's first output row) and rank[words] = 0 (then the total). */
kernel void clsp_rb_bitmap_count(global const uint *bitmap, uint words, global uint *rank) {
  uint w = get_global_id(0);
  if (w == 0) rank[words] = 0u;
  if (w < words) rank[w] = popcount(bitmap[w]);
}

/* The output sites: the set bits of word w, lowest first, unpacked into
 * coordinate rows from row rank[w]. */
kernel void clsp_rb_bitmap_emit(global const uint *bitmap, uint words,
                                global const uint *rank, int ndim, uint4 bits,
                                global int *coords) {
  uint w = get_global_id(0);
  if (w >= words) return;
  uint v = bitmap[w], j = rank[w];
  while (v != 0u) {
    uint low = v & (~v + 1u);
    ulong key = ((ulong)w << 5) | (ulong)(31u - clz(low));
    int b, c[4];
    clsp_unpack(key, ndim, bits, &b, c);
    global int *row = coords + (size_t)j * (size_t)(1 + ndim);
    row[0] = b;
    for (int a = 0; a < ndim; a++) row[1 + a] = c[a];
    j++;
    v &= v - 1u;
  }
}

/* clsp_rb_map_scatter with the output row of a key from the bitmap: the
 * set bits before it (its word's first row plus those below it in the
 * word) instead of a hash lookup. */
kernel void clsp_rb_map_bitmap(global const ulong *cand, global const uint *ctap,
                               uint stride, uint n_in, uint kvol, uint n_out,
                               global const uint *bitmap, global const uint *rank,
                               global uint *sel) {
  uint i = get_global_id(0);
  if (i >= n_in) return;
  global const ulong *c = cand + (size_t)i * stride;
  for (uint j = 0; j < stride; j++) {
    ulong key = c[j];
    if (key == CLSP_KEY_EMPTY) continue;
    uint o = clsp_bitmap_rank(bitmap, rank, key);
    uint t = stride == kvol ? j : ctap[(size_t)i * stride + j];
    sel[(size_t)t * n_out + o] = i;
  }
}
