"""The C4 corpus on disk, with no Beam, TensorFlow or torch: how c4forge writes it (record
framing, examples, JSON lines, sharding, shard formats, TFDS metadata) and how the later
stages read it back (``reader.find_corpus``).

The build (``c4forge.pipeline``), the vocabulary (``c4forge.tokenizer_training``) and
pretraining (``c4forge.pretrain``) all depend on this package; it depends on none of them.
"""
