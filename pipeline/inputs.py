"""What ``--input`` names → the files a build reads.

- A path without glob characters is read as given, whatever its name: the user named it.
- A directory (local; or a gs://, s3:// prefix ending in ``/``, or one that is no object itself)
  stands for the input files under it, recursively, chosen by name (``INPUT_SUFFIXES``): Common
  Crawl's ``*.warc.wet.gz`` (WET) and ``*.warc.gz`` (WARC), and the same uncompressed, which the
  readers read as well. The log says how many it found; a directory with none is an error.
- A glob keeps the files it matches that are named like inputs of the format. The others are
  named in a warning and counted there, never read (a README.txt is not a WET file).
- A local FIFO, socket or device is never opened: it is passed on, and the reader counts it as
  ``skipped-file:not_regular_file`` (``readers/skipped_files.py``), so the run's summary shows it.
  Inputs that are all such files are an error.

``--sample`` names no path: ``sample_file`` gives the real-web sample installed with the package
(``pipeline/sample/``, see its README.md).

Every mistake here is a ``BuildError``: one line, exit code 2.
"""

from __future__ import annotations

import logging
import os
import re
from importlib import resources
from typing import Sequence

from .access_errors import explained_access_errors
from .errors import BuildError
from .readers.skipped_files import not_regular_file

logger = logging.getLogger(__name__)

INPUT_SUFFIXES = {"wet": (".warc.wet.gz", ".warc.wet"), "warc": (".warc.gz", ".warc")}
SAMPLE_FILES = {"wet": "realweb-sample.warc.wet.gz", "warc": "realweb-sample.warc.gz"}  # in pipeline/sample/
GLOB_CHARACTERS = re.compile(r"[*?\[]")  # Beam's: what ends the literal prefix of a pattern
NAMES_SHOWN = 5


def is_input_name(path: str, input_format: str) -> bool:
    return path.endswith(INPUT_SUFFIXES[input_format])


def describe_suffixes(input_format: str) -> str:
    return ", ".join(f"*{suffix}" for suffix in INPUT_SUFFIXES[input_format])


def _match(pattern: str) -> list[str]:
    from apache_beam.io.filesystems import FileSystems

    with explained_access_errors(pattern):
        results = FileSystems.match([pattern])
    return [m.path for r in results for m in r.metadata_list]


def _join(directory: str, name: str) -> str:
    from apache_beam.io.filesystems import FileSystems

    return FileSystems.join(directory, name)


def _names(paths: Sequence[str]) -> str:
    shown = ", ".join(p.rsplit("/", 1)[-1] for p in paths[:NAMES_SHOWN])
    return shown + (f" and {len(paths) - NAMES_SHOWN} more" if len(paths) > NAMES_SHOWN else "")


def _other_format(input_format: str) -> str:
    return "warc" if input_format == "wet" else "wet"


def _format_hint(paths: Sequence[str], input_format: str) -> str:
    other = _other_format(input_format)
    if any(is_input_name(p, other) for p in paths):
        return f"; for {other.upper()} files pass --input-format {other}"
    return "; name a file itself to read it whatever its name"


def _others_found(paths: Sequence[str], input_format: str) -> str:
    if not paths:
        return ""
    return f" (only {len(paths)} other file(s): {_names(paths)}{_format_hint(paths, input_format)})"


def _everything_under(directory: str) -> list[str]:
    return _match(_join(directory, "**"))


def _directory_inputs(directory: str, everything: list[str], input_format: str) -> list[str]:
    found = [p for p in everything if is_input_name(p, input_format)]
    kind = input_format.upper()
    if not found:
        raise BuildError(f"--input {directory}: no {kind} files ({describe_suffixes(input_format)}) under this "
                         f"directory{_others_found(everything, input_format)}")
    logger.info("--input %s: %d %s file(s) under it, recursively (%s)", directory, len(found), kind,
                describe_suffixes(input_format))
    return found


def _glob_inputs(pattern: str, matched: list[str], input_format: str) -> list[str]:
    found = [p for p in matched if is_input_name(p, input_format)]
    others = [p for p in matched if not is_input_name(p, input_format)]
    kind = input_format.upper()
    if not found:
        raise BuildError(f"--input {pattern!r} matches {len(matched)} file(s), none named like {kind} files "
                         f"({describe_suffixes(input_format)}): {_names(others)}{_format_hint(others, input_format)}")
    if others:
        logger.warning("--input %r: %d matched file(s) are not %s files (%s) and are not read: %s", pattern,
                       len(others), kind, describe_suffixes(input_format), _names(others))
    return found


def _is_local_directory(pattern: str) -> bool:
    return "://" not in pattern and os.path.isdir(pattern)


def _is_remote_prefix(pattern: str) -> bool:
    return "://" in pattern and pattern.endswith("/")


def expand_pattern(pattern: str, input_format: str = "wet") -> list[str]:
    """One ``--input``: a file, a directory or a glob → the files to read (see the module docstring)."""
    if GLOB_CHARACTERS.search(pattern):
        matched = _match(pattern)
        if not matched:
            raise BuildError(f"--input {pattern!r} matches no file")
        return _glob_inputs(pattern, matched, input_format)
    if _is_local_directory(pattern) or _is_remote_prefix(pattern):
        return _directory_inputs(pattern, _everything_under(pattern), input_format)
    matched = _match(pattern)
    if matched:
        return matched
    under = _everything_under(pattern) if "://" in pattern else []  # a bucket "directory" named without its "/"
    if under:
        return _directory_inputs(pattern, under, input_format)
    raise BuildError(f"--input {pattern!r}: no such file or directory")


def _check_some_regular(paths: Sequence[str]) -> None:
    kinds = {p: not_regular_file(p) for p in paths}
    if paths and all(kinds.values()):
        listed = "; ".join(f"{p} is {kind}" for p, kind in list(kinds.items())[:NAMES_SHOWN])
        raise BuildError(f"--input: nothing to read: {listed}. Only regular files are read (a FIFO would block "
                         f"the build); copy the data into a file")


def expand_inputs(patterns: Sequence[str], input_format: str = "wet") -> list[str]:
    """Paths, directories and globs on any Beam filesystem → sorted distinct files to read."""
    if input_format not in INPUT_SUFFIXES:
        raise BuildError(f"--input-format {input_format!r}: choose one of {', '.join(INPUT_SUFFIXES)}")
    paths = sorted({path for pattern in patterns for path in expand_pattern(pattern, input_format)})
    _check_some_regular(paths)
    return paths


def sample_file(input_format: str = "wet") -> str:
    """The path of the sample shipped with c4forge in ``input_format``, read as it is (never globbed)."""
    path = resources.files(__package__).joinpath("sample").joinpath(SAMPLE_FILES[input_format])
    if not path.is_file():
        raise BuildError(f"--sample: {path} is missing: this c4forge install is incomplete (reinstall it)")
    return str(path)
