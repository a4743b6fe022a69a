"""HTML → WET-like text: charset decoding that never fails, and text extraction.

Used by ``pipeline/readers/warc.py`` to turn WARC ``response`` records into pages that the
same rule profiles clean. Pure functions, no Beam.

Decoding (``decode_html``), first source that names a usable codec and decodes strictly:

1. a byte-order mark (UTF-8/UTF-16);
2. the HTTP ``Content-Type`` header's ``charset=``;
3. the first ``<meta charset=...>`` / ``<meta http-equiv=Content-Type content="...charset=...">``
   in the first 4 KiB;
4. detection (resiliparse's uchardet when installed, else charset-normalizer), then UTF-8;
5. last resort: UTF-8 with replacement characters (counted as ``fallback``).

Labels are mapped as browsers do (WHATWG): ``iso-8859-1``/``latin1``/``ascii`` mean
windows-1252, ``utf8`` is UTF-8, etc.; an unknown label is skipped, never an error.

Extraction (``extract_text``): ``resiliparse`` (default; all visible text, block elements
on their own lines) or ``trafilatura`` (main content only). The result is laid out as a WET
record body: one block per line, every line stripped, blank lines dropped.
"""

from __future__ import annotations

import codecs
import re
from typing import Optional

EXTRACTORS = ("resiliparse", "trafilatura")
DEFAULT_EXTRACTOR = "resiliparse"
META_SNIFF_BYTES = 4096

# WHATWG encoding labels whose browser meaning differs from Python's codec of that name.
_WHATWG_OVERRIDES = {
    "iso-8859-1": "cp1252", "iso8859-1": "cp1252", "iso_8859-1": "cp1252", "latin1": "cp1252",
    "latin-1": "cp1252", "l1": "cp1252", "us-ascii": "cp1252", "ascii": "cp1252",
    "iso-8859-9": "cp1254", "iso8859-9": "cp1254", "latin5": "cp1254",
    "tis-620": "cp874", "iso-8859-11": "cp874", "iso8859-11": "cp874",
    "x-sjis": "shift_jis", "gb2312": "gb18030", "gbk": "gb18030", "x-gbk": "gb18030",
    "utf8": "utf-8", "unicode-1-1-utf-8": "utf-8", "x-user-defined": "cp1252",
}
_CHARSET_PARAM = re.compile(rb"""charset\s*=\s*["']?\s*([A-Za-z0-9_.:\-]+)""", re.IGNORECASE)
_META = re.compile(rb"<meta\b[^>]*>", re.IGNORECASE)


class ExtractorUnavailable(RuntimeError):
    pass


def normalize_charset(label) -> Optional[str]:
    """A Python codec name for a charset label, or None if unknown (never raises)."""
    if not label:
        return None
    if isinstance(label, bytes):
        label = label.decode("ascii", "ignore")
    label = label.strip().strip("\"'").lower()
    label = _WHATWG_OVERRIDES.get(label, label)
    try:
        name = codecs.lookup(label).name
    except (LookupError, ValueError):
        return None
    if name in ("utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "utf-32-be"):
        return None  # declared in an ASCII-compatible document: a lie (HTML spec); BOM handles real ones
    return name


def http_charset(content_type: Optional[str]) -> Optional[str]:
    if not content_type:
        return None
    m = _CHARSET_PARAM.search(content_type.encode("latin-1", "ignore"))
    return normalize_charset(m.group(1)) if m else None


def meta_charset(head: bytes) -> Optional[str]:
    """The charset of the first <meta> tag that declares one (in ``head``)."""
    for tag in _META.finditer(head[:META_SNIFF_BYTES]):
        m = _CHARSET_PARAM.search(tag.group(0))
        if m:
            name = normalize_charset(m.group(1))
            if name:
                return name
    return None


def detect_charset(body: bytes) -> Optional[str]:
    try:
        from resiliparse.parse.encoding import detect_encoding

        return normalize_charset(detect_encoding(body))
    except ImportError:
        pass
    try:
        from charset_normalizer import from_bytes

        best = from_bytes(body[:65536]).best()
        return normalize_charset(best.encoding) if best else None
    except ImportError:
        return None


def _bom(body: bytes) -> Optional[str]:
    if body.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if body.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    return None


def decode_html(body: bytes, content_type: Optional[str] = None) -> tuple[str, str]:
    """(text, source) where source is bom, http, meta, detected, utf-8 or fallback."""
    candidates = (
        ("bom", lambda: _bom(body)),
        ("http", lambda: http_charset(content_type)),
        ("meta", lambda: meta_charset(body)),
        ("detected", lambda: detect_charset(body)),
        ("utf-8", lambda: "utf-8"),
    )
    tried = set()
    for source, get in candidates:
        try:
            encoding = get()
        except Exception:  # noqa: BLE001 - a detector's bug must not stop the run
            continue
        if not encoding or encoding in tried:
            continue
        tried.add(encoding)
        try:
            return body.decode(encoding), source
        except (UnicodeDecodeError, LookupError):
            continue
    return body.decode("utf-8", errors="replace"), "fallback"


def wet_lines(text: str) -> str:
    """One block per line as in a WET record: lines stripped, blank lines dropped."""
    return "\n".join(s for s in (line.strip() for line in text.splitlines()) if s)


def _resiliparse(html: str) -> str:
    try:
        from resiliparse.extract.html2text import extract_plain_text
    except ImportError as e:
        raise ExtractorUnavailable(
            "the resiliparse extractor needs the resiliparse package: pip install resiliparse==2.0.1") from e
    return extract_plain_text(html, preserve_formatting=True, main_content=False, list_bullets=False,
                              alt_texts=False, links=False, form_fields=False, noscript=False)


def _trafilatura(html: str) -> str:
    try:
        import trafilatura
    except ImportError as e:
        raise ExtractorUnavailable(
            "the trafilatura extractor needs trafilatura: pip install 'c4forge[trafilatura]' "
            "(trafilatura==2.3.1)") from e
    return trafilatura.extract(html, include_comments=False, include_tables=True, favor_recall=True,
                               deduplicate=False, with_metadata=False, output_format="txt") or ""


_EXTRACT = {"resiliparse": _resiliparse, "trafilatura": _trafilatura}


def check_extractor(name: str) -> None:
    """Raises ValueError (unknown) or ExtractorUnavailable (not installed) up front."""
    if name not in _EXTRACT:
        raise ValueError(f"unknown HTML extractor {name!r}; choose from {', '.join(EXTRACTORS)}")
    _EXTRACT[name]("<html><body><p>x</p></body></html>")


def extract_text(html: str, extractor: str = DEFAULT_EXTRACTOR) -> str:
    """Visible text of an HTML document, one block per line (WET layout)."""
    return wet_lines(_EXTRACT[extractor](html))
