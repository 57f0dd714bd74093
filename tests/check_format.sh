#!/usr/bin/env bash
# Fails (exit 1) when a C++ file of the repository differs from what
# clang-format makes of it with the repository's .clang-format, and lists
# those files. `bash tests/check_format.sh --fix` rewrites them in place.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CLANG_FORMAT="${CLANG_FORMAT:-clang-format-14}"
cd "$REPO"
mapfile -t files < <(git ls-files '*.cc' '*.h')
if [[ "${1:-}" == --fix ]]; then
  "$CLANG_FORMAT" -i "${files[@]}"
  exit 0
fi
bad=()
for f in "${files[@]}"; do
  "$CLANG_FORMAT" --dry-run --Werror "$f" >/dev/null 2>&1 || bad+=("$f")
done
if ((${#bad[@]} > 0)); then
  echo "format: ${#bad[@]} of ${#files[@]} files differ from $CLANG_FORMAT's output:" >&2
  printf '  %s\n' "${bad[@]}" >&2
  echo "format: run 'bash tests/check_format.sh --fix' and commit" >&2
  exit 1
fi
echo "format: ${#files[@]} C++ files follow .clang-format"
