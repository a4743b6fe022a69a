"""TFDS's c4/en reference graph vs c4forge on one crawl-segment-sized WET file, in one run.

    python benchmarks/c4_benchmark.py [--records 40000] [--input WET] [--cache-dir DIR]
        [--runner-args "--direct_running_mode=multi_processing --direct_num_workers=2"]
        [--skip-reference] [--skip-e2e] [--no-stage-view] [--stage-pages N]
        [--memory-scaling 1,4] [--memory-base-records 10000] [--spill default|on|off|both]
        [--profile] [--profile-e2e] [--profile-top 25] [--compare-with REV] [--compare-runs 2]
        [--json results.json]

Input: ``benchmarks/make_segment.py`` (real pages of ../shared recombined into a
Common-Crawl-sized WET file; cached), or ``--input``.

1. Floor: gunzip the input (``gzip``), and gunzip + UTF-8 decode + split into lines
   (``io.TextIOWrapper`` line iteration, what TFDS's reader does before any rule), in this
   process.
2. End to end, each in a fresh subprocess, same input, same Beam runner (FnApiRunner,
   in-process, unless ``--runner-args`` say otherwise):
   the TFDS reference graph (``c4forge.pipeline.verify.reference.run_reference``: the real
   ``tensorflow_datasets`` ``c4_utils`` functions in c4/en stage order, JSONL sink) and
   ``c4forge build --format tfrecord`` (``c4forge.cli.main``).
   Measured: CPU seconds (user+sys of the child and every descendant it waited for, from
   ``os.wait4``; the pipeline run alone, as the child measured it, is also shown), wall
   seconds, peak RSS (``ru_maxrss`` of the child: its largest process) and the peak summed
   RSS of its process tree (sampled every 0.2 s with psutil; differs only with worker
   processes), pages/s/core (pages read / CPU seconds). Outputs are compared
   (documents by URL: url, text, timestamp, split; TFDS counters) with
   ``c4forge.pipeline.verify.compare.compare``; the script exits 1 if they differ.
3. Stage view: each stage of both implementations, without Beam, in this process, on the
   same pages (each implementation's own chain from the same file): CPU ms per stage.
   TFDS's functions count through Beam ``Metrics`` into a real ``MetricsContainer`` (as
   in a worker); c4forge's into a ``Counter`` (as its DoFns do). The documents both chains
   keep are compared too.
4. ``--memory-scaling 1,4``: c4forge on segments of 1x and 4x ``--memory-base-records``
   records; peak RSS per size and its ratio to the smallest. By default as ``c4forge build``
   runs with no flag (it spills on its own past its memory budget: the table says which runs
   did); ``--spill on`` forces ``--spill-dir`` (shuffles through files), ``--spill off``
   ``--no-spill`` (in memory), ``--spill both`` the last two (CPU / in-memory compares each
   spilled run with the in-memory run of its size).
5. ``--profile``: cProfile of the c4forge stage view; ``--profile-e2e``: cProfile of a
   c4forge FnApiRunner run in a child (top functions by own time, and own time per
   package: how much is Beam, how much the rules).
6. ``--compare-with REV``: c4forge at REV (a git revision of this repository, checked out into a
   temporary ``git worktree``) against c4forge as checked out, end to end on the same input,
   ``--compare-runs`` runs each, interleaved (REV, working tree, REV, ...): CPU, wall and peak
   RSS per run, median CPU of each and the change in %. Each child says where it imported
   c4forge from (the script exits if not from the tree it measures); the counters of all runs
   must be equal (same output), else the script exits 1. Runs as well with ``--skip-e2e``.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import gzip
import io
import json
import os
import re
import resource
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import make_segment

SHARED = make_segment.SHARED
BADWORDS_DIR = SHARED / "assets" / "ldnoobw"
DOC_FIELDS = ("url", "text", "timestamp", "split")
MB = 1024 * 1024

# Assumptions of the internet-scale estimate (printed with it).
CC_2019_18_WET_FILES = 56_000
CC_2019_18_PAGES = 2.5e9  # Common Crawl's announcement of CC-MAIN-2019-18: ~2.5 billion pages
CC_2019_18_WET_BYTES = 7e12  # T5 README: "~7 TB" download
REFERENCE_CPU_DAYS = 335  # T5 README
N1_STANDARD_2_USD_PER_HOUR = 0.095  # GCE on-demand list price, 2 vCPUs, 7.5 GB
DATAFLOW_N1_STANDARD_2_USD_PER_HOUR = 2 * 0.056 + 7.5 * 0.003557  # Dataflow batch vCPU + memory


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# =======================================================================================
# Measurements
# =======================================================================================

def _cpu(ru) -> float:
    return ru.ru_utime + ru.ru_stime


def self_and_children_cpu() -> float:
    return _cpu(resource.getrusage(resource.RUSAGE_SELF)) + _cpu(resource.getrusage(resource.RUSAGE_CHILDREN))


class TreeSampler(threading.Thread):
    """Peak summed RSS and CPU of a process and its descendants, sampled."""

    def __init__(self, pid: int, every_s: float = 0.2):
        super().__init__(daemon=True)
        self.pid, self.every_s = pid, every_s
        self.peak_rss = 0
        self.max_processes = 0
        self.cpu_by_pid: dict[int, float] = {}
        self._halt = threading.Event()

    def run(self):
        import psutil

        try:
            root = psutil.Process(self.pid)
        except psutil.Error:
            return
        while not self._halt.is_set():
            try:
                procs = [root] + root.children(recursive=True)
            except psutil.Error:
                break
            rss = 0
            for p in procs:
                try:
                    with p.oneshot():
                        rss += p.memory_info().rss
                        t = p.cpu_times()
                        self.cpu_by_pid[p.pid] = t.user + t.system
                except psutil.Error:
                    pass
            self.peak_rss = max(self.peak_rss, rss)
            self.max_processes = max(self.max_processes, len(procs))
            self._halt.wait(self.every_s)

    def stop(self):
        self._halt.set()
        self.join(timeout=5)


def run_child(impl: str, wet: Path, workdir: Path, runner_args: str, cprofile: Path | None = None,
              docs: bool = True, pythonpath: str | None = None) -> dict:
    """Runs one implementation in a fresh process; returns its measurements. ``docs=False``:
    the child does not load the documents for comparison (they would count in its peak RSS).
    ``pythonpath``: put first on the child's PYTHONPATH (a folder holding another ``c4forge``)."""
    out = workdir / impl
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    # --runner-args=VALUE: as a separate argument, a value starting with "--" is taken for an option
    cmd = [sys.executable, str(Path(__file__).resolve()), "_child", "--impl", impl, "--input", str(wet),
           "--out", str(out), "--badwords-dir", str(BADWORDS_DIR), f"--runner-args={runner_args}"]
    if cprofile:
        cmd += ["--cprofile", str(cprofile)]
    if not docs:
        cmd += ["--no-docs"]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", HF_HUB_OFFLINE="1", PYTHONUNBUFFERED="1")
    if pythonpath:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [pythonpath, env.get("PYTHONPATH")]))
    log(f"[{impl}] {'PYTHONPATH=' + shlex.quote(env['PYTHONPATH']) + ' ' if pythonpath else ''}"
        f"{' '.join(shlex.quote(c) for c in cmd)}")
    with open(out / "child.log", "w") as child_log:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=child_log, stderr=subprocess.STDOUT, env=env)
        sampler = TreeSampler(proc.pid)
        sampler.start()
        _, status, ru = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        sampler.stop()
        proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        tail = (out / "child.log").read_text(errors="replace")[-4000:]
        raise RuntimeError(f"{impl} child failed (exit {proc.returncode}); log tail:\n{tail}")
    result = json.loads((out / "result.json").read_text())
    result.update({
        "impl": impl,
        "cpu_s": _cpu(ru),
        "user_s": ru.ru_utime,
        "sys_s": ru.ru_stime,
        "wall_s": wall,
        "maxrss_mb": ru.ru_maxrss / 1024,  # KiB on Linux
        "tree_peak_rss_mb": sampler.peak_rss / MB,
        "tree_sampled_cpu_s": sum(sampler.cpu_by_pid.values()),
        "max_processes": sampler.max_processes,
        "docs_path": str(out / "docs.jsonl"),
        "log": str(out / "child.log"),
    })
    return result


def floor(wet: Path) -> dict:
    """gunzip, then gunzip + decode + split lines: the cost of merely reading the input."""
    out = {}
    cpu, wall = time.process_time(), time.perf_counter()
    n_bytes = 0
    with gzip.open(wet, "rb") as g:
        while chunk := g.read(1 << 20):
            n_bytes += len(chunk)
    out["gunzip"] = {"cpu_s": time.process_time() - cpu, "wall_s": time.perf_counter() - wall, "bytes": n_bytes}
    cpu, wall = time.process_time(), time.perf_counter()
    n_lines = 0
    with gzip.open(wet, "rb") as g:
        for _ in io.TextIOWrapper(g, encoding="utf-8"):
            n_lines += 1
    out["gunzip+lines"] = {"cpu_s": time.process_time() - cpu, "wall_s": time.perf_counter() - wall,
                           "lines": n_lines}
    return out


# =======================================================================================
# The child: one implementation, end to end
# =======================================================================================

def _write_docs(path: Path, docs: Sequence[dict]) -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.writelines(json.dumps({k: d.get(k) for k in DOC_FIELDS}, ensure_ascii=False) + "\n" for d in sorted(docs, key=lambda d: (d["split"], d["url"])))


def _c4forge_docs(output: Path) -> list[dict]:
    from c4forge.cleaning_rules.profiles import C4_EN_3_1_0
    from c4forge.corpus.example import SPLITS, iter_tfrecord_examples
    from c4forge.corpus.tfds_metadata import tfds_split_files
    from c4forge.pipeline import build, sinks

    dataset_dir = sinks.dataset_dir_of(str(output), build.tfds_metadata(C4_EN_3_1_0))
    return [dict(ex, split=split) for split in SPLITS
            for path in tfds_split_files(dataset_dir, split)
            for ex in iter_tfrecord_examples(path)]


def imported_c4forge_dirs() -> list[str]:
    """The package folders (resolved) that this process's c4forge modules come from: c4forge is
    a namespace package (no c4forge.__file__), so each submodule could come from elsewhere."""
    dirs = set()
    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None)
        if name.startswith("c4forge.") and file:
            path = Path(file).resolve()
            if path.name == "__init__.py":
                path = path.parent
            dirs.add(str(path.parents[name.count(".") - 1]))
    return sorted(dirs)


def child_main(argv: Sequence[str]) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--impl", choices=["reference", "c4forge"], required=True)
    p.add_argument("--input", required=True)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--badwords-dir", required=True)
    p.add_argument("--runner-args", default="")
    p.add_argument("--cprofile", type=Path)
    p.add_argument("--no-docs", dest="docs", action="store_false")
    a = p.parse_args(argv)
    beam_args = shlex.split(a.runner_args)
    cpu0, wall0 = self_and_children_cpu(), time.perf_counter()
    if a.impl == "reference":
        from c4forge.pipeline.verify import reference

        def run():
            return reference.run_reference([a.input], a.badwords_dir, beam_args)
    else:
        from c4forge import cli

        output = a.out / "dataset"

        def run():
            rc = cli.main(["build", "--input", a.input, "--output", str(output), "--badwords-dir",
                           a.badwords_dir, "--format", "tfrecord", "--overwrite", *beam_args])
            if rc != 0:
                raise SystemExit(f"c4forge build exited {rc}")
    import apache_beam  # noqa: F401  (counted as start-up, not as the run)

    cpu1, wall1 = self_and_children_cpu(), time.perf_counter()
    if a.cprofile:
        import cProfile

        profiler = cProfile.Profile()
        result = profiler.runcall(run)
        profiler.dump_stats(str(a.cprofile))
    else:
        result = run()
    cpu2, wall2 = self_and_children_cpu(), time.perf_counter()
    shuffle = None
    if a.impl == "reference":
        docs, counters = result.documents, result.counters
        documents = len(docs)
    else:
        report = json.loads((output / "c4forge-report.json").read_text())
        counters, shuffle = report["counters"], report.get("shuffle")
        docs = _c4forge_docs(output) if a.docs else []
        documents = len(docs) if a.docs else report.get("pages_kept")  # the report counts what was written
    if a.docs:
        _write_docs(a.out / "docs.jsonl", docs)
    (a.out / "result.json").write_text(json.dumps({
        "startup_cpu_s": cpu1 - cpu0, "startup_wall_s": wall1 - wall0,
        "run_cpu_s": cpu2 - cpu1, "run_wall_s": wall2 - wall1,
        "pages_read": counters.get("split-wet-file/passed", 0),
        "documents": documents,
        "counters": counters,
        "shuffle": shuffle,  # c4forge's dedup group sizes (report "shuffle")
        "spilled_to": None if a.impl == "reference" else report["config"].get("spilled_to"),
        "c4forge_dirs": imported_c4forge_dirs(),  # which c4forge ran (--compare-with checks it)
    }, indent=1))
    return 0


# =======================================================================================
# Comparing outputs
# =======================================================================================

def _read_docs(path: str) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def tfds_counters(counters: dict) -> dict:
    """Counters under TFDS names only (c4forge adds chars/, sink and file-skip counters)."""
    return {k: v for k, v in counters.items()
            if not k.startswith(("chars/", "c4forge-sinks/", "split-wet-file/skipped-file"))}


def compare_outputs(ref: dict, ours: dict):
    from c4forge.pipeline.verify import compare as parity, reference

    return parity.compare(
        _read_docs(ref["docs_path"]), _read_docs(ours["docs_path"]),
        tfds_counters(ref["counters"]), tfds_counters(ours["counters"]),
        known_differences=reference.KNOWN_COUNTER_DIFFERENCES, fields=DOC_FIELDS)


# =======================================================================================
# Stage view: the rules without Beam
# =======================================================================================

class StageTimer:
    def __init__(self):
        self.rows: list[dict] = []

    @contextlib.contextmanager
    def __call__(self, stage: str, pages_in: int):
        row = {"stage": stage, "pages_in": pages_in}
        cpu, wall = time.process_time(), time.perf_counter()
        try:
            yield row
        finally:
            row["cpu_s"] = time.process_time() - cpu
            row["wall_s"] = time.perf_counter() - wall
            self.rows.append(row)


STAGES = ("parse WET (+ length cap)", "URL dedup", "clean_page", "line dedup", "language (langdetect)",
          "bad words", "split")
# The rule chain's stage names (cleaning_rules/chain.py) as rows of the stage view.
CHAIN_STAGE_ROWS = {"DedupeUrls": STAGES[1], "CleanPages": STAGES[2], "DedupeLines": STAGES[3],
                    "DetectEnglish": STAGES[4], "FilterBadwords": STAGES[5]}


def c4forge_stages(wet: Path, badwords: frozenset, limit: int | None = None):
    """c4forge's rule chain stage by stage, in memory: the stages the Beam graph wraps."""
    from c4forge.cleaning_rules import chain
    from c4forge.cleaning_rules.profiles import C4_EN_3_1_0 as profile
    from c4forge.pipeline.graph import takes_raw_pages
    from c4forge.pipeline.page_bytes import as_page
    from c4forge.pipeline.readers import read_wet_pages
    from c4forge.pipeline.spill_setup import HOLD_FILE_BYTES

    counts = collections.Counter()
    t = StageTimer()
    rules = chain.rule_chain(profile, badwords)
    # as a local in-memory build reads: records held after the UTF-8 check, and the pages that
    # URL dedup takes undecoded (RawPage) decoded there, where its shuffle decodes them
    raw_pages = takes_raw_pages(rules)
    with t(STAGES[0], 0) as row:
        pages = list(read_wet_pages(str(wet), profile, counts, hold_bytes=HOLD_FILE_BYTES, raw_pages=raw_pages))[:limit]
        row["pages_out"] = len(pages)
    for stage in rules.stages:
        with t(CHAIN_STAGE_ROWS[stage.name], len(pages)) as row:
            if raw_pages:
                pages, raw_pages = [as_page(p) for p in pages], False
            if isinstance(stage, chain.PageStage):
                stage.setup()
            pages = chain.run_stage_in_memory(stage, pages, counts)
            row["pages_out"] = len(pages)
    with t(STAGES[6], len(pages)) as row:
        docs = [{"url": p.url, "text": p.text, "timestamp": p.timestamp, "split": rules.assign_split(p, counts)}
                for p in pages]
        row["pages_out"] = len(docs)
    return t.rows, docs, counts


@contextlib.contextmanager
def beam_metrics_container():
    """What a Beam worker has while it runs a step: Metrics.counter(...).inc() lands in a
    MetricsContainer (otherwise Beam drops the update early, a little cheaper)."""
    from apache_beam.metrics.execution import MetricsContainer
    from apache_beam.runners.worker import statesampler
    from apache_beam.utils.counters import CounterFactory

    sampler = statesampler.StateSampler("benchmark", CounterFactory())
    container = MetricsContainer("stage-view")
    state = sampler.scoped_state("stage-view", "process", metrics_container=container)
    previous = statesampler.get_current_tracker()
    statesampler.set_current_tracker(sampler)
    try:
        with state:
            yield container
    finally:
        statesampler.set_current_tracker(previous)


def tfds_stages(wet: Path, badwords_dir: Path, limit: int | None = None):
    """TFDS c4_utils functions in c4/en order, as the reference graph calls them."""
    from c4forge.pipeline.verify import reference  # patches c4_utils (offline Punkt, no TF)
    from tensorflow_datasets.text import c4_utils

    helpers = reference._C4_DEDUPE_HELPERS  # the original c4_utils dedup helpers
    emit_url_to_lines, hash_text, remove_lines = (
        helpers["_emit_url_to_lines"], helpers["_hash_text"], helpers["_remove_lines_from_text"])
    t = StageTimer()
    with beam_metrics_container() as container:
        with t(STAGES[0], 0) as row:
            pages = [p for p in c4_utils.split_wet_file(str(wet)) if c4_utils.is_valid_length(p)][:limit]
            row["pages_out"] = len(pages)
        with t(STAGES[1], len(pages)) as row:  # normalize_url key, CombinePerKey(select_newest_page)
            groups = collections.defaultdict(list)
            for p in pages:
                groups[p.normalized_url].append(p)
            pages = [c4_utils.select_newest_page(g) for g in groups.values()]
            row["pages_out"] = len(pages)
        with t(STAGES[2], len(pages)) as row:
            clean = c4_utils.get_clean_page_fn()
            pages = [q for p in pages for q in clean(p)]
            row["pages_out"] = len(pages)
        with t(STAGES[3], len(pages)) as row:  # FlatMap(_emit_url_to_lines), Top.PerKey(1, key=_hash_text),
            selected: dict = {}  # then CoGroupByKey on url, FlatMap(_remove_lines_from_text)
            for p in pages:
                for line_hash, url in emit_url_to_lines(p):
                    k = hash_text(url)
                    cur = selected.get(line_hash)
                    if cur is None or k < cur[0]:
                        selected[line_hash] = (k, url)
            lines_by_url = collections.defaultdict(list)
            for line_hash, (_, url) in selected.items():
                lines_by_url[url].append(line_hash)
            inc = c4_utils.get_counter_inc_fn("dedupe-lines")
            pages = [q for p in pages for q in remove_lines(
                (p.url, {"pages": [p], "lines": lines_by_url.get(p.url, [])}), inc, 3)]
            row["pages_out"] = len(pages)
        with t(STAGES[4], len(pages)) as row:
            pages = [q for p in pages for q in c4_utils.detect_english(p)]
            row["pages_out"] = len(pages)
        with t(STAGES[5], len(pages)) as row:
            keep = c4_utils.get_badwords_filter_fn({"en": reference.load_en_badwords(badwords_dir)},
                                                   filter_fraction=1.0)
            pages = [p for p in pages if keep(p)]
            row["pages_out"] = len(pages)
        with t(STAGES[6], len(pages)) as row:  # {train,validation}_filter then _example_of
            docs = []
            for split, predicate in reference._SPLIT_PREDICATES.items():
                in_split = c4_utils.get_hashed_url_filter_fn(predicate)
                docs += [reference._example_of(p, split) for p in pages if in_split(p)]
            row["pages_out"] = len(docs)
        counters = {f"{k.metric.namespace}/{k.metric.name}": v
                    for k, v in container.get_cumulative().counters.items()}
    return t.rows, [{k: d[k] for k in DOC_FIELDS} for d in docs], counters


def stage_view(wet: Path, limit: int | None, profile_path: Path | None = None) -> dict:
    from c4forge.cleaning_rules.badwords import load_badwords

    badwords = load_badwords("en", str(BADWORDS_DIR))
    log("[stage view] c4forge ...")
    ours_rows, ours_docs, _ = c4forge_stages(wet, badwords, limit)
    log("[stage view] TFDS c4_utils ...")
    ref_rows, ref_docs, _ = tfds_stages(wet, BADWORDS_DIR, limit)
    key = lambda d: (d["split"], d["url"])
    same = sorted(ours_docs, key=key) == sorted(ref_docs, key=key)
    out = {"c4forge": ours_rows, "reference": ref_rows, "identical": same, "documents": len(ours_docs)}
    if profile_path is not None:
        import cProfile

        log("[stage view] c4forge under cProfile ...")
        profiler = cProfile.Profile()
        profiler.runcall(c4forge_stages, wet, badwords, limit)
        profiler.dump_stats(str(profile_path))
        out["profile"] = str(profile_path)
    return out


# =======================================================================================
# Reports
# =======================================================================================

def md_table(header: Sequence[str], rows: Sequence[Sequence]) -> str:
    cells = [[str(c) for c in header]] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    fmt = lambda r: "| " + " | ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))) + " |"
    return "\n".join([fmt(cells[0]), "|" + "|".join("-" * (w + 2) for w in widths) + "|"] + [fmt(r) for r in cells[1:]])


def _ratio(a, b) -> str:
    return f"{a / b:.2f}x" if a and b else "-"


def e2e_table(fl: dict, runs: dict, wet_stats: dict) -> str:
    gz_mb = wet_stats["gzip_bytes"] / MB
    ref, ours = runs.get("reference"), runs.get("c4forge")
    cols = [("floor: gunzip", fl["gunzip"]), ("floor: gunzip+lines", fl["gunzip+lines"])]
    header = ["", "floor: gunzip", "floor: gunzip+lines"]
    if ref:
        header.append("TFDS reference")
    if ours:
        header.append("c4forge")
    if ref and ours:
        header.append("reference / c4forge (cost)")
    pages = (ours or ref)["pages_read"]

    def row(name, get, fmt, floor_too=True, ratio=True, throughput=False):
        r = [name] + [fmt(get(c)) if floor_too else "" for _, c in cols]
        r += [fmt(get(x)) for x in (ref, ours) if x]
        if ref and ours:  # always "reference cost / c4forge cost": > 1 means c4forge is cheaper
            r.append((_ratio(get(ours), get(ref)) if throughput else _ratio(get(ref), get(ours))) if ratio else "")
        return r

    f1 = lambda v: f"{v:,.1f}"
    rows = [
        row("CPU s (process tree, total)", lambda c: c["cpu_s"], f1),
        row("CPU s (pipeline run only)", lambda c: c.get("run_cpu_s", c["cpu_s"]), f1),
        row("wall s", lambda c: c["wall_s"], f1),
        row("peak RSS MB (largest process)", lambda c: c.get("maxrss_mb", 0), lambda v: f"{v:,.0f}" if v else "", False),
        row("peak RSS MB (process tree, sampled)", lambda c: c.get("tree_peak_rss_mb", 0), lambda v: f"{v:,.0f}" if v else "", False),
        row("pages/s/core", lambda c: pages / c["cpu_s"], lambda v: f"{v:,.0f}", throughput=True),
        row("pages/s (wall)", lambda c: pages / c["wall_s"], lambda v: f"{v:,.0f}", throughput=True),
        row("WET MB(gz)/s/core", lambda c: gz_mb / c["cpu_s"], lambda v: f"{v:,.2f}", throughput=True),
        row("documents kept", lambda c: c.get("documents", 0), lambda v: f"{v:,}" if v else "", False, False),
    ]
    return md_table(header, rows)


def stage_table(sv: dict) -> str:
    ref = {r["stage"]: r for r in sv["reference"]}
    ours = {r["stage"]: r for r in sv["c4forge"]}
    tr = sum(r["cpu_s"] for r in sv["reference"])
    to = sum(r["cpu_s"] for r in sv["c4forge"])
    rows = []
    for s in STAGES:
        a, b = ref[s], ours[s]
        rows.append([s, f"{a['pages_in']:,}->{a['pages_out']:,}", f"{a['cpu_s'] * 1000:,.0f}",
                     f"{100 * a['cpu_s'] / tr:.1f}%", f"{b['cpu_s'] * 1000:,.0f}", f"{100 * b['cpu_s'] / to:.1f}%",
                     _ratio(a["cpu_s"], b["cpu_s"])])
    rows.append(["total", "", f"{tr * 1000:,.0f}", "100%", f"{to * 1000:,.0f}", "100%", _ratio(tr, to)])
    return md_table(["stage", "pages in->out", "TFDS ms", "TFDS %", "c4forge ms", "c4forge %", "TFDS / c4forge"], rows)


SPILL_FLAGS = {"default": "", "on": "--spill-dir", "off": "--no-spill"}  # --spill mode: the build's flag


def memory_table(rows: list[dict]) -> str:
    """Ratios to the smallest input of the same --spill mode; spilled CPU also vs in-memory."""
    base = {}
    for r in rows:
        base.setdefault(r["mode"], r)
    in_memory = {r["factor"]: r for r in rows if not r.get("spilled_to")}
    out = []
    for r in rows:
        b = base[r["mode"]]
        vs_memory = in_memory.get(r["factor"]) if r.get("spilled_to") else None
        shuffle = ("spill" if r.get("spilled_to") else "memory") + (f" ({SPILL_FLAGS[r['mode']]})"
                                                                    if SPILL_FLAGS[r["mode"]] else " (no flag)")
        out.append([f"{r['factor']}x", shuffle, f"{r['records']:,}",
                    f"{r['gzip_mb']:,.0f}", f"{r['cpu_s']:,.1f}",
                    f"{r['wall_s']:,.1f}", f"{r['maxrss_mb']:,.0f}", f"{r['tree_peak_rss_mb']:,.0f}",
                    _ratio(r["maxrss_mb"], b["maxrss_mb"]), _ratio(r["cpu_s"], b["cpu_s"]),
                    _ratio(r["cpu_s"], vs_memory["cpu_s"]) if vs_memory else ""])
    return md_table(["input", "shuffle", "records", "MB gz", "CPU s", "wall s", "peak RSS MB", "tree RSS MB",
                      "RSS / 1x", "CPU / 1x", "CPU / in-memory"], out)


def profile_summary(prof: Path, top: int, title: str) -> str:
    """Top functions by own time, and own time per package/module group."""
    import pstats

    stats = pstats.Stats(str(prof))
    total = sum(v[2] for v in stats.stats.values())
    rows = sorted(stats.stats.items(), key=lambda kv: kv[1][2], reverse=True)[:top]
    lines = [f"### {title}: top {top} by own time (total profiled own time {total:,.1f} s)", ""]
    lines.append(md_table(["own s", "%", "cum s", "calls", "function"], [
        [f"{tt:,.2f}", f"{100 * tt / total:.1f}%", f"{ct:,.2f}", f"{nc:,}", _fname(fn)]
        for fn, (cc, nc, tt, ct, callers) in rows]))
    groups = collections.Counter()
    for fn, (cc, nc, tt, ct, callers) in stats.stats.items():
        groups[_group(fn)] += tt
    lines += ["", f"### {title}: own time by package", ""]
    lines.append(md_table(["package / module", "own s", "%"], [
        [g, f"{v:,.1f}", f"{100 * v / total:.1f}%"] for g, v in groups.most_common(18)]))
    return "\n".join(lines)


def _fname(fn) -> str:
    path, line, name = fn
    if path == "~":
        return "C: " + _builtin_name(name)
    parts = Path(path).parts
    short = "/".join(parts[-2:]) if len(parts) > 1 else path
    return f"{short}:{line}({name})"


def _builtin_name(name: str) -> str:
    m = re.fullmatch(r"<method '(\w+)' of '([\w.]+)' objects>", name)
    if m:
        return f"{m.group(2)}.{m.group(1)}"
    m = re.fullmatch(r"<built-in method ([\w.]+)>", name)
    return m.group(1) if m else name


def _group(fn) -> str:
    path, _, name = fn
    if path == "~":  # C functions
        return "C: " + _builtin_name(name)
    p = path.replace("\\", "/")
    for marker in ("site-packages/", "/lib/python3"):
        if marker in p:
            rest = p.split(marker, 1)[1]
            if marker == "/lib/python3":
                rest = "stdlib/" + rest.split("/", 1)[1]
            parts = rest.split("/")
            if parts[0] in ("apache_beam", "nltk", "tensorflow_datasets", "c4forge"):
                return "/".join(parts[:2]) if parts[0] != "apache_beam" else "/".join(parts[:3])
            return parts[0] if parts[0] != "stdlib" else "/".join(parts[:2])
    if "/c4forge/" in p or "/work/main/" in p:
        parts = p.split("/")
        return "c4forge " + "/".join(parts[-2:])
    return p


def internet_scale(ours: dict, ref: dict | None, wet_stats: dict) -> str:
    pages = ours["pages_read"]
    per_page = ours["cpu_s"] / pages
    per_gz_byte = ours["cpu_s"] / wet_stats["gzip_bytes"]
    here_kb = wet_stats["gzip_bytes"] / max(wet_stats.get("records") or pages, 1) / 1000
    cc_kb = CC_2019_18_WET_BYTES / CC_2019_18_PAGES / 1000
    lines = ["Internet-scale estimate (CC-MAIN-2019-18, the crawl c4/en is built from):"
             + (" [small input: fixed start-up costs dominate, use >= 10,000 records]" if pages < 10_000 else ""),
             (f"  assumptions: {CC_2019_18_WET_FILES:,} WET files, ~{CC_2019_18_PAGES / 1e9:.1f} billion pages "
              f"(Common Crawl's announcement), ~{CC_2019_18_WET_BYTES / 1e12:.0f} TB of gzipped WET (T5 README); "
              "CPU per page / per gzipped byte as measured here on this input; download, shuffle I/O "
              "and stragglers not included."),
             (f"  records here average {here_kb:.1f} KB gzipped vs ~{cc_kb:.1f} KB in the crawl; cost grows with "
              "pages and with bytes, so the two figures bracket it (by bytes <= crawl <= by pages).")]

    def est(label, cpu_per_page, cpu_per_byte):
        h_pages = cpu_per_page * CC_2019_18_PAGES / 3600
        h_bytes = cpu_per_byte * CC_2019_18_WET_BYTES / 3600
        lines.append(f"  {label}: {h_pages:,.0f} CPU-hours ({h_pages / 24:,.0f} CPU-days) by pages, "
                     f"{h_bytes:,.0f} CPU-hours ({h_bytes / 24:,.0f} CPU-days) by bytes")
        return h_pages, h_bytes

    h, hb = est("c4forge", per_page, per_gz_byte)
    c4forge_hours = [h, hb]
    if ref:
        rh, _ = est("TFDS reference (this machine)", ref["cpu_s"] / ref["pages_read"],
                    ref["cpu_s"] / wet_stats["gzip_bytes"])
        lines.append(f"  calibration: the reference's by-pages estimate is {rh / (REFERENCE_CPU_DAYS * 24):.2f}x the "
                     "published figure below")
        ratio = ref["cpu_s"] / ours["cpu_s"]
        lines.append(f"  scaled: published {REFERENCE_CPU_DAYS} CPU-days / measured ratio {ratio:.2f} = "
                     f"{REFERENCE_CPU_DAYS / ratio:,.0f} CPU-days for c4forge")
        c4forge_hours.append(REFERENCE_CPU_DAYS * 24 / ratio)
    lines.append(f"  published reference: {REFERENCE_CPU_DAYS} CPU-days = {REFERENCE_CPU_DAYS * 24:,} CPU-hours "
                 "(T5 README, on Dataflow)")
    for name, usd in (("n1-standard-2 on GCE list price", N1_STANDARD_2_USD_PER_HOUR),
                      ("n1-standard-2 on Dataflow batch (vCPU+memory)", DATAFLOW_N1_STANDARD_2_USD_PER_HOUR)):
        lo, hi = min(c4forge_hours), max(c4forge_hours)
        lines.append(f"  cost at ${usd:.3f}/h per 2-vCPU worker ({name}), fully busy: "
                     f"${lo / 2 * usd:,.0f}-${hi / 2 * usd:,.0f} (c4forge) vs "
                     f"${REFERENCE_CPU_DAYS * 24 / 2 * usd:,.0f} (published 335 CPU-days)")
    return "\n".join(lines)


# =======================================================================================
# --compare-with: c4forge at a git revision vs the working tree
# =======================================================================================

class RevisionError(Exception):
    """--compare-with names no commit of a git checkout: a user error (one line, exit 2)."""


def resolve_revision(rev: str) -> tuple[Path, str]:
    """The checkout holding this script (its root is the c4forge package) and REV's commit."""
    def git(*args, cwd=HERE):
        try:
            return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True)
        except FileNotFoundError:
            raise RevisionError("git is not installed") from None

    top = git("rev-parse", "--show-toplevel")
    if top.returncode != 0:
        raise RevisionError(f"{HERE} is not in a git checkout")
    root = Path(top.stdout.strip()).resolve()
    commit = git("rev-parse", "--verify", "--quiet", "--end-of-options", f"{rev}^{{commit}}", cwd=root)
    if commit.returncode != 0:
        raise RevisionError(f"unknown revision {rev!r} in {root}")
    return root, commit.stdout.strip()


@contextlib.contextmanager
def revision_checkout(root: Path, commit: str):
    """COMMIT checked out as a detached worktree named ``c4forge`` in a temporary folder, its C
    extensions built in place (as ``pip install`` builds them; git does not hold them): that
    folder first on PYTHONPATH imports c4forge from COMMIT. Removed afterwards, also on failure."""
    tmp = Path(tempfile.mkdtemp(prefix="c4-benchmark-rev-"))
    tree = tmp / "c4forge"
    try:
        subprocess.run(["git", "worktree", "add", "--detach", str(tree), commit], cwd=root, check=True,
                       stdout=subprocess.DEVNULL)
        subprocess.run([sys.executable, "-c", "from setuptools import setup; setup()", "build_ext", "--inplace",
                        "--quiet"], cwd=tree, check=True, stdout=subprocess.DEVNULL)
        yield tree
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=root, capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)


def compare_revisions(args, wet: Path, workdir: Path, root: Path, commit: str) -> dict:
    """c4forge at COMMIT vs the working tree, end to end, runs interleaved (REV, tree, REV, ...)
    so that a drift of the machine's load hits both alike."""
    rev_label = f"{args.compare_with} ({commit[:8]})"
    runs = []
    with revision_checkout(root, commit) as tree:
        sides = [(rev_label, "rev", tree, str(tree.parent)), ("working tree", "tree", root, None)]
        for i in range(1, args.compare_runs + 1):
            for label, side, package_dir, pythonpath in sides:
                run = run_child("c4forge", wet, workdir / f"compare-{side}-{i}", args.runner_args, docs=False,
                                pythonpath=pythonpath)
                if run["c4forge_dirs"] != [str(package_dir.resolve())]:
                    raise SystemExit(f"--compare-with: the {label} run imported c4forge from "
                                     f"{', '.join(run['c4forge_dirs']) or 'nowhere'}, not from {package_dir}")
                runs.append({"label": label, "side": side, "run": i,
                             **{f: run[f] for f in ("cpu_s", "run_cpu_s", "wall_s", "maxrss_mb", "pages_read",
                                                    "documents", "counters", "c4forge_dirs")}})
    first = runs[0]["counters"]
    differing = sorted({k for r in runs for k in first.keys() | r["counters"].keys()
                        if r["counters"].get(k) != first.get(k)})
    median = lambda side, f: statistics.median(r[f] for r in runs if r["side"] == side)
    return {"rev": args.compare_with, "commit": commit, "label": rev_label, "runs": runs,
            "median_cpu_s": {side: median(side, "cpu_s") for side in ("rev", "tree")},
            "median_run_cpu_s": {side: median(side, "run_cpu_s") for side in ("rev", "tree")},
            "documents": {side: next(r["documents"] for r in runs if r["side"] == side) for side in ("rev", "tree")},
            "counters_equal": not differing, "differing_counters": differing}


def compare_report(cmp: dict) -> str:
    rows = [[r["label"], r["run"], f"{r['cpu_s']:,.2f}", f"{r['run_cpu_s']:,.2f}", f"{r['wall_s']:,.2f}",
             f"{r['maxrss_mb']:,.0f}"] for r in cmp["runs"]]
    table = md_table(["rev", "run", "CPU s (total)", "CPU s (run)", "wall s", "peak RSS MB"], rows)
    change = lambda m: f"{100 * (m['tree'] - m['rev']) / m['rev']:+.1f}%"
    cpu, run_cpu, docs = cmp["median_cpu_s"], cmp["median_run_cpu_s"], cmp["documents"]
    summary = (f"median CPU s: {cmp['label']} {cpu['rev']:,.2f}, working tree {cpu['tree']:,.2f}: {change(cpu)} "
               f"(pipeline run only: {run_cpu['rev']:,.2f} -> {run_cpu['tree']:,.2f}, {change(run_cpu)}); "
               f"documents {docs['rev']:,} {'=' if docs['rev'] == docs['tree'] else '!='} {docs['tree']:,}; "
               + ("counters equal" if cmp["counters_equal"] else
                  f"WARNING: counters differ ({', '.join(cmp['differing_counters'][:8])}"
                  f"{', ...' if len(cmp['differing_counters']) > 8 else ''})"))
    return table + "\n\n" + summary


# =======================================================================================
# Main
# =======================================================================================

def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--records", type=int, default=make_segment.DEFAULT_RECORDS, help="records of the generated input")
    p.add_argument("--input", type=Path, help="a WET file to use instead of a generated one")
    p.add_argument("--cache-dir", type=Path, default=None, help="where generated inputs are cached")
    p.add_argument("--seed", type=int, default=make_segment.DEFAULT_SEED)
    p.add_argument("--runner-args", default="", help="Beam options for both runs, e.g. "
                   "'--direct_running_mode=multi_processing --direct_num_workers=2'")
    p.add_argument("--skip-reference", action="store_true", help="no TFDS reference run (end to end)")
    p.add_argument("--skip-e2e", action="store_true", help="no end-to-end runs")
    p.add_argument("--no-stage-view", dest="stage_view", action="store_false")
    p.add_argument("--stage-pages", type=int, help="stage view on the first N pages only")
    p.add_argument("--memory-scaling", help="e.g. 1,4: c4forge on 1x and 4x --memory-base-records")
    p.add_argument("--memory-base-records", type=int, default=10_000)
    p.add_argument("--spill", choices=["default", "on", "off", "both"], default="default",
                   help="memory scaling as `c4forge build` runs with no flag (default: it decides), with --spill-dir "
                        "(on), with --no-spill (off), or off and on (both)")
    p.add_argument("--profile", action="store_true", help="cProfile the c4forge stage view")
    p.add_argument("--profile-e2e", action="store_true", help="cProfile a c4forge FnApiRunner run (child)")
    p.add_argument("--profile-top", type=int, default=25)
    p.add_argument("--compare-with", metavar="REV", help="also c4forge at git revision REV vs the working tree, "
                   "end to end, runs interleaved")
    p.add_argument("--compare-runs", type=int, default=2, help="--compare-with: runs of each (default 2)")
    p.add_argument("--workdir", type=Path, help="outputs of the runs (default: a temporary directory)")
    p.add_argument("--json", type=Path, help="write all measurements here")
    args = p.parse_args(argv)
    if args.compare_runs < 1:
        p.error("--compare-runs must be at least 1")
    return args


def input_file(args, records: int) -> tuple[Path, dict]:
    if args.input and records == args.records:
        path = args.input
        stats = make_segment.segment_stats(path) or {"gzip_bytes": path.stat().st_size}
        return path, stats
    started = time.time()
    path = make_segment.make_segment(records, args.cache_dir, args.seed, log=log)
    log(f"input: {path} ({time.time() - started:.1f} s to generate or find)")
    return path, make_segment.segment_stats(path)


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["_child"]:
        return child_main(argv[1:])
    args = parse_args(argv)
    if args.compare_with:
        try:
            compare_target = resolve_revision(args.compare_with)
        except RevisionError as e:
            log(f"--compare-with: {e}")
            return 2
    if not args.input and not make_segment.REALWEB_WET.is_file():
        log(f"no input: {make_segment.REALWEB_WET} is absent (../shared); pass --input")
        return 2
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="c4-benchmark-"))
    workdir.mkdir(parents=True, exist_ok=True)
    results: dict = {"args": {k: str(v) for k, v in vars(args).items()}, "cpus": os.cpu_count(),
                     "loadavg_start": os.getloadavg()}
    wet, wet_stats = input_file(args, args.records)
    results["input"] = {"path": str(wet), **wet_stats}
    print(f"# c4 benchmark: {wet.name}")
    print(f"input: {wet_stats.get('records', '?'):,} records, {wet_stats['gzip_bytes'] / MB:,.1f} MB gzipped, "
          f"{wet_stats.get('uncompressed_bytes', 0) / MB:,.1f} MB uncompressed; runner: FnApiRunner "
          f"{args.runner_args or '(in-process)'}; {os.cpu_count()} CPUs, load average at start "
          f"{os.getloadavg()[0]:.2f}")
    exit_code = 0

    if not args.skip_e2e:
        log("[floor] gunzip ...")
        results["floor"] = floor(wet)
        runs = {}
        if not args.skip_reference:
            runs["reference"] = run_child("reference", wet, workdir, args.runner_args)
        runs["c4forge"] = run_child("c4forge", wet, workdir, args.runner_args)
        results["e2e"] = runs
        print("\n## End to end (same input, same runner, fresh process each)\n")
        print(e2e_table(results["floor"], runs, wet_stats))
        if "reference" in runs:
            report = compare_outputs(runs["reference"], runs["c4forge"])
            results["parity"] = {"identical": report.identical, "text": report.format_text()}
            print("\n" + report.format_text(max_examples=3))
            if not report.identical:
                exit_code = 1
        print()
        print(internet_scale(runs["c4forge"], runs.get("reference"), wet_stats))

    if args.compare_with:
        cmp = compare_revisions(args, wet, workdir, *compare_target)
        results["compare_with"] = cmp
        print(f"\n## c4forge at {cmp['label']} vs the working tree (end to end, same input, interleaved)\n")
        print(compare_report(cmp))
        if not cmp["counters_equal"]:
            exit_code = 1

    if args.stage_view:
        prof = workdir / "c4forge-stages.prof" if args.profile else None
        sv = stage_view(wet, args.stage_pages, prof)
        results["stage_view"] = sv
        print(f"\n## Stage view (no Beam, one process, CPU ms; documents identical: {sv['identical']}, "
              f"{sv['documents']:,} documents)\n")
        print(stage_table(sv))
        if not sv["identical"]:
            exit_code = 1
        if "e2e" in results:
            for impl, rows in (("reference", sv["reference"]), ("c4forge", sv["c4forge"])):
                run = results["e2e"].get(impl)
                if run and not args.stage_pages:
                    rules = sum(r["cpu_s"] for r in rows)
                    print(f"\n{impl}: end-to-end pipeline run {run['run_cpu_s']:,.1f} CPU s vs stage view "
                          f"{rules:,.1f} CPU s: Beam (runner, coders, shuffles, per-element calls), sink and "
                          f"metrics cost {run['run_cpu_s'] - rules:,.1f} CPU s "
                          f"({100 * (run['run_cpu_s'] - rules) / run['run_cpu_s']:.0f}% of the run)", end="")
            print()
        if prof:
            print("\n" + profile_summary(prof, args.profile_top, "c4forge stage view (cProfile)"))

    if args.profile_e2e:
        prof = workdir / "c4forge-e2e.prof"
        run = run_child("c4forge", wet, workdir / "profiled", args.runner_args, cprofile=prof)
        results["profile_e2e"] = {"cpu_s": run["cpu_s"], "profile": str(prof)}
        print(f"\n## c4forge end to end under cProfile ({run['cpu_s']:,.1f} CPU s with profiling)\n")
        print(profile_summary(prof, args.profile_top, "c4forge FnApiRunner run (cProfile, main thread)"))

    if args.memory_scaling:
        factors = [int(x) for x in args.memory_scaling.split(",")]
        modes = {"both": ["off", "on"]}.get(args.spill, [args.spill])
        rows = []
        for k in factors:
            path, stats = input_file(args, args.memory_base_records * k)
            for mode in modes:
                name = f"memory-{k}x-{mode}"
                runner_args = args.runner_args
                if mode == "on":
                    runner_args += f" --spill-dir {shlex.quote(str(workdir / name / 'spill'))}"
                elif mode == "off":
                    runner_args += " --no-spill"
                run = run_child("c4forge", path, workdir / name, runner_args, docs=False)
                rows.append({"factor": k, "mode": mode, "records": args.memory_base_records * k,
                             "gzip_mb": stats["gzip_bytes"] / MB,
                             **{f: run[f] for f in ("cpu_s", "wall_s", "maxrss_mb", "tree_peak_rss_mb",
                                                    "pages_read", "spilled_to")}})
        results["memory_scaling"] = rows
        print("\n## Memory scaling (c4forge)\n")
        print(memory_table(rows))

    results["loadavg_end"] = os.getloadavg()
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, default=str))
    print(f"\nload average at end {os.getloadavg()[0]:.2f}; outputs under {workdir}")
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
