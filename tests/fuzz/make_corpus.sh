#!/usr/bin/env bash
# Writes the seed corpus of the libFuzzer targets: small valid files and
# edge cases per format, a few hundred bytes each, into
# tests/fuzz/corpus/<target>/ (or into the folder given as $1). Deterministic;
# the output is checked in, rerun after changing this script.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:-$here/corpus}"
rm -rf "$out/fuzz_npy" "$out/fuzz_pcd" "$out/fuzz_ply" "$out/fuzz_kitti"
mkdir -p "$out/fuzz_npy" "$out/fuzz_pcd" "$out/fuzz_ply" "$out/fuzz_kitti"

# Little-endian float32 constants as printf escapes.
F0='\x00\x00\x00\x00'; F1='\x00\x00\x80\x3f'; F2='\x00\x00\x00\x40'
FM1='\x00\x00\x80\xbf'; FH='\x00\x00\x00\x3f'; FNAN='\x00\x00\xc0\x7f'
FINF='\x00\x00\x80\x7f'; FBIG='\xff\xff\x7f\x7f'
I1='\x01\x00\x00\x00'; I7='\x07\x00\x00\x00'

# --- .npy: magic, version, header length, dict padded with spaces + '\n'
# so that the data starts at a multiple of 64, as numpy writes it.
npy() { # file major dict data-escapes
    local file=$1 major=$2 dict=$3 data=$4 pre hl
    if [ "$major" = 1 ]; then pre=10; else pre=12; fi
    hl=$(( (pre + ${#dict} + 1 + 63) / 64 * 64 - pre ))
    local pad=$(( hl - ${#dict} - 1 ))
    {
        printf '\x93NUMPY'
        printf "\\x$(printf %02x "$major")\\x00"
        printf "\\x$(printf %02x $((hl & 255)))\\x$(printf %02x $((hl >> 8)))"
        if [ "$major" != 1 ]; then printf '\x00\x00'; fi
        printf '%s' "$dict"
        printf "%${pad}s\n" ''
        printf "$data"
    } > "$out/fuzz_npy/$file"
}
npy f32_2x3.npy 1 "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }" \
    "$F0$F1$F2$FM1$FH$FNAN"
npy i32_rank1.npy 1 "{'descr': '<i4', 'fortran_order': False, 'shape': (3,), }" \
    "$I1$I7$I1"
npy v2_f32.npy 2 "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2), }" \
    "$F1$F2"
npy v3_i32.npy 3 "{'descr': '<i4', 'fortran_order': False, 'shape': (1,), }" "$I7"
npy rank5.npy 1 "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 1, 2, 1), }" \
    "$F1$FM1"
npy empty.npy 1 "{'descr': '<f4', 'fortran_order': False, 'shape': (0, 4), }" ""
npy scalar.npy 1 "{'descr': '<f4', 'fortran_order': False, 'shape': (), }" "$F1"
npy fortran.npy 1 "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 1), }" "$F1$F2"
npy big_endian.npy 1 "{'descr': '>f4', 'fortran_order': False, 'shape': (1,), }" \
    '\x3f\x80\x00\x00'
npy lying_shape.npy 1 "{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296), }" \
    "$F1"
npy rank7.npy 1 "{'descr': '<i4', 'fortran_order': False, 'shape': (1, 1, 1, 1, 1, 1, 1), }" "$I1"
printf '\x93NUMPY\x01\x00\xff\xff{' > "$out/fuzz_npy/lying_header_len.npy"
# numpy's defaults: int64 (one value beyond int32) and float64.
npy i64_2x2.npy 1 "{'descr': '<i8', 'fortran_order': False, 'shape': (2, 2), }" \
    "$I1\x00\x00\x00\x00$I7\x00\x00\x00\x00$I1\x01\x00\x00\x00$I7\xff\xff\xff\xff"
npy f64_rank1.npy 1 "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }" \
    '\x00\x00\x00\x00\x00\x00\xf0\x3f\x00\x00\x00\x00\x00\x00\xf0\x7f'

# --- PCD
cat > "$out/fuzz_pcd/ascii_xyzi.pcd" <<'PCD'
# .PCD v0.7 - Point Cloud Data file format
VERSION 0.7
FIELDS x y z intensity
SIZE 4 4 4 4
TYPE F F F F
COUNT 1 1 1 1
WIDTH 3
HEIGHT 1
VIEWPOINT 0 0 0 1 0 0 0
POINTS 3
DATA ascii
1.5 -2 0.25 0.5
nan nan nan 0
3e2 4 -1.73 12
PCD
cat > "$out/fuzz_pcd/ascii_rgb_organized.pcd" <<'PCD'
VERSION .7
FIELDS x y z rgb
SIZE 4 4 4 4
TYPE F F F U
COUNT 1 1 1 1
WIDTH 2
HEIGHT 2
DATA ascii
0 0 0 16711680
1 1 1 65280
# comment between points
2 2 2 255
nan nan nan 0
PCD
cat > "$out/fuzz_pcd/ascii_counts.pcd" <<'PCD'
FIELDS x y z normal
SIZE 8 8 8 4
TYPE F F F F
COUNT 1 1 1 3
POINTS 2
DATA ascii
1 2 3 0 0 1
4 5 6 1 0 0
PCD
{
    printf 'VERSION 0.7\nFIELDS x y z intensity ring\nSIZE 4 4 4 4 2\n'
    printf 'TYPE F F F F U\nCOUNT 1 1 1 1 1\nWIDTH 2\nHEIGHT 1\nPOINTS 2\nDATA binary\n'
    printf "$F1$F2$FM1$FH\x05\x00"
    printf "$FNAN$F0$F0$F0\x06\x00"
} > "$out/fuzz_pcd/binary_xyzi_ring.pcd"
{
    printf 'FIELDS x y z rgba\nSIZE 4 4 4 4\nTYPE F F F F\nWIDTH 1\nHEIGHT 1\nDATA binary\n'
    printf "$F1$F1$F1\x10\x20\x30\x00"
} > "$out/fuzz_pcd/binary_rgba_nocount.pcd"
{
    printf 'FIELDS x y z\nSIZE 4 4 4\nTYPE F F F\nCOUNT 1 1 1\nPOINTS 1000000000\nDATA binary\n'
    printf "$F1$F1$F1"
} > "$out/fuzz_pcd/lying_points.pcd"
printf 'FIELDS x y z\nSIZE 4 4 4\nTYPE F F F\nDATA binary_compressed\n\x00\x00\x00\x00' \
    > "$out/fuzz_pcd/compressed.pcd"

# --- PLY
cat > "$out/fuzz_ply/ascii_faces.ply" <<'PLY'
ply
format ascii 1.0
comment made by make_corpus.sh
element vertex 3
property float x
property float y
property float z
property uchar intensity
element face 1
property list uchar int vertex_indices
end_header
0 0 0 10
1 0 0 20
0 1 0.5 255
3 0 1 2
PLY
cat > "$out/fuzz_ply/ascii_double_scalar.ply" <<'PLY'
ply
format ascii 1.0
element camera 1
property list uchar float k
element vertex 2
property double x
property double y
property double z
property float scalar_intensity
property int extra
end_header
2 0.5 0.25
1e300 0 0 1 7
-1.5 2.5 -3.5 0.75 8
PLY
{
    printf 'ply\nformat binary_little_endian 1.0\nelement meta 2\nproperty list uchar short ids\n'
    printf 'element vertex 2\nproperty float x\nproperty float y\nproperty float z\n'
    printf 'property float intensity\nelement face 1\nproperty list uchar int vertex_indices\nend_header\n'
    printf '\x02\x01\x00\x02\x00\x00'
    printf "$F1$F2$FM1$FH$FINF$F0$F0$F1"
    printf '\x02\x00\x00\x00\x00\x01\x00\x00\x00'
} > "$out/fuzz_ply/binary_lists.ply"
{
    printf 'ply\nformat binary_little_endian 1.0\nelement vertex 1\n'
    printf 'property uint8 x\nproperty int16 y\nproperty uint32 z\nproperty float64 w\nend_header\n'
    printf '\x07\xff\xff\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\xf0\x3f'
} > "$out/fuzz_ply/binary_int_types.ply"
{
    printf 'ply\nformat binary_little_endian 1.0\nelement vertex 4000000000\n'
    printf 'property float x\nproperty float y\nproperty float z\nend_header\n'
    printf "$F1$F1$FBIG"
} > "$out/fuzz_ply/lying_count.ply"
printf 'ply\nformat binary_big_endian 1.0\nelement vertex 0\nend_header\n' \
    > "$out/fuzz_ply/big_endian.ply"

# --- KITTI .bin: float32 x y z intensity records
printf "$F1$F2$FM1$FH$F0$F0$F0$F0$FNAN$F1$F1$F1" > "$out/fuzz_kitti/three_points.bin"
printf "$FINF$F1$F1$F1$FBIG$FBIG$FBIG$FNAN" > "$out/fuzz_kitti/inf_big.bin"
: > "$out/fuzz_kitti/empty.bin"
printf "$F1$F2$FM1$FH\x00" > "$out/fuzz_kitti/ragged.bin"
