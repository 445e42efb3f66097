/* SPDX-License-Identifier: Apache-2.0 */
/* Point-to-voxel: quantise -> voxel key -> first point per voxel ->
 * prefix sum over head points (order of first occurrence, independent of
 * scheduling) -> per-voxel buckets -> compensated mean.
 *
 * Keys are 32-bit (uint) while the grid has fewer than 2^32 - 1 cells,
 * else 64-bit (ulong). The first point per voxel comes from an
 * open-addressing hash (atomic_min on the slot's first point) over 32-bit
 * keys, or over 64-bit keys where the device has 64-bit atomics
 * (CLSP_HASH64); without them, from a stable sort of the (key, point)
 * pairs (clsp__radix_sort, no atomics) whose runs of equal keys are the
 * voxels. Either way the slot of every point and the first point of every
 * slot feed the same head/scan/emit kernels, so the sites and their order
 * are the same on every path. */

/* CLSP_VOX_BOUNDS_CHUNK (a -D define from the context's tuning record):
 * points per work-item in the round-mode bounds pass; keeps the number of
 * contended atomics on the six bounds at N / chunk. */

/* Range mode: v = floor((p - min) / size) in float32, kept iff
 * 0 <= v < grid; returns whether the point is kept. */
inline int vox_range_cell(global const float *pts, uint i, float sx, float sy,
                          float sz, float mx, float my, float mz, int gx,
                          int gy, int gz, uint *v) {
  float fx = floor((pts[4 * i + 0] - mx) / sx);
  float fy = floor((pts[4 * i + 1] - my) / sy);
  float fz = floor((pts[4 * i + 2] - mz) / sz);
  /* The comparisons are false for NaN: such points are dropped. */
  int ok = fx >= 0.0f && fx < (float)gx && fy >= 0.0f && fy < (float)gy &&
           fz >= 0.0f && fz < (float)gz;
  v[0] = ok ? (uint)fx : 0u;
  v[1] = ok ? (uint)fy : 0u;
  v[2] = ok ? (uint)fz : 0u;
  return ok;
}

/* Range mode key: packs (z, y, x), x fastest, as uint or ulong (KEY; the
 * host checked that the grid fits). */
#define VOX_KEYS_RANGE(NAME, KEY, EMPTY)                                      \
  kernel void NAME(global const float *pts, uint n, float sx, float sy,      \
                   float sz, float mx, float my, float mz, int gx, int gy,   \
                   int gz, global KEY *keys) {                               \
    uint i = get_global_id(0);                                               \
    if (i >= n) return;                                                      \
    uint v[3];                                                               \
    int ok = vox_range_cell(pts, i, sx, sy, sz, mx, my, mz, gx, gy, gz, v);  \
    keys[i] = ok ? ((KEY)v[2] * (KEY)gy + v[1]) * (KEY)gx + v[0] : EMPTY;    \
  }

VOX_KEYS_RANGE(clsp_vox_keys_range, uint, CLSP_NONE_U32)
VOX_KEYS_RANGE(clsp_vox_keys_range64, ulong, CLSP_NONE_U64)

/* Order-preserving int image of a float (not NaN): min and max of floats
 * by 32-bit integer atomics. The host inverts it (voxelize.c). */
inline int vox_ordered(float f) {
  int b = as_int(f);
  return b >= 0 ? b : b ^ 0x7FFFFFFF;
}

/* Round mode, pass 1: per-axis minimum and maximum of rint(p / size)
 * (floats, ordered images; +-inf where p / size overflows) and the number
 * of non-finite points. bounds: lo x,y,z, hi x,y,z, bad (host fills
 * INT_MAX / INT_MIN / 0 first). */
kernel void clsp_vox_round_bounds(global const float *pts, uint n,
                                  float sx, float sy, float sz,
                                  global int *bounds) {
  uint first = get_global_id(0) * (uint)CLSP_VOX_BOUNDS_CHUNK;
  if (first >= n) return;
  uint last = min(n, first + (uint)CLSP_VOX_BOUNDS_CHUNK);
  const float s[3] = {sx, sy, sz};
  int lo[3] = {INT_MAX, INT_MAX, INT_MAX}, hi[3] = {INT_MIN, INT_MIN, INT_MIN};
  int bad = 0;
  /* Non-finite points only need counting: any makes the call fail, so
   * what they do to the bounds does not matter. */
  for (uint i = first; i < last; i++) {
    int finite = 1;
    for (int a = 0; a < 3; a++) {
      float p = pts[4 * i + a];
      finite &= isfinite(p);
      int v = vox_ordered(rint(p / s[a]));
      lo[a] = min(lo[a], v);
      hi[a] = max(hi[a], v);
    }
    bad += !finite;
  }
  for (int a = 0; a < 3; a++) {
    atomic_min(&bounds[a], lo[a]);
    atomic_max(&bounds[3 + a], hi[a]);
  }
  if (bad) atomic_add(&bounds[6], bad);
}

/* r - lo exactly, for integer-valued floats with 0 <= r - lo < 2^31 (the
 * host checked the extent). Near: every |r| below 2^31, both convert to
 * int. Far (some |r| >= 2^31 on some axis): below 2^40 both convert to
 * long exactly; above, both lie beyond 2^39 where floats are multiples of
 * 2^16, so the difference is a multiple of 2^16 below 2^31: a float, and
 * the float subtraction is exact. */
inline uint vox_offset_near(float r, float lo) {
  return (uint)((int)r - (int)lo);
}

inline uint vox_offset_far(float r, float lo) {
  const float big = 1099511627776.0f; /* 2^40 */
  if (fabs(r) < big && fabs(lo) < big) return (uint)((long)r - (long)lo);
  return (uint)(r - lo);
}

/* Round mode, pass 2: key packs (x - lo, y - lo, z - lo), z fastest, as
 * uint or ulong (KEY; the host checked that the grid fits), offsets by
 * vox_offset_near or vox_offset_far (OFFSET, chosen by the host). */
#define VOX_KEYS_ROUND(NAME, KEY, OFFSET)                                     \
  kernel void NAME(global const float *pts, uint n, float sx, float sy,      \
                   float sz, float lx, float ly, float lz, uint ny, uint nz,  \
                   global KEY *keys) {                                       \
    uint i = get_global_id(0);                                               \
    if (i >= n) return;                                                      \
    KEY x = OFFSET(rint(pts[4 * i + 0] / sx), lx);                           \
    KEY y = OFFSET(rint(pts[4 * i + 1] / sy), ly);                           \
    KEY z = OFFSET(rint(pts[4 * i + 2] / sz), lz);                           \
    keys[i] = (x * ny + y) * nz + z;                                         \
  }

VOX_KEYS_ROUND(clsp_vox_keys_round, uint, vox_offset_near)
VOX_KEYS_ROUND(clsp_vox_keys_round_far, uint, vox_offset_far)
VOX_KEYS_ROUND(clsp_vox_keys_round64, ulong, vox_offset_near)
VOX_KEYS_ROUND(clsp_vox_keys_round64_far, ulong, vox_offset_far)

inline uint vox_hash(uint key) {
  uint h = key * 0x9E3779B1u;
  return h ^ (h >> 15);
}

/* Inserts every kept point's key (linear probing, CAS on the slot's key);
 * the slot's `first` becomes the smallest point index of the voxel
 * whatever the scheduling. slot_of[i] = the point's slot, or CLSP_NONE_U32.
 * The table holds at least twice as many slots as points: an empty slot
 * is always reached within mask + 1 probes. One body for both key widths
 * (KEY, its EMPTY sentinel, HASH to a slot, CAS on a table key). */
#define VOX_HASH_INSERT(NAME, KEY, EMPTY, HASH, CAS)                          \
  kernel void NAME(global const KEY *keys, uint n, global KEY *table_keys,   \
                   global uint *table_first, uint mask,                      \
                   global uint *slot_of) {                                   \
    uint i = get_global_id(0);                                               \
    if (i >= n) return;                                                      \
    KEY key = keys[i];                                                       \
    uint found = CLSP_NONE_U32;                                                  \
    if (key != EMPTY) {                                                      \
      uint slot = HASH(key) & mask;                                          \
      for (uint probe = 0; probe <= mask; probe++) {                         \
        KEY prev = CAS(&table_keys[slot], EMPTY, key);                       \
        if (prev == EMPTY || prev == key) {                                  \
          atomic_min(&table_first[slot], i);                                 \
          found = slot;                                                      \
          break;                                                             \
        }                                                                    \
        slot = (slot + 1) & mask;                                            \
      }                                                                      \
    }                                                                        \
    slot_of[i] = found;                                                      \
  }

VOX_HASH_INSERT(clsp_vox_hash_insert, uint, CLSP_NONE_U32, vox_hash, atomic_cmpxchg)

#if CLSP_HASH64
/* Folds a 64-bit key into vox_hash: the multiply spreads the high word
 * (the slow axes) over the low bits. */
inline uint vox_hash64(ulong key) {
  return vox_hash((uint)key ^ ((uint)(key >> 32) * 0x85EBCA6Bu));
}

inline ulong vox_cas64(global ulong *p, ulong expected, ulong desired) {
  return atom_cmpxchg((volatile global ulong *)p, expected, desired);
}

VOX_HASH_INSERT(clsp_vox_hash_insert64, ulong, CLSP_NONE_U64, vox_hash64, vox_cas64)
#endif

/* Sort path (64-bit keys, no 64-bit atomics), step 1: the (key, point)
 * pairs to sort. */
kernel void clsp_vox_sort_init(global const ulong *keys, uint n,
                               global ulong *sorted_keys,
                               global uint *sorted_points) {
  uint i = get_global_id(0);
  if (i >= n) return;
  sorted_keys[i] = keys[i];
  sorted_points[i] = i;
}

/* Sort path, step 2: run_head[j] = 1 iff sorted position j starts a run
 * of equal kept keys (dropped points sort last: CLSP_NONE_U64 is above every
 * key in the bits sorted). */
kernel void clsp_vox_run_heads(global const ulong *sorted_keys, uint n,
                               global uint *run_head) {
  uint j = get_global_id(0);
  if (j >= n) return;
  ulong key = sorted_keys[j];
  run_head[j] = key != CLSP_NONE_U64 && (j == 0 || sorted_keys[j - 1] != key);
}

/* Sort path, step 3 (run_start = exclusive scan of run_head): the slot of
 * each point is its run's number, and table_first[run] the run's first
 * point, which is its smallest index because the sort is stable. */
kernel void clsp_vox_run_slots(global const ulong *sorted_keys,
                               global const uint *sorted_points,
                               global const uint *run_head,
                               global const uint *run_start, uint n,
                               global uint *slot_of,
                               global uint *table_first) {
  uint j = get_global_id(0);
  if (j >= n) return;
  uint p = sorted_points[j];
  if (sorted_keys[j] == CLSP_NONE_U64) {
    slot_of[p] = CLSP_NONE_U32;
    return;
  }
  uint run = run_start[j] + run_head[j] - 1u;
  slot_of[p] = run;
  if (run_head[j]) table_first[run] = p;
}

/* head[i] = 1 iff point i is the first point of its voxel. */
kernel void clsp_vox_heads(global const uint *slot_of,
                           global const uint *table_first, uint n,
                           global uint *head) {
  uint i = get_global_id(0);
  if (i >= n) return;
  uint slot = slot_of[i];
  head[i] = (slot != CLSP_NONE_U32 && table_first[slot] == i) ? 1u : 0u;
}

/* Work-group inclusive scan in local memory (Hillis-Steele with a barrier
 * between read and write, so no local race); writes the exclusive prefix
 * and the group total. `out` may alias `in`. */
kernel void clsp_vox_scan_block(global const uint *in, global uint *out,
                                global uint *sums, uint n,
                                local uint *buf) {
  uint gid = get_global_id(0), lid = get_local_id(0);
  uint wg = get_local_size(0);
  uint x = gid < n ? in[gid] : 0u;
  buf[lid] = x;
  barrier(CLK_LOCAL_MEM_FENCE);
  for (uint off = 1; off < wg; off <<= 1) {
    uint add = lid >= off ? buf[lid - off] : 0u;
    barrier(CLK_LOCAL_MEM_FENCE);
    buf[lid] += add;
    barrier(CLK_LOCAL_MEM_FENCE);
  }
  if (gid < n) out[gid] = buf[lid] - x;
  if (lid == wg - 1) sums[get_group_id(0)] = buf[lid];
}

/* Adds each group's scanned offset to its elements. */
kernel void clsp_vox_scan_add(global uint *out, global const uint *sums,
                              uint n) {
  uint gid = get_global_id(0);
  if (gid < n) out[gid] += sums[get_group_id(0)];
}

/* Site r: the batch and the coordinates decoded from its key (a0
 * slowest, a2 fastest). */
inline void vox_site(global int *coords, uint r, int batch, ulong key,
                     uint d1, uint d2) {
  coords[4 * r + 0] = batch;
  /* Remainders as a - q * d, not '%': Oclgrind's uninitialized-value
   * checker cannot run the 'freeze' LLVM inserts when it pairs a division
   * and a remainder of the same operands. */
  ulong q = key / d2, a0 = q / d1;
  coords[4 * r + 1] = (int)a0;
  coords[4 * r + 2] = (int)(q - a0 * d1);
  coords[4 * r + 3] = (int)(key - q * d2);
}

/* For each head point: its voxel's row = rank, and the site (KEY: uint
 * or ulong keys). */
#define VOX_EMIT(NAME, KEY)                                                   \
  kernel void NAME(global const KEY *keys, global const uint *slot_of,       \
                   global const uint *head, global const uint *rank, uint n, \
                   uint d1, uint d2, int batch, global uint *slot_voxel,     \
                   global int *coords) {                                     \
    uint i = get_global_id(0);                                               \
    if (i >= n || !head[i]) return;                                          \
    slot_voxel[slot_of[i]] = rank[i];                                        \
    vox_site(coords, rank[i], batch, keys[i], d1, d2);                       \
  }

VOX_EMIT(clsp_vox_emit, uint)
VOX_EMIT(clsp_vox_emit64, ulong)

/* point_voxel[i] = voxel row of point i (CLSP_NONE_U32 if dropped); counts
 * the points per voxel. */
kernel void clsp_vox_count(global const uint *slot_of,
                           global const uint *slot_voxel, uint n,
                           global uint *point_voxel, global uint *counts) {
  uint i = get_global_id(0);
  if (i >= n) return;
  uint slot = slot_of[i];
  uint v = slot == CLSP_NONE_U32 ? CLSP_NONE_U32 : slot_voxel[slot];
  point_voxel[i] = v;
  if (v != CLSP_NONE_U32) atomic_inc(&counts[v]);
}

/* Places point indices into their voxel's bucket [offset[v], offset[v+1]). */
kernel void clsp_vox_bucket(global const uint *point_voxel, uint n,
                            global const uint *offset, global uint *cursor,
                            global uint *bucket) {
  uint i = get_global_id(0);
  if (i >= n) return;
  uint v = point_voxel[i];
  if (v != CLSP_NONE_U32) bucket[offset[v] + atomic_inc(&cursor[v])] = i;
}

/* Neumaier-compensated sum: the result is within about one ulp of the
 * exact sum whatever the order of the bucket, so means match a double
 * reference to ~1e-7 relative. */
inline void vox_add(float *s, float *c, float x) {
  float t = *s + x;
  if (fabs(*s) >= fabs(x))
    *c += (*s - t) + x;
  else
    *c += (x - t) + *s;
  *s = t;
}

/* Restores the min-heap order of h[0, len) below position j (the
 * children of j are heaps): point indices, smallest at h[0]. */
inline void vox_sift(global uint *h, uint len, uint j) {
  uint x = h[j];
  for (;;) {
    uint c = 2u * j + 1u;
    if (c >= len) break;
    if (c + 1u < len && h[c + 1u] < h[c]) c++;
    if (h[c] >= x) break;
    h[j] = h[c];
    j = c;
  }
  h[j] = x;
}

/* Sums (s, c) over the `k` smallest point indices of the voxel's bucket
 * h[0, len), len > k, in ascending order: the bucket becomes a min-heap
 * (O(len)) and k minima are popped (O(k log len)); no atomics, so the
 * same points and the same bits on every device. */
inline void vox_sum_first(global uint *h, uint len, uint k,
                          global const float *pts, float *s, float *c) {
  for (uint j = len / 2u; j-- > 0u;) vox_sift(h, len, j);
  for (uint t = 0; t < k; t++) {
    uint p = h[0];
    for (int a = 0; a < 4; a++) vox_add(&s[a], &c[a], pts[4 * p + a]);
    h[0] = h[--len];
    vox_sift(h, len, 0u);
  }
}

/* Mean of each voxel's points, or (max_points > 0) of its first
 * max_points by point index (OpenPCDet's MAX_POINTS_PER_VOXEL). With
 * `sorted`, the bucket is first sorted by point index (insertion sort,
 * own bucket only) so that the summation order and thus the bits are the
 * same on every run; the selection sums in index order anyway. */
kernel void clsp_vox_mean(global uint *bucket, global const uint *offset,
                          global const float *pts, uint m, int sorted,
                          uint max_points, global float *feats) {
  uint v = get_global_id(0);
  if (v >= m) return;
  uint b = offset[v], e = offset[v + 1];
  float s[4] = {0.0f, 0.0f, 0.0f, 0.0f}, c[4] = {0.0f, 0.0f, 0.0f, 0.0f};
  uint cnt = e - b;
  if (max_points > 0u && cnt > max_points) {
    vox_sum_first(bucket + b, cnt, max_points, pts, s, c);
    cnt = max_points;
  } else {
    if (sorted) {
      for (uint j = b + 1; j < e; j++) {
        uint x = bucket[j], k = j;
        for (; k > b && bucket[k - 1] > x; k--) bucket[k] = bucket[k - 1];
        bucket[k] = x;
      }
    }
    for (uint j = b; j < e; j++) {
      uint p = bucket[j];
      for (int a = 0; a < 4; a++) vox_add(&s[a], &c[a], pts[4 * p + a]);
    }
  }
  float fc = (float)cnt;
  for (int a = 0; a < 4; a++) feats[4 * v + a] = (s[a] + c[a]) / fc;
}
