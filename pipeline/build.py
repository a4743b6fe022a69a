"""``c4forge build``: inputs → C4 graph → TFDS dataset (and/or JSONL.gz) → run report."""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import json
import logging
import os
import time
from datetime import datetime, timezone
from typing import Mapping, Optional, Sequence

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.options.pipeline_options import PipelineOptions

from c4forge.cleaning_rules import chain as chain_lib
from c4forge.cleaning_rules import language, mc4
from c4forge.cleaning_rules.badwords import load_badwords
from c4forge.cleaning_rules.profiles import DEFAULT_PROFILE, Profile, get_profile
from c4forge.corpus.example import SPLITS
from c4forge.corpus.manifest import FileEntry, Manifest, sha256_of
from c4forge.corpus.tfds_metadata import TfdsMetadata

from . import report as report_lib
from .access_errors import explained_access_errors
from .errors import BuildError
from .fetch import resolve_crawl_inputs
from .dedup import SHUFFLE_METRICS
from .graph import build_c4
from .inputs import expand_inputs
from .files import is_local, write_file_atomically
from .output_lock import OutputLock
from .progress import live_progress
from .publish import (REPORT_NAME, REPORT_PAGE_NAME, REPORT_PICTURE_NAME, datasets_of, describe_unfinished,
                      existing_build_files, fault_point, files_under, manifest_files, new_run_id, publish,
                      read_manifest, rebased, remove_leftover_staging, remove_tree, staging_dir)
from .report_page import report_pictures
from .sinks import WriteJsonlSplits, WriteTfdsDataset
from .spill_setup import BuildMemory, build_memory, check_spill_dir, input_bytes_of, is_local_runner
from .submission import explained_runner_errors, hand_to_runner_only, is_dry_run, refuse_template

logger = logging.getLogger(__name__)

FORMATS = ("tfrecord", "jsonl")
DEFAULT_RUNNER = "FnApiRunner"  # Beam's default DirectRunner first tries to download Prism


@dataclasses.dataclass(frozen=True)
class BuildConfig:
    inputs: tuple[str, ...]
    output: str
    profile: str = DEFAULT_PROFILE
    noclean: bool = False
    noblocklist: bool = False
    wet_quirks: Optional[bool] = None  # None: the profile's choice
    badwords_dir: Optional[str] = None
    formats: tuple[str, ...] = ("tfrecord",)
    num_shards: Optional[int] = None
    overwrite: bool = False
    dedup: Optional[str] = None  # None: the profile's ("lines"); or "spans", "none"
    input_format: str = "wet"  # or "warc": HTML response records, text extracted
    html_extractor: str = "resiliparse"
    langid: str = language.LANGDETECT  # the English filter's backend; only langdetect is C4
    spill_dir: Optional[str] = None  # local runner: shuffles go through files here, not memory
    no_spill: bool = False  # local runner: shuffles in memory even when they may not fit (spill_setup)

    def resolved_profile(self) -> Profile:
        return get_profile(self.profile).with_switches(self.noclean, self.noblocklist, self.wet_quirks,
                                                       dedup=self.dedup)


def with_default_runner(beam_args: Sequence[str]) -> list[str]:
    args = list(beam_args)
    if not any(a == "--runner" or a.startswith("--runner=") for a in args):
        args.insert(0, f"--runner={DEFAULT_RUNNER}")
    return args


def resolve_crawl(request, beam_args: Sequence[str] = ()):
    """``fetch.resolve_crawl_inputs`` with Beam's filesystem options set (s3 options, for the listing)."""
    FileSystems.set_options(PipelineOptions(with_default_runner(beam_args)))
    return resolve_crawl_inputs(request)


def tfds_metadata(profile: Profile) -> TfdsMetadata:
    return TfdsMetadata(config=profile.tfds_config, version=profile.tfds_version)


def jsonl_dir(output: str, profile: Profile) -> str:
    return FileSystems.join(output, profile.tfds_config)  # allenai/c4 layout: en/c4-train...


def describe_existing_build(output: str) -> str:
    """What the report of the build in ``output`` says it is, in one line."""
    path = FileSystems.join(output, REPORT_NAME)
    try:
        with FileSystems.open(path) as f:
            report = json.loads(f.read().decode("utf-8"))
        config = report["config"]
    except (OSError, ValueError, KeyError, TypeError):
        return "no readable c4forge-report.json beside it (an unfinished build, or not c4forge's)"
    inputs = config.get("inputs") or []
    names = ", ".join(str(i).rsplit("/", 1)[-1] for i in inputs[:2]) + (", ..." if len(inputs) > 2 else "")
    examples = {s["split"]: s["num_examples"] for s in report.get("splits", []) if s.get("num_examples")}
    splits = ", ".join(f"{split} {count:,}" for split, count in examples.items())  # once, whatever the formats
    fetched = report.get("fetch") or {}
    origin = f"{fetched['crawl']} entries {fetched['segments']}" if fetched else f"{len(inputs)} WET file(s) ({names})"
    finished = config.get("finished_at", "at an unknown time")
    backend = config.get("langid", language.LANGDETECT)  # reports from before --langid lack it
    langid_note = "" if backend == language.LANGDETECT else f", --langid {backend} (not C4)"
    return (f"profile {config.get('profile')}{langid_note}, {'+'.join(config.get('formats', []))}, "
            f"built from {origin}, "
            f"{splits or '0 examples'}, finished {finished}")


def prepare_output(output: str) -> None:
    """A local --output folder is made (the lock lives in it); a file there is refused."""
    if not is_local(output):
        return
    if os.path.exists(output) and not os.path.isdir(output):
        raise BuildError(f"--output {output} is a file; choose a folder (it is made if missing)")
    os.makedirs(output, exist_ok=True)


def check_output_writable(output: str) -> None:
    """Creates and deletes a probe file, so that a missing credential or permission fails
    here rather than after the pipeline ran (on Dataflow: after workers were paid for)."""
    probe = FileSystems.join(output, f".c4forge-write-probe-{int(time.time() * 1e6)}")
    with FileSystems.create(probe) as f:
        f.write(b"probe\n")
    FileSystems.delete([probe])


def check_output(config: BuildConfig) -> list[str]:
    """Under the output lock: the files of the build ``config.output`` holds (to be replaced
    at publish); BuildError if there is one and no --overwrite."""
    manifest = read_manifest(config.output)
    existing = existing_build_files(config.output)
    if not config.overwrite:
        if manifest is not None:
            raise BuildError(f"--output {config.output} already holds a build ({describe_existing_build(config.output)}"
                             f"); pass --overwrite to replace it, or choose another --output")
        if existing:
            raise BuildError(describe_unfinished(config.output, existing))
    check_output_writable(config.output)
    return existing


def load_profile_badwords(profile: Profile, badwords_dir: Optional[str]):
    """The en list, or for mC4 every pinned language's list; None without a bad-words filter."""
    if not profile.badwords:
        return None
    return mc4.load_mc4_badwords(badwords_dir) if profile.multilingual else load_badwords("en", badwords_dir)


def build_pipeline(pipeline, config: BuildConfig, root: str, wet_paths: list[str], profile: Profile, badwords,
                   memory: BuildMemory = BuildMemory()):
    """Graph + sinks writing under ``root`` (the run's staging folder); returns the
    PCollection of per-split summaries."""
    shuffle = memory.shuffle
    split_pages = build_c4(pipeline, wet_paths, profile, badwords, input_format=config.input_format,
                           html_extractor=config.html_extractor, langid_backend=config.langid, shuffle=shuffle,
                           hold_file_bytes=memory.hold_file_bytes)
    splits = mc4.mc4_split_names() if profile.multilingual else SPLITS
    summaries = []
    if "tfrecord" in config.formats:
        meta = tfds_metadata(profile)
        summaries.append(split_pages | "WriteTfds" >> WriteTfdsDataset(
            root, name=meta.name, config=meta.config, version=meta.version,
            num_shards=config.num_shards, splits=splits, shuffle=shuffle))
    if "jsonl" in config.formats:
        summaries.append(split_pages | "WriteJsonl" >> WriteJsonlSplits(
            jsonl_dir(root, profile), num_shards=config.num_shards, splits=splits, shuffle=shuffle))
    return summaries | "AllSummaries" >> beam.Flatten()


def build_job(pipeline, config: BuildConfig, staging: str, wet_paths: list[str], profile: Profile, badwords,
              memory: BuildMemory = BuildMemory()) -> str:
    """The whole job: ``build_pipeline`` and the file of its summaries, whose path it returns."""
    summaries_path = FileSystems.join(staging, ".c4forge-summaries")
    (build_pipeline(pipeline, config, staging, wet_paths, profile, badwords, memory)
     | "SummariesAsJson" >> beam.Map(lambda s: json.dumps(s, sort_keys=True))
     | "WriteSummaries" >> beam.io.WriteToText(summaries_path, num_shards=1, shard_name_template=""))
    return summaries_path


def metric_counters(result) -> dict[str, int]:
    counters: dict[str, int] = {}
    for m in result.metrics().query()["counters"]:
        name = f"{m.key.metric.namespace}/{m.key.metric.name}"
        value = m.committed if m.committed is not None else m.attempted
        counters[name] = counters.get(name, 0) + int(value or 0)
    return counters


def shuffle_sizes(result) -> dict[str, dict]:
    """The shuffles' sizes (``dedup.SHUFFLE_METRICS``, ``spill.py``'s): groups, total and largest,
    per metric name over the whole run. Several steps can publish one name (with ``--format
    both`` each sink has its own ``spill/GroupRuns/...``): their figures add up, largest the
    largest of them, as ``metric_counters`` adds up counters."""
    sizes: dict[str, dict] = {}
    for m in result.metrics().query(MetricsFilter().with_namespace(SHUFFLE_METRICS))["distributions"]:
        d = m.committed if m.committed is not None else m.attempted
        if d is None:
            continue
        size = sizes.setdefault(m.key.metric.name, {"groups": 0, "total": 0, "largest": None})
        size["groups"] += d.count
        size["total"] += d.sum
        if d.max is not None and (size["largest"] is None or d.max > size["largest"]):
            size["largest"] = d.max
    return dict(sorted(sizes.items()))


def run_build(config: BuildConfig, beam_args: Sequence[str] = (), wet_files: Optional[Sequence[str]] = None,
              fetch_report: Optional[Mapping] = None) -> dict:
    """Builds into a staging folder of ``config.output``, then publishes the whole build
    (``publish.py``). ``wet_files``: exact file paths (from a crawl listing), used without
    matching each one (a match is one request per file on s3). ``fetch_report`` becomes the
    report's ``fetch``."""
    options = PipelineOptions(with_default_runner(beam_args))
    check_spill_dir(config.spill_dir, options)
    FileSystems.set_options(options)  # s3:// and gs:// on this machine read their options from here
    profile = config.resolved_profile()
    wet_paths = sorted(wet_files) if wet_files is not None else expand_inputs(config.inputs, config.input_format)
    run_id = new_run_id()
    refuse_template(options)
    if is_dry_run(options):  # the job described to the runner only; --output is not touched (submission.py)
        badwords = load_profile_badwords(profile, config.badwords_dir)
        return {"dry_run": hand_to_runner_only(
            options, lambda pipeline: build_job(pipeline, config, staging_dir(config.output, run_id), wet_paths,
                                                profile, badwords))}
    with explained_access_errors(config.output):
        prepare_output(config.output)
        with OutputLock(config.output, run_id):
            old_files = check_output(config)
            badwords = load_profile_badwords(profile, config.badwords_dir)
            remove_leftover_staging(config.output, run_id)
            staging = staging_dir(config.output, run_id)
            try:
                # what follows the run too (summaries, report, manifest): with the default
                # thresholds back, one full pass walked everything the run had frozen (~0.15 CPU-s
                # while the report was drawn with matplotlib)
                with explained_access_errors(config.output), explained_runner_errors(), fewer_garbage_collections():
                    report, manifest = _build_staged(config, options, staging, run_id, wet_paths, profile, badwords,
                                                     fetch_report)
            except BaseException as e:
                remove_tree(staging, files_under(staging))
                if isinstance(e, BuildError):
                    raise BuildError(f"{e} (nothing was published: --output holds what it held before)") from e
                raise
            try:
                with explained_access_errors(config.output):
                    publish(config.output, staging, manifest, old_files)
            except BuildError as e:
                raise BuildError(f"{e} (while publishing: --output holds no finished build now; rerun with "
                                 f"--overwrite)") from e
    return report


# Allocations of container objects between two passes of Python's youngest-generation collector
# during a build (Python's default: 700).
BUILD_GC_GEN0_THRESHOLD = 20_000


@contextlib.contextmanager
def fewer_garbage_collections(gen0_threshold: int = BUILD_GC_GEN0_THRESHOLD):
    """Python's cyclic garbage collector, cheaper during a run: the objects alive when it starts
    (modules, Beam's graph, the profiles) frozen out of its passes, and a pass every
    ``gen0_threshold`` allocations. A local build makes and drops millions of short-lived
    objects, nearly none of them in cycles, so the default passes (one per 700) mostly walk
    survivors: about 2 to 4% of a 40,000-record build's CPU (docs/speed.md). Restored after;
    where something else in the process froze objects already, they are left as they are
    (``gc.unfreeze`` cannot tell theirs from ours)."""
    thresholds = gc.get_threshold()
    freeze = gc.get_freeze_count() == 0
    if freeze:
        gc.freeze()
    gc.set_threshold(gen0_threshold, *thresholds[1:])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        if freeze:
            gc.unfreeze()


def _build_staged(config: BuildConfig, options: PipelineOptions, staging: str, run_id: str, wet_paths: list[str],
                  profile: Profile, badwords, fetch_report: Optional[Mapping]) -> tuple[dict, Manifest]:
    """The pipeline, the report and the manifest, all under ``staging``."""
    logger.info("building %s from %d %s file(s) into %s", profile.name, len(wet_paths),
                config.input_format.upper(), config.output)
    not_c4 = language.differs_from_c4(config.langid)
    if not_c4:
        logger.warning(not_c4)
    local = is_local_runner(options)
    # Only a local run's workers are this install.
    slower = chain_lib.slower_without_compiled(profile, config.langid) if local else None
    if slower:
        logger.warning(slower)
    input_bytes = input_bytes_of(wet_paths) if local else 0  # for the progress of DoFns in this process
    started = time.time()
    with contextlib.ExitStack() as stack:
        memory = stack.enter_context(build_memory(config.spill_dir, config.no_spill, options, config.output,
                                                  wet_paths, input_bytes, run_id))
        pipeline = beam.Pipeline(options=options)
        summaries_path = build_job(pipeline, config, staging, wet_paths, profile, badwords, memory)
        with live_progress(len(wet_paths), input_bytes):
            result = pipeline.run()
            result.wait_until_finish()
        summaries = _read_and_delete(summaries_path)
    fault_point("pipeline-done")
    files = manifest_files(summaries, staging)
    splits = [rebased(summary, staging, config.output) for summary in summaries]
    finished_at = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    report = report_lib.make_report(metric_counters(result), splits, {
        **dataclasses.asdict(config),
        "profile_resolved": dataclasses.asdict(profile),
        "wet_files": len(wet_paths),
        "wall_seconds": round(time.time() - started, 1),
        "finished_at": finished_at,
        "run_id": run_id,
        # this run's spill folder (removed), or in memory
        "spilled_to": memory.spill.directory if memory.spill else None,
    })
    report["shuffle"] = shuffle_sizes(result)
    if not_c4:
        report["warnings"] = [not_c4]
    if fetch_report is not None:
        report["fetch"] = dict(fetch_report)
    files.update(_write_report_files(staging, config.output, report))
    fault_point("staged")
    return report, Manifest(run_id=run_id, finished_at=finished_at, profile=profile.name,
                            datasets=datasets_of(summaries, staging), files=files)


def _write_report_files(staging: str, output: str, report: Mapping) -> dict[str, FileEntry]:
    """The JSON report into ``staging``, with its picture and page; their manifest entries."""
    contents = {REPORT_NAME: report_lib.to_json(report).encode("utf-8")}
    contents[REPORT_PICTURE_NAME], contents[REPORT_PAGE_NAME] = report_pictures(report)
    logger.info("the report as a page: %s", FileSystems.join(output, REPORT_PAGE_NAME))
    for name, data in contents.items():
        write_file_atomically(FileSystems.join(staging, name), data)
    return {name: FileEntry(len(data), sha256_of(data)) for name, data in contents.items()}


def _read_and_delete(path: str) -> list[dict]:
    with FileSystems.open(path) as f:
        splits = [json.loads(line) for line in f.read().decode("utf-8").splitlines() if line]
    FileSystems.delete([path])
    return sorted(splits, key=lambda s: (s["format"], s["split"]))
