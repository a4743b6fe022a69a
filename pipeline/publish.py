"""Publishing a build: all of it or nothing, on local disks and object stores alike.

A build writes everything (shards, TFDS metadata, JSONL, the report) under
``<output>/.c4forge-staging-<run id>/``, in the layout it will have, while the output's previous
build stays as it was. Only then is it published, in an order that keeps every reader safe:

1. the old manifest goes first (c4forge's readers refuse a folder without one), then the old
   ``dataset_info.json`` files (TFDS's marker: no TFDS reader takes the dataset after that),
   then the rest of the old build: every file of every format and profile it had;
2. the new files move in, each dataset's ``dataset_info.json`` after its shards;
3. the new manifest is written last: from then on it is the build.

Whatever the moment a kill, crash or full disk strikes, the output holds the previous build
untouched (before 1), the new build complete (after 3), or something no reader accepts (in
between: no manifest, and no ``dataset_info.json`` beside a partial set of shards). Nothing here
needs an atomic rename of a directory, so it works where a "rename" is a copy and a delete
(gs://, s3://), as TFDS's and Hadoop's committers do with their own markers.

``fault_point`` (``faults.py``) marks the moments the fault-injection tests stop a build at.
"""

from __future__ import annotations

import glob
import logging
import os
import posixpath
import shutil
import time
import uuid
from typing import Iterable, Mapping, Sequence

from apache_beam.io.filesystems import FileSystems

from c4forge.corpus.manifest import MANIFEST_NAME, CorpusError, Dataset, FileEntry, Manifest

from .errors import BuildError
from .faults import fault_point
from .files import INCOMPLETE_MARK, delete_quietly, is_local, move, write_file_atomically

logger = logging.getLogger(__name__)

STAGING_PREFIX = ".c4forge-staging-"
REPORT_NAME = "c4forge-report.json"
REPORT_PICTURE_NAME = "c4forge-report.svg"  # the report drawn (report_figure.py)
REPORT_PAGE_NAME = "c4forge-report.html"  # the picture and the tables in one page (report_page.py)
# What earlier builds may have left in an output, relative to it: c4forge's names only, so
# that other files in the folder are never touched.
BUILD_FILE_PATTERNS = (
    MANIFEST_NAME, REPORT_NAME, REPORT_PICTURE_NAME, REPORT_PAGE_NAME,
    "*/*/*/dataset_info.json", "*/*/*/features.json", "*/*/*/*.tfrecord-*-of-*",  # TFDS: <name>/<config>/<version>
    "*/c4-*.json.gz",  # JSONL: <config>/c4-<split>.NNNNN-of-NNNNN.json.gz
    f"*/*/*/*{INCOMPLETE_MARK}*", f"*/*{INCOMPLETE_MARK}*", ".c4forge-summaries-*",
)
def new_run_id() -> str:
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + uuid.uuid4().hex[:8]


def staging_dir(output: str, run_id: str) -> str:
    return FileSystems.join(output, STAGING_PREFIX + run_id)


def relative_to(path: str, root: str) -> str:
    """``path`` below ``root`` as a '/'-separated relative path (local and remote alike)."""
    return path.replace("\\", "/")[len(root.rstrip("/").replace("\\", "/")) + 1:]


def _matches(root: str, patterns: Iterable[str]) -> list[str]:
    found = set()
    for pattern in patterns:
        try:
            found.update(m.path for r in FileSystems.match([FileSystems.join(root, pattern)]) for m in r.metadata_list)
        except Exception:  # noqa: BLE001 - nothing to match in a missing folder
            continue
    return sorted(found)


def files_under(directory: str) -> list[str]:
    return _matches(directory, ["**"])


def read_manifest(output: str) -> Manifest | None:
    """The manifest of the build in ``output``, None if there is none; BuildError if unreadable."""
    path = FileSystems.join(output, MANIFEST_NAME)
    if not FileSystems.exists(path):
        return None
    try:
        with FileSystems.open(path) as f:
            return Manifest.from_json(f.read(), path)
    except CorpusError as e:
        raise BuildError(f"{e}; pass --overwrite to replace that build") from None


def existing_build_files(output: str) -> list[str]:
    """Files of an earlier build in ``output`` (finished or not), by c4forge's own names."""
    return _matches(output, BUILD_FILE_PATTERNS)


def remove_leftover_staging(output: str, current_run_id: str) -> None:
    """Staging folders of other runs, with a log line each. Called under the output lock, so
    their runs are dead."""
    by_dir: dict[str, list[str]] = {}
    if is_local(output):  # folders emptied by an interrupted publish count too
        by_dir = {os.path.basename(d): [] for d in glob.glob(os.path.join(glob.escape(output), STAGING_PREFIX + "*"))}
    for path in _matches(output, [STAGING_PREFIX + "*/**"]):
        by_dir.setdefault(relative_to(path, output).split("/", 1)[0], []).append(path)
    for name, files in sorted(by_dir.items()):
        if name != STAGING_PREFIX + current_run_id:
            logger.warning("removing %s: the unpublished files of a build that did not finish (%d files)",
                           FileSystems.join(output, name), len(files))
            remove_tree(FileSystems.join(output, name), files)


def remove_tree(directory: str, files: Sequence[str]) -> None:
    if is_local(directory):
        shutil.rmtree(directory, ignore_errors=True)
    elif files:
        delete_quietly(files)


def _publish_order(relative_paths: Iterable[str]) -> list[str]:
    """Shards and the rest first, each dataset's features.json then dataset_info.json last."""
    rank = {"features.json": 1, "dataset_info.json": 2}
    return sorted(relative_paths, key=lambda p: (rank.get(posixpath.basename(p), 0), p))


def publish(output: str, staging: str, manifest: Manifest, old_files: Sequence[str]) -> None:
    """Replaces the build in ``output`` (``old_files``) by the one staged in ``staging``."""
    fault_point("publish-start")
    old_markers = [p for p in old_files if posixpath.basename(p) in (MANIFEST_NAME, "dataset_info.json")]
    old_markers.sort(key=lambda p: posixpath.basename(p) != MANIFEST_NAME)  # the manifest first
    for path in old_markers:
        FileSystems.delete([path])
    fault_point("publish-old-markers-removed")
    rest = [p for p in old_files if p not in old_markers]
    if rest:
        FileSystems.delete(rest)
    fault_point("publish-old-build-removed")
    for index, relative in enumerate(_publish_order(manifest.files)):
        move(FileSystems.join(staging, relative), FileSystems.join(output, relative))
        if index == 0:
            fault_point("publish-moving-files")
    fault_point("publish-before-manifest")
    write_file_atomically(FileSystems.join(output, MANIFEST_NAME), manifest.to_json())
    remove_tree(staging, files_under(staging))


def describe_unfinished(output: str, files: Sequence[str]) -> str:
    names = ", ".join(relative_to(p, output) for p in files[:3]) + (", ..." if len(files) > 3 else "")
    return (f"--output {output} holds files of a build that did not finish ({names}; no {MANIFEST_NAME}), "
            f"which no reader accepts; pass --overwrite to replace them")


def manifest_files(summaries: Sequence[Mapping], staging: str) -> dict[str, FileEntry]:
    """{path relative to the output: size and sha256} of the staged files the sinks wrote."""
    return {relative_to(path, staging): FileEntry(*digest)
            for summary in summaries for path, digest in summary.get("file_digests", {}).items()}


def datasets_of(summaries: Sequence[Mapping], staging: str) -> tuple[Dataset, ...]:
    """The manifest's datasets from the sinks' per-split summaries (splits without data too)."""
    splits: dict[tuple[str, str], dict] = {}
    for summary in summaries:
        key = (summary["format"], relative_to(summary["directory"], staging))
        shards = tuple(posixpath.basename(path.replace("\\", "/")) for path in summary["files"])
        splits.setdefault(key, {})[summary["split"]] = (summary["num_examples"], shards)
    return tuple(Dataset(fmt, directory, by_split) for (fmt, directory), by_split in sorted(splits.items()))


def rebased(summary: Mapping, staging: str, output: str) -> dict:
    """A sink's summary with its paths where the files will be once published."""
    def final(path: str) -> str:
        return FileSystems.join(output, relative_to(path, staging))

    return {**summary, "directory": final(summary["directory"]), "files": [final(p) for p in summary["files"]],
            "file_digests": {final(p): d for p, d in summary.get("file_digests", {}).items()}}
