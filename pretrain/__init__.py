"""c4forge.pretrain: T5 span-corruption pretraining on a built corpus (PyTorch, no TensorFlow, no Beam).

corpus (TFDS TFRecords / JSONL) -> token_cache (sentencepiece once, memory-mapped shards)
-> layout (chunk, concatenate 128 docs, split into 568, pack remainders, order per epoch)
-> data (stream of rows, sharded by index over ranks and workers) -> span_corruption.corrupt
-> modeling (transformers T5 v1.1) -> train (bf16, DDP, accumulation, eval), checkpoint (written,
then swapped in), resume (which checkpoint, which changed settings are refused or applied).
"""
