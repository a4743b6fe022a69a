"""`c4forge run-all`: the shared real-web WET file → corpus → 1,000-piece vocabulary → a tiny T5
checkpoint that transformers loads, on CPU in seconds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from c4forge import cli

from conftest import BADWORDS_DIR, REALWEB_WET, require_shared

TINY = ["--vocab-size", "1000", "--model", "tiny", "--steps", "5", "--batch-size", "4", "--cpu-threads", "1",
        "--vocab-args", "--threads 2",
        "--pretrain-args", "--inputs-length 128 --num-workers 0 --eval-every 0 --eval-rows 8 --holdout-fraction 0.1 "
                           "--no-tensorboard --tokenize-workers 1"]


def run_all(output: Path, *extra: str) -> int:
    return cli.main(["run-all", "--input", str(REALWEB_WET), "--output", str(output),
                     "--badwords-dir", str(BADWORDS_DIR), *extra])


@pytest.mark.slow
def test_run_all_goes_from_wet_files_to_a_checkpoint_transformers_loads(tmp_path, capsys):
    require_shared()
    from transformers import AutoTokenizer, T5ForConditionalGeneration
    import torch

    assert run_all(tmp_path, *TINY) == 0
    assert f"checkpoint {tmp_path / 'model' / 'final'}" in capsys.readouterr().out

    report = json.loads((tmp_path / "corpus" / "c4forge-report.json").read_text())
    assert report["pages_kept"] == 252
    assert json.loads((tmp_path / "vocab" / "vocab-report.json").read_text())["vocabulary"]["pieces"] == 1000

    final = tmp_path / "model" / "final"
    model = T5ForConditionalGeneration.from_pretrained(final)
    tokenizer = AutoTokenizer.from_pretrained(str(final))
    assert len(tokenizer) == 1100 and model.config.vocab_size >= len(tokenizer)
    assert tokenizer.convert_tokens_to_ids("<extra_id_0>") == 1099
    batch = tokenizer(["The quick brown fox <extra_id_0> over the dog."], return_tensors="pt")
    labels = tokenizer(["<extra_id_0> jumps"], return_tensors="pt").input_ids
    with torch.no_grad():
        loss = model(**batch, labels=labels).loss
    assert torch.isfinite(loss)
    assert json.loads((final / "c4forge_state.json").read_text())["step"] == 5


def test_a_bad_stage_flag_is_refused_before_the_build(tmp_path):
    with pytest.raises(SystemExit) as exit_info:
        run_all(tmp_path / "run", "--pretrain-args", "--no-such-flag 1")
    assert exit_info.value.code == 2
    assert not (tmp_path / "run").exists()
