"""``c4forge build``: inputs → C4 graph → TFDS dataset (and/or JSONL.gz) → run report."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import shutil
import time
from datetime import datetime, timezone
from typing import Mapping, Optional, Sequence

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import PipelineOptions, PortableOptions, StandardOptions

from c4forge.cleaning_rules import language, mc4
from c4forge.cleaning_rules.badwords import load_badwords
from c4forge.cleaning_rules.profiles import DEFAULT_PROFILE, Profile, get_profile
from c4forge.corpus.example import SPLITS
from c4forge.corpus.tfds_metadata import TfdsMetadata

from . import report as report_lib
from .access_errors import explained_access_errors
from .errors import BuildError
from .fetch import resolve_crawl_inputs
from .graph import build_c4
from .sinks import WriteJsonlSplits, WriteTfdsDataset, dataset_dir_of
from .spill import SpillConfig, partitions_for_input, refuse_unless_local_runner

logger = logging.getLogger(__name__)

FORMATS = ("tfrecord", "jsonl")
REPORT_NAME = "c4forge-report.json"
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

    def resolved_profile(self) -> Profile:
        return get_profile(self.profile).with_switches(self.noclean, self.noblocklist, self.wet_quirks,
                                                       dedup=self.dedup)


def with_default_runner(beam_args: Sequence[str]) -> list[str]:
    args = list(beam_args)
    if not any(a == "--runner" or a.startswith("--runner=") for a in args):
        args.insert(0, f"--runner={DEFAULT_RUNNER}")
    return args


def expand_inputs(patterns: Sequence[str]) -> list[str]:
    """Paths and globs on any Beam filesystem → sorted distinct file paths."""
    paths = set()
    for pattern in patterns:
        with explained_access_errors(pattern):
            results = FileSystems.match([pattern])
        found = [m.path for r in results for m in r.metadata_list]
        if not found:
            raise BuildError(f"--input {pattern!r} matches no file")
        paths.update(found)
    return sorted(paths)


def resolve_crawl(request, beam_args: Sequence[str] = ()):
    """``fetch.resolve_crawl_inputs`` with Beam's filesystem options set (s3 options, for the listing)."""
    FileSystems.set_options(PipelineOptions(with_default_runner(beam_args)))
    return resolve_crawl_inputs(request)


def tfds_metadata(profile: Profile) -> TfdsMetadata:
    return TfdsMetadata(config=profile.tfds_config, version=profile.tfds_version)


def jsonl_dir(output: str, profile: Profile) -> str:
    return FileSystems.join(output, profile.tfds_config)  # allenai/c4 layout: en/c4-train...


def _existing_build_files(config: BuildConfig, profile: Profile) -> list[str]:
    taken = []
    if "tfrecord" in config.formats:
        info = FileSystems.join(dataset_dir_of(config.output, tfds_metadata(profile)), "dataset_info.json")
        if FileSystems.exists(info):
            taken.append(info)
    if "jsonl" in config.formats:
        pattern = FileSystems.join(jsonl_dir(config.output, profile), "c4-*.json.gz")
        if any(r.metadata_list for r in FileSystems.match([pattern])):
            taken.append(pattern)
    return taken


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


def check_output_free(config: BuildConfig, profile: Profile) -> None:
    """Refuse to mix a new build into an existing one unless --overwrite."""
    if config.overwrite:
        return
    taken = _existing_build_files(config, profile)
    if taken:
        raise BuildError(f"--output {config.output} already holds a build ({describe_existing_build(config.output)}; "
                         f"found {', '.join(taken)}); pass --overwrite to replace it, or choose another --output")


def check_output_writable(output: str) -> None:
    """Creates and deletes a probe file, so that a missing credential or permission fails
    here rather than after the pipeline ran (on Dataflow: after workers were paid for)."""
    probe = FileSystems.join(output, f".c4forge-write-probe-{int(time.time() * 1e6)}")
    with FileSystems.create(probe) as f:
        f.write(b"probe\n")
    FileSystems.delete([probe])


def check_output(config: BuildConfig, profile: Profile) -> None:
    with explained_access_errors(config.output):
        check_output_free(config, profile)
        check_output_writable(config.output)


def load_profile_badwords(profile: Profile, badwords_dir: Optional[str]):
    """The en list, or for mC4 every pinned language's list; None without a bad-words filter."""
    if not profile.badwords:
        return None
    return mc4.load_mc4_badwords(badwords_dir) if profile.multilingual else load_badwords("en", badwords_dir)


def build_pipeline(pipeline, config: BuildConfig, wet_paths: list[str], profile: Profile, badwords,
                   spill: Optional[SpillConfig] = None):
    """Graph + sinks; returns the PCollection of per-split summaries."""
    split_pages = build_c4(pipeline, wet_paths, profile, badwords, input_format=config.input_format,
                           html_extractor=config.html_extractor, langid_backend=config.langid, spill=spill)
    splits = mc4.mc4_split_names() if profile.multilingual else SPLITS
    summaries = []
    if "tfrecord" in config.formats:
        meta = tfds_metadata(profile)
        summaries.append(split_pages | "WriteTfds" >> WriteTfdsDataset(
            config.output, name=meta.name, config=meta.config, version=meta.version,
            num_shards=config.num_shards, splits=splits, spill=spill))
    if "jsonl" in config.formats:
        summaries.append(split_pages | "WriteJsonl" >> WriteJsonlSplits(
            jsonl_dir(config.output, profile), num_shards=config.num_shards, splits=splits, spill=spill))
    return summaries | "AllSummaries" >> beam.Flatten()


def metric_counters(result) -> dict[str, int]:
    counters: dict[str, int] = {}
    for m in result.metrics().query()["counters"]:
        name = f"{m.key.metric.namespace}/{m.key.metric.name}"
        value = m.committed if m.committed is not None else m.attempted
        counters[name] = counters.get(name, 0) + int(value or 0)
    return counters


def _refusal_of_spill(options: PipelineOptions) -> Optional[str]:
    return refuse_unless_local_runner(options.view_as(StandardOptions).runner,
                                      options.view_as(PortableOptions).job_endpoint)


def _is_local(options: PipelineOptions) -> bool:
    return _refusal_of_spill(options) is None


def check_spill_dir(config: BuildConfig, options: PipelineOptions) -> None:
    if config.spill_dir is None:
        return
    refusal = _refusal_of_spill(options)
    if refusal:
        raise BuildError(refusal)
    if "://" in config.spill_dir:
        raise BuildError(f"--spill-dir {config.spill_dir}: a local directory, not a URL (the local runner's workers "
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


def spill_config(spill_dir: str, wet_paths: Sequence[str]) -> SpillConfig:
    """A fresh directory for this run under ``spill_dir``, partitions sized from the inputs."""
    input_bytes = input_bytes_of(wet_paths)
    directory = os.path.join(os.path.abspath(spill_dir), f"c4forge-spill-{int(time.time() * 1e6)}")
    os.makedirs(directory)
    return SpillConfig(directory=directory, partitions=partitions_for_input(input_bytes))


def run_build(config: BuildConfig, beam_args: Sequence[str] = (), wet_files: Optional[Sequence[str]] = None,
              fetch_report: Optional[Mapping] = None) -> dict:
    """``wet_files``: exact file paths (from a crawl listing), used without matching each one
    (a match is one request per file on s3). ``fetch_report`` becomes the report's ``fetch``."""
    options = PipelineOptions(with_default_runner(beam_args))
    check_spill_dir(config, options)
    FileSystems.set_options(options)  # s3:// and gs:// on this machine read their options from here
    profile = config.resolved_profile()
    wet_paths = sorted(wet_files) if wet_files is not None else expand_inputs(config.inputs)
    check_output(config, profile)
    badwords = load_profile_badwords(profile, config.badwords_dir)
    logger.info("building %s from %d %s file(s) into %s", profile.name, len(wet_paths),
                config.input_format.upper(), config.output)
    not_c4 = language.differs_from_c4(config.langid)
    if not_c4:
        logger.warning(not_c4)
    if config.spill_dir is None and _is_local(options):
        hint = spill_hint(input_bytes_of(wet_paths), physical_memory_bytes())
        if hint:
            logger.warning(hint)

    summary_prefix = FileSystems.join(config.output, f".c4forge-summaries-{int(time.time() * 1e6)}")
    started = time.time()
    spill = spill_config(config.spill_dir, wet_paths) if config.spill_dir else None
    try:
        pipeline = beam.Pipeline(options=options)
        (build_pipeline(pipeline, config, wet_paths, profile, badwords, spill)
         | "SummariesAsJson" >> beam.Map(lambda s: json.dumps(s, sort_keys=True))
         | "WriteSummaries" >> beam.io.WriteToText(summary_prefix, num_shards=1, shard_name_template=""))
        with explained_access_errors(config.output):
            result = pipeline.run()
            result.wait_until_finish()
            splits = _read_and_delete(summary_prefix)
    finally:
        if spill is not None:  # readers delete files as they go; this also clears up after a failure
            shutil.rmtree(spill.directory, ignore_errors=True)

    report = report_lib.make_report(metric_counters(result), splits, {
        **dataclasses.asdict(config),
        "profile_resolved": dataclasses.asdict(profile),
        "wet_files": len(wet_paths),
        "wall_seconds": round(time.time() - started, 1),
        "finished_at": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    })
    if not_c4:
        report["warnings"] = [not_c4]
    if fetch_report is not None:
        report["fetch"] = dict(fetch_report)
    with explained_access_errors(config.output), FileSystems.create(FileSystems.join(config.output, REPORT_NAME)) as f:
        f.write(report_lib.to_json(report).encode("utf-8"))
    return report


def _read_and_delete(path: str) -> list[dict]:
    with FileSystems.open(path) as f:
        splits = [json.loads(line) for line in f.read().decode("utf-8").splitlines() if line]
    FileSystems.delete([path])
    return sorted(splits, key=lambda s: (s["format"], s["split"]))
