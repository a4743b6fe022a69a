"""Comparing two builds' outputs file by file."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

# Differ from run to run by design: the report (timings) and its picture and page, the manifest
# (run id, time, the report's digests) and the lock file; the manifest's shard entries are
# compared apart (manifest_of_shards).
REPORT_FILES = ("c4forge-report.json", "c4forge-report.svg", "c4forge-report.html")
PER_RUN_FILES = (*REPORT_FILES, "c4forge-manifest.json", ".c4forge.lock")


def file_digests(root: Path) -> dict[str, str]:
    """{relative path: sha256} of every file of a build but the per-run ones."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and p.name not in PER_RUN_FILES}


def manifest_of_shards(root: Path) -> tuple:
    """The manifest's datasets and file entries, without the report's."""
    manifest = json.loads((root / "c4forge-manifest.json").read_text())
    files = {path: entry for path, entry in manifest["files"].items() if path not in REPORT_FILES}
    return manifest["datasets"], files
