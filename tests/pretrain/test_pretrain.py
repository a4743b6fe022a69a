"""`c4forge pretrain` end to end on the shared real-web corpus: token cache, a tiny T5 that learns,
HF checkpoints, kill-and-resume, DDP over two CPU processes, the CLI.

The corpus (~290 documents, all in train) and a 1,000-piece SentencePiece vocabulary in T5's
layout are built once for the module. Runs use --inputs-length 128 (141 raw tokens -> 128/29)
to stay fast on two cores, and --cpu-threads 1 (a busy CPU makes intra-op threads crawl).
"""

from __future__ import annotations

import dataclasses
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from c4forge import cli
from c4forge.pretrain.data import Stream, validation_batches
from c4forge.pretrain.layout import LayoutParams
from c4forge.pretrain.metrics import read_jsonl
from c4forge.pretrain.modeling import SpanCorruptionLoss
from c4forge.pretrain.span_corruption import corrupt
from c4forge.pretrain.token_cache import build_token_store, cache_dir
from c4forge.pretrain.vocab import load_vocab
from c4forge.corpus.reader import find_corpus
from helpers.corpora import write_jsonl_corpus as write_corpus
from helpers.pretraining import CHILD_ENV, Realweb, pretrain, train_records, validation_records


pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("one_torch_thread")]
def test_token_cache_is_raw_sentencepiece_without_eos_and_is_reused(realweb):
    vocab = load_vocab(realweb.vocab)
    corpus = find_corpus(realweb.corpus)
    store = build_token_store(corpus, "train", vocab, realweb.cache)
    texts = [ex["text"] for ex in corpus.iter_examples("train")]
    starts, lengths = store.doc_starts_and_lengths()
    assert len(lengths) == len(texts) == 290
    processor = vocab.sentencepiece()
    for text, start, length in zip(texts, starts, lengths, strict=True):
        assert store.gather(np.arange(start, start + length)).tolist() == processor.encode(text)
    manifest = store.directory / "manifest.json"
    stamp = manifest.stat().st_mtime_ns
    assert build_token_store(corpus, "train", vocab, realweb.cache).directory == store.directory
    assert manifest.stat().st_mtime_ns == stamp  # reused, not rebuilt
    other_vocab = dataclasses.replace(vocab, sha256="0" * 64)
    assert cache_dir(realweb.cache, corpus, "train", other_vocab) != store.directory
    assert build_token_store(corpus, "validation", vocab, realweb.cache) is None  # realweb has no validation docs


def test_sentinels_are_the_hf_tokenizers_extra_ids(realweb):
    vocab = load_vocab(realweb.vocab)
    tokenizer = vocab.hf_tokenizer()
    assert vocab.size == len(tokenizer) == 1100 and vocab.model_vocab_size() == 1152
    inputs, targets = corrupt(np.arange(3, 3 + 568)[None], vocab.size, 0)
    assert tokenizer.convert_ids_to_tokens(int(targets[0, 0])) == "<extra_id_0>"
    sentinels = [t for t in tokenizer.convert_ids_to_tokens(inputs[0].tolist()) if t.startswith("<extra_id_")]
    assert sentinels == [f"<extra_id_{k}>" for k in range(28)]
    assert tokenizer.convert_ids_to_tokens(int(inputs[0, -1])) == "</s>"


def test_a_vocabulary_with_hf_tokenizer_files_is_used_and_copied_as_is(realweb, tmp_path):
    """The directory layout `c4forge vocab` writes (its exporter, when present in this checkout)."""
    try:
        from c4forge.tokenizer_training.hf_export import export_hf_tokenizer
    except ImportError:
        pytest.skip("c4forge.tokenizer_training.hf_export is not in this checkout")
    from transformers import AutoTokenizer

    vocab_dir = export_hf_tokenizer(realweb.vocab / "spiece.model", tmp_path / "vocab")
    vocab = load_vocab(vocab_dir)
    assert vocab.size == 1100 and vocab.sha256 == load_vocab(realweb.vocab).sha256  # same tokens, same cache
    output = tmp_path / "run"
    assert pretrain(realweb, output, "--steps", "2", "--batch-size", "2", "--eval-every", "0", "--save-every", "0",
                    "--vocab", str(vocab_dir)) == 0
    for name in ("tokenizer.json", "tokenizer_config.json", "spiece.model"):
        assert (output / "final" / name).read_bytes() == (vocab_dir / name).read_bytes()
    tokenizer = AutoTokenizer.from_pretrained(str(output / "final"), local_files_only=True)
    assert len(tokenizer) == 1100 and tokenizer.convert_tokens_to_ids("<extra_id_0>") == 1099


def unigram_entropy(batches: list[dict]) -> float:
    targets = np.concatenate([b["decoder_target_tokens"][b["decoder_loss_weights"] > 0] for b in batches])
    p = np.bincount(targets) / len(targets)
    p = p[p > 0]
    return float(-(p * np.log(p)).sum())


@pytest.fixture(scope="module")
def trained(realweb) -> Path:
    output = realweb.root / "trained"
    assert pretrain(realweb, output, "--steps", "300", "--batch-size", "8", "--optimizer", "adamwscale",
                    "--lr", "0.04", "--warmup-steps", "30", "--eval-every", "100", "--save-every", "100",
                    "--keep-checkpoints", "1", "--log-every", "25", "--tensorboard") == 0
    return output


def holdout_validation_batches(realweb: Realweb) -> list[dict]:
    """What the run evaluates on: the last 29 of 290 documents, seed 42, 128/29 rows."""
    vocab = load_vocab(realweb.vocab)
    store = build_token_store(find_corpus(realweb.corpus), "train", vocab, realweb.cache)
    stream = Stream(store, LayoutParams(seed=42, inputs_length=128, doc_range=(261, 290)))
    return validation_batches(stream, 64, 8, vocab.size)


def test_tiny_t5_validation_loss_falls_well_below_the_unigram_baseline(realweb, trained):
    records = validation_records(trained)
    baseline = unigram_entropy(holdout_validation_batches(realweb))
    assert [r["step"] for r in records] == [0, 100, 200, 300]
    initial, final = records[0]["loss"], records[-1]["loss"]
    assert initial > baseline + 1.5  # an untrained model is worse than unigram statistics
    assert final < baseline - 0.4, f"validation loss {final:.3f} vs unigram entropy {baseline:.3f}"
    info = read_jsonl(trained / "logs" / "train.jsonl")[0]
    assert "held out the last 29 of 290 train documents" in info["validation_source"]


def test_final_checkpoint_loads_with_from_pretrained_and_its_tokenizer(realweb, trained):
    from transformers import AutoTokenizer, T5ForConditionalGeneration

    final = trained / "final"
    model = T5ForConditionalGeneration.from_pretrained(str(final)).eval()
    tokenizer = AutoTokenizer.from_pretrained(str(final))
    assert len(tokenizer) == 1100 and (final / "spiece.model").is_file()
    assert model.lm_head.weight is not model.shared.weight
    loss, total, tokens = SpanCorruptionLoss(model), 0.0, 0.0
    with torch.no_grad():
        for batch in holdout_validation_batches(realweb):
            names = ("encoder_input_tokens", "decoder_input_tokens", "decoder_target_tokens", "decoder_loss_weights",
                     "encoder_segment_ids", "decoder_segment_ids")
            total += loss(**{k: torch.from_numpy(batch[k]) for k in names})[0].item()
            tokens += float(batch["decoder_loss_weights"].sum())
    assert total / tokens == pytest.approx(validation_records(trained)[-1]["loss"], rel=1e-4)
    assert [p.name for p in sorted(trained.glob("checkpoint-*"))] == ["checkpoint-0000200"]  # --keep-checkpoints 1


def test_a_finished_run_is_extended_from_final_and_guards_its_data_settings(realweb, trained, tmp_path, capsys):
    import shutil

    output = tmp_path / "extended"
    shutil.copytree(trained, output)
    same = ["--steps", "300", "--batch-size", "8", "--optimizer", "adamwscale", "--lr", "0.04", "--warmup-steps", "30",
            "--eval-every", "100", "--save-every", "100", "--keep-checkpoints", "1", "--log-every", "25"]
    before = (output / "logs" / "train.jsonl").read_text()
    assert pretrain(realweb, output, *same) == 0  # already done: nothing runs, nothing is rewritten
    assert (output / "logs" / "train.jsonl").read_text() == before
    assert pretrain(realweb, output, *same, "--seed", "1") == 2
    error = capsys.readouterr().err
    assert "cannot resume" in error and "seed: 0 -> 1" in error
    more = [*same[:1], "310", *same[2:]]
    assert pretrain(realweb, output, *more) == 0
    records = train_records(output)
    assert records[-1]["step"] == 310 and [r["step"] for r in records[:-1]] == list(range(25, 301, 25))
    assert json.loads((output / "final" / "c4forge_state.json").read_text())["step"] == 310


def test_tensorboard_events_are_written_without_importing_tensorflow(realweb, trained):
    """Neither reading TFRecords, nor the training modules, nor TensorBoard logging imports
    TensorFlow or Beam (both are installed in the test environment)."""
    events = list((trained / "logs" / "tensorboard").glob("events.out.tfevents.*"))
    assert events
    probe = ("import sys, tempfile\n"
             "from c4forge.cli import pretrain\nfrom c4forge.pretrain import train\n"
             "from c4forge.corpus.reader import find_corpus\n"
             f"assert sum(1 for _ in find_corpus({str(realweb.corpus)!r}).iter_examples('train')) == 290\n"
             "from c4forge.pretrain.metrics import _summary_writer\n"
             "writer = _summary_writer(tempfile.mkdtemp(), None); writer.add_scalar('x', 1.0, 0); writer.close()\n"
             "from tensorboard.backend.event_processing.event_accumulator import EventAccumulator\n"
             f"acc = EventAccumulator({str(events[0].parent)!r}); acc.Reload()\n"
             "print(len(acc.Scalars('validation/loss')), 'tensorflow' in sys.modules, 'apache_beam' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=CHILD_ENV,
                         timeout=120, check=True).stdout.split()
    assert out == ["4", "False", "False"]


def wait_for_step(log: Path, step: int, process: subprocess.Popen, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(r["step"] >= step for r in train_records(log.parents[1])):
            return
        assert process.poll() is None, "the run ended before it could be killed"
        time.sleep(0.05)
    raise AssertionError(f"no step {step} within {timeout} s")


def test_killed_run_resumes_with_the_same_batches_and_losses(realweb, tmp_path):
    flags = ["--steps", "60", "--batch-size", "4", "--optimizer", "adafactor", "--lr", "0.01", "--warmup-steps", "10",
             "--save-every", "20", "--log-every", "1", "--eval-every", "0"]
    straight = tmp_path / "straight"
    assert pretrain(realweb, straight, *flags) == 0

    killed = tmp_path / "killed"
    process = subprocess.Popen([sys.executable, "-m", "c4forge.cli", "pretrain", *realweb.args(killed, *flags)], env=CHILD_ENV,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_step(killed / "logs" / "train.jsonl", 25, process)
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait()
    steps_before_kill = [r["step"] for r in train_records(killed)]
    assert max(steps_before_kill) >= 25 and (killed / "checkpoint-0000020").is_dir()
    assert not (killed / "final").exists()

    assert pretrain(realweb, killed, *flags) == 0  # the same command again: resumes from checkpoint-0000020
    resumed, reference = train_records(killed), train_records(straight)
    assert [r["step"] for r in resumed] == list(range(1, 61))
    assert [r["batch_fingerprint"] for r in resumed] == [r["batch_fingerprint"] for r in reference]
    assert [r["loss"] for r in resumed] == [r["loss"] for r in reference]
    assert validation_records(killed)[-1]["loss"] == validation_records(straight)[-1]["loss"]


def test_two_ddp_processes_train_like_one(realweb, tmp_path):
    flags = ["--steps", "6", "--batch-size", "8", "--optimizer", "adamwscale", "--lr", "0.01", "--warmup-steps", "2",
             "--save-every", "0", "--log-every", "1", "--eval-every", "0"]
    single = tmp_path / "single"
    assert pretrain(realweb, single, *flags, "--grad-accum", "2") == 0
    ddp = tmp_path / "ddp"
    result = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                             "-m", "c4forge.cli", "pretrain", *realweb.args(ddp, *flags)], env=CHILD_ENV, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    one, two = train_records(single), train_records(ddp)
    assert [r["batch_fingerprint"] for r in two] == [r["batch_fingerprint"] for r in one]
    assert [r["target_tokens"] for r in two] == [r["target_tokens"] for r in one]
    assert [r["loss"] for r in two] == pytest.approx([r["loss"] for r in one], rel=1e-4)
    # Adam-type updates ignore a gradient's scale: the norm shows whether ranks were weighted right
    assert [r["grad_norm"] for r in two] == pytest.approx([r["grad_norm"] for r in one], rel=1e-4)
    assert validation_records(ddp)[-1]["loss"] == pytest.approx(validation_records(single)[-1]["loss"], rel=1e-4)
    assert read_jsonl(ddp / "logs" / "train.jsonl")[0]["world_size"] == 2


def write_jsonl_corpus(source: Path, directory: Path) -> None:
    """allenai layout with a real validation split: realweb's first 250 docs in 3 train shards,
    the other 40 in one validation shard."""
    examples = [{k: ex[k] for k in ("text", "timestamp", "url")} for ex in find_corpus(source).iter_examples("train")]
    write_corpus(directory, {"train": [examples[i * 84:min((i + 1) * 84, 250)] for i in range(3)],
                             "validation": [examples[250:]]})


def test_a_validation_split_is_used_when_the_corpus_has_one(realweb, tmp_path):
    corpus = tmp_path / "jsonl"
    write_jsonl_corpus(realweb.corpus, corpus)
    output, cache = tmp_path / "run", tmp_path / "cache"
    assert cli.main(["pretrain", *realweb.args(output, "--steps", "2", "--batch-size", "2", "--eval-every", "0",
                                               "--save-every", "0"), "--corpus", str(corpus),
                     "--token-cache", str(cache), "--tokenize-workers", "2"]) == 0
    info = read_jsonl(output / "logs" / "train.jsonl")[0]
    assert info["validation_source"] == "validation split"
    assert validation_records(output)[-1]["target_tokens"] > 0
    # the three train shards were tokenized by two worker processes into one store, in file order
    vocab = load_vocab(realweb.vocab)
    store = build_token_store(find_corpus(corpus), "train", vocab, cache)
    assert store.shard_names == ["shard-00000", "shard-00001", "shard-00002"]
    starts, lengths = store.doc_starts_and_lengths()
    texts = [ex["text"] for ex in find_corpus(corpus).iter_examples("train")]
    assert len(texts) == len(lengths) == 250
    processor = vocab.sentencepiece()
    for text, start, length in zip(texts, starts, lengths, strict=True):
        assert store.gather(np.arange(start, start + length)).tolist() == processor.encode(text)


def test_prepare_only_tokenizes_and_lays_out_without_training(realweb, tmp_path):
    output = tmp_path / "prepared"
    assert pretrain(realweb, output, "--prepare-only", "--token-cache", str(tmp_path / "cache")) == 0
    assert list((tmp_path / "cache").glob("train-*/manifest.json"))
    assert list((tmp_path / "cache").glob("train-*/layouts/*/epoch-00000/order.npy"))
    assert not output.exists()


def test_cli_refuses_unknown_flags_and_fp16(realweb, tmp_path, capsys):
    assert pretrain(realweb, tmp_path / "x", "--steps", "1", "--bogus-flag") == 2
    assert "unrecognized arguments: --bogus-flag" in capsys.readouterr().err
    assert pretrain(realweb, tmp_path / "y", "--precision", "fp16") == 2
    assert "bf16" in capsys.readouterr().err
    # torchrun's entry point is the same command line
    entry = subprocess.run([sys.executable, "-m", "c4forge.cli", "pretrain", "--corpus", "c", "--vocab", "v",
                            "--output", "o", "--nonsense"], capture_output=True, text=True, env=CHILD_ENV, timeout=120)
    assert entry.returncode == 2 and "unrecognized arguments: --nonsense" in entry.stderr
