"""c4forge.pipeline.verify: checks of c4forge against TFDS's own c4 code, kept out of the build.

``reference`` wires the real ``tensorflow_datasets.text.c4_utils`` functions into TFDS's c4/en
graph (it patches c4_utils when imported, so nothing else imports it); ``compare`` diffs two
runs' documents and counters (pure Python); ``parity`` runs both graphs on one input and diffs
them (``c4forge parity``). The build never imports this package.
"""
