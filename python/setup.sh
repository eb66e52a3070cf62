#!/usr/bin/env bash
# Creates the project's Python environment (.venv at the repository root, or $FLOWEDIT_VENV) with
# python/requirements.txt, installed from the local package index that pip's configuration names
# (`pip config list`: file:// index URLs and find-links folders). Public indexes are not asked.
# It checks that every requirement resolves before it installs anything.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${FLOWEDIT_VENV:-.venv}
fail() { echo "python/setup.sh: $*" >&2; exit 1; }

python=
for candidate in python3.11 python3 /usr/bin/python3; do
  if command -v "$candidate" >/dev/null && [ "$("$candidate" -c 'import sys; print(sys.version_info[:2] == (3, 11))' 2>/dev/null)" = True ]; then
    python=$candidate; break
  fi
done
[ -n "$python" ] || fail "needs Python 3.11 (the local index holds wheels for 3.11 only); install python3 3.11"

# The local index: every file:// index URL and every find-links folder of pip's configuration.
config=$("$python" -m pip config list 2>/dev/null || true)
urls=$(printf '%s\n' "$config" | sed -n "s/^[^=]*index-url='\(.*\)'$/\1/p" | tr ' ' '\n' | grep '^file://' || true)
links=$(printf '%s\n' "$config" | sed -n "s/^[^=]*find-links='\(.*\)'$/\1/p" | tr ' ' '\n' | grep -v '^$' || true)
args=()
first=1
for u in $urls; do
  [ -d "${u#file://}" ] || continue
  if [ $first = 1 ]; then args+=(--index-url "$u"); first=0; else args+=(--extra-index-url "$u"); fi
done
for l in $links; do [ -d "$l" ] && args+=(--find-links "$l"); done
[ $first = 0 ] || fail "no local package index found (pip config list names no file:// index folder that exists); this machine kind is expected to have one: nothing was installed"

if [ ! -x "$venv/bin/python" ]; then
  "$python" -m venv "$venv" 2>/dev/null || fail "$python -m venv failed: install python3-venv (apt-get install python3-venv) and run again"
fi
pip=("$venv/bin/python" -m pip --disable-pip-version-check)
# Resolve everything first, so a missing package fails before anything is installed.
if ! out=$("${pip[@]}" install --dry-run -q "${args[@]}" -r python/requirements.txt 2>&1); then
  fail "the local package index cannot provide python/requirements.txt: $(printf '%s\n' "$out" | grep -m1 -E 'ERROR|error' || printf '%s' "$out" | tail -n1)"
fi
if ! out=$("${pip[@]}" install -q "${args[@]}" -r python/requirements.txt 2>&1); then
  fail "installing python/requirements.txt into $venv failed: $(printf '%s\n' "$out" | grep -m1 -E 'ERROR|error' || printf '%s' "$out" | tail -n1)"
fi
"$venv/bin/python" -c 'import torch, onnx, onnxruntime, transformers, sentencepiece, safetensors, ftfy' \
  || fail "$venv was installed but does not import its packages; remove $venv and run python/setup.sh again"
echo "python/setup.sh: $venv ready ($("$venv/bin/python" -c 'import torch; print("torch", torch.__version__)'))"
