"""``python -m c4forge.pretrain ...``: the same flags as ``c4forge pretrain``; torchrun's entry point."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
