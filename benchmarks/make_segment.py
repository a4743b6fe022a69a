"""A crawl-segment-sized WET file, synthesized from real pages, for benchmarks.

    python benchmarks/make_segment.py [--records 40000] [--cache-dir DIR] [--seed 0]
                                      [--english-share 0.45] [--source WET]

Prints the path of the (cached) file. One Common Crawl WET file holds ~40-50k conversion
records (~125-150 MB gzipped); the shared real-web file holds 974 real pages. Each
synthetic record is built from one real page (its *template*):

* Lines are the template's body lines, in order. A line also found on another real page
  (menus, footers, "All rights reserved.": cross-page boilerplate) is kept verbatim, so
  it repeats across every record built from that template, as a site's boilerplate
  repeats across its pages. Short lines (< 4 space-separated tokens: navigation) too.
* Every other line (the page's own text) is made unique: with probability
  ``SWAP_PROBABILITY`` it is first replaced by an own line of another real page of the
  same language (recombination), then its inner tokens are shuffled (first and last token
  stay: capitalisation and the end mark survive; the token multiset, the line length and
  the character statistics are unchanged). Lines that trigger C4 rules by substring
  (lorem ipsum, javascript, ``{``, policy phrases) are kept verbatim so those rules fire at
  the source rate. For CJK pages (no spaces) 4-character chunks are shuffled instead.
* Language mix: templates are drawn with English pages weighted to ``--english-share`` of
  records (Common Crawl 2019 is roughly 45% English; the shared file is ~32%); 0 keeps the
  shared file's own mix.
* URL: the template's scheme and host, its path plus a per-record number: unique.
  ``RECAPTURE_RATE`` (6%, as in the shared file) of the records are re-captures of an
  earlier record under a URL variant (http/https, www., ?utm_source=..., trailing slash)
  with a different WARC-Date (another day; never equal, so URL dedup has no ties), same
  text, somewhere later in the file.
* Format as Common Crawl writes it: a warcinfo record first, then WARC/1.0 conversion
  records with CRLF headers (Type, Target-URI, Date, Record-ID, Refers-To, Block-Digest,
  Content-Type, Content-Length = body bytes), body lines joined by LF, CRLF CRLF after
  the body, one gzip member per record.

Deterministic: the same (records, seed, english share, source file) give the same bytes.
Record texts depend only on (seed, record number), so a file of N records and one of M
records share their primary records' texts and URLs where numbers overlap.
The file is written under ``--cache-dir`` (default ``$C4FORGE_BENCH_DIR`` or
``~/.cache/c4forge/bench``) with a ``.json`` sidecar of statistics, and reused.
"""

from __future__ import annotations

import argparse
import base64
import bisect
import collections
import dataclasses
import gzip
import hashlib
import json
import os
import random
import sys
import time
import uuid
import zlib
from pathlib import Path
from urllib.parse import quote, urlsplit

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
REALWEB_WET = SHARED / "data" / "realweb" / "realweb-dev.warc.wet.gz"

GENERATOR_VERSION = 1  # bump when the output for given arguments changes
DEFAULT_RECORDS = 40_000
DEFAULT_SEED = 0
DEFAULT_ENGLISH_SHARE = 0.45
RECAPTURE_RATE = 0.06
SWAP_PROBABILITY = 0.2
MIN_TOKENS_TO_SHUFFLE = 4
CJK_LANGS = ("ja", "zh-cn", "zh-tw", "ko", "th")
CJK_CHUNK = 4
# Substrings C4 rules look for (lower-cased): lines holding them are not shuffled.
KEEP_VERBATIM = ("lorem ipsum", "javascript", "{", "terms of use", "privacy policy", "cookie policy",
                 "uses cookies", "use of cookies", "use cookies")
CRAWL = "CC-MAIN-2019-18"
DAYS = tuple(range(18, 27))  # CC-MAIN-2019-18 was fetched 18-26 April 2019
GZIP_LEVEL = 6


def default_cache_dir() -> Path:
    root = os.environ.get("C4FORGE_BENCH_DIR")
    return Path(root) if root else Path.home() / ".cache" / "c4forge" / "bench"


# --- the real pages ---------------------------------------------------------------------

@dataclasses.dataclass
class SourcePage:
    url: str
    lines: list[str]  # body lines as in the file (LF-separated)
    lang: str
    mutable: list[bool]  # per line: own text, shuffled in synthetic records


def iter_wet_records(path: Path):
    """(headers dict, body bytes) of each record of a well-formed WET file."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    pos = 0
    while True:
        start = data.find(b"WARC/1.0\r\n", pos)
        if start < 0:
            return
        head_end = data.index(b"\r\n\r\n", start)
        headers = {}
        for line in data[start:head_end].decode("utf-8").split("\r\n")[1:]:
            name, _, value = line.partition(":")
            headers[name.strip()] = value.strip()
        body_start = head_end + 4
        length = int(headers["Content-Length"])
        yield headers, data[body_start:body_start + length]
        pos = body_start + length


def _text_of(lines: list[str]) -> str:
    return "\n".join(l.strip() for l in lines if l.strip())


def _is_mutable(line: str, shared: bool, cjk: bool) -> bool:
    if shared:
        return False
    lower = line.lower()
    if any(s in lower for s in KEEP_VERBATIM):
        return False
    if len(line.split(" ")) >= MIN_TOKENS_TO_SHUFFLE:
        return True
    return cjk and len(line.strip()) >= 3 * CJK_CHUNK


def load_source_pages(path: Path) -> list[SourcePage]:
    from c4forge.cleaning_rules.language import langdetect_exact

    raw = []
    for headers, body in iter_wet_records(path):
        if headers.get("WARC-Type") != "conversion":
            continue
        lines = body.decode("utf-8").split("\n")
        raw.append((headers["WARC-Target-URI"], lines))
    # Lines on more than one real page: cross-page boilerplate.
    document_frequency = collections.Counter()
    for _, lines in raw:
        document_frequency.update({l.strip() for l in lines if l.strip()})
    pages = []
    for url, lines in raw:
        lang, _, verdict = langdetect_exact.detect_top(_text_of(lines))
        lang = lang if verdict == "ok" and lang else "unknown"
        cjk = lang in CJK_LANGS
        mutable = [_is_mutable(l, document_frequency[l.strip()] > 1, cjk) for l in lines]
        pages.append(SourcePage(url, lines, lang, mutable))
    return pages


# --- records ----------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Entry:
    number: int  # primary record number: fixes text, URL and date
    template: int
    variant: int  # 0: the primary capture; 1..4: a re-capture under URL variant k


class SegmentPlan:
    """Which template each record uses, and where the re-captures go."""

    def __init__(self, pages: list[SourcePage], records: int, seed: int, english_share: float):
        rng = random.Random(f"c4forge-segment-plan/{seed}")
        n_en = sum(p.lang == "en" for p in pages)
        weight_en = 1.0
        if english_share and 0 < n_en < len(pages):
            weight_en = english_share * (len(pages) - n_en) / ((1 - english_share) * n_en)
        weights = [weight_en if p.lang == "en" else 1.0 for p in pages]
        cum = [0.0]
        for w in weights:
            cum.append(cum[-1] + w)
        recaptures = round(records * RECAPTURE_RATE) if records > 1 else 0
        primaries = records - recaptures
        templates = [bisect.bisect_right(cum, rng.random() * cum[-1]) - 1 for _ in range(primaries)]
        keyed = [(float(p), Entry(p, templates[p], 0)) for p in range(primaries)]
        for p in sorted(rng.sample(range(primaries), min(recaptures, primaries))):
            later = rng.uniform(p + 0.5, primaries)  # after its primary
            keyed.append((later, Entry(p, templates[p], rng.randint(1, 4))))
        keyed.sort(key=lambda k: (k[0], k[1].variant))
        self.entries = [e for _, e in keyed]
        self.primaries = primaries
        self.recaptures = len(self.entries) - primaries


def _shuffle_tokens(line: str, rng: random.Random, cjk: bool) -> str:
    tokens = line.split(" ")
    if len(tokens) >= MIN_TOKENS_TO_SHUFFLE:
        middle = tokens[1:-1]
        rng.shuffle(middle)
        return " ".join([tokens[0], *middle, tokens[-1]])
    if cjk:
        chunks = [line[i:i + CJK_CHUNK] for i in range(0, len(line), CJK_CHUNK)]
        middle = chunks[1:-1]
        rng.shuffle(middle)
        return "".join([chunks[0], *middle, chunks[-1]])
    return line


class RecordMaker:
    def __init__(self, pages: list[SourcePage], seed: int):
        self.pages = pages
        self.seed = seed
        pools = collections.defaultdict(list)  # lang -> (page, line) of own text
        for i, page in enumerate(pages):
            for j, m in enumerate(page.mutable):
                if m:
                    pools[page.lang].append((i, j))
        self.pools = dict(pools)

    def text_lines(self, number: int, template: int) -> list[str]:
        rng = random.Random(f"c4forge-segment/{self.seed}/{number}")
        page = self.pages[template]
        pool = self.pools.get(page.lang, ())
        out = []
        for line, mutable in zip(page.lines, page.mutable):
            if not mutable:
                out.append(line)
                continue
            src_page = page
            if pool and rng.random() < SWAP_PROBABILITY:
                i, j = pool[rng.randrange(len(pool))]
                src_page, line = self.pages[i], self.pages[i].lines[j]
            out.append(_shuffle_tokens(line, rng, src_page.lang in CJK_LANGS))
        return out

    def url(self, number: int, template: int, variant: int) -> str:
        parts = urlsplit(self.pages[template].url)
        scheme = parts.scheme or "http"
        host = parts.netloc
        path = quote(parts.path.rstrip("/"), safe="/%:@&=+$,;~!*'()-._")
        tail = "" if not path or path.endswith("/") else "/"
        url_path = f"{path}{tail}{number:06d}" if path else f"/{number:06d}"
        if variant == 1:  # other scheme
            scheme = "http" if scheme == "https" else "https"
        elif variant == 2:  # www. toggled
            host = host[4:] if host.startswith("www.") else "www." + host
        elif variant == 3:  # tracking query
            url_path += "?utm_source=feed"
        elif variant == 4:  # trailing slash
            url_path += "/"
        return f"{scheme}://{host}{url_path}"

    def date(self, number: int, variant: int) -> str:
        rng = random.Random(f"c4forge-segment-date/{self.seed}/{number}")
        day = rng.choice(DAYS)
        if variant:  # a re-capture: another day, so the dates never tie
            day = rng.choice([d for d in DAYS if d != day])
        return (f"2019-04-{day:02d}T{rng.randrange(24):02d}:{rng.randrange(60):02d}:"
                f"{rng.randrange(60):02d}Z")


def record_id(*parts) -> str:
    return str(uuid.UUID(bytes=hashlib.md5("/".join(map(str, parts)).encode()).digest(), version=4))


def warc_record(headers: list[tuple[str, str]], body: bytes) -> bytes:
    head = "WARC/1.0\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers)
    return head.encode("utf-8") + f"Content-Length: {len(body)}\r\n\r\n".encode() + body + b"\r\n\r\n"


def block_digest(body: bytes) -> str:
    return "sha1:" + base64.b32encode(hashlib.sha1(body).digest()).decode()


def gzip_member(data: bytes) -> bytes:
    c = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 31)
    return c.compress(data) + c.flush()


def segment_name(records: int, seed: int, english_share: float) -> str:
    return f"c4bench-r{records}-s{seed}-en{round(english_share * 100)}-v{GENERATOR_VERSION}.warc.wet.gz"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def make_segment(
    records: int = DEFAULT_RECORDS,
    cache_dir: Path | str | None = None,
    seed: int = DEFAULT_SEED,
    english_share: float = DEFAULT_ENGLISH_SHARE,
    source: Path | str = REALWEB_WET,
    log=None,
) -> Path:
    """Path of the segment; generated unless a cached copy from the same source exists."""
    source = Path(source)
    if not source.is_file():
        raise FileNotFoundError(f"source WET file {source} not found (../shared absent?)")
    cache = Path(cache_dir) if cache_dir else default_cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    out = cache / segment_name(records, seed, english_share)
    sidecar = out.with_name(out.name + ".json")
    source_sha = _sha256(source)
    if out.is_file() and sidecar.is_file():
        try:
            if json.loads(sidecar.read_text()).get("source_sha256") == source_sha:
                return out
        except ValueError:
            pass
    started, cpu = time.time(), time.process_time()
    pages = load_source_pages(source)
    plan = SegmentPlan(pages, records, seed, english_share)
    maker = RecordMaker(pages, seed)
    langs = collections.Counter()
    has_text = [bool(_text_of(page.lines)) for page in pages]
    expected_pages = 0  # pages a reader yields: records whose template has text
    raw_bytes = 0
    tmp = out.with_name(f"{out.name}.tmp-{os.getpid()}")
    with open(tmp, "wb") as f:
        info = (f"software: c4forge benchmarks/make_segment.py v{GENERATOR_VERSION}\r\n"
                f"isPartOf: {CRAWL}\r\n"
                f"description: synthetic segment of {records} records from {source.name}, seed {seed}\r\n"
                "format: WARC File Format 1.0\r\n").encode()
        warcinfo = warc_record([("WARC-Type", "warcinfo"), ("WARC-Date", "2019-04-27T00:00:00Z"),
                            ("WARC-Filename", out.name[: -len(".gz")] + ".gz"),
                            ("WARC-Record-ID", f"<urn:uuid:{record_id(seed, records, 'warcinfo')}>"),
                            ("Content-Type", "application/warc-fields")], info)
        f.write(gzip_member(warcinfo))
        raw_bytes += len(warcinfo)
        for index, e in enumerate(plan.entries):
            body = "\n".join(maker.text_lines(e.number, e.template)).encode("utf-8")
            record = warc_record([
                ("WARC-Type", "conversion"),
                ("WARC-Target-URI", maker.url(e.number, e.template, e.variant)),
                ("WARC-Date", maker.date(e.number, e.variant)),
                ("WARC-Record-ID", f"<urn:uuid:{record_id(seed, 'record', e.number, e.variant)}>"),
                ("WARC-Refers-To", f"<urn:uuid:{record_id(seed, 'response', e.number, e.variant)}>"),
                ("WARC-Block-Digest", block_digest(body)),
                ("Content-Type", "text/plain"),
            ], body)
            f.write(gzip_member(record))
            raw_bytes += len(record)
            langs[pages[e.template].lang] += 1
            expected_pages += has_text[e.template]
            if log and (index + 1) % 10000 == 0:
                log(f"  {index + 1:,}/{len(plan.entries):,} records")
    stats = {
        "generator_version": GENERATOR_VERSION,
        "records": len(plan.entries),
        "primary_records": plan.primaries,
        "recaptures": plan.recaptures,
        "expected_pages": expected_pages,
        "expected_distinct_urls": len({e.number for e in plan.entries if has_text[e.template]}),
        "seed": seed,
        "english_share_target": english_share,
        "template_languages": dict(langs.most_common()),
        "gzip_bytes": tmp.stat().st_size,
        "uncompressed_bytes": raw_bytes,
        "source": str(source),
        "source_sha256": source_sha,
        "generation_seconds": round(time.time() - started, 1),
        "generation_cpu_seconds": round(time.process_time() - cpu, 1),
    }
    tmp.replace(out)
    sidecar.write_text(json.dumps(stats, indent=1) + "\n")
    return out


def segment_stats(path: Path | str) -> dict:
    sidecar = Path(str(path) + ".json")
    return json.loads(sidecar.read_text()) if sidecar.is_file() else {}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--records", type=int, default=DEFAULT_RECORDS)
    p.add_argument("--seed", type=int, default=DEFAULT_SEED)
    p.add_argument("--english-share", type=float, default=DEFAULT_ENGLISH_SHARE)
    p.add_argument("--cache-dir", type=Path, default=None)
    p.add_argument("--source", type=Path, default=REALWEB_WET)
    args = p.parse_args(argv)
    path = make_segment(args.records, args.cache_dir, args.seed, args.english_share, args.source,
                        log=lambda m: print(m, file=sys.stderr))
    print(path)
    print(json.dumps(segment_stats(path), indent=1), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
