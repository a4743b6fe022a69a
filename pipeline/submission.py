"""Submissions that build nothing, and a runner that cannot start: each ends in one line
(BuildError) instead of a traceback after the output was locked and staged.

- ``--dry_run=true`` (DataflowRunner only): the whole job is built and handed to the runner,
  which applies its overrides, translates and checks it, then submits nothing; the build ends
  with one line saying so (exit 0). The output is never touched (no lock, probe or staging
  folder: on gs:// or s3:// each is a write).
  The other runners ignore the option and would build, so they refuse it.
- ``--template_location``: refused. A Dataflow template runs later without the launcher, and
  the launcher is what publishes a build once the job is done.
- FlinkRunner and SparkRunner download their job-server jar at submission; offline that fails
  with a message saying where to put the jar, which is passed on with the options that name one.
"""

from __future__ import annotations

import contextlib
from typing import Callable, Iterator

import apache_beam as beam
from apache_beam.options.pipeline_options import GoogleCloudOptions, PipelineOptions, TestOptions
from apache_beam.runners import DataflowRunner

from .errors import BuildError

JAR_NOT_FETCHED = "Unable to fetch remote job server jar"  # Beam's subprocess_server.local_jar
JAR_HINT = ("pass --flink_job_server_jar=PATH or --spark_job_server_jar=PATH (or an uber jar: "
            "docs/runners.md)")


def refuse_template(options: PipelineOptions) -> None:
    if options.view_as(GoogleCloudOptions).template_location:
        raise BuildError("--template_location: a c4forge build cannot be a Dataflow template (the launching "
                         "process publishes the build after the job); check the job with --dry_run=true")


def is_dry_run(options: PipelineOptions) -> bool:
    return bool(options.view_as(TestOptions).dry_run)


def hand_to_runner_only(options: PipelineOptions, add_job: Callable[[beam.Pipeline], object]) -> str:
    """``add_job(pipeline)`` builds the job; the runner checks it and runs nothing. Returns the
    line that says so: nothing was built."""
    pipeline = beam.Pipeline(options=options)
    runner = type(pipeline.runner).__name__
    if not isinstance(pipeline.runner, DataflowRunner):
        raise BuildError(f"--dry_run=true: only DataflowRunner honours it ({runner} would run the build)")
    add_job(pipeline)
    pipeline.run()
    return (f"dry run: {runner} translated and checked the job and submitted nothing; no page was read and "
            f"nothing written, --output included")


@contextlib.contextmanager
def explained_runner_errors() -> Iterator[None]:
    """A job-server jar that could not be downloaded becomes one line with what to do offline."""
    try:
        yield
    except RuntimeError as e:
        if JAR_NOT_FETCHED not in str(e):
            raise
        raise BuildError(f"{' '.join(str(e).split()).rstrip('.')}; or {JAR_HINT}") from e
