"""A strict command line: an option neither c4forge nor Beam knows ends the command with exit code 2,
nothing written, and the closest known option as a suggestion; Beam's own options still pass
through to the commands that run Beam, in both ``--opt=value`` and ``--opt value`` forms."""

from __future__ import annotations

import subprocess
import sys

import pytest

from c4forge import cli
from c4forge.cli.main import parser_and_commands
from c4forge.cli.unknown_options import did_you_mean, refusal

# Direct, portable and Dataflow runner options, as users pass them.
BEAM_OPTIONS = [
    ["--runner=DataflowRunner", "--project", "my-project", "--region=europe-west4", "--temp_location", "gs://b/tmp",
     "--num_workers=4", "--max_num_workers", "8", "--machine_type=n2-standard-4", "--experiments", "use_runner_v2"],
    ["--runner=PortableRunner", "--job_endpoint", "embed", "--environment_type=LOOPBACK"],
    ["--direct_running_mode=multi_processing", "--direct_num_workers=2"],
    ["--direct_running_mode", "multi_threading", "--direct_num_workers", "2"],
    ["--runner", "FlinkRunner", "--flink_master=localhost:8081", "--parallelism", "2"],
]


def parsed(*argv: str):
    parser, commands = parser_and_commands()
    args, extra = parser.parse_known_args(list(argv))
    return args, commands[args.command], extra


def refused(*argv: str):
    return refusal(*parsed(*argv))


def test_a_typo_is_refused_with_the_option_meant_and_nothing_is_written(tmp_path, capsys):
    out = tmp_path / "O"
    code = cli.main(["build", "--input", str(tmp_path / "X"), "--output", str(out), "--formt", "both"])
    err = capsys.readouterr().err
    assert code == 2
    assert "c4forge build: error: unrecognized arguments: --formt both (did you mean --format?)" in err
    assert not out.exists()


@pytest.mark.parametrize("beam_args", BEAM_OPTIONS, ids=["dataflow", "portable", "multi_processing", "spaced",
                                                         "flink"])
@pytest.mark.parametrize("command", [["build", "--input", "x", "--output", "o"], ["parity", "--input", "x"],
                                     ["run-all", "--input", "x", "--output", "o"],
                                     ["vocab", "--corpus", "c", "--output", "o", "--sampler", "beam"]])
def test_beam_options_pass_through_for_the_commands_that_run_beam(command, beam_args):
    assert refused(*command, *beam_args) is None


def test_a_beam_option_next_to_a_typo_is_kept_out_of_the_refusal():
    why = refused("build", "--input", "x", "--output", "o", "--job_endpoint", "embed", "--runer=FnApiRunner")
    assert why == "unrecognized arguments: --runer=FnApiRunner (did you mean --runner?)"


def test_a_beam_option_with_a_value_beam_refuses():
    why = refused("build", "--input", "x", "--output", "o", "--direct_running_mode=sideways")
    assert why.startswith("argument --direct_running_mode: invalid choice: 'sideways'")


@pytest.mark.parametrize("argv, expected", [
    (["pretrain", "--corpus", "c", "--vocab", "v", "--output", "o", "--stesp", "3"],
     "unrecognized arguments: --stesp 3 (did you mean --steps?)"),
    (["pretrain", "--corpus", "c", "--vocab", "v", "--output", "o", "--direct_num_workers=2"],
     "unrecognized arguments: --direct_num_workers=2 (did you mean --num-workers?)"),
    (["vocab", "--corpus", "c", "--output", "o", "--direct_num_workers=2"],
     "unrecognized arguments: --direct_num_workers=2 (Beam options need --sampler beam)"),
    (["vocab", "--corpus", "c", "--output", "o", "--vocab-sise", "8000"],
     "unrecognized arguments: --vocab-sise 8000 (did you mean --vocab-size?) (Beam options need --sampler beam)"),
    (["parity", "--input", "x", "--expectd", "e.jsonl"], "unrecognized arguments: --expectd e.jsonl "
                                                         "(did you mean --expected?)"),
    (["run-all", "--input", "x", "--output", "o", "--stpes", "5"],
     "unrecognized arguments: --stpes 5 (did you mean --steps?)"),
    (["build", "--input", "x", "--output", "o", "stray"], "unrecognized arguments: stray"),
])
def test_what_is_refused_and_what_is_suggested(argv, expected):
    assert refused(*argv) == expected


def test_several_typos_get_one_suggestion_each():
    assert did_you_mean(["--formt", "both", "--num-shard", "3", "--zzz"], ["--format", "--num-shards"]) == (
        " (did you mean --format for --formt, --num-shards for --num-shard?)")


def test_commands_without_beam_refuse_without_loading_it():
    probe = ("import sys\nfrom c4forge.cli.main import main\n"
             "code = main(['pretrain', '--corpus', 'c', '--vocab', 'v', '--output', 'o', '--runner=X'])\n"
             "code2 = main(['vocab', '--corpus', 'c', '--output', 'o', '--runner=X'])\n"
             "print(code, code2, 'apache_beam' in sys.modules, 'torch' in sys.modules)\n")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert done.stdout.split() == ["2", "2", "False", "False"], done.stderr
    assert "unrecognized arguments: --runner=X" in done.stderr
