"""Spilling for a local build: when it is allowed, when a build spills on its own, where, and the
run's own spill folder, locked while the run lives so that the next run can tell a dead run's
folder (removed, with a log line) from a live one's.

On a local runner a build spills into ``--spill-dir DIR`` when given, never with
``--no-spill``, and otherwise on its own when its estimated in-memory peak passes the budget
(``decide_auto_spill``): into a folder beside a local output's staging folder, or the system's
temporary folder, whichever first has room and is not memory-backed. The output is the same
either way (tests/pipeline/test_spill.py, test_auto_spill.py). ``build_memory`` decides it all in
one ``BuildMemory``, with whether the reader holds a WET file's records (only while the shuffles
stay in memory) and whether the shuffles pass their values by reference (when every worker is
a thread of this process: ``shuffle_in_process.py``)."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import shutil
import tempfile
from typing import Iterator, Optional, Sequence

from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import PipelineOptions, PortableOptions, StandardOptions

from c4forge.tokenizer_training import memory

from .errors import BuildError
from .files import is_local
from .output_lock import SPILL_DIR_PREFIX, lock_spill_dir, remove_dead_spill_dirs
from .shuffle import RUNNERS_OWN, Shuffle
from .shuffle_in_process import InProcessStore, in_process_store, runs_in_this_process
from .spill import SpillConfig, partitions_for_input, refuse_unless_local_runner

logger = logging.getLogger(__name__)


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


# Peak RSS of an in-memory local build per gzipped input byte (benchmarks/c4_benchmark.py).
# Through the runner's shuffle (multi_processing workers): 661 MB for 49 MB of WET, 2,605 MB
# for 195 MB. By reference in this process (the default FnApiRunner): 470 MB for 49 MB, 822 MB
# for 195 MB (line dedup's pages held as str), i.e. ~350 MB plus 2.4x the input; 4,959 MB for
# 1,950 MB before that change; rounded up here.
RUNNER_SHUFFLE_PEAK_PER_INPUT_BYTE = 13.5
IN_PROCESS_PEAK_PER_INPUT_BYTE = 2.5
IN_PROCESS_PEAK_BASE = 400 << 20
# A build without --spill-dir or --no-spill stays in memory while its estimated peak fits
# the budget, the smaller of: half the memory available when it starts (the estimate is an
# average; the rest is for the runner's own swings, the page cache and whatever else runs),
# and IN_MEMORY_PEAK_CAP. By reference in this process the cap keeps up to about seven WET
# files (~1.4 GB gzipped) in memory, where it is fastest; through the runner's shuffle, about
# one and a half. Above that it spills on any machine: memory stays flat as the input grows,
# at ~1.3x the CPU of the in-process build (docs/speed.md).
AVAILABLE_MEMORY_SHARE = 0.5
IN_MEMORY_PEAK_CAP = 4 * 2**30
# Spill files at their largest, per gzipped input byte (measured: see docs/speed.md), doubled:
# a folder with less room than that is not used.
SPILL_DISK_PER_INPUT_BYTE = 2.0
AUTO_SPILL_FOLDER = ".c4forge-spill"  # in a local --output, beside the staging folder
_MEMORY_BACKED_FILESYSTEMS = ("tmpfs", "ramfs")  # spilling there would fill the memory it saves


def input_bytes_of(wet_paths: Sequence[str]) -> int:
    return sum(m.size_in_bytes for r in FileSystems.match(list(wet_paths)) for m in r.metadata_list)


def in_memory_peak_estimate(input_bytes: int, in_process: bool) -> int:
    """``in_process``: the shuffles pass values by reference (``shuffle_in_process.py``)."""
    if in_process:
        return int(IN_PROCESS_PEAK_BASE + input_bytes * IN_PROCESS_PEAK_PER_INPUT_BYTE)
    return int(input_bytes * RUNNER_SHUFFLE_PEAK_PER_INPUT_BYTE)


def in_memory_budget(available_memory_bytes: int) -> int:
    return min(int(available_memory_bytes * AVAILABLE_MEMORY_SHARE), IN_MEMORY_PEAK_CAP)


def spill_hint(input_bytes: int, memory_bytes: int, in_process: bool) -> Optional[str]:
    """A warning for --no-spill when an in-memory local build of this input would need more than
    half of ``memory_bytes`` (what is available); None otherwise."""
    need = in_memory_peak_estimate(input_bytes, in_process)
    if need <= memory_bytes / 2:
        return None
    return (f"this local build holds its shuffles in memory (--no-spill): about {need / 2**30:.1f} GiB for "
            f"{input_bytes / 2**30:.2f} GiB of input, with {memory_bytes / 2**30:.1f} GiB available; "
            f"without --no-spill, or with --spill-dir DIR, they go through files on disk instead")


@dataclasses.dataclass(frozen=True)
class SpillFolder:
    """A place an automatic spill may go: its free bytes, or why it cannot be used."""

    path: str
    free_bytes: int = 0
    unusable: Optional[str] = None  # e.g. "memory-backed (tmpfs)"


@dataclasses.dataclass(frozen=True)
class SpillDecision:
    """Where a build without --spill-dir spills (None: it keeps its shuffles in memory), and
    the one log line that says so and why (None: nothing worth saying)."""

    directory: Optional[str]
    message: Optional[str]
    level: int = logging.INFO


def decide_auto_spill(input_bytes: int, available_memory_bytes: int, folders: Sequence[SpillFolder],
                      in_process: bool) -> SpillDecision:
    """Memory if the estimated in-memory peak fits ``in_memory_budget``; otherwise the first
    of ``folders`` with room for the spill files (a warning when the machine is short of memory,
    information when only the cap was passed); memory and a warning when none has room."""
    need, budget = in_memory_peak_estimate(input_bytes, in_process), in_memory_budget(available_memory_bytes)
    if need <= budget:
        return SpillDecision(None, None)
    short_of_memory = need > available_memory_bytes * AVAILABLE_MEMORY_SHARE
    why = (f"in memory this build would need about {_gib(need)} for {_gib(input_bytes)} of input, "
           + (f"more than half the {_gib(available_memory_bytes)} available" if short_of_memory else
              f"more than {_gib(IN_MEMORY_PEAK_CAP)}, above which local builds keep memory flat"))
    disk_need = int(input_bytes * SPILL_DISK_PER_INPUT_BYTE)
    for folder in folders:
        if folder.unusable is None and folder.free_bytes >= disk_need:
            return SpillDecision(folder.path, (
                f"{why}: its shuffles go through files in {folder.path} (removed after; --spill-dir DIR "
                f"chooses the folder, --no-spill keeps them in memory)"),
                logging.WARNING if short_of_memory else logging.INFO)
    places = "; ".join(f"{f.path}: {f.unusable or _gib(f.free_bytes) + ' free'}" for f in folders) or "none"
    if not short_of_memory:  # the machine has the memory: no reason to complain
        return SpillDecision(None, f"{why}, but no folder has the {_gib(disk_need)} for spill files ({places}): "
                                   f"it keeps them in memory")
    return SpillDecision(None, f"{why}, and no folder has the {_gib(disk_need)} for spill files ({places}): it keeps "
                               f"its shuffles in memory and may run out; pass --spill-dir DIR on a disk with room",
                         logging.WARNING)


def _gib(nbytes: float) -> str:
    return f"{nbytes / 2**30:.1f} GiB"


def _mount_type(path: str, mounts: str = "/proc/self/mounts") -> Optional[str]:
    """The filesystem type of the mount holding ``path`` (Linux), or None."""
    path = os.path.realpath(path)
    best, fs_type = "", None
    try:
        with open(mounts) as f:
            for line in f:
                fields = line.split()
                if len(fields) < 3:
                    continue
                mount_point = fields[1].replace("\\040", " ")
                inside = path == mount_point or path.startswith(mount_point.rstrip("/") + "/")
                if inside and len(mount_point) >= len(best):
                    best, fs_type = mount_point, fields[2]
    except OSError:
        return None
    return fs_type


def spill_folder(path: str) -> SpillFolder:
    """``path`` as a place for spill files: free bytes on its disk (of its nearest existing
    parent: the folder is made only when used), unusable when memory-backed."""
    existing = os.path.abspath(path)
    while not os.path.isdir(existing):
        existing = os.path.dirname(existing)
    fs_type = _mount_type(existing)
    if fs_type in _MEMORY_BACKED_FILESYSTEMS:
        return SpillFolder(path, unusable=f"memory-backed ({fs_type})")
    return SpillFolder(path, free_bytes=shutil.disk_usage(existing).free)


def auto_spill_folders(output: str) -> list[SpillFolder]:
    """Where an automatic spill may go, best first: beside a local output's staging folder (the
    disk the user chose for the corpus), then the system's temporary folder ($TMPDIR)."""
    paths = [os.path.join(os.path.abspath(output), AUTO_SPILL_FOLDER)] if is_local(output) else []
    return [spill_folder(path) for path in paths + [tempfile.gettempdir()]]


def remove_dead_auto_spills(folders: Sequence[SpillFolder]) -> None:
    """Spill folders of dead runs in the automatic places, whether or not this run spills there;
    a folder made for them is removed once empty."""
    for folder in folders:
        if os.path.isdir(folder.path):
            remove_dead_spill_dirs(folder.path)
            if os.path.basename(folder.path) == AUTO_SPILL_FOLDER:
                with contextlib.suppress(OSError):
                    os.rmdir(folder.path)  # only when empty


def available_memory_bytes() -> int:
    """What this process may still use: MemAvailable, or less under a container's limit."""
    available = memory.available_memory()
    return available if available is not None else physical_memory_bytes()


def physical_memory_bytes() -> int:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


@dataclasses.dataclass(frozen=True)
class BuildMemory:
    """How a build uses memory: how its shuffles move their data (``shuffle.py``: through spill
    files, by reference in this process, or the runner's own), and how many decompressed bytes
    of a WET file's records its reader keeps after the file's UTF-8 check (``read_wet_pages``'
    ``hold_bytes``)."""

    shuffle: Shuffle = RUNNERS_OWN
    hold_file_bytes: int = 0

    @property
    def spill(self) -> Optional[SpillConfig]:
        """Where the shuffles spill; None: they stay in memory, or are the runner's own."""
        return self.shuffle.spill

    @property
    def in_process(self) -> Optional[InProcessStore]:
        """The store the shuffles pass values by reference through; None: the runner moves them."""
        return self.shuffle.in_process


# A local build whose shuffles stay in memory keeps a WET file's records (decompressed) after
# the file's UTF-8 check, up to this many bytes, instead of decompressing them a second time:
# a Common Crawl WET file (~400-450 MB decompressed) is read once. It saves ~3% of the CPU for
# ~15% more peak memory (docs/speed.md), within the peak estimates above; a spilling build,
# or a cluster's workers, keep memory flat instead.
HOLD_FILE_BYTES = 512 << 20


@contextlib.contextmanager
def in_memory(in_process: bool, run_id: str) -> Iterator[BuildMemory]:
    """A local build whose shuffles stay in memory: by reference where every worker is in this
    process (about a fifth less CPU and a third of the peak memory, docs/speed.md), else the
    runner's."""
    if not in_process:
        yield BuildMemory(hold_file_bytes=HOLD_FILE_BYTES)
        return
    with in_process_store(run_id) as store:
        yield BuildMemory(Shuffle(in_process=store), HOLD_FILE_BYTES)


@contextlib.contextmanager
def build_memory(spill_dir: Optional[str], no_spill: bool, options: PipelineOptions, output: str,
                 wet_paths: Sequence[str], input_bytes: int, run_id: str) -> Iterator[BuildMemory]:
    """The build's BuildMemory. --spill-dir: spill there; a runner whose shuffle spills already:
    its own; --no-spill: in memory; otherwise ``decide_auto_spill``, said in one log line. Only
    shuffles in this process's memory hold records. A folder made for an automatic spill is
    removed after, if empty."""
    if spill_dir is not None:
        with run_spill_dir(spill_dir, wet_paths, run_id) as spill:
            yield BuildMemory(Shuffle(spill=spill))
        return
    if not is_local_runner(options):
        yield BuildMemory()
        return
    in_process = runs_in_this_process(options)
    if no_spill:
        hint = spill_hint(input_bytes, available_memory_bytes(), in_process)
        if hint:
            logger.warning(hint)
        with in_memory(in_process, run_id) as memory:
            yield memory
        return
    folders = auto_spill_folders(output)
    remove_dead_auto_spills(folders)
    decision = decide_auto_spill(input_bytes, available_memory_bytes(), folders, in_process)
    if decision.message:
        logger.log(decision.level, decision.message)
    if decision.directory is None:
        with in_memory(in_process, run_id) as memory:
            yield memory
        return
    made = not os.path.exists(decision.directory)
    try:
        with run_spill_dir(decision.directory, wet_paths, run_id) as spill:
            yield BuildMemory(Shuffle(spill=spill))
    finally:
        if made:
            with contextlib.suppress(OSError):
                os.rmdir(decision.directory)  # only when empty: another run's lock or files keep it


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
