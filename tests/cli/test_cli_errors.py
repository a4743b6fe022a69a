"""The usual mistakes end `c4forge build` with one line on stderr and exit code 2, no traceback:
missing cloud credentials, an output that holds another build, a crawl that does not exist,
no network, inconsistent options.

Cloud storage is simulated: Beam's filesystem lookup is patched to return a filesystem that
raises what Beam's gs:// and s3:// filesystems raise (google-auth, google-api-core and botocore
exception types, wrapped in BeamIOError / S3ClientError as Beam wraps them).
"""

from __future__ import annotations

import importlib.util
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from apache_beam.io.filesystem import BeamIOError
from apache_beam.io.filesystems import FileSystems

from c4forge.cleaning_rules import language
from c4forge import cli

from helpers.commoncrawl_server import FakeCommonCrawl, listing
from conftest import BADWORDS_DIR, SHARED, require_shared

WHIRLWIND = SHARED / "data" / "warc-samples" / "commoncrawl-whirlwind.warc.wet.gz"
REALWEB = SHARED / "data" / "realweb" / "realweb-dev.warc.wet.gz"


def library_error(module: str, name: str, text: str, **attributes) -> Exception:
    """An instance of a class named like the optional library's (which may not be installed)."""
    cls = type(name, (Exception,), {"__module__": module})
    error = cls(text)
    error.__dict__.update(attributes)
    return error


class RefusingFileSystem:
    """Stands in for GCSFileSystem/S3FileSystem: every operation raises ``error`` the way Beam
    reports it (per-path errors inside BeamIOError.exception_details)."""

    def __init__(self, error: Exception):
        self.error = error

    def _wrapped(self, operation: str, path: str) -> BeamIOError:
        return BeamIOError(f"{operation} operation failed", {path: self.error})

    def match(self, patterns, limits=None):
        raise self._wrapped("Match", patterns[0])

    def exists(self, path):
        raise self._wrapped("exists()", path)

    def create(self, path, *args, **kwargs):
        raise self.error

    def join(self, base, *parts):
        return "/".join([base.rstrip("/"), *parts])


@pytest.fixture
def cloud_error(monkeypatch):
    """cloud_error(exc): gs:// and s3:// paths get a filesystem that raises exc."""
    original = FileSystems.get_filesystem

    def install(error: Exception) -> None:
        def get_filesystem(path):
            if path.startswith(("gs://", "s3://")):
                return RefusingFileSystem(error)
            return original(path)

        monkeypatch.setattr(FileSystems, "get_filesystem", staticmethod(get_filesystem))

    return install


def run_cli(capsys, *argv: str) -> tuple[int, str]:
    code = cli.main(list(argv))
    err = capsys.readouterr().err
    assert "Traceback" not in err
    errors = [line for line in err.splitlines() if line.startswith("c4forge: error:")]
    assert len(errors) == 1, err
    return code, errors[0]


def local_input(tmp_path: Path) -> str:
    path = tmp_path / "in.warc.wet.gz"
    path.write_bytes(b"")  # matched only; these runs stop before reading
    return str(path)


# --- cloud credentials -----------------------------------------------------------------------

@pytest.mark.parametrize("error, expected", [
    (library_error("google.auth.exceptions", "DefaultCredentialsError", "Your default credentials were not found."),
     "gcloud auth application-default login"),
    (library_error("google.api_core.exceptions", "Forbidden",
                   "403 GET https://storage.googleapis.com/...: "
                   "Anonymous caller does not have storage.objects.list access"),
     "no Google Cloud credentials found"),
    (library_error("google.auth.exceptions", "RefreshError", "Reauthentication is needed."),
     "no usable Google Cloud credentials"),
], ids=["no-default-credentials", "anonymous-fallback-refused", "expired-login"])
def test_gcs_input_without_credentials(cloud_error, capsys, tmp_path, error, expected):
    cloud_error(error)
    code, line = run_cli(capsys, "build", "--input", "gs://bucket/wet/*.warc.wet.gz", "--output", str(tmp_path / "o"))
    assert code == 2
    assert line.startswith("c4forge: error: gs://bucket/wet/*.warc.wet.gz: ") and expected in line


@pytest.mark.parametrize("error, expected", [
    (library_error("apache_beam.io.aws.clients.s3.messages", "S3ClientError", "",
                   message="Unable to locate credentials", code=None), "no AWS credentials found"),
    (library_error("apache_beam.io.aws.clients.s3.messages", "S3ClientError", "",
                   message="An error occurred (InvalidAccessKeyId) when calling the HeadObject operation", code=403),
     "AWS refused the request"),
    (library_error("botocore.exceptions", "NoCredentialsError", "Unable to locate credentials"),
     "no usable AWS credentials"),
], ids=["s3client-no-credentials", "s3client-refused", "botocore"])
def test_s3_output_without_credentials(cloud_error, capsys, tmp_path, error, expected):
    require_shared()
    cloud_error(error)
    code, line = run_cli(capsys, "build", "--input", str(WHIRLWIND), "--output", "s3://bucket/c4")
    assert code == 2
    assert "s3://bucket/c4" in line and expected in line
    assert "AWS_ACCESS_KEY_ID" in line or "permissions" in line


def test_credentials_error_raised_as_a_cause_is_found(cloud_error, capsys, tmp_path):
    try:
        try:
            raise library_error("botocore.exceptions", "PartialCredentialsError", "Partial credentials found in env")
        except Exception as inner:
            raise RuntimeError("listing failed") from inner
    except RuntimeError as outer:
        cloud_error(outer)
    code, line = run_cli(capsys, "build", "--input", "s3://bucket/x.warc.wet.gz", "--output", str(tmp_path / "o"))
    assert code == 2 and "no usable AWS credentials" in line


def test_an_unrelated_storage_error_is_not_dressed_up_as_credentials(cloud_error, tmp_path):
    cloud_error(ConnectionAbortedError("backend hiccup"))
    with pytest.raises(BeamIOError, match="backend hiccup"):
        cli.main(["build", "--input", "gs://bucket/x.warc.wet.gz", "--output", str(tmp_path / "o")])


def test_gcs_without_the_gcp_extra(capsys, tmp_path, monkeypatch):
    """The test environment has the gcp extra: Beam's own error for a scheme it has no
    filesystem for (its GCS filesystem hidden here) must still become the install hint."""
    original = FileSystems.get_filesystem

    def without_gcs(path):
        if path.startswith("gs://"):
            raise ValueError("Unable to get filesystem from specified path, please use the correct path or ensure "
                             f"the required dependency is installed, e.g., pip install apache-beam[gcp]. Path "
                             f"specified: {path}")
        return original(path)

    monkeypatch.setattr(FileSystems, "get_filesystem", staticmethod(without_gcs))
    code, line = run_cli(capsys, "build", "--input", local_input(tmp_path), "--output", "gs://bucket/c4")
    assert code == 2 and "pip install 'c4forge[gcp]'" in line


@pytest.mark.skipif(importlib.util.find_spec("boto3") is not None, reason="c4forge[aws] is installed")
def test_s3_source_without_the_aws_extra(capsys, tmp_path):
    code, line = run_cli(capsys, "build", "--crawl", "CC-MAIN-2019-18", "--segments", "0", "--source", "s3",
                         "--output", str(tmp_path / "o"))
    assert code == 2 and "pip install 'c4forge[aws]'" in line


# --- output already holds a build ------------------------------------------------------------

def test_output_holding_another_build_says_what_is_there(capsys, tmp_path):
    require_shared()
    out = tmp_path / "out"
    assert cli.main(["build", "--input", str(REALWEB), "--output", str(out), "--badwords-dir", str(BADWORDS_DIR)]) == 0
    capsys.readouterr()
    code, line = run_cli(capsys, "build", "--input", str(WHIRLWIND), "--output", str(out),
                         "--badwords-dir", str(BADWORDS_DIR))
    assert code == 2
    for expected in (f"--output {out} already holds a build", "profile c4-en-3.1.0", "tfrecord",
                     "1 WET file(s) (realweb-dev.warc.wet.gz)", "train 252", "finished 20",
                     "pass --overwrite to replace it"):
        assert expected in line, line
    assert cli.main(["build", "--input", str(WHIRLWIND), "--output", str(out), "--badwords-dir", str(BADWORDS_DIR),
                     "--overwrite"]) == 0


# --- Common Crawl: unknown crawl, no network -------------------------------------------------

def test_a_crawl_that_does_not_exist(capsys, tmp_path):
    with FakeCommonCrawl({"crawl-data/CC-MAIN-2019-18/wet.paths.gz": listing()}) as site:
        code, line = run_cli(capsys, "build", "--crawl", "CC-MAIN-2099-01", "--segments", "0:1",
                             "--cc-base-url", site.base_url, "--cache-dir", str(tmp_path / "cache"),
                             "--output", str(tmp_path / "o"))
    assert code == 2
    assert "no crawl-data/CC-MAIN-2099-01/wet.paths.gz" in line and "(HTTP 404)" in line
    assert "is CC-MAIN-2099-01 a crawl id?" in line
    assert not (tmp_path / "o").exists()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_connection_refused_suggests_local_files(capsys, tmp_path):
    code, line = run_cli(capsys, "build", "--crawl", "CC-MAIN-2019-18", "--segments", "0:1",
                         "--cc-base-url", f"http://127.0.0.1:{closed_port()}", "--cache-dir", str(tmp_path / "cache"),
                         "--output", str(tmp_path / "o"), "--fetch-backoff", "30")  # would hang if it retried
    assert code == 2
    assert "cannot connect to 127.0.0.1" in line and "no network?" in line
    assert "--wet-paths" in line and "--input" in line


def test_dns_failure_suggests_local_files(capsys, tmp_path, monkeypatch):
    def no_dns(*args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    code, line = run_cli(capsys, "build", "--crawl", "CC-MAIN-2019-18", "--segments", "0:1",
                         "--cache-dir", str(tmp_path / "cache"), "--output", str(tmp_path / "o"),
                         "--fetch-backoff", "30")
    assert code == 2
    assert "cannot resolve data.commoncrawl.org" in line and "--wet-paths" in line


@pytest.mark.parametrize("argv, expected", [
    (["--output", "o"], "no input: pass WET files with --input"),
    (["--crawl", "CC-MAIN-2019-18", "--output", "o"], "need --segments"),
    (["--crawl", "2019", "--segments", "0", "--output", "o"], "not a crawl id like CC-MAIN-2019-18"),
    (["--input", "x.wet.gz", "--crawl", "CC-MAIN-2019-18", "--segments", "0", "--output", "o"], "one or the other"),
    (["--input", "x.wet.gz", "--segments", "0", "--output", "o"], "--segments selects lines"),
    (["--wet-paths", "missing.paths.gz", "--segments", "0", "--output", "o"], "missing.paths.gz: no such file"),
])
def test_inconsistent_options(capsys, tmp_path, monkeypatch, argv, expected):
    monkeypatch.chdir(tmp_path)
    code, line = run_cli(capsys, "build", *argv)
    assert code == 2 and expected in line


def test_errors_exit_2_without_a_traceback_in_a_real_process(tmp_path):
    with FakeCommonCrawl({}) as site:
        done = subprocess.run([sys.executable, "-m", "c4forge.cli", "build", "--crawl", "CC-MAIN-2099-01",
                               "--segments", "0", "--cc-base-url", site.base_url, "--cache-dir", str(tmp_path),
                               "--output", str(tmp_path / "o")], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith("c4forge: error: no crawl-data/CC-MAIN-2099-01/wet.paths.gz")


# --- --langid cld3 without gcld3 -------------------------------------------------------------

@pytest.mark.parametrize("command", ["build", "run-all"])
def test_langid_cld3_without_gcld3_stops_before_any_download(capsys, tmp_path, hide_module, command):
    hide_module("gcld3")
    # An unreachable crawl: had the check come after the input listing, this would be a connection error.
    code = cli.main([command, "--crawl", "CC-MAIN-2019-18", "--segments", "0:1", "--langid", "cld3",
                     "--cc-base-url", f"http://127.0.0.1:{closed_port()}", "--cache-dir", str(tmp_path / "cache"),
                     "--output", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.splitlines() == [f"c4forge: error: {language.CLD3_INSTALL_HINT}"]
    assert "pip install gcld3==3.0.13" in err and "--langid langdetect" in err
    assert not (tmp_path / "cache").exists() and not (tmp_path / "o").exists()


def test_langid_cld3_has_no_use_in_mc4(capsys, tmp_path, hide_module):
    hide_module("gcld3")  # the profile is refused first, gcld3 never loaded (TensorFlow may be)
    code, line = run_cli(capsys, "build", "--input", local_input(tmp_path), "--output", str(tmp_path / "o"),
                         "--profile", "mc4-3.1.0", "--langid", "cld3")
    assert code == 2 and "--langid picks the English filter of the c4-en profiles" in line


def test_an_internal_error_keeps_its_traceback_and_says_it_is_a_bug(capsys, tmp_path, monkeypatch):
    from c4forge.cli import build as build_cli

    def broken(*args, **kwargs):
        raise KeyError("a bug")

    monkeypatch.setattr(build_cli, "build_corpus", broken)
    with pytest.raises(KeyError, match="a bug"):  # the console script prints its traceback
        cli.main(["build", "--input", local_input(tmp_path), "--output", str(tmp_path / "o")])
    assert "c4forge: internal error in `c4forge build`: this is a bug" in capsys.readouterr().err
