"""A corpus read from an object store (fsspec's in-memory filesystem stands in for gs:// and
s3://; no network): the same examples as on a local disk, the same checks of the manifest, and
one-line refusals."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from c4forge.corpus.manifest import MANIFEST_NAME, CorpusError
from c4forge.corpus.reader import CorpusNotFound, find_corpus
from c4forge.corpus.storage import FsspecStorage, LocalStorage, relative_path, storage_for
from helpers.corpora import write_jsonl_corpus

DOCS = [[{"text": f"document {i} of shard {s}\nsecond line", "timestamp": "2019-04-25T12:57:54Z",
          "url": f"https://a.example/{s}/{i}"} for i in range(5)] for s in range(3)]


@pytest.fixture
def memory_fs():
    fsspec = pytest.importorskip("fsspec")
    fs = fsspec.filesystem("memory")
    bucket = f"bucket-{uuid.uuid4().hex[:8]}"
    yield fs, bucket
    fs.rm(f"/{bucket}", recursive=True)


def upload(fs, local: Path, url: str) -> None:
    for path in sorted(p for p in local.rglob("*") if p.is_file()):
        fs.pipe(f"{url}/{path.relative_to(local).as_posix()}", path.read_bytes())


def test_a_corpus_in_an_object_store_reads_as_on_a_local_disk(tmp_path, memory_fs):
    fs, bucket = memory_fs
    local = write_jsonl_corpus(tmp_path / "c", {"train": DOCS, "validation": [DOCS[0][:2]]})
    url = f"memory://{bucket}/c"
    upload(fs, local, url)
    remote = find_corpus(url)
    assert isinstance(remote.storage, FsspecStorage) and remote.output_root == url
    assert remote.split_files("train") == [f"{url}/en/c4-train.{i:05d}-of-00003.json.gz" for i in range(3)]
    assert list(remote.iter_examples("train")) == list(find_corpus(local).iter_examples("train"))
    assert find_corpus(url + "/en/").root == url + "/en"  # the dataset folder finds its build's root
    assert remote.relative(remote.split_files("validation")[0]) == "en/c4-validation.00000-of-00001.json.gz"


def test_an_altered_or_missing_object_is_refused(tmp_path, memory_fs):
    fs, bucket = memory_fs
    local = write_jsonl_corpus(tmp_path / "c", {"train": DOCS})
    url = f"memory://{bucket}/c"
    upload(fs, local, url)
    shard = f"{url}/en/c4-train.00001-of-00003.json.gz"
    data = bytearray(fs.cat(shard))
    data[-9] ^= 0xFF  # the gzip trailer's CRC: same size, another sha256
    fs.pipe(shard, bytes(data))
    with pytest.raises(CorpusError, match="not what the build's manifest lists"):
        list(find_corpus(url).iter_examples("train"))
    fs.rm(shard)
    with pytest.raises(CorpusError, match="missing"):
        find_corpus(url)
    fs.rm(f"{url}/{MANIFEST_NAME}")
    with pytest.raises(CorpusError, match="not a finished build"):
        find_corpus(url)
    with pytest.raises(CorpusNotFound, match="no c4forge corpus under"):
        find_corpus(f"memory://{bucket}/elsewhere")


def test_a_scheme_without_a_filesystem_is_one_line_naming_what_to_install():
    with pytest.raises(CorpusNotFound, match="pip install gcsfs") as caught:
        find_corpus("gs://bucket-that-is-never-reached/c4")
    assert "\n" not in str(caught.value)
    with pytest.raises(CorpusNotFound, match="nosuchscheme"):
        find_corpus("nosuchscheme://b/c")


def test_relative_paths_and_storages_by_scheme(tmp_path):
    assert isinstance(storage_for(str(tmp_path)), LocalStorage)
    assert isinstance(storage_for("s3://b/k"), FsspecStorage)
    memory = FsspecStorage("memory")
    assert relative_path(memory, "memory://b/c/en/x.gz", "memory://b/c/") == "en/x.gz"
    assert relative_path(memory, "memory://b/c", "memory://b/c") == "."
    assert memory.parent("memory://b/c/en") == "memory://b/c" and memory.parent("memory://b") == "memory://b"
    with pytest.raises(ValueError):
        relative_path(memory, "memory://b/cd/x", "memory://b/c")
    local = LocalStorage()
    assert relative_path(local, str(tmp_path / "a" / "b"), str(tmp_path)) == "a/b"
