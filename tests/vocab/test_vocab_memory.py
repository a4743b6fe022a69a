"""What the machine has left for training (``tokenizer_training/memory.py``): a container's cgroup v1 limit."""

from __future__ import annotations

from c4forge.tokenizer_training import memory


def test_available_memory_reads_a_cgroup_v1_limit_less_reclaimable_cache(tmp_path):
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemAvailable:    8000 kB\n")
    v1 = tmp_path / "cg" / "memory"
    v1.mkdir(parents=True)
    (v1 / "memory.limit_in_bytes").write_text("9223372036854771712\n")  # v1's "no limit"
    (v1 / "memory.usage_in_bytes").write_text("1000000\n")
    assert memory.available_memory(meminfo, tmp_path / "cg") == 8000 * 1024
    (v1 / "memory.limit_in_bytes").write_text("5000000\n")
    assert memory.available_memory(meminfo, tmp_path / "cg") == 4000000
    (v1 / "memory.stat").write_text("cache 900000\ntotal_inactive_file 600000\n")
    assert memory.available_memory(meminfo, tmp_path / "cg") == 4600000  # page cache is given back first
