# c4forge pipeline image: a Beam SDK custom container (same Beam version as the project's pin),
# usable as the Dataflow worker image (--sdk_container_image) and for local runs:
#   docker run --rm -v $PWD:/data c4forge c4forge build --input /data/x.warc.wet.gz --output /data/out
# No torch/transformers here: the pipeline does not need them (install .[train] for those).
FROM apache/beam_python3.11_sdk:2.77.0

WORKDIR /opt/c4forge
COPY pyproject.toml README.md ./
COPY pipeline ./pipeline
COPY cleaning_rules ./cleaning_rules
COPY tokenizer_training ./tokenizer_training
COPY pretrain ./pretrain
RUN pip install --no-cache-dir . \
 && c4forge --help >/dev/null

# The Beam SDK harness stays the entrypoint so Dataflow can start workers from this image.
ENTRYPOINT ["/opt/apache/beam/boot"]
