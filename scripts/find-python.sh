#!/usr/bin/env sh
# Print a Python >= 3.12 interpreter: $PYTHON, python3.12 on PATH, or a pyenv 3.12.x.
for candidate in "${PYTHON:-}" python3.12 python3.13 python3; do
  [ -n "$candidate" ] || continue
  if "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 12))' >/dev/null 2>&1; then
    command -v "$candidate" 2>/dev/null || echo "$candidate"; exit 0
  fi
done
for dir in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.12*/bin; do
  [ -x "$dir/python3.12" ] && { echo "$dir/python3.12"; exit 0; }
done
echo "error: no Python >= 3.12 found; install python3.12 or set PYTHON=/path/to/python3.12" >&2
exit 1
