"""A Beam EXTERNAL worker pool bound to 127.0.0.1 only, as its own process:
``python tests/helpers/worker_pool.py --port-file FILE``.

Beam's ``worker_pool_main`` listens on every interface (``[::]``) and its servicer starts each
SDK worker as a bare ``python -c ...``: with another ``python`` first on PATH the worker dies with
``No module named 'apache_beam'`` and the job waits for it forever. So this pool serves Beam's own
servicer on loopback, and first checks that the ``python`` its workers will get imports Beam.
"""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
from concurrent import futures

import grpc
from apache_beam.portability.api import beam_fn_api_pb2_grpc
from apache_beam.runners.worker.worker_pool_main import BeamFnExternalWorkerPoolServicer

BIND_HOST = "127.0.0.1"


def workers_can_import_beam() -> str | None:
    """None if the ``python`` on PATH (what the servicer runs) imports apache_beam, else why not."""
    try:
        done = subprocess.run(["python", "-c", "import apache_beam"], capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"`python` on PATH cannot run: {e}"
    if done.returncode:
        return f"`python` on PATH cannot import apache_beam: {done.stderr.strip().splitlines()[-1:]}"
    return None


def write_port(port_file: str, port: int) -> None:
    """Written whole then renamed, so a reader never sees half a number."""
    with open(port_file + ".tmp", "w") as f:
        f.write(str(port))
    os.replace(port_file + ".tmp", port_file)


def serve(port_file: str) -> None:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=16))
    port = server.add_insecure_port(f"{BIND_HOST}:0")
    beam_fn_api_pb2_grpc.add_BeamFnExternalWorkerPoolServicer_to_server(
        BeamFnExternalWorkerPoolServicer(use_process=True), server)
    server.start()
    write_port(port_file, port)
    logging.info("worker pool on %s:%d", BIND_HOST, port)
    server.wait_for_termination()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port-file", required=True, help="the chosen port is written here once serving")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        force=True)  # importing Beam has configured the root logger already
    why_not = workers_can_import_beam()
    if why_not:
        print(f"worker pool: {why_not}; put the virtualenv's bin first on PATH", file=sys.stderr)
        return 2
    serve(args.port_file)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
