"""The failure of a pretraining run that the user can act on (data, disk, settings, divergence)."""

from __future__ import annotations


class PretrainError(ValueError):
    """``c4forge pretrain`` prints it as one line and exits 2 (ValueError is in cli/main.py's
    USER_ERRORS); a bug raises anything else and keeps its traceback. The message says what
    happened, which path, and what to do; whitespace is collapsed so it stays one line even
    when it quotes a library's multi-line error."""

    def __init__(self, message: str):
        super().__init__(" ".join(str(message).split()))
