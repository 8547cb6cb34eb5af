#!/usr/bin/env bash
# SpectraMind @VERSION@: predict-only run from this bundle, offline (docs/kaggle.md).
#
#   run.sh [INPUT_DIR] [WORKING_DIR]
#
# INPUT_DIR (default /kaggle/input/ariel-data-challenge-2025) is read, never written; the
# workflow runs in WORKING_DIR/spectramind (default WORKING_DIR /kaggle/working) and the result
# is copied to WORKING_DIR/submission.csv. Steps: check every file of the bundle against
# BUNDLE.json; install the wheelhouse into a fresh venv with no index (pip install --no-index
# --find-links wheels); run the workflow with the checkpoint in model/ and the training run's
# config snapshot. Environment: SPECTRAMIND_VENV (default /tmp/spectramind-venv, kept out of
# the notebook's output), SPECTRAMIND_CORES (default: all CPUs), SPECTRAMIND_PYTHON (python3).
set -euo pipefail
bundle="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
input="$(realpath -m -- "${1:-/kaggle/input/ariel-data-challenge-2025}")"
working="$(realpath -m -- "${2:-/kaggle/working}")"
venv="${SPECTRAMIND_VENV:-/tmp/spectramind-venv}"
python="${SPECTRAMIND_PYTHON:-python3}"
cores="${SPECTRAMIND_CORES:-$(nproc)}"
step() { printf '[spectramind] %s (%s)\n' "$1" "$(date -u +%H:%M:%S)"; }

step "checking the bundle $bundle against BUNDLE.json"
"$python" - "$bundle" <<'PY'
import hashlib, json, sys
from pathlib import Path

root = Path(sys.argv[1])
info = json.loads((root / "BUNDLE.json").read_text())
want = info["python"]
have = "%d.%d" % sys.version_info[:2]
if have != want:
    sys.exit(f"error: the wheelhouse is for Python {want}, this python is {have} (SPECTRAMIND_PYTHON)")
for entry in info["files"]:
    path = root / entry["path"]
    digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None
    if digest != entry["sha256"]:
        sys.exit(f"error: {path}: expected sha256 {entry['sha256']}, found {digest}")
print(f"[spectramind] {len(info['files'])} files match; commit {info['git_commit']}"
      f"{' (dirty)' if info['git_dirty'] else ''}, checkpoint {info['checkpoint_sha256'][:12]}")
PY

step "installing spectramind @VERSION@ offline into $venv"
# Only the bundle's wheels: no pip configuration or PIP_* setting of this machine applies.
for name in $(compgen -e); do
    case "$name" in PIP_*) unset "$name" ;; esac
done
export PIP_CONFIG_FILE=/dev/null
rm -rf -- "$venv"
"$python" -m venv -- "$venv"
"$venv/bin/python" -m pip install -q --no-index --no-cache-dir --disable-pip-version-check \
    --find-links "$bundle/wheels" "spectramind==@VERSION@"

step "predict-only workflow: $input -> $working/submission.csv ($cores cores)"
mkdir -p -- "$working/spectramind"
cd -- "$working/spectramind"
export SPECTRAMIND_BUNDLE="$bundle/BUNDLE.json"
export PATH="$venv/bin:$PATH"
"$venv/bin/spectramind" workflow run --cores "$cores" \
    --configfile "$bundle/model/config-snapshot.yaml" \
    --config "data_dir=$input" "model=$bundle/model/model.pt"
cp -- artifacts/submission/submission.csv "$working/submission.csv.tmp"
mv -- "$working/submission.csv.tmp" "$working/submission.csv"
step "wrote $working/submission.csv; provenance in $working/spectramind/artifacts/runs"
