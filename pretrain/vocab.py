"""The trained vocabulary: a directory with ``spiece.model`` (+ optionally HF tokenizer files).

Layout checked here is T5's: pad 0, eos 1, unk 2, and 100 sentinels at the top ids,
``<extra_id_0>`` = len(tokenizer) - 1 counting down. Corpus text is encoded with the raw
sentencepiece processor, as seqio does: the HF tokenizer would turn literal ``<pad>``/``</s>``
strings in web text into control ids and append EOS to every document (environment.md §6,
span_corruption_reference.md §3.3). The HF tokenizer is only loaded to be saved beside the
checkpoints and to check that its ids agree with the sentinel arithmetic.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import shutil
from pathlib import Path

from .errors import PretrainError
from .span_corruption import NUM_SENTINELS

SPM_FILE = "spiece.model"
HF_TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json")
PAD_ID, EOS_ID, UNK_ID = 0, 1, 2


class VocabError(PretrainError):
    pass


@dataclasses.dataclass(frozen=True)
class Vocab:
    directory: Path
    spm_path: Path
    sha256: str  # of spiece.model: part of the token-cache key
    size: int  # ids including the sentinels (32100 for T5): <extra_id_0> = size - 1

    def sentencepiece(self):
        import sentencepiece as spm

        return spm.SentencePieceProcessor(model_file=str(self.spm_path))

    def hf_tokenizer(self):
        return load_hf_tokenizer(self.directory)

    def model_vocab_size(self, multiple: int = 128) -> int:
        """Embedding rows: ``size`` rounded up (T5 pads 32100 to 32128)."""
        return -(-self.size // multiple) * multiple

    def save_beside(self, directory: Path) -> None:
        """The tokenizer files next to a checkpoint, so the directory is self-contained: copied
        as they are when the vocabulary has HF files, else saved from the T5Tokenizer; then the
        tokenizer config is made loadable by transformers 4.x too (``portable_tokenizer_config``)."""
        directory = Path(directory)
        if (self.directory / "tokenizer.json").is_file():
            for name in HF_TOKENIZER_FILES:
                if (self.directory / name).is_file():
                    shutil.copyfile(self.directory / name, directory / name)
        else:
            self.hf_tokenizer().save_pretrained(str(directory))
        config_path = directory / "tokenizer_config.json"
        if config_path.is_file():
            config = json.loads(config_path.read_text())
            portable = portable_tokenizer_config(config)
            if portable != config:
                config_path.write_text(json.dumps(portable, indent=2, ensure_ascii=False) + "\n")
        shutil.copyfile(self.spm_path, directory / SPM_FILE)


# What transformers 5 writes into tokenizer_config.json that 4.x cannot read: the class name of its
# tokenizers backend (4.x: "Tokenizer class TokenizersBackend does not exist"), and extra special
# tokens as a list (4.x expects a dict of named tokens and fails on ``.keys()``; its list is
# ``additional_special_tokens``, which 5.x reads too). Keys that only say how it was loaded go.
PORTABLE_CLASSES = {"TokenizersBackend": "PreTrainedTokenizerFast"}
LOAD_TIME_KEYS = ("backend", "is_local", "local_files_only")


def portable_tokenizer_config(config: dict) -> dict:
    """A tokenizer_config.json that transformers 4.x and 5.x both load, as the same tokenizer."""
    config = {k: v for k, v in config.items() if k not in LOAD_TIME_KEYS}
    if config.get("tokenizer_class") in PORTABLE_CLASSES:
        config["tokenizer_class"] = PORTABLE_CLASSES[config["tokenizer_class"]]
    extra = config.pop("extra_special_tokens", None)
    if isinstance(extra, list):
        named = {config.get(k) for k in ("pad_token", "eos_token", "unk_token", "bos_token")}
        config["additional_special_tokens"] = [t for t in extra if t not in named]
    elif extra:
        config["extra_special_tokens"] = extra
    return config


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@functools.lru_cache(maxsize=4)
def load_hf_tokenizer(directory: Path):
    """The directory's HF tokenizer (cached: converting a 32k spiece.model takes seconds and every
    checkpoint saves it). With ``tokenizer.json`` (``c4forge vocab`` writes one that gives the raw
    sentencepiece ids): AutoTokenizer, which keeps it as written; ``T5Tokenizer`` would rebuild
    transformers' own T5 pipeline. With only ``spiece.model``: T5Tokenizer + 100 extra ids.
    Absolute paths and local files only: a name that is not a directory would otherwise be
    looked up on the Hub (and can silently give a 104-token tokenizer)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from transformers import AutoTokenizer, T5Tokenizer

    directory = Path(directory).resolve()
    if (directory / "tokenizer.json").is_file():
        return AutoTokenizer.from_pretrained(str(directory), local_files_only=True)
    return T5Tokenizer.from_pretrained(str(directory), extra_ids=NUM_SENTINELS, local_files_only=True)


def _check_layout(processor, tokenizer, directory: Path) -> int:
    ids = (processor.pad_id(), processor.eos_id(), processor.unk_id())
    if ids != (PAD_ID, EOS_ID, UNK_ID):
        raise VocabError(f"{directory}: spiece.model has pad/eos/unk ids {ids}, T5 needs (0, 1, 2)")
    size = len(tokenizer)
    pieces = processor.get_piece_size()
    if size not in (pieces, pieces + NUM_SENTINELS):
        raise VocabError(f"{directory}: tokenizer has {size} ids but spiece.model has {pieces} pieces")
    for k in (0, 1, NUM_SENTINELS - 1):
        got = tokenizer.convert_tokens_to_ids(f"<extra_id_{k}>")
        if got != size - 1 - k:
            raise VocabError(f"{directory}: <extra_id_{k}> is id {got}, expected {size - 1 - k} "
                             "(sentinels must be the top ids, counting down)")
    if (tokenizer.pad_token_id, tokenizer.eos_token_id) != (PAD_ID, EOS_ID):
        raise VocabError(f"{directory}: HF tokenizer pad/eos are {tokenizer.pad_token_id}/{tokenizer.eos_token_id}")
    return size


def load_vocab(directory: str | os.PathLike) -> Vocab:
    directory = Path(directory).resolve()
    spm_path = directory / SPM_FILE
    if not spm_path.is_file():
        raise VocabError(f"{directory}: no {SPM_FILE} (expected the output of `c4forge vocab`)")
    vocab = Vocab(directory, spm_path, _sha256(spm_path), 0)
    try:
        processor, tokenizer = vocab.sentencepiece(), vocab.hf_tokenizer()
    except (OSError, RuntimeError, ValueError) as error:
        raise VocabError(f"{spm_path}: not a readable vocabulary ({error}); rebuild it with `c4forge vocab`") from error
    size = _check_layout(processor, tokenizer, directory)
    return dataclasses.replace(vocab, size=size)
