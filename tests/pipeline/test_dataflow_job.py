"""The Dataflow job of `c4forge build`, checked offline (docs/runners.md says how far this goes).

`c4forge build` with the README runbook's Dataflow options plus `--dry_run=true`: the real
DataflowRunner applies its overrides, translates the job and checks it, then submits nothing,
and c4forge touches no output (pipeline/submission.py). The test keeps the runner's result, and
then lets Beam's own `DataflowApplicationClient.create_job_description` compose the job creation
request with the uploads kept in memory: that request and the staged pipeline proto are what a
real submission would upload and POST. Host name lookups are refused throughout, so nothing
reaches a network.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

apiclient = pytest.importorskip("apache_beam.runners.dataflow.internal.apiclient",
                                reason="DataflowRunner needs the gcp extra: pip install 'c4forge[gcp]'")

from apache_beam.options.pipeline_options import GoogleCloudOptions  # noqa: E402
from apache_beam.portability import common_urns  # noqa: E402
from apache_beam.portability.api import beam_runner_api_pb2  # noqa: E402
from apache_beam.runners.dataflow.dataflow_runner import DataflowRunner  # noqa: E402
from google.cloud import dataflow_v1beta3 as dataflow  # noqa: E402
from google.protobuf import json_format  # noqa: E402

from c4forge import cli  # noqa: E402

from conftest import BADWORDS_DIR, REALWEB_WET, REPO, require_shared  # noqa: E402

pytestmark = pytest.mark.slow

IMAGE = "us-central1-docker.pkg.dev/my-project/c4forge/pipeline:0123abc"
BUCKET = "gs://my-bucket"
# README "Runbook: Dataflow", step 3, with a local input instead of --crawl/--source s3
RUNBOOK = ["--runner=DataflowRunner", "--project=my-project", "--region=us-central1",
           f"--temp_location={BUCKET}/tmp", f"--staging_location={BUCKET}/staging",
           f"--sdk_container_image={IMAGE}", "--sdk_location=container",
           "--machine_type=n2-standard-4", "--max_num_workers=500", "--disk_size_gb=50"]
REQUEST_LIMIT = 10_000_000  # Dataflow refuses a job creation request over 10 MB
# Runner v2 executes these itself or hands them to the SDK harness; nothing DirectRunner-only
# (TestStream) and no legacy Read primitive.
DATAFLOW_URNS = {common_urns.primitives.IMPULSE.urn, common_urns.primitives.PAR_DO.urn,
                 common_urns.primitives.GROUP_BY_KEY.urn, common_urns.primitives.FLATTEN.urn,
                 common_urns.primitives.ASSIGN_WINDOWS.urn, common_urns.composites.COMBINE_PER_KEY.urn,
                 common_urns.composites.RESHUFFLE.urn}


@dataclasses.dataclass
class DescribedJob:
    output: Path
    exit_code: int
    stderr: str
    job: apiclient.Job  # what DataflowRunner made of the pipeline
    request: dataflow.CreateJobRequest  # what it would POST
    uploads: dict[str, bytes]  # what it would stage to --staging_location, by name


@contextlib.contextmanager
def no_network(attempts: list):
    """Every name lookup is recorded and refused."""
    def refuse(host, *args, **kwargs):
        attempts.append(host)
        raise OSError(f"the test forbids network access ({host})")

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(socket, "getaddrinfo", refuse)
        yield


@contextlib.contextmanager
def kept_results(results: list):
    """DataflowRunner.run_pipeline as it is, its result kept."""
    run_pipeline = DataflowRunner.run_pipeline

    def keeping(self, *args, **kwargs):
        results.append(run_pipeline(self, *args, **kwargs))
        return results[-1]

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(DataflowRunner, "run_pipeline", keeping)
        yield


def read_upload(stream_or_path) -> bytes:
    if isinstance(stream_or_path, str):
        with open(stream_or_path, "rb") as f:
            return f.read()
    return stream_or_path.read()


def creation_request(job: apiclient.Job) -> tuple[dataflow.CreateJobRequest, dict[str, bytes]]:
    """Beam's create_job minus the upload (kept here) and the POST; no credentials are looked up."""
    job.options.view_as(GoogleCloudOptions).no_auth = True
    client = apiclient.DataflowApplicationClient(job.options, job.root_staging_location)
    uploads: dict[str, bytes] = {}
    client.stage_file_with_retry = (lambda folder, name, data, *args, **kwargs:
                                    uploads.__setitem__(name, read_upload(data)))
    client.create_job_description(job)
    cloud = job.options.view_as(GoogleCloudOptions)
    return dataflow.CreateJobRequest(project_id=cloud.project, location=cloud.region, job=job.proto), uploads


def describe_job(output: Path, *extra: str) -> DescribedJob:
    require_shared()
    attempts, results, stderr = [], [], io.StringIO()
    with no_network(attempts), kept_results(results), contextlib.redirect_stderr(stderr), \
            contextlib.redirect_stdout(stderr):
        code = cli.main(["build", "--input", str(REALWEB_WET), "--output", str(output), "--badwords-dir",
                         str(BADWORDS_DIR), "--format", "both", *extra, *RUNBOOK, "--dry_run=true"])
        assert len(results) == 1, stderr.getvalue()
        request, uploads = creation_request(results[0].job)
    assert attempts == []
    return DescribedJob(output, code, stderr.getvalue(), results[0].job, request, uploads)


@pytest.fixture(scope="module")
def c4_en_job(tmp_path_factory) -> DescribedJob:
    return describe_job(tmp_path_factory.mktemp("dataflow") / "out")


def leaf_urns(pipeline: beam_runner_api_pb2.Pipeline) -> set[str]:
    return {t.spec.urn for t in pipeline.components.transforms.values() if not t.subtransforms}


def test_a_dry_run_builds_the_job_and_touches_nothing(c4_en_job):
    assert c4_en_job.exit_code == 0
    assert "dry run: DataflowRunner translated and checked the job and submitted nothing" in c4_en_job.stderr
    assert not c4_en_job.output.exists()  # no lock, probe or staging folder
    assert c4_en_job.request.job.type_ == dataflow.JobType.JOB_TYPE_BATCH


def test_the_workers_run_the_custom_container(c4_en_job):
    environments = c4_en_job.job.proto_pipeline.components.environments.values()
    assert {e.urn for e in environments} == {common_urns.environments.DOCKER.urn}
    images = {beam_runner_api_pb2.DockerPayload.FromString(e.payload).container_image for e in environments}
    assert images == {IMAGE}
    (pool,) = c4_en_job.request.job.environment.worker_pools
    assert pool.worker_harness_container_image == IMAGE
    assert {i.container_image for i in pool.sdk_harness_container_images} == {IMAGE}
    assert (pool.machine_type, pool.disk_size_gb, pool.autoscaling_settings.max_num_workers) == (
        "n2-standard-4", 50, 500)
    # --sdk_location=container: the image's Beam, no SDK tarball or wheel staged
    assert not [name for name in c4_en_job.uploads if name.endswith((".tar.gz", ".whl", ".zip"))]


def test_the_job_uses_only_transforms_dataflow_runs(c4_en_job):
    pipeline = c4_en_job.job.proto_pipeline
    assert leaf_urns(pipeline) <= DATAFLOW_URNS
    assert all(p.is_bounded == beam_runner_api_pb2.IsBounded.BOUNDED for p in pipeline.components.pcollections.values())
    assert list(pipeline.requirements) == []  # no stable-input / time-sorted-input requirements


def request_sizes(described: DescribedJob) -> dict:
    return {"request": len(json_format.MessageToJson(described.request._pb).encode("utf-8")),
            "pipeline": len(described.uploads["pipeline.pb"]),
            "pipeline_is_the_jobs": described.uploads["pipeline.pb"] == described.job.proto_pipeline.SerializeToString()}


def request_sizes_in_a_fresh_process(output: Path, *extra: str) -> dict:
    """gcld3 (mC4's identifier, loaded when the job is built) and TensorFlow (loaded by other
    tests in this process) crash in one process: the mC4 job is described in its own."""
    script = ("import json, sys; sys.path[:0] = sys.argv[1:3]\n"
              "import test_dataflow_job as t\n"
              "print('SIZES', json.dumps(t.request_sizes(t.describe_job(__import__('pathlib').Path(sys.argv[3]), "
              "*sys.argv[4:]))))\n")
    run = subprocess.run([sys.executable, "-c", script, str(Path(__file__).parent), str(REPO / "tests"), str(output),
                          *extra], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(next(line for line in run.stdout.splitlines() if line.startswith("SIZES "))[6:])


@pytest.mark.parametrize("profile_args", [[], ["--profile", "mc4-3.1.0"]], ids=["c4-en", "mc4"])
def test_the_job_fits_the_creation_request_limit(c4_en_job, tmp_path, profile_args):
    """The bad-words lists and the profile are pickled into DoFns; mC4 carries every language's list."""
    if profile_args:
        pytest.importorskip("gcld3", reason="--profile mc4-3.1.0 needs the mc4 extra")
        sizes = request_sizes_in_a_fresh_process(tmp_path / "out", *profile_args)
    else:
        sizes = request_sizes(c4_en_job)
    print(f"job creation request {sizes['request']:,} bytes, staged pipeline proto {sizes['pipeline']:,} bytes")
    assert sizes["request"] < REQUEST_LIMIT
    # Runner v2 sends the pipeline by URL, but even inlined it must fit the request.
    assert sizes["pipeline"] < REQUEST_LIMIT
    assert sizes["pipeline_is_the_jobs"]
