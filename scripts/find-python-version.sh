#!/usr/bin/env sh
# Print a Python interpreter of exactly version $1 (e.g. 3.10): pythonX.Y on PATH, or a pyenv X.Y.z.
# Exit 1 (and say so on stderr) when there is none.
want=${1:?usage: find-python-version.sh X.Y}
is_version() { "$1" -c "import sys; sys.exit(sys.version_info[:2] != tuple(map(int, '$want'.split('.'))))" >/dev/null 2>&1; }
if command -v "python$want" >/dev/null 2>&1 && is_version "python$want"; then
  command -v "python$want"; exit 0
fi
for dir in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/"$want".*/bin; do
  [ -x "$dir/python$want" ] && is_version "$dir/python$want" && { echo "$dir/python$want"; exit 0; }
done
echo "no Python $want found (python$want on PATH or a pyenv $want.x)" >&2
exit 1
