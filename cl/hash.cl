/* SPDX-License-Identifier: Apache-2.0 */
/* Device hash of packed coordinate keys: open addressing, power-of-two
 * capacity >= 2 x keys, linear probing.
 *
 * The key is the packed coordinate itself (batch slowest, then the axes,
 * each in the bit width its extent needs), so two different sites never
 * alias. Each slot maps a key to the SMALLEST row that carries it
 * (atomic_min), which makes every result independent of which work-item
 * won a race: duplicates are reported by row, candidate outputs are
 * de-duplicated by their first candidate.
 *
 * Two insert paths, chosen by the host through CLSP_HASH64:
 *  - CLSP_HASH64=1: slot_keys holds the 64-bit key, claimed with 64-bit
 *    atom_cmpxchg (cl_khr_int64_base_atomics); slot_vals the min row.
 *  - CLSP_HASH64=0: only slot_vals exists; a slot is claimed by a 32-bit
 *    atomic_cmpxchg of the row into an empty slot and compared through the
 *    row key array `keys`, which is complete before the launch. Nothing
 *    ever waits for another work-item (PoCL runs a group's items in turn).
 * Inserts and lookups always run in separate launches.
 *
 * Linear probing: with load <= 1/2 the expected probe length of a hit is
 * about 1.5 slots, the probes touch consecutive memory (one cache line on
 * CPUs, one transaction on GPUs), and deletion is never needed. */

#define CLSP_KEY_EMPTY 0xFFFFFFFFFFFFFFFFul

/* A 64-bit finaliser (murmur3 fmix64): spreads packed keys whose low bits
 * are the fastest axis over the whole table. */
inline uint clsp_hash_slot(ulong k, uint mask) {
  k ^= k >> 33;
  k *= 0xff51afd7ed558ccdul;
  k ^= k >> 33;
  k *= 0xc4ceb9fe1a85ec53ul;
  k ^= k >> 33;
  return (uint)k & mask;
}

/* Packs (batch, c[0..ndim)) with bits[a] bits per axis; the host checked
 * that the total fits 63 bits. */
inline ulong clsp_pack(int batch, const int *c, int ndim, uint4 bits) {
  uint b[4] = {bits.s0, bits.s1, bits.s2, bits.s3};
  ulong key = (ulong)batch;
  for (int a = 0; a < ndim; a++) key = (key << b[a]) | (ulong)c[a];
  return key;
}

inline void clsp_unpack(ulong key, int ndim, uint4 bits, int *batch, int *c) {
  uint b[4] = {bits.s0, bits.s1, bits.s2, bits.s3};
  for (int a = ndim - 1; a >= 0; a--) {
    c[a] = (int)(key & ((1ul << b[a]) - 1ul));
    key >>= b[a];
  }
  *batch = (int)key;
}

/* The min row stored for `key`, or CLSP_NONE_U32. One exit, bounded by the
 * capacity (a table is never full: load <= 1/2). */
inline uint clsp_hash_find(global const ulong *slot_keys,
                           global const uint *slot_vals,
                           global const ulong *keys, uint mask, ulong key) {
  uint h = clsp_hash_slot(key, mask), found = CLSP_NONE_U32;
  for (uint probe = 0; probe <= mask; probe++) {
#if CLSP_HASH64
    ulong k = slot_keys[h];
    if (k == CLSP_KEY_EMPTY) break;
    if (k == key) {
      found = slot_vals[h];
      break;
    }
#else
    uint v = slot_vals[h];
    if (v == CLSP_NONE_U32) break;
    if (keys[v] == key) {
      found = v;
      break;
    }
#endif
    h = (h + 1) & mask;
  }
  return found;
}

/* Row keys from coordinate rows, with range validation: a row outside the
 * shape or batch gets CLSP_KEY_EMPTY and the smallest such row goes to
 * *bad (atomic_min, so the report does not depend on scheduling). */
kernel void clsp_keys_from_coords(global const int *coords, uint n, int ndim,
                                  int4 shape, int batch_size, uint4 bits,
                                  global ulong *keys, global uint *bad) {
  uint i = get_global_id(0);
  if (i >= n) return;
  int sh[4] = {shape.s0, shape.s1, shape.s2, shape.s3};
  global const int *row = coords + (size_t)i * (size_t)(1 + ndim);
  int c[4] = {0, 0, 0, 0};
  int b = row[0];
  int ok = b >= 0 && b < batch_size;
  for (int a = 0; a < ndim; a++) {
    c[a] = row[1 + a];
    ok = ok && c[a] >= 0 && c[a] < sh[a];
  }
  if (!ok) {
    atomic_min(bad, i);
    keys[i] = CLSP_KEY_EMPTY;
    return;
  }
  keys[i] = clsp_pack(b, c, ndim, bits);
}

/* Inserts row i with key keys[i] (CLSP_KEY_EMPTY rows are skipped).
 * Lock-free: one CAS claims a slot; equal keys then keep the min row.
 * A key not placed within max_probes slots sets *overflow (a table sized
 * for a guessed key count: the host then rebuilds it for the bound; with
 * max_probes = capacity and load <= 1/2 it never happens and overflow is
 * never written). */
kernel void clsp_hash_insert(global ulong *slot_keys, global uint *slot_vals,
                             uint mask, global const ulong *keys, uint n,
                             uint max_probes, global uint *overflow) {
  uint i = get_global_id(0);
  if (i >= n) return;
  ulong key = keys[i];
  if (key == CLSP_KEY_EMPTY) return;
  uint h = clsp_hash_slot(key, mask);
  int placed = 0;
  /* Single exit, bounded (llvmpipe miscompiled early returns from
   * divergent loops in inlined helpers). */
  for (uint probe = 0; probe < max_probes; probe++) {
#if CLSP_HASH64
    ulong old = atom_cmpxchg((volatile global ulong *)&slot_keys[h],
                             CLSP_KEY_EMPTY, key);
    if (old == CLSP_KEY_EMPTY || old == key) {
      atomic_min(&slot_vals[h], i);
      placed = 1;
      break;
    }
#else
    uint old = atomic_cmpxchg(&slot_vals[h], CLSP_NONE_U32, i);
    if (old == CLSP_NONE_U32) {
      placed = 1;
      break;
    }
    if (keys[old] == key) {
      atomic_min(&slot_vals[h], i);
      placed = 1;
      break;
    }
#endif
    h = (h + 1) & mask;
  }
  if (!placed) *overflow = 1u;
}

/* sel[i] = i when row i is the first (smallest) row of its key, else
 * CLSP_NONE_U32; the smallest row repeating an earlier row's key goes to
 * *dup. Skipped rows (CLSP_KEY_EMPTY) are not selected. */
kernel void clsp_hash_firsts(global const ulong *slot_keys,
                             global const uint *slot_vals, uint mask,
                             global const ulong *keys, uint n,
                             global uint *sel, global uint *dup) {
  uint i = get_global_id(0);
  if (i >= n) return;
  ulong key = keys[i];
  uint first = key == CLSP_KEY_EMPTY
                   ? CLSP_NONE_U32
                   : clsp_hash_find(slot_keys, slot_vals, keys, mask, key);
  if (first != CLSP_NONE_U32 && first != i) atomic_min(dup, i);
  sel[i] = (first == i) ? i : CLSP_NONE_U32;
}

/* The same selection as clsp_hash_firsts without lookups, when
 * duplicates need no report: every occupied slot holds the smallest row of
 * its key, so sel[slot_vals[h]] = slot_vals[h] over the table (sel filled
 * with CLSP_NONE_U32 before). One pass over the table in order instead of
 * a random probe per row. */
kernel void clsp_hash_firsts_by_slot(global const uint *slot_vals, uint capacity,
                                     global uint *sel) {
  uint h = get_global_id(0);
  if (h >= capacity) return;
  uint v = slot_vals[h];
  if (v != CLSP_NONE_U32) sel[v] = v;
}

/* Debug statistics: probe length (slots read) of a successful lookup of
 * every key; stats[0] += length, stats[1] = max(length). */
kernel void clsp_hash_probe_stats(global const ulong *slot_keys,
                                  global const uint *slot_vals, uint mask,
                                  global const ulong *keys, uint n,
                                  global uint *stats) {
  uint i = get_global_id(0);
  if (i >= n) return;
  ulong key = keys[i];
  if (key == CLSP_KEY_EMPTY) return;
  uint h = clsp_hash_slot(key, mask), len = 1;
  for (;;) {
#if CLSP_HASH64
    ulong k = slot_keys[h];
    if (k == key || k == CLSP_KEY_EMPTY) break;
#else
    uint v = slot_vals[h];
    if (v == CLSP_NONE_U32 || keys[v] == key) break;
#endif
    h = (h + 1) & mask;
    len++;
  }
  atomic_add(&stats[0], len);
  atomic_max(&stats[1], len);
}
