"""Subprocesses with the network off, without privileges: a ``sitecustomize.py`` first on
PYTHONPATH, which Python imports at start-up, makes name lookups and internet connections raise."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Sequence

NETWORK_OFF_MESSAGE = "network disabled by the test (tests/helpers/offline.py)"

SITECUSTOMIZE = f'''\
import errno
import socket

_INTERNET = (socket.AF_INET, socket.AF_INET6)  # AF_UNIX stays: local IPC is no network


def _refuse(*args, **kwargs):
    raise OSError(errno.ENETUNREACH, {NETWORK_OFF_MESSAGE!r})


def _guarded(method):
    def guarded(self, *args, **kwargs):
        if self.family in _INTERNET:
            _refuse()
        return method(self, *args, **kwargs)
    return guarded


socket.getaddrinfo = _refuse
socket.socket.connect = _guarded(socket.socket.connect)
socket.socket.connect_ex = _guarded(socket.socket.connect_ex)
'''


def offline_env(directory: Path) -> dict[str, str]:
    """The environment for an offline subprocess; writes its sitecustomize.py into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "sitecustomize.py").write_text(SITECUSTOMIZE)
    env = {key: value for key, value in os.environ.items() if key != "C4FORGE_BADWORDS_DIR"}  # the packaged lists
    env["PYTHONPATH"] = os.pathsep.join([str(directory), *filter(None, [os.environ.get("PYTHONPATH")])])
    return env


def run_offline(argv: Sequence[str], directory: Path, timeout: float, **kwargs) -> subprocess.CompletedProcess:
    """``python argv...`` with the network off (``directory`` holds the sitecustomize.py)."""
    return subprocess.run([sys.executable, *argv], env=offline_env(directory), capture_output=True, text=True,
                          timeout=timeout, **kwargs)
