"""WARC (HTML) input: charset decoding, text extraction, bad records, and the real-web WARC
against the WET path."""

from __future__ import annotations

import gzip
import io
import json
from collections import Counter
from pathlib import Path

import pytest

from c4forge.cleaning_rules import html_text
from c4forge.cleaning_rules.profiles import C4_EN_3_1_0
from c4forge.pipeline import readers

from conftest import SHARED

pytest.importorskip("resiliparse", reason="resiliparse==2.0.1 (a project dependency) is not installed")

REALWEB = SHARED / "data" / "realweb"
DATE = "2019-04-25T12:57:54Z"
PARAS = ["This is the first paragraph of the page and it is long enough.",
         "Here comes a second paragraph, with an umlaut: Grüße aus Köln.",
         "And a third one closes the page with a full stop."]


def html_page(charset_meta: str = "", body_paras=PARAS) -> str:
    meta = f'<meta charset="{charset_meta}">' if charset_meta else ""
    paras = "".join(f"<p>{p}</p>" for p in body_paras)
    return f"<html><head>{meta}<title>T</title><script>var x = 1;</script></head><body>{paras}</body></html>"


# --- decoding --------------------------------------------------------------------------

def test_charset_labels_follow_whatwg():
    assert html_text.normalize_charset("ISO-8859-1") == "cp1252"
    assert html_text.normalize_charset("utf8") == "utf-8"
    assert html_text.normalize_charset(" 'UTF-8' ") == "utf-8"
    assert html_text.normalize_charset("no-such-charset") is None
    assert html_text.normalize_charset("utf-16") is None  # declared in ASCII-compatible HTML: ignored
    assert html_text.http_charset("text/html; charset=windows-1251") == "cp1251"
    assert html_text.http_charset("text/html") is None


def test_decode_order_http_then_meta_then_detection():
    body = html_page("iso-8859-2").encode("cp1252")  # bytes are cp1252 ("ü" = 0xFC)
    text, source = html_text.decode_html(body, "text/html; charset=windows-1252")
    assert source == "http" and "Grüße" in text
    text, source = html_text.decode_html(body.replace(b"iso-8859-2", b"windows-1252"), "text/html")
    assert source == "meta" and "Grüße" in text
    text, source = html_text.decode_html(html_page().encode("utf-8"), None)
    assert source in ("detected", "utf-8") and "Grüße" in text
    text, source = html_text.decode_html(b"\xef\xbb\xbf" + html_page().encode("utf-8"), "text/html; charset=cp1252")
    assert source == "bom" and "Grüße" in text


def test_wrong_declared_charset_falls_through_and_nothing_crashes():
    # declared UTF-8 but cp1252 bytes: strict UTF-8 fails, the next source decodes it
    body = html_page().encode("cp1252")
    text, source = html_text.decode_html(body, "text/html; charset=utf-8")
    assert source != "http" and "Gr" in text
    for junk in (b"", b"\xff\xfe\x00", bytes(range(256)) * 10, b"<meta charset='\xff\xfe'>\x80\x81"):
        text, _ = html_text.decode_html(junk, "text/html; charset=\xff")
        assert isinstance(text, str)


def test_extraction_is_one_block_per_line():
    text = html_text.extract_text(html_page())
    assert text.split("\n")[-3:] == PARAS
    assert "var x" not in text
    assert html_text.wet_lines("  a \n\n\t\n b  ") == "a\nb"
    with pytest.raises(ValueError, match="resiliparse"):
        html_text.check_extractor("lynx")


# --- records ---------------------------------------------------------------------------

def http_block(status="200 OK", ctype="text/html; charset=utf-8", body: bytes = b"", extra=""):
    head = f"HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\n{extra}Content-Length: {len(body)}\r\n\r\n"
    return io.BytesIO(head.encode("latin-1") + body)


def test_record_to_page_fields_and_rejections():
    c = Counter()
    body = html_page().encode("utf-8")
    page = readers.record_to_page("https://www.example.com/a?utm_x=1", DATE, http_block(body=body), c)
    assert page.url == "https://www.example.com/a?utm_x=1" and page.timestamp == DATE
    assert page.normalized_url == "example.com/a"  # normalize_url cuts ?utm_...
    assert page.content_type == "text/plain"
    assert page.content_length == str(len(page.text.encode("utf-8")))
    assert page.text.endswith("\n".join(PARAS))
    gz = readers.record_to_page("u", DATE, http_block(body=gzip.compress(body), extra="Content-Encoding: gzip\r\n"), c)
    assert gz is not None and gz.text == page.text
    assert readers.record_to_page("u", DATE, http_block("404 Not Found", body=body), c) is None
    assert readers.record_to_page("u", DATE, http_block(ctype="image/png", body=b"\x89PNG"), c) is None
    assert readers.record_to_page("u", DATE, http_block(body=b"<html><body> </body></html>"), c) is None
    assert readers.record_to_page("u", DATE, io.BytesIO(b"not http at all\r\n\r\n"), c) is None
    assert readers.record_to_page("u", DATE, http_block(body=b"xx", extra="Content-Encoding: gzip\r\n"), c) is None
    assert readers.record_to_page("u", DATE, http_block(body=body), c, max_page_length=10) is None
    assert c["split-warc-file/passed"] == 3  # page, gz, and the over-long one (cut by too-long-filter)
    for reason in ("http_status", "not_html", "no_content", "bad_http_headers", "content_encoding"):
        assert c[f"split-warc-file/filtered:{reason}"] == 1, reason
    assert c["too-long-filter/filtered"] == 1


def write_warc(path: Path, records, gzip_members=True):
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    with open(path, "wb") as f:
        w = WARCWriter(f, gzip=gzip_members)
        w.write_record(w.create_warcinfo_record("x.warc", {"software": "test"}))
        for url, status, ctype, body in records:
            http = StatusAndHeaders(status, [("Content-Type", ctype)], protocol="HTTP/1.1")
            w.write_record(w.create_warc_record(url, "response", payload=io.BytesIO(body), http_headers=http,
                                                warc_headers_dict={"WARC-Date": DATE}))


def read(path, **kw):
    c = Counter()
    pages = list(readers.read_warc_pages(str(path), C4_EN_3_1_0, c, **kw))
    return pages, c


def test_reader_good_and_bad_files(tmp_path):
    good = [(f"http://e.com/{i}", "200 OK", "text/html; charset=utf-8", html_page().encode()) for i in range(3)]
    good.append(("http://e.com/img", "200 OK", "image/png", b"\x89PNG"))
    path = tmp_path / "ok.warc.gz"
    write_warc(path, good)
    pages, c = read(path)
    assert [p.url for p in pages] == [f"http://e.com/{i}" for i in range(3)]
    assert c["split-warc-file/passed"] == 3 and c["split-warc-file/filtered:not_html"] == 1

    # uncompressed, with garbage between records: counted, reading resumes
    plain = tmp_path / "plain.warc"
    write_warc(plain, good, gzip_members=False)
    data = plain.read_bytes()
    cut = data.index(b"WARC/1.0", 10)
    (tmp_path / "junk.warc").write_bytes(data[:cut] + b"garbage line\r\nmore\r\n\r\n" + data[cut:])
    pages, c = read(tmp_path / "junk.warc")
    assert len(pages) == 3 and c["split-warc-file/unparseable-data"] == 1

    # cut mid-record: pages before it kept, read-error counted
    raw = path.read_bytes()
    (tmp_path / "cut.warc.gz").write_bytes(raw[: len(raw) - 300])
    pages, c = read(tmp_path / "cut.warc.gz")
    assert len(pages) >= 2 and c["split-warc-file/read-error"] == 1

    # one gzip stream for the whole file
    (tmp_path / "one.warc.gz").write_bytes(gzip.compress(plain.read_bytes()))
    pages, c = read(tmp_path / "one.warc.gz")
    assert len(pages) == 3 and c["split-warc-file/non-chunked-gzip"] == 1

    (tmp_path / "empty.warc.gz").write_bytes(b"")
    assert read(tmp_path / "empty.warc.gz")[1]["split-warc-file/skipped-file:no_records"] == 1
    (tmp_path / "text.txt").write_text("hello\nworld\n")
    assert read(tmp_path / "text.txt")[0] == []
    assert read(tmp_path / "missing.warc.gz")[1]["split-warc-file/skipped-file:unreadable"] == 1


def test_open_failure_is_unreadable_as_for_wet(tmp_path):
    """A filesystem client's own exception on open: the same counted outcome as a WET file."""
    class FilesystemError(Exception):
        pass

    def failing_open(path):
        raise FilesystemError("bucket not found")

    c = Counter()
    assert list(readers.read_warc_pages(str(tmp_path / "x.warc.gz"), C4_EN_3_1_0, c, open_file=failing_open)) == []
    assert c == Counter({"split-warc-file/skipped-file:unreadable": 1})


def test_missing_extractor_names_the_package(hide_module):
    hide_module("trafilatura")
    with pytest.raises(html_text.ExtractorUnavailable, match="pip install"):
        html_text.check_extractor("trafilatura")


# --- real data -------------------------------------------------------------------------

def _need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"shared real-web data not found at {path}")
    return path


def test_real_warc_pages_match_wet_pages():
    profile = C4_EN_3_1_0.with_switches(wet_quirks=False)
    warc, c = read(_need(REALWEB / "realweb-dev.warc.gz"))
    wet = {p.url: p for p in readers.read_wet_pages(str(_need(REALWEB / "realweb-dev.warc.wet.gz")), profile, Counter())}
    assert c["split-warc-file/passed"] == len(warc) == 974  # 967 distinct URLs (URL dedup comes later)
    warc = {p.url: p for p in warc}
    common = set(warc) & set(wet)
    assert len(common) >= 0.99 * len(wet)
    same = sum(warc[u].text == wet[u].text for u in common)
    assert same >= 0.99 * len(common)
    assert all(warc[u].timestamp == wet[u].timestamp for u in common)


@pytest.mark.slow
def test_warc_build_keeps_the_published_c4_documents():
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions
    from apache_beam.testing.util import assert_that, equal_to

    from c4forge.cleaning_rules.badwords import load_badwords
    from c4forge.pipeline.graph import build_c4

    warc = _need(REALWEB / "realweb-dev.warc.gz")
    expected_path = _need(REALWEB / "realweb-dev.c4-tfds-3.1.0.jsonl")
    words = load_badwords("en", str(_need(SHARED / "assets" / "ldnoobw")))
    expected = [json.loads(l) for l in expected_path.read_text().splitlines() if l]
    with beam.Pipeline(options=PipelineOptions(["--runner=FnApiRunner"])) as p:
        out = (build_c4(p, [str(warc)], C4_EN_3_1_0, words, input_format="warc")
               | beam.Map(lambda kv: (kv[1].url, kv[1].text)))
        # measured: the 252 published documents, text for text
        assert_that(out, equal_to([(d["url"], d["text"]) for d in expected]))


def test_trafilatura_extracts_the_main_content_one_block_per_line():
    pytest.importorskip("trafilatura", reason="trafilatura (the c4forge[trafilatura] extra) is not installed")
    paragraphs = [f"Paragraph {i} of the article says something long enough to count as content here." for i in range(6)]
    html = ("<html><head><title>t</title></head><body><nav>Home | About | Contact</nav><article>"
            + "".join(f"<p>{p}</p>" for p in paragraphs)
            + "</article><footer>Copyright footer</footer></body></html>")
    text = html_text.extract_text(html, "trafilatura")
    lines = text.split("\n")
    assert lines == paragraphs
    assert "Home | About" not in text and "footer" not in text
