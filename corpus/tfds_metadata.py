"""TFDS dataset metadata: what ``dataset_info.json`` and ``features.json`` say, and the split
files that ``dataset_info.json`` lists. Needs tensorflow_datasets (imported when used), not
TensorFlow.

A split without examples gets no files, and is left out of ``dataset_info.json``: TFDS
cannot read a split with no data (``as_dataset`` raises "Instruction [] corresponds to no
data!" whether it has zero shards or one empty shard, and ``tfds.load(split=None)`` then
fails for every split), and its own ``write_metadata`` derives the splits from the files.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
from pathlib import Path
from typing import Callable, Mapping, Optional

from .example import FEATURE_NAMES
from .opener import Opener, open_local

TFDS_FILENAME_TEMPLATE = "{DATASET}-{SPLIT}.{FILEFORMAT}-{SHARD_X_OF_Y}"

# TFDS's c4 builder metadata (tensorflow_datasets/text/c4.py, 3.1.0), restated so that writing
# needs neither the builder module nor TensorFlow. tests/test_sinks.py checks it against tfds.
C4_DESCRIPTION = """\
A colossal, cleaned version of Common Crawl's web crawl corpus.

Based on Common Crawl dataset: https://commoncrawl.org

To generate this dataset, please follow
[the instructions from t5](https://github.com/google-research/text-to-text-transfer-transformer#c4).

Due to the overhead of cleaning the dataset, it is recommend you prepare it with
a distributed service like Cloud Dataflow. More info at
https://www.tensorflow.org/datasets/beam_datasets.
"""
C4_CITATION = """
@article{2019t5,
  author = {Colin Raffel and Noam Shazeer and Adam Roberts and Katherine Lee and Sharan Narang and Michael Matena and Yanqi Zhou and Wei Li and Peter J. Liu},
  title = {Exploring the Limits of Transfer Learning with a Unified Text-to-Text Transformer},
  journal = {arXiv e-prints},
  year = {2019},
  archivePrefix = {arXiv},
  eprint = {1910.10683},
}
"""
C4_HOMEPAGE = "https://github.com/google-research/text-to-text-transfer-transformer#datasets"
C4_MODULE_NAME = "tensorflow_datasets.text.c4"
C4_CONFIG_DESCRIPTIONS = {
    "en": "English C4 dataset.",
    "en.noclean": "Disables all cleaning (deduplication, removal based on bad words, etc.)",
    "realnewslike": (
        "Filters from the default config to only include content from the domains used in"
        " the 'RealNews' dataset (Zellers et al., 2019)."
    ),
}

# {split: (shard_lengths, num_bytes)}
SplitShardLengths = Mapping[str, tuple[list[int], int]]


@dataclasses.dataclass(frozen=True)
class TfdsMetadata:
    """What dataset_info.json says besides the splits. Nothing time- or machine-dependent."""

    name: str = "c4"
    config: Optional[str] = "en"
    version: str = "3.1.0"
    description: Optional[str] = C4_DESCRIPTION
    citation: Optional[str] = C4_CITATION
    homepage: Optional[str] = C4_HOMEPAGE
    config_description: Optional[str] = None
    module_name: str = C4_MODULE_NAME

    def dir_parts(self) -> list[str]:
        """The dataset directory under a TFDS data_dir: ``<name>/<config>/<version>``."""
        return [self.name] + ([self.config] if self.config else []) + [self.version]


def tfds_dataset_info(meta: TfdsMetadata, split_shard_lengths: SplitShardLengths, local_dir: str):
    """A ``tfds.core.DatasetInfo`` like the c4 builder's, with the given splits
    ({split: (shard_lengths, num_bytes)}; splits without shards are left out). Needs no
    TensorFlow. ``local_dir`` is only where tfds's file templates point; it is not written."""
    import tensorflow_datasets as tfds
    from tensorflow_datasets.core import dataset_info as dataset_info_lib

    identity = dataset_info_lib.DatasetIdentity(
        name=meta.name,
        version=tfds.core.Version(meta.version),
        data_dir=local_dir,
        module_name=meta.module_name,
        config_name=meta.config,
        config_description=meta.config_description,
    )
    features = tfds.features.FeaturesDict({name: tfds.features.Text() for name in FEATURE_NAMES})
    info = tfds.core.DatasetInfo(
        builder=identity,
        description=meta.description,
        features=features,
        citation=meta.citation,
        homepage=meta.homepage,
    )
    info.set_file_format("tfrecord")
    split_infos = [
        tfds.core.SplitInfo(name=split, shard_lengths=list(lengths), num_bytes=num_bytes, filename_template=None)
        for split, (lengths, num_bytes) in sorted(split_shard_lengths.items())
        if lengths
    ]
    info.set_splits(tfds.core.SplitDict(split_infos))
    return info


def tfds_metadata_files(meta: TfdsMetadata, split_shard_lengths: SplitShardLengths) -> dict[str, bytes]:
    """{file name: content} of what ``DatasetInfo.write_to_directory`` writes (features.json,
    dataset_info.json), produced by tfds itself in a local temporary directory."""
    with tempfile.TemporaryDirectory(prefix="c4forge-tfds-meta-") as local_dir:
        tfds_dataset_info(meta, split_shard_lengths, local_dir).write_to_directory(local_dir)
        return {name: Path(local_dir, name).read_bytes() for name in sorted(os.listdir(local_dir))}


def tfds_split_files(dataset_dir: str, split: str, opener: Opener = open_local,
                     join: Callable[..., str] = os.path.join) -> list[str]:
    """The shard paths of a split, in order, from dataset_info.json ([] if the split has no
    data and so is not listed)."""
    with opener(join(dataset_dir, "dataset_info.json")) as handle:
        info = json.loads(handle.read().decode("utf-8"))
    file_format = info.get("fileFormat", "tfrecord")
    for split_info in info.get("splits", []):
        if split_info["name"] == split:
            template = split_info.get("filepathTemplate", TFDS_FILENAME_TEMPLATE)
            if template != TFDS_FILENAME_TEMPLATE:
                raise NotImplementedError(f"{dataset_dir}: unsupported filepathTemplate {template!r}")
            count = len(split_info.get("shardLengths", []))
            return [
                join(dataset_dir, f"{info['name']}-{split}.{file_format}-{i:05d}-of-{count:05d}")
                for i in range(count)
            ]
    return []
