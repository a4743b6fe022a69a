#!/usr/bin/env bash
# The last transformers 4.x release, for tests/pretrain/test_checkpoint_compat.py: a c4forge checkpoint
# must load, and give the same loss, in it as in the pinned transformers 5. Installed beside the venv
# (pip --target), never into it; the test puts the folder first on PYTHONPATH in a subprocess, so
# torch, numpy, safetensors and the rest come from .venv. Only the packages whose versions 4.x needs
# differ from the lock's are here (transformers 4.57 wants tokenizers <= 0.23.0, huggingface-hub < 1).
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET=.venv-extra/transformers4
rm -rf "$TARGET"
mkdir -p "$(dirname "$TARGET")"
.venv/bin/python -m pip install --quiet --no-deps --target "$TARGET" \
  'transformers==4.57.6' 'tokenizers==0.22.2' 'huggingface-hub==0.36.2'
echo "transformers 4 in $TARGET"
