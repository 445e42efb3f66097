#!/usr/bin/env bash
# Every tracked C file follows .clang-format (the extra suite's `format`
# test). Usage: tests/check_format.sh CLANG_FORMAT SOURCE_ROOT
set -euo pipefail
clang_format=$1
cd "$2"
git ls-files -z '*.c' '*.h' | xargs -0 "$clang_format" --dry-run -Werror
echo "format: every C file follows .clang-format"
