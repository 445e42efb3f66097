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
  for (int a = 0; a < ndim; a++) {
    long x = row[1 + a], v;
    if (rel == CLSP_REACH_CENTRED) {
      v = x + (long)(ta[a] - (kk[a] - 1) / 2) * dd[a];
    } else if (rel == CLSP_REACH_UP) {
      v = x * ss[a] - pp[a] + (long)ta[a] * dd[a];
    } else {
      long num = x + pp[a] - (long)ta[a] * dd[a];
      v = num / ss[a];
      ok = ok && num >= 0 && v * ss[a] == num;
    }
    ok = ok && v >= 0 && v < sh[a];
    y[a] = (int)v;
  }
  return ok;
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
  int rel = kind == CLSP_KIND_SUBMANIFOLD ? CLSP_REACH_CENTRED
            : kind == CLSP_KIND_REGULAR   ? CLSP_REACH_UP
                                          : CLSP_REACH_DOWN;
  int ok = clsp_tap_reach(rel, row, ndim, t, k, s, p, d, in_shape, x);
  sel[idx] = ok ? clsp_hash_find(slot_keys, slot_vals, in_keys, mask,
                                 clsp_pack(row[0], x, ndim, in_bits))
                : CLSP_NONE_U32;
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
