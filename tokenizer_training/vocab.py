"""``c4forge vocab``: corpus → sample → sentencepiece model → HF tokenizer dir → report.

Output directory: ``spiece.model``, ``spiece.vocab``, ``tokenizer.json``,
``tokenizer_config.json`` and ``vocab-report.json``.
"""

from __future__ import annotations

import dataclasses
import json
import resource
import shutil
import tempfile
import time
from pathlib import Path
from typing import Callable, Optional, Sequence

from c4forge.corpus.manifest import CorpusError
from c4forge.corpus.reader import Corpus, find_corpus

from . import evaluation, memory
from .hf_export import export_hf_tokenizer
from .progress import counted, phase
from .sampling import SAMPLE_INFO_NAME, SampleInfo, measure_sample, write_sample
from .trainer import LARGE_CORPUS_CHARS, TrainerOptions, check_t5_layout, train_from_shards

REPORT_NAME = "vocab-report.json"
OUTPUT_FILES = ("spiece.model", "spiece.vocab", "tokenizer.json", "tokenizer_config.json", REPORT_NAME)

# ``--sampler beam``'s job: (corpus, seed, sentences, max_sentence_bytes, out_dir, beam_args) →
# what it sampled. The caller passes c4forge.pipeline.vocab_sampling.sample_with_beam: Beam
# lives in pipeline/, which depends on this package, so this package must not import it.
BeamSampler = Callable[[Corpus, int, int, int, str, Sequence[str]], SampleInfo]


# The default sample fits a 32 GB machine: C4 lines average about 200 bytes, so 4 M lines are
# ~0.8 GB of text and need ~23 GB to train by memory.training_memory_estimate (18-21 GB at the
# measured 23-26 bytes a byte). The usual T5-size sample, 10 M lines (~2 GB, 50-60 GB of RAM), is
# one flag away: --sentences 10000000 (docs/vocab.md).
DEFAULT_SENTENCES = 4_000_000
T5_SIZE_SENTENCES = 10_000_000


class VocabError(ValueError):
    """A mistake in the request (no corpus, output taken, sample too big): one line, exit 2."""


@dataclasses.dataclass(frozen=True)
class VocabConfig:
    corpus: str
    output: str
    sentences: int = DEFAULT_SENTENCES
    trainer: TrainerOptions = TrainerOptions()
    sampler: str = "local"  # or "beam"
    sample_dir: Optional[str] = None  # keep the sample here (default: a temporary dir, removed)
    memory_limit: Optional[int] = None  # bytes; None: what the machine has available
    eval_docs: int = 1000
    overwrite: bool = False
    verbose: bool = False


def open_corpus(path: str) -> Corpus:
    try:
        return find_corpus(path)
    except CorpusError as e:
        raise VocabError(str(e)) from None


def check_output_free(output: Path, overwrite: bool) -> None:
    taken = [name for name in OUTPUT_FILES if (output / name).exists()]
    if taken and not overwrite:
        raise VocabError(f"{output} already holds a vocabulary ({', '.join(taken)}); pass --overwrite to replace it")


def peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB


class Stopwatch:
    def __init__(self):
        self.seconds: dict[str, float] = {}
        self._start = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.seconds[name] = round(now - self._start, 2)
        self._start = now


def memory_limit(config: VocabConfig) -> Optional[int]:
    return config.memory_limit if config.memory_limit is not None else memory.available_memory()


def check_fits(info: SampleInfo, config: VocabConfig) -> int:
    try:
        return memory.check_sample_fits(info.sentences, info.sample_bytes,
                                        info.sample_bytes > LARGE_CORPUS_CHARS, memory_limit(config))
    except memory.SampleTooBig as e:
        raise VocabError(str(e)) from None


def sample_locally(corpus: Corpus, config: VocabConfig, sample_dir: Path) -> tuple[SampleInfo, list[Path]]:
    """Measure first (keys only), refuse a sample that will not train, then write it."""
    options = config.trainer
    documents = corpus.dataset.splits.get("train", (None,))[0]
    info = measure_sample(counted(corpus.iter_examples("train"), "sampling: measuring", documents), options.seed,
                          config.sentences, options.max_sentence_bytes)
    require_text(info, corpus)
    check_fits(info, config)
    return info, write_sample(counted(corpus.iter_examples("train"), "sampling: writing", documents), info, sample_dir)


def sample_with_beam(corpus: Corpus, config: VocabConfig, sample_dir: Path, beam_args: Sequence[str],
                     beam_sampler: BeamSampler) -> tuple[SampleInfo, list[Path]]:
    """The Beam job writes the same shards; its size is only known afterwards."""
    options = config.trainer
    info = beam_sampler(corpus, options.seed, config.sentences, options.max_sentence_bytes, str(sample_dir), beam_args)
    require_text(info, corpus)
    check_fits(info, config)
    return info, [sample_dir / name for name in info.shard_names]


def require_text(info: SampleInfo, corpus: Corpus) -> None:
    if info.sentences == 0:
        raise VocabError(f"{corpus.root}: the train split has no text to sample")


def train(config: VocabConfig, shards: list[Path], info: SampleInfo, output: Path) -> Path:
    phase("training sentencepiece on %s lines (%s) with %d thread(s)", f"{info.sentences:,}",
          memory.human(info.sample_bytes), config.trainer.threads)
    try:
        model_path = train_from_shards(config.trainer, shards, output, info.sample_bytes, config.verbose)
    except RuntimeError as e:  # e.g. "Vocabulary size too high (32000). Please set it to a value <= 29503."
        raise VocabError(f"sentencepiece: {str(e).split('] ')[-1]}") from None
    check_t5_layout(model_path)
    return model_path


def make_sample_dir(config: VocabConfig, output: Path) -> tuple[Path, bool]:
    """(where the sample goes, whether to delete it afterwards)."""
    if config.sample_dir:
        directory = Path(config.sample_dir)
        clear_old_sample(directory, config.overwrite)
        return directory, False
    return Path(tempfile.mkdtemp(prefix=".sample-", dir=output)), True


def clear_old_sample(directory: Path, overwrite: bool) -> None:
    """Stale shards of another shard count would sit beside the new ones; only --overwrite
    removes them (and only files named like a sample)."""
    old = sorted(directory.glob("sample-*-of-*.txt")) + sorted(directory.glob(SAMPLE_INFO_NAME))
    if old and not overwrite:
        raise VocabError(f"--sample-dir {directory} already holds a sample; pass --overwrite to replace it")
    for path in old:
        path.unlink()


def require_local(flag: str, path: Optional[str]) -> None:
    """The trainer reads the sample and writes the model here, on this machine."""
    if path and "://" in path:
        raise VocabError(f"{flag} must be a local (or mounted) directory, not {path}")


def run_vocab(config: VocabConfig, beam_args: Sequence[str] = (), beam_sampler: Optional[BeamSampler] = None) -> dict:
    if config.sampler == "beam" and beam_sampler is None:
        raise ValueError("sampler 'beam' needs beam_sampler (c4forge.pipeline.vocab_sampling.sample_with_beam)")
    require_local("--output", config.output)
    require_local("--sample-dir", config.sample_dir)
    corpus = open_corpus(config.corpus)
    output = Path(config.output)
    check_output_free(output, config.overwrite)
    created = not output.exists()
    output.mkdir(parents=True, exist_ok=True)
    clock = Stopwatch()
    try:
        info, model_path = sample_and_train(corpus, config, output, beam_args, beam_sampler, clock)
    except VocabError:
        if created and not any(output.iterdir()):
            output.rmdir()  # a refused request leaves nothing behind
        raise
    phase("trained in %.1f s; exporting the transformers tokenizer", clock.seconds["train"])
    export_hf_tokenizer(model_path, output, config.trainer.extra_ids)
    clock.lap("export")
    phase("evaluating on up to %s documents", f"{config.eval_docs:,}")
    eval_text = evaluation.choose_eval_text(corpus, info, config.eval_docs)
    evaluated = evaluation.evaluate(model_path, output, eval_text)
    clock.lap("evaluate")
    report = make_report(config, corpus, info, model_path, evaluated, clock.seconds)
    (output / REPORT_NAME).write_text(json.dumps(report, indent=1, sort_keys=True) + "\n")
    return report


def sample_and_train(corpus: Corpus, config: VocabConfig, output: Path, beam_args: Sequence[str],
                     beam_sampler: Optional[BeamSampler], clock: Stopwatch) -> tuple[SampleInfo, Path]:
    sample_dir, temporary = make_sample_dir(config, output)
    try:
        if config.sampler == "beam":
            info, shards = sample_with_beam(corpus, config, sample_dir, beam_args, beam_sampler)
        else:
            info, shards = sample_locally(corpus, config, sample_dir)
        clock.lap("sample")
        model_path = train(config, shards, info, output)
        clock.lap("train")
        return info, model_path
    finally:
        if temporary:
            shutil.rmtree(sample_dir, ignore_errors=True)


def library_versions() -> dict:
    import sentencepiece
    import tokenizers
    import transformers

    return {"sentencepiece": sentencepiece.__version__, "tokenizers": tokenizers.__version__,
            "transformers": transformers.__version__}


def make_report(config: VocabConfig, corpus: Corpus, info: SampleInfo, model_path: Path, evaluated: dict,
                seconds: dict) -> dict:
    import sentencepiece as spm

    pieces = spm.SentencePieceProcessor(model_file=str(model_path)).get_piece_size()
    ids = pieces + config.trainer.extra_ids
    return {
        "corpus": {"root": str(corpus.root), "format": corpus.kind},
        "options": {**dataclasses.asdict(config.trainer), "sentences": config.sentences, "sampler": config.sampler},
        "sample": {**dataclasses.asdict(info), "kept_at": config.sample_dir},
        "vocabulary": {"pieces": pieces, "sentinels": config.trainer.extra_ids, "ids": ids,
                       "model_vocab_size": evaluation.padded_vocab_size(ids), "pad_id": 0, "eos_id": 1,
                       "unk_id": 2, "bos_id": None, "first_sentinel_id": ids - 1 if config.trainer.extra_ids else None},
        "evaluation": evaluated,
        "seconds": {**seconds, "total": round(sum(seconds.values()), 2)},
        "memory": {"peak_rss_bytes": peak_rss_bytes(),
                   "training_estimate_bytes": memory.training_memory_estimate(
                       info.sample_bytes, info.sample_bytes > LARGE_CORPUS_CHARS)},
        "versions": library_versions(),
    }


def _percent(rate: Optional[float]) -> str:
    return "n/a" if rate is None else f"{rate:.4%}"


def _parity_line(parity: dict, what: str) -> str:
    line = f"            HF tokenizer = sentencepiece on {parity['identical']:,} of {parity['texts']:,} {what}"
    if parity["identical"] < parity["texts"]:
        line += (f" (the others: {parity['normalizer_differs']} normalizer, {parity['segmentation_differs']} "
                 "segmentation; docs/vocab.md)")
    return line


def format_report(report: dict, output: str) -> str:
    sample, vocab, ev = report["sample"], report["vocabulary"], report["evaluation"]
    lines = [
        f"sample      {sample['sentences']:,} of {sample['units_total']:,} lines "
        f"({memory.human(sample['sample_bytes'])}, {sample['shards']} shard(s), seed {sample['seed']})",
        f"vocabulary  {vocab['pieces']:,} pieces + {vocab['sentinels']} sentinels = {vocab['ids']:,} ids "
        f"(model embedding rows: {vocab['model_vocab_size']:,})",
    ]
    if ev["source"] is None:
        lines.append(f"evaluation  {ev['note']}")
    else:
        lines += [
            f"evaluation  {ev['note']}",
            f"            tokens/word {ev['tokens_per_word']}, unk rate {_percent(ev['unk_rate'])}, "
            f"byte fallback {_percent(ev['byte_fallback_rate'])}, "
            f"character coverage {_percent(ev['character_coverage'])}",
            _parity_line(ev["hf_parity"], "held-out lines" if ev["source"] == evaluation.HELDOUT else "documents"),
        ]
    lines.append(_parity_line(ev["hf_parity_fuzz"]["total"], "fuzz strings"))
    seconds = report["seconds"]
    lines += [
        "time        " + ", ".join(f"{k} {v:.1f} s" for k, v in seconds.items()),
        f"memory      peak RSS {memory.human(report['memory']['peak_rss_bytes'])} "
        f"(training estimate {memory.human(report['memory']['training_estimate_bytes'])})",
        f"wrote       {output.rstrip('/')}/: {', '.join(OUTPUT_FILES)}",
    ]
    return "\n".join(lines)
