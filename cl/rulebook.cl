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

inline void clsp_tap(uint t, int ndim, int4 k, int *ta) {
  int kk[4] = {k.s0, k.s1, k.s2, k.s3};
  for (int a = ndim - 1; a >= 0; a--) {
    ta[a] = (int)(t % (uint)kk[a]);
    t /= (uint)kk[a];
  }
}

/* Candidate output key of every (input row i, tap t), index i*kvol + t,
 * or CLSP_KEY_EMPTY when that tap reaches no output site. */
kernel void clsp_rb_candidates(global const int *coords, uint n_in, int ndim,
                               int kind, uint kvol, int4 k, int4 s, int4 p,
                               int4 d, int4 out_shape, uint4 out_bits,
                               global ulong *cand) {
  uint c = get_global_id(0);
  if (c >= n_in * kvol) return;
  uint i = c / kvol, t = c % kvol;
  int ta[4], o[4] = {0, 0, 0, 0};
  clsp_tap(t, ndim, k, ta);
  int ss[4] = {s.s0, s.s1, s.s2, s.s3}, pp[4] = {p.s0, p.s1, p.s2, p.s3};
  int dd[4] = {d.s0, d.s1, d.s2, d.s3};
  int os[4] = {out_shape.s0, out_shape.s1, out_shape.s2, out_shape.s3};
  global const int *row = coords + (size_t)i * (size_t)(1 + ndim);
  int ok = 1;
  for (int a = 0; a < ndim; a++) {
    long x = row[1 + a], y;
    if (kind == 1) {
      long num = x + pp[a] - (long)ta[a] * dd[a];
      ok = ok && num >= 0 && num % ss[a] == 0;
      y = num / ss[a];
    } else {
      y = x * ss[a] - pp[a] + (long)ta[a] * dd[a];
    }
    ok = ok && y >= 0 && y < os[a];
    o[a] = (int)y;
  }
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
 * CLSP_NONE. Compacting this [tap][out] matrix in order yields the pairs
 * grouped by tap and sorted by output row, without any sort. */
kernel void clsp_rb_map(global const int *out_coords, uint n_out, int ndim,
                        int kind, uint kvol, int4 k, int4 s, int4 p, int4 d,
                        int4 in_shape, uint4 in_bits,
                        global const ulong *slot_keys,
                        global const uint *slot_vals, uint mask,
                        global const ulong *in_keys, global uint *sel) {
  uint idx = get_global_id(0);
  if (idx >= n_out * kvol) return;
  uint t = idx / n_out, o = idx % n_out;
  int ta[4], x[4] = {0, 0, 0, 0};
  clsp_tap(t, ndim, k, ta);
  int kk[4] = {k.s0, k.s1, k.s2, k.s3}, ss[4] = {s.s0, s.s1, s.s2, s.s3};
  int pp[4] = {p.s0, p.s1, p.s2, p.s3}, dd[4] = {d.s0, d.s1, d.s2, d.s3};
  int is[4] = {in_shape.s0, in_shape.s1, in_shape.s2, in_shape.s3};
  global const int *row = out_coords + (size_t)o * (size_t)(1 + ndim);
  int ok = 1;
  for (int a = 0; a < ndim; a++) {
    long y = row[1 + a], v;
    if (kind == 0) {
      v = y + (long)(ta[a] - (kk[a] - 1) / 2) * dd[a];
    } else if (kind == 1) {
      v = y * ss[a] - pp[a] + (long)ta[a] * dd[a];
    } else {
      long num = y + pp[a] - (long)ta[a] * dd[a];
      ok = ok && num >= 0 && num % ss[a] == 0;
      v = num / ss[a];
    }
    ok = ok && v >= 0 && v < is[a];
    x[a] = (int)v;
  }
  sel[idx] = ok ? clsp_hash_find(slot_keys, slot_vals, in_keys, mask,
                                 clsp_pack(row[0], x, ndim, in_bits))
                : CLSP_NONE;
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
