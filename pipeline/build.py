"""``c4forge build``: inputs → C4 graph → TFDS dataset (and/or JSONL.gz) → run report."""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from typing import Optional, Sequence

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import PipelineOptions

from c4forge.cleaning_rules.badwords import load_badwords
from c4forge.cleaning_rules.profiles import DEFAULT_PROFILE, Profile, get_profile

from . import report as report_lib
from .graph import build_c4
from .sinks import WriteJsonlSplits, WriteTfdsDataset, dataset_dir_of, TfdsMetadata

logger = logging.getLogger(__name__)

FORMATS = ("tfrecord", "jsonl")
REPORT_NAME = "c4forge-report.json"
DEFAULT_RUNNER = "FnApiRunner"  # Beam's default DirectRunner first tries to download Prism


class BuildError(RuntimeError):
    """A mistake in the request (no input, existing output): shown without a traceback."""


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

    def resolved_profile(self) -> Profile:
        return get_profile(self.profile).with_switches(self.noclean, self.noblocklist, self.wet_quirks)


def with_default_runner(beam_args: Sequence[str]) -> list[str]:
    args = list(beam_args)
    if not any(a == "--runner" or a.startswith("--runner=") for a in args):
        args.insert(0, f"--runner={DEFAULT_RUNNER}")
    return args


def expand_inputs(patterns: Sequence[str]) -> list[str]:
    """Paths and globs on any Beam filesystem → sorted distinct file paths."""
    paths = set()
    for pattern in patterns:
        results = FileSystems.match([pattern])
        found = [m.path for r in results for m in r.metadata_list]
        if not found:
            raise BuildError(f"--input {pattern!r} matches no file")
        paths.update(found)
    return sorted(paths)


def tfds_metadata(profile: Profile) -> TfdsMetadata:
    return TfdsMetadata(config=profile.tfds_config, version=profile.tfds_version)


def jsonl_dir(output: str, profile: Profile) -> str:
    return FileSystems.join(output, profile.tfds_config)  # allenai/c4 layout: en/c4-train...


def check_output_free(config: BuildConfig, profile: Profile) -> None:
    """Refuse to mix a new build into an existing one unless --overwrite."""
    if config.overwrite:
        return
    taken = []
    if "tfrecord" in config.formats:
        info = FileSystems.join(dataset_dir_of(config.output, tfds_metadata(profile)), "dataset_info.json")
        if FileSystems.exists(info):
            taken.append(info)
    if "jsonl" in config.formats:
        pattern = FileSystems.join(jsonl_dir(config.output, profile), "c4-*.json.gz")
        if any(r.metadata_list for r in FileSystems.match([pattern])):
            taken.append(pattern)
    if taken:
        raise BuildError(f"output already holds a build ({', '.join(taken)}); pass --overwrite to replace it")


def build_pipeline(pipeline, config: BuildConfig, wet_paths: list[str], profile: Profile, badwords):
    """Graph + sinks; returns the PCollection of per-split summaries."""
    split_pages = build_c4(pipeline, wet_paths, profile, badwords)
    summaries = []
    if "tfrecord" in config.formats:
        meta = tfds_metadata(profile)
        summaries.append(split_pages | "WriteTfds" >> WriteTfdsDataset(
            config.output, name=meta.name, config=meta.config, version=meta.version,
            num_shards=config.num_shards))
    if "jsonl" in config.formats:
        summaries.append(split_pages | "WriteJsonl" >> WriteJsonlSplits(
            jsonl_dir(config.output, profile), num_shards=config.num_shards))
    return summaries | "AllSummaries" >> beam.Flatten()


def metric_counters(result) -> dict[str, int]:
    counters: dict[str, int] = {}
    for m in result.metrics().query()["counters"]:
        name = f"{m.key.metric.namespace}/{m.key.metric.name}"
        value = m.committed if m.committed is not None else m.attempted
        counters[name] = counters.get(name, 0) + int(value or 0)
    return counters


def run_build(config: BuildConfig, beam_args: Sequence[str] = ()) -> dict:
    profile = config.resolved_profile()
    wet_paths = expand_inputs(config.inputs)
    check_output_free(config, profile)
    badwords = load_badwords("en", config.badwords_dir) if profile.badwords else None
    logger.info("building %s from %d WET file(s) into %s", profile.name, len(wet_paths), config.output)

    summary_prefix = FileSystems.join(config.output, f".c4forge-summaries-{int(time.time() * 1e6)}")
    started = time.time()
    pipeline = beam.Pipeline(options=PipelineOptions(with_default_runner(beam_args)))
    (build_pipeline(pipeline, config, wet_paths, profile, badwords)
     | "SummariesAsJson" >> beam.Map(lambda s: json.dumps(s, sort_keys=True))
     | "WriteSummaries" >> beam.io.WriteToText(summary_prefix, num_shards=1, shard_name_template=""))
    result = pipeline.run()
    result.wait_until_finish()
    splits = _read_and_delete(summary_prefix)

    report = report_lib.make_report(metric_counters(result), splits, {
        **dataclasses.asdict(config),
        "profile_resolved": dataclasses.asdict(profile),
        "wet_files": len(wet_paths),
        "wall_seconds": round(time.time() - started, 1),
    })
    with FileSystems.create(FileSystems.join(config.output, REPORT_NAME)) as f:
        f.write(report_lib.to_json(report).encode("utf-8"))
    return report


def _read_and_delete(path: str) -> list[dict]:
    with FileSystems.open(path) as f:
        splits = [json.loads(line) for line in f.read().decode("utf-8").splitlines() if line]
    FileSystems.delete([path])
    return sorted(splits, key=lambda s: (s["format"], s["split"]))
