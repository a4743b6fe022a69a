"""Errors shown to the user as one line (``c4forge: error: ...``, exit code 2), without a traceback.

Kept apart from build.py so that modules the CLI parser needs (fetch.py) import no Beam.
"""


class BuildError(RuntimeError):
    """A mistake in the request (no input, existing output, missing credentials): shown without a traceback."""
