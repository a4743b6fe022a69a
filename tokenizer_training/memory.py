"""Will training on this sample fit in memory? Checked before training, not found out by the
OOM killer.

sentencepiece holds every sampled sentence (about 2 bytes a byte, normalized) and, for seed
mining (the peak), a copy of the concatenated characters as 4-byte code points plus an enhanced
suffix array over them: SA, L, R and D, 4 x 4 bytes a character, 4 x 8 with
train_extremely_large_corpus (unigram_model_trainer.cc, MakeSeedSentencePieces; docs/vocab.md
has the RSS at each phase). Measured with
benchmarks/vocab_benchmark.py on this project's 2-core machine (sentencepiece 0.2.2, vocab
16000, generated English-like lines): peak RSS of a training process = 53 MB + 23.0 x sample
bytes (5 MB: 167 MB ... 80 MB: 1,890 MB), the same with 2 or 16 threads. Real text has more
distinct substrings: all 51,542 lines (3.1 MB) of the shared real-web WET file built with
--noclean peaked at 135 MB, 26 x over the base. The estimate adds a margin to that.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Optional

BYTES_PER_SAMPLE_BYTE = 28  # measured 23 (generated) to 26 (real web text), plus a margin
LARGE_CORPUS_EXTRA_PER_BYTE = 16  # 64-bit instead of 32-bit SA, L, R, D
BASE_BYTES = 256 * 2**20  # Python, the corpus reader, sentencepiece's fixed tables

_SIZE = re.compile(r"^\s*([0-9.]+)\s*([kmgt]?)i?b?\s*$", re.IGNORECASE)


class SampleTooBig(ValueError):
    """The sample would not fit in memory while training."""


def training_memory_estimate(sample_bytes: int, large_corpus: bool = False) -> int:
    per_byte = BYTES_PER_SAMPLE_BYTE + (LARGE_CORPUS_EXTRA_PER_BYTE if large_corpus else 0)
    return BASE_BYTES + per_byte * sample_bytes


def parse_size(text: str) -> int:
    """'48G', '512M', '2.5GB', '1000000' → bytes (powers of 1024)."""
    match = _SIZE.match(text)
    if not match:
        raise ValueError(f"not a size: {text!r} (e.g. 48G, 512M)")
    number, unit = float(match.group(1)), match.group(2).lower()
    return int(number * 1024 ** "_kmgt".index(unit or "_"))


def _meminfo_available(meminfo: Path) -> Optional[int]:
    try:
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def _read_int(path: Path) -> Optional[int]:
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None  # cgroup v2 says "max" where there is no limit


def _inactive_file_bytes(stat: Path, field: str) -> int:
    """Page cache the kernel reclaims before it kills anything (counted in a cgroup's usage)."""
    try:
        for line in stat.read_text().splitlines():
            name, _, value = line.partition(" ")
            if name == field:
                return int(value)
    except (OSError, ValueError):
        pass
    return 0


_NO_LIMIT = 2**60  # cgroup v1 writes a huge number (9223372036854771712) for "no limit"


def _cgroup_headroom(cgroup_dir: Path) -> Optional[int]:
    """Room left under a cgroup memory limit (containers: Docker mounts the container's own
    cgroup here), if there is one: v2 (memory.max) or v1 (memory/memory.limit_in_bytes)."""
    for limit_file, usage_file, stat_file, inactive in (
            ("memory.max", "memory.current", "memory.stat", "inactive_file"),
            ("memory/memory.limit_in_bytes", "memory/memory.usage_in_bytes", "memory/memory.stat",
             "total_inactive_file")):
        limit, usage = _read_int(cgroup_dir / limit_file), _read_int(cgroup_dir / usage_file)
        if limit is not None and usage is not None and limit < _NO_LIMIT:
            return limit - max(0, usage - _inactive_file_bytes(cgroup_dir / stat_file, inactive))
    return None


def available_memory(meminfo: Path = Path("/proc/meminfo"),
                     cgroup_dir: Path = Path("/sys/fs/cgroup")) -> Optional[int]:
    """Bytes this process can still use, or None where it cannot be told."""
    known = [v for v in (_meminfo_available(meminfo), _cgroup_headroom(cgroup_dir)) if v is not None]
    return min(known) if known else None


def human(nbytes: float) -> str:
    if nbytes < 1024:
        return f"{int(nbytes)} B"
    for unit in ("KB", "MB", "GB"):
        nbytes /= 1024
        if nbytes < 1024:
            return f"{nbytes:,.1f} {unit}"
    return f"{nbytes / 1024:,.1f} TB"


def check_sample_fits(sentences: int, sample_bytes: int, large_corpus: bool,
                      limit: Optional[int]) -> int:
    """The estimate in bytes; raises SampleTooBig (with the numbers) if over ``limit``."""
    need = training_memory_estimate(sample_bytes, large_corpus)
    if limit is not None and need > limit:
        raise SampleTooBig(
            f"a sample of {sentences:,} sentences ({human(sample_bytes)}) needs about {human(need)} to train, "
            f"{human(limit)} available; {_advice(sentences, sample_bytes, large_corpus, limit)}")
    return need


def _advice(sentences: int, sample_bytes: int, large_corpus: bool, limit: int) -> str:
    per_byte = BYTES_PER_SAMPLE_BYTE + (LARGE_CORPUS_EXTRA_PER_BYTE if large_corpus else 0)
    fitting = int((limit - BASE_BYTES) / per_byte / (sample_bytes / max(sentences, 1))) if sample_bytes else 0
    if fitting < 1:
        return f"even an empty sample needs {human(BASE_BYTES)} (--memory-limit if you know better)"
    return f"use --sentences {fitting:,} or less (or --memory-limit if you know better)"
