"""c4forge.cli: the ``c4forge`` command, the top layer; it imports the others, nothing imports it."""

from .main import main  # noqa: E402  (c4forge.cli.main(argv) -> exit code)

__all__ = ["main"]
