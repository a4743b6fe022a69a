"""Submissions that cannot build (pipeline/submission.py) stop with one line, having published
nothing: FlinkRunner and SparkRunner without their Java job server (no Maven here), with the
runbook's options; a Dataflow template; --dry_run=true on a runner that would ignore it.
Submitting to a running job server (--job_endpoint) is tests/pipeline/test_job_service.py, the
Dataflow dry run tests/pipeline/test_dataflow_job.py."""

from __future__ import annotations

import socket

import pytest

from c4forge import cli

RUNBOOK = {  # README "Runbook: Flink and Spark", with the jar options offline runs need
    "flink": ["--runner=FlinkRunner", "--flink_master=flink-jobmanager:8081", "--flink_version=1.20",
              "--parallelism=64", "--environment_type=EXTERNAL", "--environment_config=localhost:50000"],
    "spark": ["--runner=SparkRunner", "--spark_master_url=spark://spark-master:7077",
              "--environment_type=EXTERNAL", "--environment_config=localhost:50000"],
}


def closed_port() -> int:
    """A loopback port nothing listens on: a download from it is refused at once, online or not."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def build_error(capsys, output, *beam_args: str) -> str:
    wet = output.parent / "in.warc.wet.gz"
    wet.write_bytes(b"")  # matched only: the job never starts
    assert cli.main(["build", "--input", str(wet), "--output", str(output), "--noblocklist", *beam_args]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    (line,) = [line for line in err.splitlines() if line.startswith("c4forge: error:")]
    leftovers = [p.name for p in output.iterdir()] if output.exists() else []
    assert not [name for name in leftovers if name != ".c4forge.lock"]  # no build, no staging folder
    return line


@pytest.mark.parametrize("runner", list(RUNBOOK))
def test_a_missing_job_server_jar_is_one_line(capsys, tmp_path, runner):
    line = build_error(capsys, tmp_path / "out", *RUNBOOK[runner], f"--{runner}_job_server_jar={tmp_path}/no.jar")
    assert f'Unable to parse jar URL "{tmp_path}/no.jar"' in line and "make sure the file exists" in line


@pytest.mark.parametrize("runner", list(RUNBOOK))
def test_a_job_server_jar_that_cannot_be_fetched_is_one_line_saying_where_to_put_it(capsys, tmp_path, runner):
    url = f"http://127.0.0.1:{closed_port()}/beam-runners-{runner}-job-server-2.77.0.jar"
    line = build_error(capsys, tmp_path / "out", *RUNBOOK[runner], f"--{runner}_job_server_jar={url}",
                       f"--jar_cache_dir={tmp_path / 'jars'}")
    assert f"Unable to fetch remote job server jar at {url}" in line
    assert f"stage the jar at {tmp_path / 'jars'}/beam-runners-{runner}-job-server-2.77.0.jar" in line
    assert "--flink_job_server_jar=PATH or --spark_job_server_jar=PATH" in line


def test_a_dataflow_template_is_refused_before_anything_is_written(capsys, tmp_path):
    line = build_error(capsys, tmp_path / "out", "--runner=DataflowRunner", "--project=p", "--region=r",
                       "--temp_location=gs://b/tmp", f"--template_location={tmp_path}/template.json")
    assert "cannot be a Dataflow template" in line and "--dry_run=true" in line
    assert not (tmp_path / "template.json").exists() and not (tmp_path / "out").exists()


def test_a_dry_run_on_a_runner_that_ignores_it_is_refused(capsys, tmp_path):
    line = build_error(capsys, tmp_path / "out", "--dry_run=true")
    assert "only DataflowRunner honours it (FnApiRunner would run the build)" in line
    assert not (tmp_path / "out").exists()
