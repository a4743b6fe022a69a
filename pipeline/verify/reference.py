"""The TFDS ``c4/en`` 3.1.0 reference graph, built from the real ``c4_utils`` functions.

This is the yardstick our own pipeline is compared against: the stages are TFDS's
``tensorflow_datasets.text.c4_utils`` functions (imported, never copied), wired in the
order of ``C4._get_pages_pcollection`` (config ``en``) and ``C4._build_pcollection``,
minus the parts that need the network (the WET path list and downloads) and TFRecord
writing. Documents are returned as dicts, counters as ``{"namespace/name": value}``.

Two things ``c4_utils`` needs cannot work here, so they are replaced, and only they:

* ``c4_utils.tf`` (TensorFlow, maybe not installed) is used only for
  ``tf.compat.as_text`` and ``tf.io.gfile.GFile``; a plain-Python shim provides both.
* ``c4_utils._load_sentence_tokenizer`` downloads NLTK's punkt pickle; it is pointed at
  ``c4forge.cleaning_rules.sentences.load_punkt`` (NLTK's own Punkt with the English
  parameters, offline).

The patch is applied when this module is imported. A Beam worker that is a separate
process (``--direct_running_mode=multi_processing``) must import this module before it
calls any ``c4_utils`` function; ``--beam_plugin`` would say so, but FnApiRunner does not
pass pipeline options to its subprocess workers. So every callable handed to Beam is
wrapped in ``PatchedCall``, a class of this module: unpickling a stage in a worker
imports this module first. ``remove_duplicate_text`` picks its helpers from
``c4_utils`` globals, so those three globals are replaced by delegates defined here
(behaviour unchanged; they only call the originals).
"""

from __future__ import annotations

import dataclasses
import functools
import glob
import json
import os
import tempfile
import types
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions
from tensorflow_datasets.text import c4_utils

from c4forge.cleaning_rules import sentences
from c4forge.corpus.jsonl import iter_jsonl

# LDNOOBW commit TFDS pins for the English list (c4.py: "Use older en file for
# reproducibility of the original C4").
EN_BADWORDS_COMMIT = "25e679f03d96baa721cde20db9944649e8d0a844"

TRAIN = "train"
VALIDATION = "validation"
SPLITS = (TRAIN, VALIDATION)

# c4.py's split predicates on int(md5(normalized_url)).
_SPLIT_PREDICATES = {
    TRAIN: lambda x: x % 1000 != 0,  # 99.9%
    VALIDATION: lambda x: x % 1000 == 0,  # 00.1%
}

# --------------------------------------------------------------------------------------
# Offline replacements for the two things c4_utils cannot do here.


def _as_text(bytes_or_text, encoding="utf-8"):
    """Same contract as ``tf.compat.as_text``."""
    if isinstance(bytes_or_text, str):
        return bytes_or_text
    if isinstance(bytes_or_text, bytes):
        return bytes_or_text.decode(encoding)
    raise TypeError(f"Expected binary or unicode string, got {bytes_or_text!r}")


def _gfile(path, mode="r"):
    """``tf.io.gfile.GFile`` for local paths (the only paths given here)."""
    return open(path, mode)


_TF_SHIM = types.SimpleNamespace(
    compat=types.SimpleNamespace(as_text=_as_text),
    io=types.SimpleNamespace(gfile=types.SimpleNamespace(GFile=_gfile)),
)


def _load_offline_punkt():
    return sentences.load_punkt()


def _name_of(fn) -> str:
    while isinstance(fn, functools.partial):
        fn = fn.func
    return getattr(fn, "__name__", type(fn).__name__)


class PatchedCall:
    """Calls ``fn``. Pickled by reference to this class, so a Beam worker that
    unpickles it imports this module, and with it the c4_utils patch, first."""

    def __init__(self, fn):
        self._fn = fn
        self.__name__ = _name_of(fn)

    def __call__(self, *args, **kwargs):
        return self._fn(*args, **kwargs)

    def default_label(self):  # Beam's step label: the wrapped function's name
        return self.__name__

    def __repr__(self):
        return f"PatchedCall({self._fn!r})"


# remove_duplicate_text hands these c4_utils globals to Beam (looked up when the graph
# is built), with extra keyword arguments, which Beam passes only to real functions.
# So they are replaced by same-named delegates of this module, for the same reason as
# PatchedCall; each only calls the original.
# The originals are kept on c4_utils itself, so a reload of this module cannot take its
# own delegates for them.
_C4_DEDUPE_HELPERS = vars(c4_utils).setdefault(
    "_c4forge_original_dedupe_helpers",
    {
        name: getattr(c4_utils, name)
        for name in ("_emit_url_to_lines", "_hash_text", "_remove_lines_from_text")
    },
)


def _emit_url_to_lines(page, line_delimiter="\n"):
    return _C4_DEDUPE_HELPERS["_emit_url_to_lines"](page, line_delimiter=line_delimiter)


def _hash_text(text):
    return _C4_DEDUPE_HELPERS["_hash_text"](text)


def _remove_lines_from_text(el, counter_inc_fn, min_num_sentences, line_delimiter="\n"):
    return _C4_DEDUPE_HELPERS["_remove_lines_from_text"](
        el, counter_inc_fn, min_num_sentences, line_delimiter=line_delimiter
    )


def patch_c4_utils() -> None:
    """Points c4_utils at the offline TF helpers and Punkt loader (idempotent)."""
    c4_utils.tf = _TF_SHIM
    c4_utils._load_sentence_tokenizer = _load_offline_punkt
    c4_utils._emit_url_to_lines = _emit_url_to_lines
    c4_utils._hash_text = _hash_text
    c4_utils._remove_lines_from_text = _remove_lines_from_text


patch_c4_utils()


# --------------------------------------------------------------------------------------
# Inputs


def en_badwords_path(badwords_dir: str | os.PathLike) -> Path:
    return Path(badwords_dir) / EN_BADWORDS_COMMIT / "en"


def load_en_badwords(badwords_dir: str | os.PathLike) -> set[str]:
    """The English list as c4.py builds it: a set of stripped lines."""
    with open(en_badwords_path(badwords_dir), encoding="utf-8") as f:
        return {line.strip() for line in f}


# --------------------------------------------------------------------------------------
# The graph


def _key_by_normalized_url(page):
    return page.normalized_url, page


def _example_of(page, split: str) -> dict:
    """c4.py ``_emit_examples`` (same counter), plus the split name."""
    c4_utils.get_counter_inc_fn(split)("examples")
    return {
        "url": page.url,
        "text": page.text,
        "content-type": page.content_type,
        "content-length": page.content_length,
        "timestamp": page.timestamp,
        "split": split,
    }


def build_pages(pipeline, wet_paths: Sequence[str], badwords: Iterable[str]):
    """``C4._get_pages_pcollection`` for config ``en``, from local WET files."""
    patched = PatchedCall
    pages = (
        pipeline
        | "create_wet_paths" >> beam.Create(list(wet_paths))
        | "reshuffle_wet_paths" >> beam.Reshuffle()  # c4.py: "Increase parallelism."
        | "split_wet_file" >> beam.FlatMap(patched(c4_utils.split_wet_file))
        | "is_valid_length" >> beam.Filter(patched(c4_utils.is_valid_length))
    )
    pages = (
        pages
        | "normalize_url" >> beam.Map(patched(_key_by_normalized_url))
        | "select_newest" >> beam.CombinePerKey(patched(c4_utils.select_newest_page))
        | "drop_url_keys" >> beam.Values()
    )
    pages |= "clean_pages" >> beam.FlatMap(patched(c4_utils.get_clean_page_fn()))
    pages = c4_utils.remove_duplicate_text(pages)  # clean=True: min 3 sentences
    pages |= "detect_english" >> beam.FlatMap(patched(c4_utils.detect_english))
    badwords_filter = c4_utils.get_badwords_filter_fn({"en": set(badwords)}, filter_fraction=1.0)
    pages |= "badwords_filter" >> beam.Filter(patched(badwords_filter))
    return pages


def build_reference_graph(pipeline, wet_paths: Sequence[str], badwords: Iterable[str]):
    """The whole c4/en graph: ``{split: PCollection of example dicts}``."""
    pages = build_pages(pipeline, wet_paths, badwords)
    return {
        split: (
            pages
            | f"{split}_filter"
            >> beam.Filter(PatchedCall(c4_utils.get_hashed_url_filter_fn(predicate)))
            | f"{split}_examples"
            >> beam.Map(PatchedCall(functools.partial(_example_of, split=split)))
        )
        for split, predicate in _SPLIT_PREDICATES.items()
    }


# --------------------------------------------------------------------------------------
# Running it


@dataclasses.dataclass
class ReferenceResult:
    documents: list[dict]  # one per kept document, sorted by (split, url)
    counters: dict[str, int]  # "namespace/name" -> value, summed over Beam steps
    counters_by_step: dict[str, dict[str, int]]  # "namespace/name" -> {step: value}


# Counters whose value is a property of Beam's execution, not of the data. Pass these
# to parity.compare(..., known_differences=...) when comparing with another run.
KNOWN_COUNTER_DIFFERENCES = {
    "duplicate-url-filter/passed": (
        "counts calls of select_newest_page, which CallableWrapperCombineFn makes in the "
        "lifted combine's precombine (compact, only for keys with >1 page in a bundle), "
        "Merge and ExtractOutputs phases: number of URLs + number of merges, "
        "bundle-dependent; ExtractOutputs alone = number of distinct normalized URLs"
    ),
    "duplicate-url-filter/filtered": (
        "summed over steps it is the number of URL duplicates dropped, but each phase "
        "reports only what it dropped; a dump that keeps one step's value (e.g. "
        "last step wins) shows 0 when the precombine did all the work"
    ),
}


def pipeline_options(beam_args: Sequence[str] = ()) -> PipelineOptions:
    """FnApiRunner (the default DirectRunner tries to download Prism) + caller's args."""
    return PipelineOptions(["--runner=FnApiRunner", *beam_args])


def collect_counters_by_step(result) -> dict[str, dict[str, int]]:
    """All Beam counters: ``{"namespace/name": {step: committed value}}``."""
    by_step: dict[str, dict[str, int]] = {}
    for metric in result.metrics().query()["counters"]:
        value = metric.committed if metric.committed is not None else metric.attempted
        name = f"{metric.key.metric.namespace}/{metric.key.metric.name}"
        steps = by_step.setdefault(name, {})
        steps[metric.key.step] = steps.get(metric.key.step, 0) + value
    return dict(sorted(by_step.items()))


def sum_over_steps(counters_by_step: Mapping[str, Mapping[str, int]]) -> dict[str, int]:
    return {name: sum(steps.values()) for name, steps in counters_by_step.items()}


def _read_jsonl_shards(prefix: str) -> list[dict]:
    return [doc for shard in sorted(glob.glob(prefix + "-*-of-*.jsonl")) for doc in iter_jsonl(shard)]


def run_reference(
    wet_paths: Sequence[str | os.PathLike],
    badwords_dir: str | os.PathLike,
    beam_args: Sequence[str] = (),
) -> ReferenceResult:
    """Runs the reference graph on local WET files; returns documents and counters.

    ``beam_args`` are extra Beam options, e.g. ``--direct_running_mode=multi_processing``
    ``--direct_num_workers=2``. Documents travel through JSONL files (ASCII-escaped JSON,
    so no character in a text can break a line), which works in every runner mode.
    """
    badwords = load_en_badwords(badwords_dir)
    with tempfile.TemporaryDirectory(prefix="c4-reference-") as tmp:
        prefix = os.path.join(tmp, "documents")
        pipeline = beam.Pipeline(options=pipeline_options(beam_args))
        examples = build_reference_graph(pipeline, [os.fspath(p) for p in wet_paths], badwords)
        _ = (
            tuple(examples.values())
            | "merge_splits" >> beam.Flatten()
            | "to_json" >> beam.Map(json.dumps, ensure_ascii=True, sort_keys=True)
            | "write_jsonl" >> beam.io.WriteToText(prefix, file_name_suffix=".jsonl")
        )
        result = pipeline.run()
        result.wait_until_finish()
        documents = _read_jsonl_shards(prefix)
    documents.sort(key=lambda d: (d["split"], d["url"]))
    by_step = collect_counters_by_step(result)
    return ReferenceResult(
        documents=documents, counters=sum_over_steps(by_step), counters_by_step=by_step
    )


def split_counter_names(splits: Iterable[str] = SPLITS) -> set[str]:
    """Counters c4.py's ``_emit_examples`` adds (absent from a pages-only counter dump)."""
    return {f"{split}/examples" for split in splits}
