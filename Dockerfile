# c4forge pipeline image: a Beam SDK custom container with c4forge installed (pipeline only: no
# torch, transformers or CUDA). Beam is the base image's, the same version as the project's pin.
#   build:            docker build -t IMAGE .
#   Dataflow worker:  --sdk_container_image=IMAGE --sdk_location=container
#   local run:        docker run --rm --entrypoint c4forge -v "$PWD:/data" -w /data IMAGE \
#                         build --input x.warc.wet.gz --output out/
# The entrypoint stays Beam's boot binary, which Dataflow, Flink and Spark start workers with;
# --entrypoint c4forge runs the command line instead.
FROM apache/beam_python3.11_sdk:2.77.0

# The package sources only (.dockerignore keeps the rest of the checkout out of the context).
COPY pyproject.toml README.md /tmp/c4forge/
COPY cli /tmp/c4forge/cli
COPY pipeline /tmp/c4forge/pipeline
COPY cleaning_rules /tmp/c4forge/cleaning_rules
COPY corpus /tmp/c4forge/corpus
COPY tokenizer_training /tmp/c4forge/tokenizer_training
COPY pretrain /tmp/c4forge/pretrain
COPY .ci/install-pipeline-image.sh /tmp/c4forge/.ci/

# The same script tests/test_docker.py runs in a fresh virtualenv.
RUN PIP_NO_CACHE_DIR=1 PIP_ROOT_USER_ACTION=ignore sh /tmp/c4forge/.ci/install-pipeline-image.sh /tmp/c4forge \
 && rm -rf /tmp/c4forge

ENTRYPOINT ["/opt/apache/beam/boot"]
