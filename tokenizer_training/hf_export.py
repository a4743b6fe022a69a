"""The transformers tokenizer directory for a trained ``spiece.model``.

Written next to ``spiece.model``: ``tokenizer.json`` + ``tokenizer_config.json``, loaded by
``AutoTokenizer.from_pretrained(dir)`` in transformers 5.x and 4.x alike (class
``PreTrainedTokenizerFast``; docs/vocab.md). It behaves like T5's own tokenizer where T5's
tokenizer is about T5, and like the raw sentencepiece processor on text:

* special tokens in text: ``<extra_id_N>``, ``</s>``, ``<pad>`` and ``<unk>`` are read as their
  ids, as ``T5TokenizerFast`` reads them (the same ids token for token on prompts such as
  ``"The cat <extra_id_0> on the mat."``; tests/vocab/test_vocab_hf.py). Pass
  ``split_special_tokens=True`` to a call to spell them out as text instead, as sentencepiece
  and seqio do with a C4 page that contains the string ``<pad>`` (transformers PR #15443).
  Pretraining never goes through this tokenizer: it encodes with sentencepiece.
* plain text: the ids of ``SentencePieceProcessor.encode``, which ``T5TokenizerFast`` does not
  always give. The pipeline is built here from the model proto, not by transformers' T5
  converter, which differs in two ways (transformers 5.24): byte fallback (the converter
  hard-codes ``byte_fallback=False``: ``<unk>`` instead of ``<0xNN>`` pieces; here the Unigram
  model keeps the proto's flag, with a ByteFallback decoder) and whitespace (the converter splits
  on every Unicode space, also on characters nmt_nfkc leaves alone, U+0085 and U+1680; here
  spaces are collapsed and trimmed on the normalized text exactly as sentencepiece's
  ``remove_extra_whitespaces`` does). Pieces that sentencepiece never matches in text
  (control, unknown and byte pieces, and the sentinels, which the raw model does not have) carry
  a prohibitive score, since the Unigram model has no "control" type of its own; the trainer
  keeps their characters in the alphabet so a spelt-out path always exists
  (trainer.required_chars).

Where the two can still differ (docs/vocab.md measures both on real documents and a fuzz set):

* sentencepiece sums path scores in float32 over the whole input, tokenizers in float64 word by
  word; near-ties (within float32 rounding, e.g. ``'.....'``, or anywhere in a long document)
  can go either way. ``c4forge vocab`` rounds piece scores to multiples of 2^-6
  (trainer.SCORE_QUANTUM), which makes both sums exact, so its vocabularies give the same ids
  on every document below ~2^18 in path score (some 25,000 tokens); another model's (T5's own)
  near-ties are not removed by exporting it.
* tokenizers' ``Precompiled`` normalizer works on grapheme clusters and replaces a short
  cluster by the mapping of its first matching prefix, where sentencepiece takes the longest
  matching prefix and carries on: ``'¨\u200dx'`` loses the joiner (and with byte fallback its
  bytes) in HF. No tokenizers normalizer can express sentencepiece's rule (the nmt_nfkc map has
  220,000 multi-character entries).
* ``decode`` shows an unknown piece as ``<unk>``; sentencepiece shows `` ⁇ ``.
* With ``--normalization identity``/``nfkc``/``nfkc_cf`` (not the default), text containing
  the character ``▁`` (U+2581) itself can differ; nmt_nfkc maps it to a space.

Ids: the sentencepiece pieces, then ``<extra_id_99>`` … ``<extra_id_0>`` (seqio order), so
``len(tokenizer) == pieces + extra_ids`` (32,100 for T5); ``encode`` appends ``</s>``.
Load it with ``AutoTokenizer``: ``T5Tokenizer.from_pretrained`` rebuilds transformers' own
T5 pipeline from the vocabulary and loses byte fallback and the whitespace rule.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

NEVER_MATCH_SCORE = -1e6  # far below any piece; f64 keeps real scores exact beside it
METASPACE = "\u2581"


def sentinel(i: int) -> str:
    return f"<extra_id_{i}>"


def _load_proto(model_path: Path):
    from sentencepiece import sentencepiece_model_pb2

    return sentencepiece_model_pb2.ModelProto.FromString(model_path.read_bytes())


def unigram_vocab(proto, extra_ids: int) -> list[tuple[str, float]]:
    """(piece, score) by id; pieces sentencepiece never matches in text get NEVER_MATCH_SCORE."""
    matchable = {proto.SentencePiece.NORMAL, proto.SentencePiece.USER_DEFINED}
    vocab = [(p.piece, p.score if p.type in matchable else NEVER_MATCH_SCORE) for p in proto.pieces]
    return vocab + [(sentinel(i), NEVER_MATCH_SCORE) for i in reversed(range(extra_ids))]


def build_backend(proto, extra_ids: int):
    """A ``tokenizers.Tokenizer`` equivalent to the sentencepiece model."""
    from tokenizers import Regex, Tokenizer, decoders, normalizers, pre_tokenizers, processors
    from tokenizers.models import Unigram

    spec, norm = proto.trainer_spec, proto.normalizer_spec
    backend = Tokenizer(Unigram(unigram_vocab(proto, extra_ids), unk_id=spec.unk_id, byte_fallback=spec.byte_fallback))
    steps = [normalizers.Precompiled(norm.precompiled_charsmap)] if norm.precompiled_charsmap else []
    if norm.remove_extra_whitespaces:
        # sentencepiece collapses and trims ASCII spaces of the normalized text only
        steps += [normalizers.Replace(Regex(" {2,}"), " "), normalizers.Replace(Regex("^ | $"), "")]
    backend.normalizer = normalizers.Sequence(steps)
    backend.pre_tokenizer = pre_tokenizers.Metaspace(
        replacement=METASPACE, prepend_scheme="always" if norm.add_dummy_prefix else "never", split=True)
    backend.decoder = decoders.Sequence([
        decoders.Replace(METASPACE, " "), decoders.ByteFallback(), decoders.Fuse(),
        decoders.Strip(" ", 1 if norm.add_dummy_prefix else 0, 0),
    ])
    eos = proto.pieces[spec.eos_id].piece
    backend.post_processor = processors.TemplateProcessing(
        single=f"$A {eos}", pair=f"$A {eos} $B {eos}", special_tokens=[(eos, spec.eos_id)])
    return backend


def export_hf_tokenizer(model_path: Path, out_dir: Path, extra_ids: int = 100) -> Path:
    """Write the transformers files for ``model_path`` into ``out_dir`` (which then also
    holds a copy of the model as ``spiece.model``) and check they load."""
    from transformers import PreTrainedTokenizerFast

    proto = _load_proto(model_path)
    spec = proto.trainer_spec
    specials = {"pad_token": proto.pieces[spec.pad_id].piece, "eos_token": proto.pieces[spec.eos_id].piece,
                "unk_token": proto.pieces[spec.unk_id].piece}
    sentinels = [sentinel(i) for i in range(extra_ids)]
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=build_backend(proto, extra_ids),
                                        additional_special_tokens=sentinels, **specials)
    out_dir.mkdir(parents=True, exist_ok=True)
    tokenizer.save_pretrained(str(out_dir))
    (out_dir / "tokenizer_config.json").write_text(json.dumps(tokenizer_config(specials, sentinels), indent=2) + "\n")
    if model_path.resolve() != (out_dir / "spiece.model").resolve():
        shutil.copyfile(model_path, out_dir / "spiece.model")
    check_hf_tokenizer(out_dir, len(proto.pieces), extra_ids)
    return out_dir


def tokenizer_config(specials: dict, sentinels: list[str]) -> dict:
    """Written, not left to ``save_pretrained``: transformers 5 names its backend class
    (``TokenizersBackend``) and lists the sentinels as ``extra_special_tokens``, neither of
    which 4.x can load. ``PreTrainedTokenizerFast`` and ``additional_special_tokens`` load in
    both as the same tokenizer; ``clean_up_tokenization_spaces`` off keeps ``decode`` from
    deleting spaces before punctuation (4.x's default would)."""
    return {"tokenizer_class": "PreTrainedTokenizerFast", **specials, "additional_special_tokens": sentinels,
            "split_special_tokens": False, "clean_up_tokenization_spaces": False}


def load_hf_tokenizer(directory: Path):
    """``AutoTokenizer`` on a local directory, never the hub: a missing directory would
    otherwise be taken for a hub id and may quietly give some other tokenizer."""
    from transformers import AutoTokenizer

    directory = Path(directory).resolve()
    if not (directory / "tokenizer.json").is_file():
        raise FileNotFoundError(f"{directory}: no tokenizer.json")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    return AutoTokenizer.from_pretrained(str(directory), local_files_only=True)


def check_hf_tokenizer(directory: Path, pieces: int, extra_ids: int) -> None:
    """The T5 id layout, read back through AutoTokenizer."""
    tokenizer = load_hf_tokenizer(directory)
    expected = {"<pad>": 0, "</s>": 1, "<unk>": 2}
    if extra_ids:
        expected.update({sentinel(0): pieces + extra_ids - 1, sentinel(extra_ids - 1): pieces})
    got = dict(zip(expected, tokenizer.convert_tokens_to_ids(list(expected))))
    if len(tokenizer) != pieces + extra_ids or got != expected:
        raise ValueError(f"{directory}: HF tokenizer has {len(tokenizer)} ids and {got}; "
                         f"expected {pieces + extra_ids} and {expected}")
