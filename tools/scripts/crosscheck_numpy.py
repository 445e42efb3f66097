#!/usr/bin/env python3
"""Optional cross-check of `clsp conv` against a dense NumPy convolution.

Builds random sparse inputs, runs `clsp conv` for the four kinds with
PyTorch-layout weights, and compares with a dense float64 evaluation of
Conv3d / ConvTranspose3d written here from the definitions (no torch needed).
Usage: tools/scripts/crosscheck_numpy.py build/tools/clsp   (needs numpy)
"""
import json, os, subprocess, sys, tempfile
import numpy as np

def dense_conv(grid, w, b, s, p, d):
    """PyTorch Conv3d: grid [Cin][D][H][W], w [Cout][Cin][k][k][k]."""
    cin, *shape = grid.shape
    k = w.shape[2:]
    out_shape = [(shape[a] + 2 * p[a] - d[a] * (k[a] - 1) - 1) // s[a] + 1 for a in range(3)]
    pad = np.zeros((cin, *[shape[a] + 2 * p[a] for a in range(3)]))
    pad[:, p[0]:p[0] + shape[0], p[1]:p[1] + shape[1], p[2]:p[2] + shape[2]] = grid
    out = np.zeros((w.shape[0], *out_shape)) + b[:, None, None, None]
    for t in np.ndindex(*k):
        sl = tuple(slice(t[a] * d[a], t[a] * d[a] + s[a] * (out_shape[a] - 1) + 1, s[a]) for a in range(3))
        out += np.einsum('oi,ixyz->oxyz', w[:, :, t[0], t[1], t[2]], pad[(slice(None),) + sl])
    return out

def dense_transposed(grid, w, b, s, p, d, crop_high=True):
    """PyTorch ConvTranspose3d: w [Cin][Cout][k][k][k]. With crop_high False
    the far side is not cropped: an inverse conv restores every input site of
    its regular conv, also those past ConvTranspose's (floored) extent."""
    cin, *shape = grid.shape
    k = w.shape[2:]
    full = [(shape[a] - 1) * s[a] + d[a] * (k[a] - 1) + 1 for a in range(3)]
    out = np.zeros((w.shape[1], *full))
    for t in np.ndindex(*k):
        sl = tuple(slice(t[a] * d[a], t[a] * d[a] + s[a] * (shape[a] - 1) + 1, s[a]) for a in range(3))
        out[(slice(None),) + sl] += np.einsum('io,ixyz->oxyz', w[:, :, t[0], t[1], t[2]], grid)
    hi = [full[a] - p[a] if crop_high else full[a] for a in range(3)]
    out = out[:, p[0]:hi[0], p[1]:hi[1], p[2]:hi[2]]
    return out + b[:, None, None, None]

def to_grid(coords, feats, shape):
    g = np.zeros((feats.shape[1], *shape))
    g[:, coords[:, 1], coords[:, 2], coords[:, 3]] = feats.T
    return g

def run(clsp, tmp, kind, coords, feats, w, b, shape, k, s, p, d, extra=()):
    np.save(f'{tmp}/c.npy', coords); np.save(f'{tmp}/f.npy', feats)
    np.save(f'{tmp}/w.npy', w); np.save(f'{tmp}/b.npy', b)
    lst = lambda v: ','.join(map(str, v))
    cmd = [clsp, 'conv', '--type', kind, '--coords', f'{tmp}/c.npy', '--feats', f'{tmp}/f.npy',
           '--weights', f'{tmp}/w.npy', '--weight-layout', 'torch', '--bias', f'{tmp}/b.npy',
           '--shape', lst(shape), '--batch', '1', '--kernel', lst(k), '--stride', lst(s),
           '--padding', lst(p), '--dilation', lst(d), '--out-coords', f'{tmp}/oc.npy',
           '--out-feats', f'{tmp}/of.npy', *extra]
    subprocess.run(cmd, check=True, stderr=subprocess.DEVNULL)
    return np.load(f'{tmp}/oc.npy'), np.load(f'{tmp}/of.npy')

def check(name, oc, of, dense):
    ref = dense[:, oc[:, 1], oc[:, 2], oc[:, 3]].T
    err = np.linalg.norm(of - ref) / np.linalg.norm(ref)
    print(f'{name:12s} out sites {len(oc):5d}  rel err {err:.2e}')
    return err < 1e-5

def main():
    clsp = sys.argv[1] if len(sys.argv) > 1 else 'build/tools/clsp'
    rng = np.random.default_rng(7)
    shape, n, cin, cout = (11, 12, 13), 300, 5, 6
    idx = rng.choice(np.prod(shape), n, replace=False)
    coords = np.stack([np.zeros(n, int), *np.unravel_index(idx, shape)], 1).astype(np.int32)
    feats = rng.standard_normal((n, cin)).astype(np.float32)
    b = rng.standard_normal(cout).astype(np.float32)
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        g = to_grid(coords, feats, shape)
        for k, s, p, d in [((3, 3, 3), (1, 1, 1), (1, 1, 1), (1, 1, 1)),
                           ((3, 3, 3), (2, 2, 2), (1, 1, 1), (1, 1, 1)),
                           ((2, 3, 1), (2, 1, 1), (0, 1, 0), (1, 2, 1))]:
            w = rng.standard_normal((cout, cin, *k)).astype(np.float32)
            kind = 'subm' if s == (1, 1, 1) else 'conv'
            oc, of = run(clsp, tmp, kind, coords, feats, w, b, shape, k, s, p, d)
            ok &= check(f'{kind} k{k}', oc, of, dense_conv(g, w, b, s, p, d))
            if kind == 'conv':
                wt = rng.standard_normal((cin, cout, *k)).astype(np.float32)
                oc2, of2 = run(clsp, tmp, 'transposed', coords, feats, wt, b, shape, k, s, p, d)
                ok &= check('transposed', oc2, of2, dense_transposed(g, wt, b, s, p, d))
                # inverse: back from the conv's output sites onto `coords`
                f2 = rng.standard_normal((len(oc), cin)).astype(np.float32)
                np.save(f'{tmp}/t.npy', coords)
                out_shape = [(shape[a] + 2 * p[a] - d[a] * (k[a] - 1) - 1) // s[a] + 1 for a in range(3)]
                oc3, of3 = run(clsp, tmp, 'inverse', oc, f2, wt, b, out_shape, k, s, p, d,
                               ('--target-coords', f'{tmp}/t.npy', '--target-shape', ','.join(map(str, shape))))
                assert (oc3 == coords).all(), 'inverse must return the target sites in order'
                dense_inv = dense_transposed(to_grid(oc, f2, out_shape), wt, 0 * b, s, p, d, crop_high=False)
                pad = [shape[a] - dense_inv.shape[a + 1] for a in range(3)]
                dense_inv = np.pad(dense_inv, [(0, 0)] + [(0, max(0, q)) for q in pad])
                # sites no tap reaches still get the bias
                dense_inv = dense_inv[:, :shape[0], :shape[1], :shape[2]] + b[:, None, None, None]
                ok &= check('inverse', oc3, of3, dense_inv)
    print('crosscheck:', 'ok' if ok else 'FAILED')
    return 0 if ok else 1

if __name__ == '__main__':
    sys.exit(main())
