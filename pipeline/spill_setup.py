"""Spilling for a local build (``--spill-dir``): when it is allowed, when to suggest it, and the
run's own spill folder, locked while the run lives so that the next run can tell a dead run's
folder (removed, with a log line) from a live one's."""

from __future__ import annotations

import contextlib
import os
import shutil
from typing import Iterator, Optional, Sequence

from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import PipelineOptions, PortableOptions, StandardOptions

from .errors import BuildError
from .output_lock import SPILL_DIR_PREFIX, lock_spill_dir, remove_dead_spill_dirs
from .spill import SpillConfig, partitions_for_input, refuse_unless_local_runner


def spill_refusal(options: PipelineOptions) -> Optional[str]:
    return refuse_unless_local_runner(options.view_as(StandardOptions).runner,
                                      options.view_as(PortableOptions).job_endpoint)


def is_local_runner(options: PipelineOptions) -> bool:
    return spill_refusal(options) is None


def check_spill_dir(spill_dir: Optional[str], options: PipelineOptions) -> None:
    if spill_dir is None:
        return
    refusal = spill_refusal(options)
    if refusal:
        raise BuildError(refusal)
    if "://" in spill_dir:
        raise BuildError(f"--spill-dir {spill_dir}: a local directory, not a URL (the local runner's workers "
                         f"read it)")


# Peak RSS of an in-memory local build per gzipped input byte (benchmarks/c4_benchmark.py:
# 661 MB for 49 MB of WET, 2,605 MB for 195 MB).
IN_MEMORY_PEAK_PER_INPUT_BYTE = 13.5


def input_bytes_of(wet_paths: Sequence[str]) -> int:
    return sum(m.size_in_bytes for r in FileSystems.match(list(wet_paths)) for m in r.metadata_list)


def spill_hint(input_bytes: int, memory_bytes: int) -> Optional[str]:
    """A warning when an in-memory local build of this input would need more than half the
    machine's memory; None otherwise."""
    need = input_bytes * IN_MEMORY_PEAK_PER_INPUT_BYTE
    if need <= memory_bytes / 2:
        return None
    return (f"this local build holds its shuffles in memory: about {need / 2**30:.1f} GiB for "
            f"{input_bytes / 2**30:.2f} GiB of input, on a machine with {memory_bytes / 2**30:.1f} GiB; "
            f"add --spill-dir DIR to shuffle through files on disk instead")


def physical_memory_bytes() -> int:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


@contextlib.contextmanager
def run_spill_dir(spill_dir: str, wet_paths: Sequence[str], run_id: str) -> Iterator[SpillConfig]:
    """A fresh folder for this run under ``spill_dir`` (partitions sized from the inputs),
    locked while the run lives and removed after it; folders of dead runs are removed first."""
    spill_dir = os.path.abspath(spill_dir)
    os.makedirs(spill_dir, exist_ok=True)
    remove_dead_spill_dirs(spill_dir)
    directory = os.path.join(spill_dir, SPILL_DIR_PREFIX + run_id)
    lock = lock_spill_dir(directory)
    os.makedirs(directory)
    try:
        yield SpillConfig(directory=directory, partitions=partitions_for_input(input_bytes_of(wet_paths)))
    finally:  # readers delete files as they go; this also clears up after a failure
        shutil.rmtree(directory, ignore_errors=True)
        os.unlink(directory + ".lock")
        lock.release()
