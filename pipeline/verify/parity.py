"""``c4forge parity``: the TFDS reference graph and c4forge on the same WET input, diffed.

Both run on the same local Beam runner (FnApiRunner unless Beam options say otherwise).
Documents are compared by URL on url/text/timestamp/split/content fields; counters by
TFDS name. Counter differences that come from how Beam invokes TFDS's URL-dedup callable
(not from the data) are listed separately with their reason, never hidden.
"""

from __future__ import annotations

import glob
import json
import logging
import os
import tempfile
from importlib import resources
from typing import Sequence

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions

from c4forge.cleaning_rules.badwords import packaged_lists
from c4forge.cleaning_rules.counters import CHARS
from c4forge.corpus.jsonl import iter_jsonl
from c4forge.pipeline.build import BuildConfig, expand_inputs, load_profile_badwords, metric_counters, with_default_runner
from c4forge.pipeline.graph import build_c4

from . import compare, reference

DOCUMENT_FIELDS = ("url", "text", "timestamp", "split", "content-type", "content-length")
logger = logging.getLogger("c4forge.parity")


def _document(split_page) -> str:
    split, page = split_page
    return json.dumps({"split": split, **page.to_example()}, ensure_ascii=False)


def run_c4forge_documents(wet_paths: Sequence[str], config: BuildConfig, beam_args: Sequence[str] = ()):
    """(documents, counters) of the c4forge graph, without writing a dataset."""
    profile = config.resolved_profile()
    badwords = load_profile_badwords(profile, config.badwords_dir)
    with tempfile.TemporaryDirectory(prefix="c4forge-parity-") as tmp:
        pipeline = beam.Pipeline(options=PipelineOptions(with_default_runner(beam_args)))
        (build_c4(pipeline, list(wet_paths), profile, badwords)
         | "AsJson" >> beam.Map(_document)
         | "WriteDocuments" >> beam.io.WriteToText(os.path.join(tmp, "docs"), file_name_suffix=".jsonl"))
        result = pipeline.run()
        result.wait_until_finish()
        docs = [doc for path in sorted(glob.glob(os.path.join(tmp, "docs*"))) for doc in iter_jsonl(path)]
    # c4forge-only counters: characters removed, and the files skipped whole (by reason, and by name)
    counters = {k: v for k, v in metric_counters(result).items()
                if not k.startswith((CHARS + "/", "split-wet-file/skipped-file", "skipped-files/"))}
    return sorted(docs, key=lambda d: (d["split"], d["url"])), counters


def run_parity(args, beam_args: Sequence[str]) -> "ParityOutcome":
    config = BuildConfig(inputs=tuple(args.input), output="", profile=args.profile, noclean=args.noclean,
                         noblocklist=args.noblocklist, wet_quirks=args.wet_quirks, badwords_dir=args.badwords_dir)
    profile = config.resolved_profile()
    if profile.name != "c4-en-3.1.0":
        raise ValueError("parity compares with TFDS c4/en 3.1.0: use the default profile without switches")
    wet_paths = expand_inputs(config.inputs)
    logger.info("parity: running TFDS's reference graph on %d file(s)", len(wet_paths))
    with resources.as_file(packaged_lists()) as packaged:  # the reference reads the list from a folder
        ref = reference.run_reference(wet_paths, args.badwords_dir or packaged, beam_args)
    logger.info("parity: running c4forge's graph on the same file(s)")
    docs, counters = run_c4forge_documents(wet_paths, config, beam_args)
    comparisons = [("TFDS reference graph vs c4forge", compare.compare(
        ref.documents, docs, ref.counters, counters,
        known_differences=reference.KNOWN_COUNTER_DIFFERENCES, fields=DOCUMENT_FIELDS))]
    if args.expected:
        expected = list(iter_jsonl(args.expected))
        expected_counters = json.load(open(args.expected_counters)) if args.expected_counters else None
        fields = sorted(expected[0]) if expected else None
        for name, candidate_docs, candidate_counters in (
            ("expected vs TFDS reference graph", ref.documents, ref.counters),
            ("expected vs c4forge", docs, counters),
        ):
            comparisons.append((name, compare.compare(
                expected, candidate_docs, expected_counters,
                {k: v for k, v in candidate_counters.items() if expected_counters is None or k in expected_counters},
                known_differences=reference.KNOWN_COUNTER_DIFFERENCES, fields=fields)))
    return ParityOutcome(comparisons, len(ref.documents), len(docs))


class ParityOutcome:
    def __init__(self, comparisons, n_reference: int, n_c4forge: int):
        self.comparisons = comparisons
        self.n_reference = n_reference
        self.n_c4forge = n_c4forge

    @property
    def identical(self) -> bool:
        return all(report.identical for _, report in self.comparisons)

    def format_text(self, max_examples: int = 5) -> str:
        parts = [f"documents: TFDS reference {self.n_reference}, c4forge {self.n_c4forge}"]
        for name, report in self.comparisons:
            parts.append(f"\n== {name}: {'IDENTICAL' if report.identical else 'DIFFERENT'}")
            parts.append(report.format_text(max_examples=max_examples))
        return "\n".join(parts)
