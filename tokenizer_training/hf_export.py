"""The transformers tokenizer directory for a trained ``spiece.model``.

Written next to ``spiece.model``: ``tokenizer.json`` + ``tokenizer_config.json``, loaded by
``AutoTokenizer.from_pretrained(dir)`` (or ``PreTrainedTokenizerFast``). It gives the ids
the raw sentencepiece processor gives, because it is built here from the model proto
rather than by transformers' T5 converter, which differs in three ways (transformers 5.24):

* byte fallback: the converter hard-codes ``byte_fallback=False`` (``<unk>`` instead of
  ``<0xNN>`` pieces); here the Unigram model keeps the proto's flag, with a ByteFallback
  decoder.
* whitespace: the converter splits on every Unicode space (``WhitespaceSplit``), also on
  characters nmt_nfkc leaves alone (U+0085, U+1680); here spaces are collapsed and trimmed
  on the normalized text exactly as sentencepiece's ``remove_extra_whitespaces`` does.
* special strings in text: sentencepiece never matches control pieces (``<pad>``, ``</s>``,
  ``<unk>``) or byte pieces from text, and the raw model has no sentinels, so a literal
  ``<pad>`` or ``<extra_id_0>`` in a C4 page is ordinary text. HF matches them as special
  tokens (C4 does contain ``<pad>``: transformers PR #15443). Here ``split_special_tokens``
  is on by default, and those pieces carry a prohibitive score in the Unigram model, which
  has no "control" type of its own; the trainer keeps their characters in the alphabet so
  a spelt-out path always exists (trainer.required_chars). Pass
  ``split_special_tokens=False`` to a call to get HF's T5 behaviour instead: the strings
  become their ids wherever they are (seqio: sentinels only at word starts), and the text
  after one starts a new word with ``▁``, as HF's ``legacy=True`` T5 tokenizer does.

Known remaining differences (tests/test_vocab_hf.py pins the first two):

* Long inputs (thousands of tokens without a break, e.g. a whole document): sentencepiece
  sums path scores in float32 and can pick a segmentation of a word whose score ties or is
  below another's by less than float32 rounding; tokenizers decodes word by word in
  float64. On the real-web corpus a few of its 290 documents differ this way (5 with a
  1,000-piece vocabulary), none of its 7,779 lines.
* ``decode`` shows an unknown piece as ``<unk>``; sentencepiece shows `` ⁇ ``.
* With ``--normalization identity``/``nfkc``/``nfkc_cf`` (not the default), text containing
  the character ``▁`` (U+2581) itself can differ; nmt_nfkc maps it to a space.

Ids: the sentencepiece pieces, then ``<extra_id_99>`` … ``<extra_id_0>`` (seqio order), so
``len(tokenizer) == pieces + extra_ids`` (32,100 for T5); ``encode`` appends ``</s>``.
Load it with ``AutoTokenizer``: ``T5Tokenizer.from_pretrained`` rebuilds transformers' own
T5 pipeline from the vocabulary and loses the first two points.
"""

from __future__ import annotations

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
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=build_backend(proto, extra_ids),
        pad_token=proto.pieces[spec.pad_id].piece, eos_token=proto.pieces[spec.eos_id].piece,
        unk_token=proto.pieces[spec.unk_id].piece,
        additional_special_tokens=[sentinel(i) for i in range(extra_ids)],
        split_special_tokens=True,
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    tokenizer.save_pretrained(str(out_dir))
    if model_path.resolve() != (out_dir / "spiece.model").resolve():
        shutil.copyfile(model_path, out_dir / "spiece.model")
    check_hf_tokenizer(out_dir, len(proto.pieces), extra_ids)
    return out_dir


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
