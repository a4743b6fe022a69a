"""A checkpoint says what it is: an untied head in config.json, a tokenizer class that transformers
4.x and 5.x both load, the same loss on the same example in the pinned transformers 5 and the last
4.x release (installed beside the venv by .ci/install-transformers4.sh), and a head that
``resize_token_embeddings`` keeps."""

from __future__ import annotations

import json
import logging
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from c4forge.pretrain.checkpoint import load_t5, save_model_dir
from c4forge.pretrain.modeling import build_t5
from c4forge.pretrain.vocab import load_vocab, portable_tokenizer_config
from c4forge.tokenizer_training.hf_export import export_hf_tokenizer

from conftest import REPO

TRANSFORMERS4 = REPO / ".venv-extra" / "transformers4"
PROMPTS = ["The cat <extra_id_0> on the mat.", "a </s> b <pad> c", "plain text, no sentinel"]
TARGET = "<extra_id_0> sat <extra_id_1>"

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def train_spiece(directory: Path) -> Path:
    """A 300-piece T5-layout sentencepiece model of pseudo-English."""
    import sentencepiece as spm

    rng = random.Random(3)
    words = ["".join(rng.choice("etaoinshrdlucmfwyp") for _ in range(rng.randrange(2, 8))) for _ in range(300)]
    lines = [" ".join(rng.choice(words + ["The", "cat", "sat", "on", "the", "mat."]) for _ in range(12))
             for _ in range(2000)]
    directory.mkdir(parents=True)
    spm.SentencePieceTrainer.train(sentence_iterator=iter(lines), model_prefix=str(directory / "spiece"),
                                   vocab_size=300, pad_id=0, eos_id=1, unk_id=2, bos_id=-1, model_type="unigram",
                                   num_threads=1, minloglevel=2)
    return directory / "spiece.model"


@pytest.fixture(scope="module", params=["c4forge-vocab", "spiece-only"])
def checkpoint(request, tmp_path_factory) -> Path:
    """A tiny model's checkpoint with the vocabulary `c4forge vocab` exports, or with a bare
    spiece.model (the tokenizer then comes from transformers 5's T5Tokenizer)."""
    root = tmp_path_factory.mktemp(request.param)
    model = train_spiece(root / "vocab")
    if request.param == "c4forge-vocab":
        export_hf_tokenizer(model, root / "vocab")
    vocab = load_vocab(root / "vocab")
    t5 = build_t5("tiny", vocab.model_vocab_size(), seed=0)
    directory = root / "checkpoint"
    directory.mkdir()
    save_model_dir(directory, t5, vocab)
    return directory


def example(tokenizer) -> dict:
    inputs = tokenizer(PROMPTS, padding=True, return_tensors="pt")
    labels = tokenizer([TARGET] * len(PROMPTS), return_tensors="pt").input_ids
    return {"input_ids": inputs.input_ids, "attention_mask": inputs.attention_mask, "labels": labels}


def loss_of(model, tokenizer) -> float:
    with torch.no_grad():
        return model(**example(tokenizer)).loss.item()


class Messages(logging.Handler):
    """transformers' log records (its logger does not propagate to the root, so caplog misses them)."""

    def __init__(self):
        super().__init__(logging.INFO)
        self.records: list[str] = []

    def emit(self, record):
        self.records.append(record.getMessage())

    def __enter__(self):
        logging.getLogger("transformers").addHandler(self)
        return self.records

    def __exit__(self, *exc):
        logging.getLogger("transformers").removeHandler(self)


def test_config_and_tokenizer_config_say_what_the_checkpoint_is(checkpoint):
    from safetensors.torch import load_file

    config = json.loads((checkpoint / "config.json").read_text())
    assert config["tie_word_embeddings"] is False and config.get("scale_decoder_outputs") in (False, None)
    tokenizer_config = json.loads((checkpoint / "tokenizer_config.json").read_text())
    assert tokenizer_config["tokenizer_class"] in ("PreTrainedTokenizerFast", "T5Tokenizer")
    assert isinstance(tokenizer_config.get("additional_special_tokens"), list)
    assert "extra_special_tokens" not in tokenizer_config and tokenizer_config == portable_tokenizer_config(
        tokenizer_config)
    weights = load_file(str(checkpoint / "model.safetensors"))
    assert not torch.equal(weights["lm_head.weight"], weights["shared.weight"])


def test_load_t5_keeps_the_head_says_nothing_about_tying_and_resizing_keeps_the_head(checkpoint):
    from transformers import AutoTokenizer, T5ForConditionalGeneration

    tokenizer = AutoTokenizer.from_pretrained(str(checkpoint))
    with Messages() as messages:
        model = load_t5(checkpoint)
    assert not [m for m in messages if "tie" in m.lower()], messages
    assert model.config.tie_word_embeddings is False and model.lm_head.weight is not model.shared.weight
    plain = T5ForConditionalGeneration.from_pretrained(str(checkpoint)).eval()  # transformers 5 logs its tie note
    assert torch.equal(plain.lm_head.weight, model.lm_head.weight)
    assert loss_of(model, tokenizer) == pytest.approx(loss_of(plain, tokenizer), abs=1e-6)

    head = model.lm_head.weight.detach().clone()
    rows = model.shared.weight.shape[0]
    model.resize_token_embeddings(rows + 128)
    assert model.lm_head.weight is not model.shared.weight
    assert torch.equal(model.lm_head.weight[:rows], head)
    assert model.encoder.embed_tokens.weight is model.shared.weight is model.decoder.embed_tokens.weight


def test_the_built_model_is_untied_in_its_config_and_tying_map():
    t5 = build_t5("tiny", 384, seed=0)
    assert t5.config.tie_word_embeddings is False and t5.config.scale_decoder_outputs is False
    assert "lm_head.weight" not in t5.all_tied_weights_keys
    head = t5.lm_head.weight.detach().clone()
    t5.tie_weights()
    assert t5.lm_head.weight is not t5.shared.weight and torch.equal(t5.lm_head.weight, head)


TRANSFORMERS4_PROBE = """
import json, logging, sys
import torch
import transformers
from transformers import AutoTokenizer, T5ForConditionalGeneration
messages = []
handler = logging.Handler(); handler.emit = lambda record: messages.append(record.getMessage())
logging.getLogger("transformers").addHandler(handler)
directory, prompts, target = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
tokenizer = AutoTokenizer.from_pretrained(directory)
model = T5ForConditionalGeneration.from_pretrained(directory).eval()
inputs = tokenizer(prompts, padding=True, return_tensors="pt")
labels = tokenizer([target] * len(prompts), return_tensors="pt").input_ids
with torch.no_grad():
    loss = model(input_ids=inputs.input_ids, attention_mask=inputs.attention_mask, labels=labels).loss.item()
head = model.lm_head.weight.detach().clone()
rows = model.shared.weight.shape[0]
model.resize_token_embeddings(rows + 128)
print(json.dumps({
    "version": transformers.__version__, "tokenizer_class": type(tokenizer).__name__, "loss": loss,
    "ids": [tokenizer(p).input_ids for p in prompts], "tied": model.lm_head.weight is model.shared.weight,
    "head_kept": bool(torch.equal(model.lm_head.weight[:rows], head)), "messages": messages,
}))
"""


@pytest.mark.slow
def test_transformers4_loads_it_silently_with_the_same_tokens_and_loss(checkpoint):
    if not (TRANSFORMERS4 / "transformers").is_dir():
        pytest.skip(f"transformers 4.x is not installed in {TRANSFORMERS4}: run `bash .ci/install-transformers4.sh`")
    from transformers import AutoTokenizer

    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TRANSFORMERS4), os.environ.get("PYTHONPATH", "")]),
           "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "USE_TF": "0", "USE_TORCH": "1",
           "TF_CPP_MIN_LOG_LEVEL": "3", "OMP_NUM_THREADS": "1"}
    result = subprocess.run([sys.executable, "-c", TRANSFORMERS4_PROBE, str(checkpoint), json.dumps(PROMPTS), TARGET],
                            env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    old = json.loads(result.stdout.strip().splitlines()[-1])
    assert old["version"].startswith("4.")
    tokenizer = AutoTokenizer.from_pretrained(str(checkpoint))
    assert old["ids"] == [tokenizer(p).input_ids for p in PROMPTS]
    assert old["loss"] == pytest.approx(loss_of(load_t5(checkpoint), tokenizer), abs=1e-5)
    assert not old["tied"] and old["head_kept"]
    assert not [m for m in old["messages"] if "tie" in m.lower() or "not initialized" in m.lower()], old["messages"]
