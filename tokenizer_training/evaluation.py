"""How the new vocabulary does on text it was not trained on.

Evaluation text is the corpus's validation split (its first ``eval_docs`` documents, whole).
A corpus without one (a small build can put every page in train) falls back to held-out
train text: the lines the sample did not select (key above the threshold), from the first
``eval_docs`` train documents that have any. If every train line was sampled there is
nothing unseen to measure on, and the report says so instead of showing numbers.

HF parity: the exported tokenizer against sentencepiece, id for id, on every evaluation text as
it is (whole documents) and on ``fuzz_texts``, a fixed set of strings built from the cases where
the two could part (whitespace, punctuation and digit runs, scripts, combining marks, joiners,
emoji, byte-fallback characters, special-token look-alikes). Special strings are spelt out
(``split_special_tokens=True``), as sentencepiece does. A difference is put down to the
normalizer when transformers' normalized text already differs from sentencepiece's (the
grapheme rule of tokenizers' Precompiled, hf_export), else to the segmentation.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import random
from pathlib import Path
from typing import Iterable, Iterator, Optional

from c4forge.corpus.reader import Corpus

from .sampling import SampleInfo, document_units

VALIDATION = "validation"
HELDOUT = "train-heldout"


@dataclasses.dataclass
class EvalText:
    source: Optional[str]  # VALIDATION, HELDOUT or None
    texts: list[str]
    documents: int
    note: str


def validation_text(corpus: Corpus, eval_docs: int) -> list[str]:
    return [ex["text"] for ex in itertools.islice(corpus.iter_examples(VALIDATION), eval_docs)]


def heldout_text(examples: Iterable[dict], info: SampleInfo, eval_docs: int) -> Iterator[list[str]]:
    """Per train document with unsampled lines: those lines (one list per document)."""
    found = 0
    for example in examples:
        if found >= eval_docs:
            return
        lines = [text for key, text in document_units(example, info.seed, info.max_sentence_bytes)
                 if key > info.threshold]
        if lines:
            found += 1
            yield lines


def choose_eval_text(corpus: Corpus, info: SampleInfo, eval_docs: int) -> EvalText:
    texts = validation_text(corpus, eval_docs)
    if texts:
        return EvalText(VALIDATION, texts, len(texts), f"first {len(texts)} validation documents")
    documents = list(heldout_text(corpus.iter_examples("train"), info, eval_docs))
    if documents:
        return EvalText(HELDOUT, [line for doc in documents for line in doc], len(documents),
                        f"no validation split: unsampled train lines of {len(documents)} documents")
    return EvalText(None, [], 0, "no validation split, and every train line is in the sample: nothing held out")


def vocabulary_stats(sp, texts: list[str]) -> dict:
    """Tokens per word, unknown and byte-fallback rates, and character coverage (share of
    non-space characters spelt with ordinary pieces, not <unk> or bytes)."""
    tokens = unknown = byte_pieces = uncovered = 0
    for encoded in sp.encode(texts, return_type="proto"):
        for piece in encoded.pieces:
            tokens += 1
            if sp.is_unknown(piece.id) or sp.is_byte(piece.id):
                unknown += sp.is_unknown(piece.id)
                byte_pieces += sp.is_byte(piece.id)
                uncovered += sum(not c.isspace() for c in piece.surface)
    chars = sum(sum(not c.isspace() for c in text) for text in texts)
    words = sum(len(text.split()) for text in texts)
    return {
        "texts": len(texts), "words": words, "characters": chars, "tokens": tokens,
        "tokens_per_word": round(tokens / words, 4) if words else None,
        "unk_rate": round(unknown / tokens, 6) if tokens else None,
        "byte_fallback_rate": round(byte_pieces / tokens, 6) if tokens else None,
        "character_coverage": round(1 - uncovered / chars, 6) if chars else None,
    }


def padded_vocab_size(ids: int, multiple: int = 128) -> int:
    """The embedding rows a T5 model gives these ids (32,100 → 32,128)."""
    return math.ceil(ids / multiple) * multiple


# What fuzz_texts draws from: each string mixes fragments of one kind (the last kind: of every
# kind) with words and spaces.
FUZZ_WORDS = ["the", "The", "cat", "sat", "on", "mat", "don't", "e-mail", "U.S.", "naïve", "café", "x", "A", " ", "  "]
FUZZ_FRAGMENTS = {
    "whitespace": [" ", "  ", "   ", "\t", "\n", "\n\n", "\r\n", "\x0b", "\x0c", "\u00a0", "\u2002", "\u2009",
                   "\u3000", "\u0085", "\u1680", "\u2028", "\u2029", "\u200b", "\ufeff", "\u180e"],
    "punctuation": [".", "..", ".....", "......", "_____", "-----", "=====", "!!!", "???", "?!", "***", "###",
                    "~~", "//", "\\", "''", '"', "«»", "—", "–", "…", "(", ")", "[", "]", "{", "}", "<", ">",
                    "@", "&", "|", "^", "`", ":", ";", ",", "'"],
    "digits": ["0", "7", "42", "0000000", "1,234.56", "2024-05-01", "3.14159", "1st", "10%", "$5", "555-0134",
               "1e10", "007", "½", "²", "①", "Ⅻ"],
    "specials": ["<pad>", "</s>", "<unk>", "<s>", "<extra_id_0>", "<extra_id_99>", "<0x41>", "▁", "▁▁",
                 "\x00", "\x01", "\x7f", "\x1e"],
    "unicode": ["é", "e\u0301", "ß", "İ", "ǅ", "Ω", "жизнь", "שלום", "مرحبا", "中文", "한국어", "アイ", "ｶﾞ",
                "ﬁ", "™", "€", "£", "¨", "ª", "Ａ", "ℕ", "𝚨", "Ǹ", "ệ", "e\u0323\u0302", "ก่", "न्", "\u0301",
                "\u0308", "\u200d", "\u200c", "\ufe0f", "\u20e3", "😀", "😀😀", "👍🏽", "👨\u200d👩\u200d👧",
                "❤\ufe0f", "🇺🇸", "©\ufe0f", "#\ufe0f\u20e3", "\ue000", "\U0010fffd"],
}
FUZZ_FIXED = ["", " ", ".....", "0000000", "_____", "¨\u200dx", "a\u200db", "x\u2028y", "▁ literal metaspace",
              "Hello <extra_id_0>.", "call 555-0134 in 2024"]
FUZZ_PER_KIND = 500


def fuzz_texts(per_kind: int = FUZZ_PER_KIND, seed: int = 0) -> dict[str, list[str]]:
    """Fixed strings by kind (same arguments, same strings) where HF and sentencepiece could
    differ: ``per_kind`` of each kind of FUZZ_FRAGMENTS, ``per_kind`` of all kinds mixed ("mixed"),
    and the cases found so far ("fixed")."""
    rng = random.Random(seed)
    kinds = list(FUZZ_FRAGMENTS)
    texts: dict[str, list[str]] = {"fixed": list(FUZZ_FIXED)}
    for kind in kinds + ["mixed"]:
        pool = FUZZ_FRAGMENTS[kind] if kind in FUZZ_FRAGMENTS else [f for k in kinds for f in FUZZ_FRAGMENTS[k]]
        texts[kind] = ["".join(rng.choice(pool if rng.random() < 0.6 else FUZZ_WORDS)
                               for _ in range(rng.randint(1, 12))) for _ in range(per_kind)]
    return texts


def hf_normalized(tokenizer, text: str) -> str:
    """The exported tokenizer's normalized, pre-tokenized text, as sentencepiece's ``normalize``
    writes it (``▁`` for spaces, a dummy prefix)."""
    backend = tokenizer.backend_tokenizer
    return "".join(piece for piece, _ in backend.pre_tokenizer.pre_tokenize_str(backend.normalizer.normalize_str(text)))


def hf_parity(sp, tokenizer, texts: list[str]) -> dict:
    """Do the exported tokenizer and sentencepiece give the same ids on these texts (whole)?"""
    expected = sp.encode(texts)
    got = tokenizer(texts, add_special_tokens=False, split_special_tokens=True)["input_ids"] if texts else []
    differing = [text for text, a, b in zip(texts, expected, got) if a != b]
    normalizer = sum(hf_normalized(tokenizer, text) != sp.normalize(text) for text in differing)
    return {"texts": len(texts), "identical": len(texts) - len(differing), "normalizer_differs": normalizer,
            "segmentation_differs": len(differing) - normalizer, "examples": [t[:200] for t in differing[:3]]}


def sum_parity(parities) -> dict:
    parities = list(parities)
    total = {key: sum(p[key] for p in parities)
             for key in ("texts", "identical", "normalizer_differs", "segmentation_differs")}
    return total | {"examples": [e for p in parities for e in p["examples"]][:3]}


def evaluate(model_path: Path, hf_dir: Path, eval_text: EvalText) -> dict:
    import sentencepiece as spm

    from .hf_export import load_hf_tokenizer

    sp = spm.SentencePieceProcessor(model_file=str(model_path))
    tokenizer = load_hf_tokenizer(hf_dir)
    fuzz = {kind: hf_parity(sp, tokenizer, texts) for kind, texts in fuzz_texts().items()}
    report = {"source": eval_text.source, "documents": eval_text.documents, "note": eval_text.note,
              "hf_parity_fuzz": {"total": sum_parity(fuzz.values()), "by_kind": fuzz}}
    if eval_text.texts:
        report.update(vocabulary_stats(sp, eval_text.texts))
        report["hf_parity"] = hf_parity(sp, tokenizer, eval_text.texts)
    return report
