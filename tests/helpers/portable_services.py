"""A Beam job service and an EXTERNAL worker pool, each started as its own process on loopback,
and c4forge run against them in a subprocess: the portable job API and the Fn API over gRPC with
the SDK workers in other processes, as Flink and Spark run Python with EXTERNAL environments.

Everything has a deadline and runs in its own process group, which teardown kills whole (the
pool's workers with it), so a broken pool fails a test instead of hanging it.

``portable_services`` is a pytest fixture: import it into a test module to use it.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

HELPERS = Path(__file__).resolve().parent
START_SECONDS = 60  # a service that has not written its port by then is broken
STOP_SECONDS = 10  # SIGTERM, then SIGKILL
LOG_TAIL = 4000


def venv_env() -> dict[str, str]:
    """This interpreter's bin first on PATH: the pool starts each worker as a bare `python`."""
    bin_dir = os.path.dirname(sys.executable)
    return {**os.environ, "PATH": bin_dir + os.pathsep + os.environ.get("PATH", "")}


def log_tail(log: Path) -> str:
    text = log.read_text(errors="replace") if log.exists() else ""
    return text[-LOG_TAIL:]


def stop_group(process: subprocess.Popen) -> None:
    """Kills the process's whole group: SIGTERM, then SIGKILL if it is still there."""
    for sig, wait in ((signal.SIGTERM, STOP_SECONDS), (signal.SIGKILL, STOP_SECONDS)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            break
        try:
            process.wait(timeout=wait)
            break
        except subprocess.TimeoutExpired:
            continue


@dataclasses.dataclass
class Service:
    name: str
    process: subprocess.Popen
    port: int
    log: Path

    def stop(self) -> None:
        stop_group(self.process)


def wait_for_port(name: str, process: subprocess.Popen, port_file: Path, log: Path) -> int:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if port_file.exists():
            return int(port_file.read_text())
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with {process.returncode} before serving:\n{log_tail(log)}")
        time.sleep(0.1)
    stop_group(process)
    raise RuntimeError(f"{name} wrote no port within {START_SECONDS} s:\n{log_tail(log)}")


def start_service(name: str, argv: list[str], port_file: Path, log: Path, env: dict[str, str]) -> Service:
    with open(log, "wb") as out:
        process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                                   start_new_session=True)
    try:
        return Service(name, process, wait_for_port(name, process, port_file, log), log)
    except BaseException:
        stop_group(process)
        raise


def start_job_service(root: Path, env: dict[str, str]) -> Service:
    """Beam's local job service (it binds localhost); it runs each job with the FnApiRunner."""
    argv = [sys.executable, "-m", "apache_beam.runners.portability.local_job_service_main", "--port=0",
            f"--port_file={root / 'job-service.port'}", f"--staging_dir={root / 'job-staging'}"]
    return start_service("job service", argv, root / "job-service.port", root / "job-service.log", env)


def start_worker_pool(root: Path, env: dict[str, str]) -> Service:
    argv = [sys.executable, str(HELPERS / "worker_pool.py"), "--port-file", str(root / "worker-pool.port")]
    return start_service("worker pool", argv, root / "worker-pool.port", root / "worker-pool.log", env)


@dataclasses.dataclass
class PortableServices:
    job_service: Service
    worker_pool: Service
    env: dict[str, str]

    def beam_args(self) -> list[str]:
        """For PortableRunner, or FlinkRunner/SparkRunner, which submit to --job_endpoint without a jar."""
        return [f"--job_endpoint=localhost:{self.job_service.port}", "--environment_type=EXTERNAL",
                f"--environment_config=127.0.0.1:{self.worker_pool.port}"]

    def logs(self) -> str:
        services = (self.job_service, self.worker_pool)
        return "\n".join(f"--- {s.name} log (tail) ---\n{log_tail(s.log)}" for s in services)

    def stop(self) -> None:
        for service in (self.job_service, self.worker_pool):
            service.stop()


def start_portable_services(root: Path) -> PortableServices:
    env = venv_env()
    job_service = start_job_service(root, env)
    try:
        return PortableServices(job_service, start_worker_pool(root, env), env)
    except BaseException:
        job_service.stop()
        raise


def run_c4forge(services: PortableServices, argv: list[str], log: Path, timeout: float,
                runner_args: tuple[str, ...] = ("--runner=PortableRunner",)) -> None:
    """``python -m c4forge.cli ARGV RUNNER_ARGS`` with the services' options; fails, with every
    log's tail, on a non-zero exit or after ``timeout`` seconds (its process group killed)."""
    command = [sys.executable, "-m", "c4forge.cli", *argv, *runner_args, *services.beam_args()]
    with open(log, "wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   env=services.env, start_new_session=True)
    try:
        code = process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        stop_group(process)
        pytest.fail(f"c4forge {argv[0]} did not finish within {timeout} s\n--- c4forge ---\n{log_tail(log)}\n"
                    f"{services.logs()}")
    finally:
        stop_group(process)
    if code != 0:
        pytest.fail(f"c4forge {argv[0]} exited with {code}\n--- c4forge ---\n{log_tail(log)}\n{services.logs()}")


@pytest.fixture(scope="module")
def portable_services(tmp_path_factory, request) -> PortableServices:
    services = start_portable_services(tmp_path_factory.mktemp("portable-services"))
    request.addfinalizer(services.stop)
    return services
