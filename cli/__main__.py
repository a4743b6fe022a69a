"""``python -m c4forge.cli ...``: the ``c4forge`` command (torchrun's entry point for pretrain)."""

import sys

from .main import main

if __name__ == "__main__":
    sys.exit(main())
