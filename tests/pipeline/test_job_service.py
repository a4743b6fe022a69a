"""`c4forge build` submitted to a Beam job service, its stages run by SDK workers that an EXTERNAL
worker pool starts: three processes talking the portable job API and the Fn API over gRPC on
loopback, as Flink and Spark run Python stages (docs/runners.md says what this does not cover).
Every output byte must equal the in-process build's.

FlinkRunner and SparkRunner with --job_endpoint submit to that endpoint instead of starting
their Java job server, so with the runbook's options they send the local job service the job a
running Flink or Spark job server would get."""

from __future__ import annotations

import json

import pytest

from conftest import BADWORDS_DIR, REALWEB_WET
from helpers.builds import file_digests, manifest_of_shards
from helpers.portable_services import portable_services, run_c4forge, start_worker_pool, venv_env  # noqa: F401

pytestmark = pytest.mark.slow

BUILD_SECONDS = 300  # about 25 s here; a pool whose workers cannot start makes the job wait forever
RUNNERS = {
    "portable": ("--runner=PortableRunner",),
    "flink": ("--runner=FlinkRunner", "--flink_master=flink-jobmanager:8081", "--flink_version=1.20",
              "--parallelism=64"),
    "spark": ("--runner=SparkRunner", "--spark_master_url=spark://spark-master:7077"),
}


@pytest.mark.parametrize("runner", list(RUNNERS))
def test_build_through_job_service_and_worker_pool_is_byte_identical(realweb_noblocklist_build, portable_services,
                                                                      tmp_path, runner):
    out = tmp_path / "build"
    run_c4forge(portable_services, ["build", "--input", str(REALWEB_WET), "--output", str(out), "--badwords-dir",
                                    str(BADWORDS_DIR), "--noblocklist", "--format", "both"],
                tmp_path / "c4forge.log", BUILD_SECONDS, RUNNERS[runner])
    assert "Starting worker with command" in portable_services.worker_pool.log.read_text()  # not in process
    assert file_digests(out) == file_digests(realweb_noblocklist_build)
    assert manifest_of_shards(out) == manifest_of_shards(realweb_noblocklist_build)
    # The counters come back from the workers through the job service's metrics API.
    report, reference = (json.loads((d / "c4forge-report.json").read_text()) for d in (out, realweb_noblocklist_build))
    assert report["counters"] == reference["counters"]


def test_a_pool_whose_workers_cannot_import_beam_fails_at_start(tmp_path):
    """Beam's own pool would start, then wait forever for workers that die at `import apache_beam`."""
    env = {**venv_env(), "PATH": str(tmp_path)}  # no `python` at all for the workers
    with pytest.raises(RuntimeError, match="(?s)worker pool exited with 2 before serving.*put the virtualenv's bin"):
        start_worker_pool(tmp_path, env)
