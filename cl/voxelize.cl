/* SPDX-License-Identifier: Apache-2.0 */
/* Point-to-voxel: quantise -> 32-bit key -> open-addressing hash (first
 * point per voxel by atomic_min) -> prefix sum over head points (order of
 * first occurrence, independent of scheduling) -> per-voxel buckets ->
 * compensated mean. Only 32-bit atomics, so it runs on every device. */

/* CLSP_VOX_BOUNDS_CHUNK (a -D define from the context's tuning record):
 * points per work-item in the round-mode bounds pass; keeps the number of
 * contended atomics on the six bounds at N / chunk. */

/* Range mode: v = floor((p - min) / size) in float32, kept iff
 * 0 <= v < grid. Key packs (z, y, x), x fastest. */
kernel void clsp_vox_keys_range(global const float *pts, uint n,
                                float sx, float sy, float sz,
                                float mx, float my, float mz,
                                int gx, int gy, int gz, global uint *keys) {
  uint i = get_global_id(0);
  if (i >= n) return;
  float fx = floor((pts[4 * i + 0] - mx) / sx);
  float fy = floor((pts[4 * i + 1] - my) / sy);
  float fz = floor((pts[4 * i + 2] - mz) / sz);
  /* The comparisons are false for NaN: such points are dropped. */
  int ok = fx >= 0.0f && fx < (float)gx && fy >= 0.0f && fy < (float)gy &&
           fz >= 0.0f && fz < (float)gz;
  keys[i] = ok ? ((uint)fz * (uint)gy + (uint)fy) * (uint)gx + (uint)fx : CLSP_NONE_U32;
}

/* rint(p / size) as int, or a flag when it cannot be represented with
 * room for the shift (|r| >= 2^30, NaN, inf). */
inline int vox_round(float p, float s, int *bad) {
  float r = rint(p / s);
  if (!(fabs(r) < 1073741824.0f)) {
    *bad = 1;
    return 0;
  }
  return (int)r;
}

/* Round mode, pass 1: per-axis minimum and maximum of rint(p / size) and
 * the number of unrepresentable points. bounds: lo x,y,z, hi x,y,z, bad
 * (host fills INT_MAX / INT_MIN / 0 first). */
kernel void clsp_vox_round_bounds(global const float *pts, uint n,
                                  float sx, float sy, float sz,
                                  global int *bounds) {
  uint first = get_global_id(0) * (uint)CLSP_VOX_BOUNDS_CHUNK;
  if (first >= n) return;
  uint last = min(n, first + (uint)CLSP_VOX_BOUNDS_CHUNK);
  int lo[3] = {INT_MAX, INT_MAX, INT_MAX}, hi[3] = {INT_MIN, INT_MIN, INT_MIN};
  int bad = 0;
  for (uint i = first; i < last; i++) {
    int v[3];
    v[0] = vox_round(pts[4 * i + 0], sx, &bad);
    v[1] = vox_round(pts[4 * i + 1], sy, &bad);
    v[2] = vox_round(pts[4 * i + 2], sz, &bad);
    for (int a = 0; a < 3; a++) {
      lo[a] = min(lo[a], v[a]);
      hi[a] = max(hi[a], v[a]);
    }
  }
  for (int a = 0; a < 3; a++) {
    atomic_min(&bounds[a], lo[a]);
    atomic_max(&bounds[3 + a], hi[a]);
  }
  if (bad) atomic_inc(&bounds[6]);
}

/* Round mode, pass 2: key packs (x - lo, y - lo, z - lo), z fastest. */
kernel void clsp_vox_keys_round(global const float *pts, uint n,
                                float sx, float sy, float sz,
                                int lx, int ly, int lz, uint ny, uint nz,
                                global uint *keys) {
  uint i = get_global_id(0);
  if (i >= n) return;
  int bad = 0;
  uint x = (uint)(vox_round(pts[4 * i + 0], sx, &bad) - lx);
  uint y = (uint)(vox_round(pts[4 * i + 1], sy, &bad) - ly);
  uint z = (uint)(vox_round(pts[4 * i + 2], sz, &bad) - lz);
  keys[i] = (x * ny + y) * nz + z;
}

inline uint vox_hash(uint key) {
  uint h = key * 0x9E3779B1u;
  return h ^ (h >> 15);
}

/* Inserts every kept point's key (linear probing, 32-bit CAS); the slot's
 * `first` becomes the smallest point index of the voxel whatever the
 * scheduling. slot_of[i] = the point's slot, or CLSP_NONE_U32. */
kernel void clsp_vox_hash_insert(global const uint *keys, uint n,
                                 global uint *table_keys,
                                 global uint *table_first, uint mask,
                                 global uint *slot_of) {
  uint i = get_global_id(0);
  if (i >= n) return;
  uint key = keys[i];
  uint found = CLSP_NONE_U32;
  if (key != CLSP_NONE_U32) {
    uint slot = vox_hash(key) & mask;
    /* The table holds at least twice as many slots as points: an empty
     * slot is always reached within mask + 1 probes. */
    for (uint probe = 0; probe <= mask; probe++) {
      uint prev = atomic_cmpxchg(&table_keys[slot], CLSP_NONE_U32, key);
      if (prev == CLSP_NONE_U32 || prev == key) {
        atomic_min(&table_first[slot], i);
        found = slot;
        break;
      }
      slot = (slot + 1) & mask;
    }
  }
  slot_of[i] = found;
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

/* For each head point: its voxel's row = rank; writes the site's
 * coordinates decoded from the key (a0 slowest, a2 fastest). */
kernel void clsp_vox_emit(global const uint *keys, global const uint *slot_of,
                          global const uint *head, global const uint *rank,
                          uint n, uint d1, uint d2, int batch,
                          global uint *slot_voxel, global int *coords) {
  uint i = get_global_id(0);
  if (i >= n || !head[i]) return;
  uint r = rank[i], key = keys[i];
  slot_voxel[slot_of[i]] = r;
  coords[4 * r + 0] = batch;
  /* Remainders as a - q * d, not '%': see clsp_ew_concat (Oclgrind). */
  uint q = key / d2, a0 = q / d1;
  coords[4 * r + 1] = (int)a0;
  coords[4 * r + 2] = (int)(q - a0 * d1);
  coords[4 * r + 3] = (int)(key - q * d2);
}

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

/* Mean of each voxel's points. With `sorted`, the bucket is first sorted
 * by point index (insertion sort, own bucket only) so that the summation
 * order and thus the bits are the same on every run. */
kernel void clsp_vox_mean(global uint *bucket, global const uint *offset,
                          global const float *pts, uint m, int sorted,
                          global float *feats) {
  uint v = get_global_id(0);
  if (v >= m) return;
  uint b = offset[v], e = offset[v + 1];
  if (sorted) {
    for (uint j = b + 1; j < e; j++) {
      uint x = bucket[j], k = j;
      for (; k > b && bucket[k - 1] > x; k--) bucket[k] = bucket[k - 1];
      bucket[k] = x;
    }
  }
  float s[4] = {0.0f, 0.0f, 0.0f, 0.0f}, c[4] = {0.0f, 0.0f, 0.0f, 0.0f};
  for (uint j = b; j < e; j++) {
    uint p = bucket[j];
    for (int a = 0; a < 4; a++) vox_add(&s[a], &c[a], pts[4 * p + a]);
  }
  float cnt = (float)(e - b);
  for (int a = 0; a < 4; a++) feats[4 * v + a] = (s[a] + c[a]) / cnt;
}
