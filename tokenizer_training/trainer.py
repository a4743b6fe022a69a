"""Training a T5-style SentencePiece model from sample shards.

T5's layout by default: unigram, pad=0, eos=1, unk=2, no BOS, nmt_nfkc. The 100 sentinels
are not in the model (as in T5's cc_all.32000): seqio and the HF export add them on top as
the highest ids, ``<extra_id_0>`` = pieces + 99.

Reproducibility: the sample is streamed in its fixed order with ``input_sentence_size=0``
(every sentence used, no reservoir sampling, no shuffle), the global random seed is set,
and ``num_threads`` is fixed (default 16, sentencepiece's own default, whatever the cores):
the unigram EM sums per-thread partial counts, so the thread count changes float rounding
and can reorder near-equal pieces. Same sample + same options + same sentencepiece version
→ byte-identical model (0.2.2 and 0.2.3 give different models). Training through
``sentence_iterator`` and ``model_writer`` also keeps temporary paths out of the model's
trainer_spec, which would otherwise differ run to run.

Scores: the trained piece scores (log probabilities) are rounded to multiples of 2^-6
(``SCORE_QUANTUM``) before the model is written. sentencepiece's Viterbi adds scores in float32
along the whole input, and the exported HF tokenizer (tokenizers, float64, word by word) must
pick the same segmentation; with arbitrary float32 scores the two round near-ties differently
(one document in a few hundred, and strings as short as ``'.....'``). Sums of multiples of 2^-6
are exact in float32 up to 2^18, so the two agree wherever sentencepiece's running path score
stays above -262,144 (~25,000 tokens of a 32k vocabulary), and both break exact ties the same way
(the piece that starts earliest). The rounding moves a score by at most 0.008 nats; only
segmentations already tied within that can change.
"""

from __future__ import annotations

import dataclasses
import io
from pathlib import Path
from typing import Iterable, Sequence

from .sampling import DEFAULT_MAX_SENTENCE_BYTES, iter_sample_lines

NORMALIZATIONS = ("nmt_nfkc", "nfkc", "nmt_nfkc_cf", "nfkc_cf", "identity")
DEFAULT_THREADS = 16
PAD_ID, EOS_ID, UNK_ID = 0, 1, 2
# 2**31 - 1 characters is the 32-bit suffix array's limit ("Input corpus too large").
LARGE_CORPUS_CHARS = 2**31 - 1
SCORE_QUANTUM = 2.0**-6  # module docstring: exact float32 path sums, so HF = sentencepiece


@dataclasses.dataclass(frozen=True)
class TrainerOptions:
    vocab_size: int = 32000
    character_coverage: float = 0.9995
    byte_fallback: bool = False
    split_digits: bool = False
    normalization: str = "nmt_nfkc"
    threads: int = DEFAULT_THREADS
    seed: int = 0
    max_sentence_bytes: int = DEFAULT_MAX_SENTENCE_BYTES
    extra_ids: int = 100

    def __post_init__(self):
        if self.normalization not in NORMALIZATIONS:
            raise ValueError(f"normalization must be one of {', '.join(NORMALIZATIONS)}")
        if not 0.0 < self.character_coverage <= 1.0:
            raise ValueError("character coverage must be in (0, 1]")
        if self.vocab_size < 8 or self.threads < 1 or self.extra_ids < 0:
            raise ValueError("vocab size >= 8, threads >= 1 and extra ids >= 0 please")


def special_piece_strings(options: TrainerOptions) -> list[str]:
    """Strings that are ids but never text in sentencepiece (control, sentinel, byte pieces)."""
    specials = ["<pad>", "</s>", "<unk>"] + [f"<extra_id_{i}>" for i in range(options.extra_ids)]
    if options.byte_fallback:
        specials += [f"<0x{b:02X}>" for b in range(256)]
    return specials


def required_chars(options: TrainerOptions) -> str:
    """The characters of the special strings are kept in the alphabet whatever the coverage.

    Why: when one of them is out of vocabulary (T5's own vocabulary lacks ``<``), literal
    text such as ``<pad>`` can only be spelt with an unknown piece in sentencepiece, while
    HF's Unigram (which has no control pieces) would then prefer the special piece itself.
    With these few ASCII characters in the alphabet the exported tokenizer reproduces
    sentencepiece on such text exactly (see hf_export)."""
    return "".join(sorted(set("".join(special_piece_strings(options)))))


def trainer_arguments(options: TrainerOptions, sample_bytes: int) -> dict:
    """The sentencepiece trainer flags (TrainerSpec fields of 0.2.2)."""
    return dict(
        model_type="unigram",
        vocab_size=options.vocab_size,
        character_coverage=options.character_coverage,
        byte_fallback=options.byte_fallback,
        split_digits=options.split_digits,
        normalization_rule_name=options.normalization,
        pad_id=PAD_ID, eos_id=EOS_ID, unk_id=UNK_ID, bos_id=-1,
        input_sentence_size=0,  # use every sampled sentence ...
        shuffle_input_sentence=False,  # ... in the sample's (already random) order
        max_sentence_length=options.max_sentence_bytes,
        num_threads=options.threads,
        required_chars=required_chars(options),
        # bytes >= characters, so this switches on a little early rather than too late
        train_extremely_large_corpus=sample_bytes > LARGE_CORPUS_CHARS,
    )


def train_model(options: TrainerOptions, sentences: Iterable[str], sample_bytes: int,
                verbose: bool = False) -> bytes:
    """A serialized ModelProto trained on ``sentences``."""
    import sentencepiece as spm

    spm.set_random_generator_seed(options.seed)
    writer = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(sentences), model_writer=writer,
        minloglevel=0 if verbose else 2, **trainer_arguments(options, sample_bytes),
    )
    return quantize_scores(writer.getvalue())


def quantize_scores(model: bytes, quantum: float = SCORE_QUANTUM) -> bytes:
    """The model with every piece score rounded to a multiple of ``quantum`` (module docstring)."""
    from sentencepiece import sentencepiece_model_pb2

    proto = sentencepiece_model_pb2.ModelProto.FromString(model)
    for piece in proto.pieces:
        piece.score = round(piece.score / quantum) * quantum
    return proto.SerializeToString()


def vocab_text(model: bytes) -> str:
    """The ``.vocab`` listing sentencepiece writes next to a model: piece TAB score."""
    from sentencepiece import sentencepiece_model_pb2

    proto = sentencepiece_model_pb2.ModelProto.FromString(model)
    return "".join(f"{p.piece}\t{p.score:g}\n" for p in proto.pieces)


def train_from_shards(options: TrainerOptions, shards: Sequence[Path], out_dir: Path,
                      sample_bytes: int, verbose: bool = False) -> Path:
    """Train on the sample shards; writes ``spiece.model`` and ``spiece.vocab``."""
    model = train_model(options, iter_sample_lines(shards), sample_bytes, verbose)
    out_dir.mkdir(parents=True, exist_ok=True)
    model_path = out_dir / "spiece.model"
    model_path.write_bytes(model)
    (out_dir / "spiece.vocab").write_text(vocab_text(model), encoding="utf-8")
    return model_path


def check_t5_layout(model_path: Path) -> None:
    """pad=0, eos=1, unk=2, no BOS: what T5 code (seqio, HF, the pretrainer) assumes."""
    import sentencepiece as spm

    sp = spm.SentencePieceProcessor(model_file=str(model_path))
    got = (sp.pad_id(), sp.eos_id(), sp.unk_id(), sp.bos_id())
    if got != (PAD_ID, EOS_ID, UNK_ID, -1):
        raise ValueError(f"{model_path}: ids pad/eos/unk/bos are {got}, not T5's (0, 1, 2, -1)")
