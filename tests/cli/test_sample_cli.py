"""`--sample`: one more input source beside --input and --crawl, and `c4forge run-all --sample`,
with the network off, from the shipped pages to a checkpoint transformers loads."""

from __future__ import annotations

import argparse
import json
import shlex

import pytest

from c4forge import cli
from c4forge.cli import run_all

from helpers.offline import run_offline


@pytest.mark.parametrize("command", ["build", "run-all"])
@pytest.mark.parametrize("other_source", [
    ["--input", "x.warc.wet.gz"],
    ["--crawl", "CC-MAIN-2019-18", "--segments", "0"],
    ["--wet-paths", "wet.paths.gz", "--segments", "0"],
    ["--segments", "0"],
])
def test_sample_with_another_input_source_is_a_one_line_error(capsys, tmp_path, command, other_source):
    code = cli.main([command, "--sample", *other_source, "--output", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.splitlines() == ["c4forge: error: --sample reads the pages shipped with c4forge: pass it without "
                                "--input, --crawl, --wet-paths or --segments"]
    assert not (tmp_path / "o").exists()


def test_no_input_names_the_sample(capsys, tmp_path):
    assert cli.main(["build", "--output", str(tmp_path / "o")]) == 2
    assert "--sample" in capsys.readouterr().err


def run_all_args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="c4forge")
    run_all.add_parser(parser.add_subparsers())
    return parser.parse_args(["run-all", "--output", "run", *argv])


def test_sample_settings_fill_what_the_user_left_unset_and_say_so():
    args, line = run_all.with_sample_settings(run_all_args("--sample", "--steps", "7",
                                                            "--pretrain-args", "--inputs-length 64"))
    assert (args.vocab_size, args.model, args.steps, args.batch_size) == (1000, "tiny", 7, 8)
    assert line.startswith("run-all --sample: small settings --vocab-size 1000 --model tiny --batch-size 8 ")
    assert "--steps" not in line.split("--pretrain-args")[0]
    argv = run_all.pretrain_argv(args, run_all.stage_dirs("run"))
    assert argv[-2:] == ["--inputs-length", "64"]  # the user's flag comes last: argparse keeps the last
    stage = run_all.stage_parser().parse_args(argv)
    assert (stage.inputs_length, stage.steps, stage.model, stage.holdout_fraction) == (64, 7, "tiny", 0.1)


def test_without_sample_nothing_is_chosen_for_the_user():
    args = run_all_args("--input", "x.warc.wet.gz")
    assert run_all.pretrain_argv(args, run_all.stage_dirs("run"))[-2:] == ["--token-cache", "run/token-cache"]


@pytest.mark.slow
def test_run_all_sample_goes_offline_to_a_checkpoint_transformers_loads(tmp_path):
    from transformers import AutoTokenizer, T5ForConditionalGeneration

    run = tmp_path / "run"
    done = run_offline(["-m", "c4forge.cli", "run-all", "--sample", "--output", str(run)], tmp_path / "site",
                       timeout=900, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    chosen = f"--model tiny --steps {run_all.SAMPLE_SETTINGS['steps']}"
    assert f"run-all --sample: small settings --vocab-size 1000 {chosen}" in done.stdout
    assert f"checkpoint {run / 'model' / 'final'}" in done.stdout

    assert json.loads((run / "corpus" / "c4forge-report.json").read_text())["pages_kept"] == 71
    final = run / "model" / "final"
    model = T5ForConditionalGeneration.from_pretrained(final)
    tokenizer = AutoTokenizer.from_pretrained(str(final))
    assert model.config.d_model == 128 and len(tokenizer) == 1100
    assert json.loads((final / "c4forge_state.json").read_text())["step"] == run_all.SAMPLE_SETTINGS["steps"]
    assert shlex.split(run_all.SAMPLE_PRETRAIN_ARGS)[:2] == ["--inputs-length", "128"]


def test_badwords_dir_overrides_the_packaged_lists(capsys, tmp_path, monkeypatch):
    """An empty directory fails the build: the flag, not the packaged copy, is what is read."""
    monkeypatch.delenv("C4FORGE_BADWORDS_DIR", raising=False)
    (tmp_path / "lists").mkdir()
    code = cli.main(["build", "--sample", "--badwords-dir", str(tmp_path / "lists"), "--output", str(tmp_path / "o")])
    assert code == 2
    assert f"no en list under {tmp_path / 'lists'}" in capsys.readouterr().err
