#!/bin/sh
# Installs c4forge's pipeline with the `python` on PATH: the package and its runtime pins only
# (no [train]/[test] extras, so no torch, transformers or CUDA), then checks the result.
# The one list of install steps for the pipeline image: the Dockerfile runs it inside
# apache/beam_python3.11_sdk, and tests/test_docker.py runs it in a fresh virtualenv.
# Usage: install-pipeline-image.sh SOURCE_DIR   (a directory laid out as the Dockerfile's COPY lines)
set -eu
src=${1:?usage: install-pipeline-image.sh SOURCE_DIR}

python -m pip install "$src"
python -m pip check
# Keeps the image lean: fail the build if a dependency ever drags torch in.
python -c 'import importlib.util, sys; sys.exit("torch got installed" if importlib.util.find_spec("torch") else 0)'
c4forge --help >/dev/null
# The compiled line rules, language detector, bad-words search and UTF-8 check (optional at install, built
# where a C compiler is found, as in the Beam SDK image, python:3.11-bullseye): a worker without
# them cleans pages, detects languages and looks for bad words about 3x slower.
python -c 'import c4forge.cleaning_rules.lines_compiled, c4forge.cleaning_rules.badwords_compiled, c4forge.cleaning_rules.language.langdetect_compiled, c4forge.pipeline.records.utf8_compiled, c4forge.pipeline.records.plain_wet_compiled, c4forge.cleaning_rules.sentences_compiled'
