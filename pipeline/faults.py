"""Named moments of a build where the fault-injection tests (tests/pipeline/test_faults.py) stop
it: with ``C4FORGE_FAULT_POINT=<name>`` in the environment, the process says so on stderr and
waits there to be killed; with ``C4FORGE_FAULT_POINT=enospc:<name>`` it raises "no space left on
device" there instead. Unset (always, outside those tests), ``fault_point`` only reads the
environment."""

from __future__ import annotations

import errno
import os
import sys
import time

FAULT_POINT_ENV = "C4FORGE_FAULT_POINT"


def fault_point(name: str) -> None:
    """A moment the fault-injection tests can stop a build at."""
    wanted = os.environ.get(FAULT_POINT_ENV)
    if wanted == name:
        print(f"c4forge: fault point {name} reached", file=sys.stderr, flush=True)
        time.sleep(3600)
    elif wanted == f"enospc:{name}":
        raise OSError(errno.ENOSPC, f"No space left on device (injected at {name})")
