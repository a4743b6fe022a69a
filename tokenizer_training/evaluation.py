"""How the new vocabulary does on text it was not trained on.

Evaluation text is the corpus's validation split (its first ``eval_docs`` documents, whole).
A corpus without one (a small build can put every page in train) falls back to held-out
train text: the lines the sample did not select (key above the threshold), from the first
``eval_docs`` train documents that have any. If every train line was sampled there is
nothing unseen to measure on, and the report says so instead of showing numbers.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from pathlib import Path
from typing import Iterable, Iterator, Optional

from c4forge.corpus.reader import Corpus

from .sampling import SampleInfo, document_units

VALIDATION = "validation"
HELDOUT = "train-heldout"
PARITY_LINES = 2000


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


def parity_lines(texts: list[str], limit: int = PARITY_LINES) -> list[str]:
    """Lines, not whole documents: on long inputs sentencepiece's float32 path scores can
    break near-ties differently (hf_export explains), which says nothing about the export."""
    lines = (line for text in texts for line in text.split("\n") if line.strip())
    return list(itertools.islice(lines, limit))


def hf_parity(sp, hf_dir: Path, texts: list[str]) -> dict:
    """Do the exported tokenizer and sentencepiece give the same ids on these texts?"""
    from .hf_export import load_hf_tokenizer

    tokenizer = load_hf_tokenizer(hf_dir)
    lines = parity_lines(texts)
    expected = sp.encode(lines)
    got = tokenizer(lines, add_special_tokens=False)["input_ids"] if lines else []
    differing = [line for line, a, b in zip(lines, expected, got) if a != b]
    return {"lines": len(lines), "identical": len(lines) - len(differing), "examples": differing[:3]}


def evaluate(model_path: Path, hf_dir: Path, eval_text: EvalText) -> dict:
    import sentencepiece as spm

    sp = spm.SentencePieceProcessor(model_file=str(model_path))
    report = {"source": eval_text.source, "documents": eval_text.documents, "note": eval_text.note}
    if eval_text.texts:
        report.update(vocabulary_stats(sp, eval_text.texts))
        report["hf_parity"] = hf_parity(sp, hf_dir, eval_text.texts)
    return report
