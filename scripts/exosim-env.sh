#!/usr/bin/env bash
# Create the ExoSim 2 environment for benchmarks/exosim/generate.py (default: .venv-exosim).
# ExoSim 2.0.1 needs numpy < 2 and astropy < 6, which the pipeline's environment does not have,
# so it lives in its own virtual environment with the exact pins of envs/exosim.requirements.txt.
# Usage: scripts/exosim-env.sh [VENV_DIR]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${1:-$here/.venv-exosim}"
python="${EXOSIM_PYTHON:-}"
if [[ -z "$python" ]]; then
  # numba 0.58 (pinned by ExoSim 2.0.1) supports Python 3.8-3.11.
  for candidate in python3.11 python3.10 python3.9; do
    if command -v "$candidate" >/dev/null 2>&1; then python="$candidate"; break; fi
  done
fi
if [[ -z "$python" ]]; then
  echo "exosim-env: expected python3.9-3.11 on PATH (ExoSim 2.0.1 needs numba 0.58), found none" >&2
  exit 2
fi
"$python" -m venv "$venv"
"$venv/bin/pip" install --quiet -r "$here/envs/exosim.requirements.txt"
"$venv/bin/python" -c "import exosim, numpy; print('exosim', exosim.__version__, 'numpy', numpy.__version__)"
echo "ExoSim environment ready: $venv"
