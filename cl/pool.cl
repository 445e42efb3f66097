/* SPDX-License-Identifier: Apache-2.0 */
/* Sparse pooling over a rulebook's windows and global pooling per batch
 * item (src/pipeline/pool.c). Pairs are grouped by tap, so the host first
 * turns them into two dense tap-major tables: by_out[t][o] = the input of
 * output o at tap t, by_in[t][i] = the output input i feeds at tap t
 * (CLSP_NONE_U32 where none; within a tap each row appears at most once).
 * Every kernel then loops over the taps in order: no atomics, a fixed
 * summation order, bit-identical run to run. Max ties go to the lowest
 * input row. */

/* Range: n_pairs. The tap of pair p is the last t with start[t] <= p. */
kernel void clsp_pool_tables(global const uint *pair_in,
                             global const uint *pair_out,
                             global const uint *start, uint kvol,
                             uint n_pairs, uint n_in, uint n_out,
                             global uint *by_out, global uint *by_in) {
  uint p = get_global_id(0);
  if (p >= n_pairs) return;
  uint lo = 0, hi = kvol;
  while (hi - lo > 1) {
    uint mid = lo + (hi - lo) / 2;
    if (start[mid] <= p) lo = mid;
    else hi = mid;
  }
  uint i = pair_in[p], o = pair_out[p];
  by_out[lo * n_out + o] = i;
  by_in[lo * n_in + i] = o;
}

/* Range: n_out * channels. y = window max, arg = its input row. */
kernel void clsp_pool_max_forward(global const float *x, uint channels,
                                  global const uint *by_out, uint kvol,
                                  uint n_out, global float *y,
                                  global uint *arg) {
  uint e = get_global_id(0);
  if (e >= n_out * channels) return;
  uint o = e / channels, c = e - o * channels;
  float best = 0.0f;
  uint besti = CLSP_NONE_U32;
  for (uint t = 0; t < kvol; t++) {
    uint i = by_out[t * n_out + o];
    if (i == CLSP_NONE_U32) continue;
    float v = x[i * channels + c];
    if (besti == CLSP_NONE_U32 || v > best || (v == best && i < besti)) {
      best = v;
      besti = i;
    }
  }
  y[e] = besti == CLSP_NONE_U32 ? 0.0f : best;
  arg[e] = besti;
}

/* Range: n_out. count[o] = active inputs of window o. */
kernel void clsp_pool_counts(global const uint *by_out, uint kvol, uint n_out,
                             global uint *count) {
  uint o = get_global_id(0);
  if (o >= n_out) return;
  uint n = 0;
  for (uint t = 0; t < kvol; t++) n += by_out[t * n_out + o] != CLSP_NONE_U32;
  count[o] = n;
}

/* Range: n_out * channels. y = mean over the window's active inputs. */
kernel void clsp_pool_avg_forward(global const float *x, uint channels,
                                  global const uint *by_out, uint kvol,
                                  uint n_out, global float *y) {
  uint e = get_global_id(0);
  if (e >= n_out * channels) return;
  uint o = e / channels, c = e - o * channels;
  float s = 0.0f;
  uint n = 0;
  for (uint t = 0; t < kvol; t++) {
    uint i = by_out[t * n_out + o];
    if (i == CLSP_NONE_U32) continue;
    s += x[i * channels + c];
    n++;
  }
  y[e] = n ? s / (float)n : 0.0f;
}

/* Range: n_in * channels. dx[i] = sum of dy[o] over the windows whose
 * arg-max is i (max) or dy[o] / count[o] over every window of i (avg). */
kernel void clsp_pool_backward(global const float *dy, uint channels,
                               global const uint *by_in, uint kvol, uint n_in,
                               global const uint *arg,
                               global const uint *count, int is_max,
                               global float *dx) {
  uint e = get_global_id(0);
  if (e >= n_in * channels) return;
  uint i = e / channels, c = e - i * channels;
  float s = 0.0f;
  for (uint t = 0; t < kvol; t++) {
    uint o = by_in[t * n_in + i];
    if (o == CLSP_NONE_U32) continue;
    uint oc = o * channels + c;
    if (is_max) s += arg[oc] == i ? dy[oc] : 0.0f;
    else s += dy[oc] / (float)count[o];
  }
  dx[e] = s;
}

/* Range: batch * channels. Global max (arg = its row, lowest on ties) or
 * mean over the rows of batch item b; count[b * channels + c] = rows. */
kernel void clsp_gpool_forward(global const float *x, global const int *coords,
                               uint cols, uint n, uint channels, uint batch,
                               int is_max, global float *y, global uint *arg,
                               global uint *count) {
  uint e = get_global_id(0);
  if (e >= batch * channels) return;
  uint b = e / channels, c = e - b * channels;
  float acc = 0.0f;
  uint besti = CLSP_NONE_U32, m = 0;
  for (uint r = 0; r < n; r++) {
    if ((uint)coords[r * cols] != b) continue;
    float v = x[r * channels + c];
    m++;
    if (!is_max) acc += v;
    else if (besti == CLSP_NONE_U32 || v > acc) {
      acc = v;
      besti = r;
    }
  }
  y[e] = m == 0 ? 0.0f : is_max ? acc : acc / (float)m;
  arg[e] = besti;
  count[e] = m;
}

/* Range: n * channels. The gradient of clsp_gpool_forward. */
kernel void clsp_gpool_backward(global const float *dy, global const int *coords,
                                uint cols, uint n, uint channels, int is_max,
                                global const uint *arg,
                                global const uint *count, global float *dx) {
  uint e = get_global_id(0);
  if (e >= n * channels) return;
  uint r = e / channels, c = e - r * channels;
  uint bc = (uint)coords[r * cols] * channels + c;
  if (is_max) dx[e] = arg[bc] == r ? dy[bc] : 0.0f;
  else dx[e] = dy[bc] / (float)count[bc];
}
