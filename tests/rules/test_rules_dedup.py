"""Global line dedup (TFDS ``remove_duplicate_text``, c4_reference.md 4.2) with the pure
functions: pass 1 ``owner_records``, pass 2 ``pick_line_owners`` (smallest owner key), pass 3
``remove_duplicate_lines``."""

from __future__ import annotations

import hashlib
import random
from collections import Counter

import pytest

from c4forge.cleaning_rules import dedup, lines
from c4forge.cleaning_rules.counters import DEDUPE_LINES
from c4forge.cleaning_rules.page import Page
from c4forge.cleaning_rules.sentences import count_sentences, has_at_least_sentences
from c4forge.cleaning_rules.urls import normalize_url


@pytest.fixture(params=["compiled", "python"], autouse=True)
def line_hash_path(request, monkeypatch):
    """Every test here runs with the compiled line hashes (``lines_compiled.c``) and with
    line_hash_unicode per line (an install without a C compiler)."""
    if request.param == "python":
        monkeypatch.setattr(dedup, "compiled_line_hashes", None)
    elif dedup.compiled_line_hashes is None:
        pytest.skip("the compiled line rules are not built in this install (no C compiler at pip install)")
    return request.param


# md5 order of these URLs: echo < delta < charlie < alpha < foxtrot < bravo
ECHO, DELTA, CHARLIE, ALPHA, FOXTROT, BRAVO = (
    f"https://pages.example/{n}" for n in ("echo", "delta", "charlie", "alpha", "foxtrot", "bravo"))


def md5hex(s: str) -> str:
    return hashlib.md5(s.encode("utf-8")).hexdigest()


def run_dedup(pages, min_num_sentences=3, local_dedup=True, line_hash=dedup.line_hash_unicode,
              owner_of=lambda p: p.url, shards=1):
    """The passes, the way the Beam graph wires them; returns (kept pages, dedupe counters)."""
    by_line_shard: dict[int, list[bytes]] = {}
    for page in pages:
        records = dedup.owner_records(dedup.line_hashes(page.text, line_hash), dedup.owner_key(owner_of(page)))
        for shard, blob in dedup.split_records(records, shards, by="line").items():
            by_line_shard.setdefault(shard, []).append(blob)
    winners = [dedup.pick_line_owners(b"".join(blobs)) for blobs in by_line_shard.values()]
    owned_by_key = dedup.owned_lines(winners)
    owned = {owner_of(p): owned_by_key.get(dedup.owner_key(owner_of(p)), set()) for p in pages}
    counters: Counter = Counter()
    kept = []
    for page in pages:
        out = dedup.remove_duplicate_lines(page, owned.get(owner_of(page), set()), counters,
                                           min_num_sentences, local_dedup, line_hash)
        if out is not None:
            kept.append(out)
    prefix = DEDUPE_LINES + "/"
    return kept, {k[len(prefix):]: v for k, v in counters.items() if k.startswith(prefix)}


def test_url_md5_order_used_below():
    assert sorted([ECHO, DELTA, CHARLIE, ALPHA, FOXTROT, BRAVO], key=md5hex) == [
        ECHO, DELTA, CHARLIE, ALPHA, FOXTROT, BRAVO]


# --- TFDS test_remove_duplicate_text, restated ------------------------------------

def test_tfds_case_remove_duplicate_text():
    pages = [
        Page(url=ECHO, text=(
            "We all share this repeated line.\n"
            "Only the first page has this line.\n"
            "The first page owns the shared line so it keeps it.\n"
            "A line repeated inside this page is kept only once.\n"
            "Some other sentence sits between the repeats.\n"
            "A line repeated inside this page is kept only once.\n"
            "a LINE repeated Inside this page is KEPT only once. ")),
        Page(url=DELTA, text=(
            "Only the second page has this line.\n"
            "The second page loses the shared line despite other capitals.\n"
            "we all SHARE this repeated line. ")),
        Page(url=CHARLIE, text=(
            "Only the third page has this line.\n"
            "We all share this repeated line.\n"
            "The third page loses the shared line. It stays with three sentences left.")),
        Page(url=ALPHA, text=(
            "Only the fourth page has this line.\n"
            "We all share this repeated line.\n"
            "The fourth page loses the shared line and then has too few sentences.")),
    ]
    kept, counters = run_dedup(pages)
    assert kept == [
        Page(url=ECHO, text=(
            "We all share this repeated line.\n"
            "Only the first page has this line.\n"
            "The first page owns the shared line so it keeps it.\n"
            "A line repeated inside this page is kept only once.\n"
            "Some other sentence sits between the repeats.")),
        Page(url=CHARLIE, text=(
            "Only the third page has this line.\n"
            "The third page loses the shared line. It stays with three sentences left.")),
    ]
    assert counters == {
        "line-passed": 11,
        "line-filtered:local_duplicate": 2,
        "line-filtered:global_duplicate": 3,
        "filtered:too_few_sentences": 2,
        "passed": 2,
    }


def test_result_independent_of_page_order():
    pages = [
        Page(url=u, text=f"Shared line one.\nShared line two.\nPage {u} has its own line. Yes it does. Really.")
        for u in (ALPHA, BRAVO, CHARLIE, DELTA, ECHO, FOXTROT)
    ]
    ref = run_dedup(pages)
    rng = random.Random(7)
    for _ in range(5):
        shuffled = pages[:]
        rng.shuffle(shuffled)
        kept, counters = run_dedup(shuffled)
        assert sorted(kept, key=lambda p: p.url) == sorted(ref[0], key=lambda p: p.url)
        assert counters == ref[1]
    owner = [p for p in ref[0] if p.text.startswith("Shared line one.")]
    assert [p.url for p in owner] == [ECHO]


# --- hashing ---------------------------------------------------------------------------

def test_line_hash_unicode_is_md5_of_stripped_lowercased_utf8():
    assert dedup.line_hash_unicode("  Hello World. \t") == hashlib.md5(b"hello world.").digest()
    assert dedup.line_hash_unicode("\u00a0\u00c9COLE\u3000") == hashlib.md5("école".encode()).digest()
    assert dedup.line_hash_unicode("STRASSE") != dedup.line_hash_unicode("straße")


def test_line_hash_bytes_2_2_0_is_ascii_only():
    assert dedup.line_hash_bytes("  Hello World. \t") == hashlib.md5(b"hello world.").digest()
    # non-ASCII capitals are not lower-cased, non-ASCII spaces are not stripped
    assert dedup.line_hash_bytes("\u00c9COLE") == hashlib.md5("\u00c9cole".encode()).digest()
    assert dedup.line_hash_bytes("\u00c9COLE") != dedup.line_hash_unicode("\u00c9COLE")
    assert dedup.line_hash_bytes("x\u00a0") != dedup.line_hash_bytes("x")
    assert dedup.line_hash_unicode("x\u00a0") == dedup.line_hash_unicode("x")
    assert dedup.LINE_HASHES == {"unicode": dedup.line_hash_unicode, "bytes": dedup.line_hash_bytes}


def test_non_ascii_uppercase_line_is_a_duplicate_only_with_unicode_hashing():
    own = "Every page here has its own first line. And a second sentence. And a third."
    a = Page(url=ECHO, text="\u00c9COLE PRIMAIRE DU CENTRE.\n" + own)
    b = Page(url=DELTA, text="\u00e9cole primaire du centre.\n" + own.replace("Every", "Each"))
    kept, counters = run_dedup([a, b], line_hash=dedup.line_hash_unicode)
    assert [p.text for p in kept] == [a.text, own.replace("Every", "Each")]
    assert counters["line-filtered:global_duplicate"] == 1
    kept, counters = run_dedup([a, b], line_hash=dedup.line_hash_bytes)
    assert [p.text for p in kept] == [a.text, b.text]
    assert "line-filtered:global_duplicate" not in counters


def test_distinct_line_hashes_of_a_page():
    hs = set(dedup.line_hashes("A.\na.\n A. \nB."))
    assert hs == {dedup.line_hash_unicode("a."), dedup.line_hash_unicode("b.")}
    assert set(dedup.line_hashes("A.\na.", dedup.line_hash_bytes)) == {hashlib.md5(b"a.").digest()}


# --- owner choice ----------------------------------------------------------------------

def test_owner_key_is_md5_of_url_and_orders_like_hex():
    rng = random.Random(3)
    urls = [f"https://{rng.randrange(10**9)}.example/{rng.random()}" for _ in range(300)]
    assert all(dedup.owner_key(u) == hashlib.md5(u.encode()).digest() for u in urls[:5])
    assert sorted(urls, key=dedup.owner_key) == sorted(urls, key=md5hex)


def test_owner_records_one_per_distinct_line():
    page = Page(url=ALPHA, text="Same.\nsame.\nOther.")
    hashes = dedup.line_hashes(page.text)
    assert hashes == [dedup.line_hash_unicode(x) for x in ("same.", "same.", "other.")]
    records = dedup.owner_records(hashes, dedup.owner_key(ALPHA))
    assert len(records) == 2 * dedup.RECORD_BYTES
    pairs = {(records[i:i + 16], records[i + 16:i + 32]) for i in range(0, len(records), 32)}
    assert pairs == {(dedup.line_hash_unicode(x), dedup.owner_key(ALPHA)) for x in ("same.", "other.")}


def _records(pairs):
    return b"".join(h + o for h, o in pairs)


def test_pick_line_owners_smallest_owner_key_per_line():
    urls = (ALPHA, BRAVO, CHARLIE, DELTA, ECHO, FOXTROT)
    shared, alone = dedup.line_hash_unicode("shared."), dedup.line_hash_unicode("alone.")
    pairs = [(shared, dedup.owner_key(u)) for u in urls] + [(alone, dedup.owner_key(BRAVO))]
    for seed in range(5):
        random.Random(seed).shuffle(pairs)
        winners = dedup.pick_line_owners(_records(pairs))
        assert dedup.owned_lines([winners]) == {dedup.owner_key(ECHO): {shared}, dedup.owner_key(BRAVO): {alone}}
    assert dedup.pick_line_owners(b"") == b""
    with pytest.raises(ValueError, match="32-byte"):
        dedup.pick_line_owners(b"x" * 33)


def test_pick_line_owners_equals_min_by_bytes_on_random_records():
    """Digests that share prefixes and differ in any byte (high bits set or not): the winner of
    each hash is its smallest owner by unsigned bytes, and the winners come sorted by hash."""
    rng = random.Random(1204)

    def digest(pool):
        base = bytearray(rng.choice(pool))
        base[rng.randrange(16)] = rng.randrange(256)
        return bytes(base)

    prefixes = [bytes(rng.randrange(256) for _ in range(16)) for _ in range(6)]
    for _ in range(200):
        pairs = [(digest(prefixes), digest(prefixes)) for _ in range(rng.randrange(1, 120))]
        best: dict[bytes, bytes] = {}
        for h, o in pairs:
            best[h] = min(best.get(h, o), o)
        assert dedup.pick_line_owners(_records(pairs)) == b"".join(h + best[h] for h in sorted(best))
    with pytest.raises(ValueError, match="32-byte"):
        dedup.pick_line_owners(b"x" * 33)


def test_pick_line_owners_compares_whole_digests():
    # same first 8 bytes: the owner is decided by the second half of the key
    h = bytes(16)
    low, high = bytes(8) + bytes([0] * 7 + [1]), bytes(8) + bytes([0] * 7 + [2])
    assert dedup.pick_line_owners(_records([(h, high), (h, low)])) == h + low
    other = bytes(8) + bytes([0] * 7 + [9])  # a different line hash sharing the first 8 bytes
    assert set(dedup.owned_lines([dedup.pick_line_owners(_records([(h, high), (other, high), (h, low)]))])) == {low, high}



def test_owned_lines_groups_records_of_many_blobs_by_owner():
    # owners and hashes sharing a first half, or ending in zero bytes, stay whole
    rng = random.Random(3)
    owners = [bytes(8) + bytes([0] * 7 + [i]) for i in range(1, 4)] + [bytes(16), bytes([7]) + bytes(15)]
    hashes = [rng.randbytes(16) for _ in range(40)] + [bytes(16), bytes(8) + bytes([1]) + bytes(7)]
    pairs = [(h, rng.choice(owners)) for h in hashes]
    expected: dict = {}
    for h, o in pairs:
        expected.setdefault(o, set()).add(h)
    blobs = [_records(pairs[i:i + 7]) for i in range(0, len(pairs), 7)] + [b""]
    assert dedup.owned_lines(blobs) == expected
    assert dedup.owned_lines([]) == {} and dedup.owned_lines([b""]) == {}
    with pytest.raises(ValueError, match="32-byte"):
        dedup.owned_lines([b"x" * 31])

def test_split_records_by_shard_of_line_or_owner():
    rng = random.Random(5)
    pairs = [(rng.randbytes(16), rng.randbytes(16)) for _ in range(500)]
    for by, col in (("line", 0), ("owner", 1)):
        parts = dedup.split_records(_records(pairs), 7, by=by)
        assert sum(len(b) for b in parts.values()) == 500 * 32
        for shard, blob in parts.items():
            for i in range(0, len(blob), 32):
                rec = (blob[i:i + 16], blob[i + 16:i + 32])
                assert dedup.shard_of(rec[col], 7) == shard


@pytest.mark.parametrize("shards", [1, 2, 7, 64])
def test_result_independent_of_shard_count(shards):
    pages = [
        Page(url=u, text=f"Shared line one.\nShared line two.\nPage {u} has its own line. Yes it does. Really.")
        for u in (ALPHA, BRAVO, CHARLIE, DELTA, ECHO, FOXTROT)
    ]
    assert run_dedup(pages, shards=shards) == run_dedup(pages, shards=1)


def test_remove_duplicate_lines_uses_given_hashes():
    page = Page(url=ALPHA, text="One line. Two. Three.\nAnother line.")
    hashes = dedup.line_hashes(page.text)
    counters = Counter()
    out = dedup.remove_duplicate_lines(page, {hashes[0]}, counters, 0, hashes=hashes)
    assert out.text == "One line. Two. Three."
    with pytest.raises(ValueError, match="hashes"):
        dedup.remove_duplicate_lines(page, {hashes[0]}, counters, 0, hashes=hashes[:1])


def test_owner_is_not_smallest_url_nor_first_page():
    # ALPHA is the smallest string and comes first, but ECHO has the smallest md5.
    text = "A line all three pages share.\nOne more. Two more. Three more."
    pages = [Page(url=ALPHA, text=text + " Alpha."), Page(url=BRAVO, text=text + " Bravo."),
             Page(url=ECHO, text=text + " Echo.")]
    kept, _ = run_dedup(pages, min_num_sentences=0)
    by_url = {p.url: p.text for p in kept}
    assert by_url[ECHO].startswith("A line all three pages share.")
    assert not by_url[ALPHA].startswith("A line all three pages share.")
    assert not by_url[BRAVO].startswith("A line all three pages share.")


def test_beam_top_per_key_reverse_picks_smallest_md5():
    combiners = pytest.importorskip("apache_beam.transforms.combiners")
    fn = combiners.TopCombineFn(1, key=md5hex, reverse=True)  # what TFDS uses
    acc = fn.create_accumulator()
    for u in (ALPHA, BRAVO, CHARLIE, DELTA, ECHO, FOXTROT):
        acc = fn.add_input(acc, u)
    assert fn.extract_output(acc) == [ECHO]
    cands = [(dedup.owner_key(u), u) for u in (ALPHA, BRAVO, CHARLIE, DELTA, ECHO, FOXTROT)]
    assert min(cands)[1] == ECHO


def test_owner_by_raw_url_3_1_0_vs_normalized_url_2_2_0():
    x = "https://www.first.example/page"
    y = "http://second.example/page"
    assert md5hex(x) < md5hex(y)
    assert md5hex(normalize_url(y)) < md5hex(normalize_url(x))
    own = " Then two. Then three."
    px = Page(url=x, normalized_url=normalize_url(x), text="The shared line.\nX starts." + own)
    py = Page(url=y, normalized_url=normalize_url(y), text="The shared line.\nY starts." + own)
    kept, _ = run_dedup([px, py])  # 3.1.0: raw URL
    assert {p.url: p.text for p in kept} == {x: px.text, y: "Y starts." + own}
    kept, _ = run_dedup([px, py], owner_of=lambda p: p.normalized_url)  # 2.2.0 / 3.0.1
    assert {p.url: p.text for p in kept} == {x: "X starts." + own, y: py.text}


# --- pass 2 alone ------------------------------------------------------------------------

def test_remove_duplicate_lines_keeps_owned_lines_unmodified():
    page = Page(url=ECHO, text=" Lead space kept. \nNot owned.\nOwned again. ")
    owned = {dedup.line_hash_unicode("lead space kept."), dedup.line_hash_unicode("owned again.")}
    counters: Counter = Counter()
    out = dedup.remove_duplicate_lines(page, owned, counters, 0)
    assert out.text == " Lead space kept. \nOwned again. "
    assert counters[f"{DEDUPE_LINES}/line-filtered:global_duplicate"] == 1
    assert counters[f"chars/{DEDUPE_LINES}/line-filtered:global_duplicate"] == len("Not owned.")


def test_local_dedup_on_and_off():
    text = "Repeat me.\nSomething else.\nREPEAT ME.\nrepeat me. "
    page = Page(url=ECHO, text=text)
    owned = set(dedup.line_hashes(text))
    counters: Counter = Counter()
    assert dedup.remove_duplicate_lines(page, owned, counters, 0).text == "Repeat me.\nSomething else."
    assert counters[f"{DEDUPE_LINES}/line-filtered:local_duplicate"] == 2
    counters = Counter()
    out = dedup.remove_duplicate_lines(page, owned, counters, 0, local_dedup=False)
    assert out.text == text  # c4 2.2.x: both copies survive in the owner page
    assert counters[f"{DEDUPE_LINES}/line-passed"] == 4


def test_page_left_empty_is_dropped():
    counters: Counter = Counter()
    assert dedup.remove_duplicate_lines(Page(url=ECHO, text="A.\nB."), set(), counters, 0) is None
    assert counters == Counter({f"{DEDUPE_LINES}/line-filtered:global_duplicate": 2,
                                f"chars/{DEDUPE_LINES}/line-filtered:global_duplicate": 4,
                                f"{DEDUPE_LINES}/filtered:empty": 1})


def test_min_sentences_zero_skips_punkt():
    counters: Counter = Counter()
    page = Page(url=ECHO, text="no end mark at all")
    out = dedup.remove_duplicate_lines(page, set(dedup.line_hashes(page.text)), counters, 0)
    assert out == page
    counters = Counter()
    assert dedup.remove_duplicate_lines(page, set(dedup.line_hashes(page.text)), counters, 3) is None
    assert counters[f"{DEDUPE_LINES}/filtered:too_few_sentences"] == 1


def test_post_dedupe_threshold_counts_sentences_on_joined_text():
    # Per line (clean_page): 1 + 1 + 1 = 3 sentences. Joined with "\n", Punkt sees no
    # boundary after the closing quote, so lines 1 and 2 merge: 2 sentences.
    page_lines = ['Then she said "we are leaving now"', "Everyone stood up and left.",
                  "Nobody came back after that."]
    text = "\n".join(page_lines)
    assert [count_sentences(l) for l in page_lines] == [1, 1, 1]
    assert count_sentences(text) == 2
    cleaned = lines.clean_page(Page(url=ECHO, text=text), lines.CleaningRules(), Counter())
    assert cleaned is not None and cleaned.text == text
    kept, counters = run_dedup([cleaned])
    assert kept == []
    assert counters == {"line-passed": 3, "filtered:too_few_sentences": 1}
    kept, counters = run_dedup([cleaned], min_num_sentences=2)
    assert [p.text for p in kept] == [text]


def test_dedup_across_pages_then_threshold():
    # the 2-lines-2-sentences page is dropped, the 3-sentence one stays
    shared = "This line is on both pages."
    a = Page(url=ECHO, text=f"{shared}\nFirst page line.")
    b = Page(url=DELTA, text=f"{shared}\nSecond page, first sentence. Second sentence here. Third one.")
    c = Page(url=CHARLIE, text=f"{shared}\nThird page line one.\nThird page line two.")
    kept, counters = run_dedup([a, b, c])
    assert [p.url for p in kept] == [DELTA]
    assert kept[0].text == "Second page, first sentence. Second sentence here. Third one."
    assert counters == {"line-passed": 5, "line-filtered:global_duplicate": 2,
                        "filtered:too_few_sentences": 2, "passed": 1}


# --- the compiled line hashes -----------------------------------------------------------------

def per_line_hashes(text: str) -> list[bytes]:
    return [dedup.line_hash_unicode(line) for line in text.split(dedup.LINE_DELIMITER)]


@pytest.mark.parametrize("line_hash_path", ["compiled"], indirect=True)
def test_compiled_line_hashes_on_every_code_point(line_hash_path):
    """Each code point (but lone surrogates, which UTF-8 cannot encode) inside a line, at its
    ends and alone, with ASCII upper case around it: strip, lower and UTF-8 as CPython's, in str
    objects of each width (a chunk's widest code point decides)."""
    chunk = 4096
    for first in range(0, 0x110000, chunk):
        chars = [chr(c) for c in range(first, min(first + chunk, 0x110000)) if not 0xD800 <= c < 0xE000]
        for template in ("Ab{}Cd", " {}WORD{} ", "{}", "\tX{}"):
            text = "\n".join(template.format(c, c) for c in chars)
            assert dedup.line_hashes(text) == per_line_hashes(text)
            latin = "\n".join(template.format(c, c) for c in map(chr, range(256)) if c != "\n")
            assert dedup.line_hashes(latin + text) == per_line_hashes(latin + text)


@pytest.mark.parametrize("line_hash_path", ["compiled"], indirect=True)
def test_compiled_line_hashes_edges(line_hash_path):
    """Empty lines and texts, MD5's padding around 55/56 and 119/120 bytes (ASCII and two-byte
    UTF-8), sigma's context rule, dotted capital I, random mixes."""
    for text in ("", "\n", "\n\n", "a\n", "\na", " \u00a0\t", "\u0130stanbul\n\u03a3\u03a3 \u03a3", "x" * 100_000,
                 "\n".join(c * n for c in ("A", "\u00c9") for n in (27, 28, 55, 56, 63, 64, 119, 120))):
        assert dedup.line_hashes(text) == per_line_hashes(text), text[:40]
    rng = random.Random(1204)
    alphabet = "aZ \t\r\n.\u00e9\u00c9\u00b5\u00ff\u2019\u0130\u03a3\U0001f600\x1c\x85\u2028"
    for _ in range(2000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 200)))
        assert dedup.line_hashes(text) == per_line_hashes(text), repr(text)


@pytest.mark.parametrize("line_hash_path", ["compiled"], indirect=True)
def test_compiled_line_hashes_raise_as_utf8_does(line_hash_path):
    with pytest.raises(UnicodeEncodeError):
        per_line_hashes("ok\nlone \ud800 surrogate")
    with pytest.raises(UnicodeEncodeError):
        dedup.line_hashes("ok\nlone \ud800 surrogate")
    with pytest.raises(TypeError):
        dedup.line_hashes(b"bytes")


@pytest.mark.parametrize("line_hash_path", ["compiled"], indirect=True)
def test_compiled_line_hashes_on_the_real_web_pages(line_hash_path, realweb_wet_pages):
    for page in realweb_wet_pages:
        for text in (page.text, page.text.upper()):
            assert dedup.line_hashes(text) == per_line_hashes(text)


def remove_duplicate_lines_line_by_line(page, owned, min_num_sentences, local_dedup):
    """remove_duplicate_lines as TFDS's _remove_lines_from_text reads: line by line, counted."""
    counters = Counter()
    kept, seen = [], set()
    for line in page.text.split("\n"):
        h = dedup.line_hash_unicode(line)
        if h not in owned:
            counters["dedupe-lines/line-filtered:global_duplicate"] += 1
            counters["chars/dedupe-lines/line-filtered:global_duplicate"] += len(line)
        elif local_dedup and h in seen:
            counters["dedupe-lines/line-filtered:local_duplicate"] += 1
            counters["chars/dedupe-lines/line-filtered:local_duplicate"] += len(line)
        else:
            kept.append(line)
            seen.add(h)
    counters["dedupe-lines/line-passed"] += len(kept)
    text = "\n".join(kept)
    if not text:
        counters["dedupe-lines/filtered:empty"] += 1
        return None, +counters
    if min_num_sentences and not has_at_least_sentences(text, min_num_sentences):
        counters["dedupe-lines/filtered:too_few_sentences"] += 1
        counters["chars/dedupe-lines/filtered:too_few_sentences"] += len(text)
        return None, +counters
    counters["dedupe-lines/passed"] += 1
    return page.replace(text=text), +counters


def test_remove_duplicate_lines_whole_pages_and_pages_with_duplicates_as_line_by_line():
    rng = random.Random(5)
    lines = ["One line here.", "Another LINE here.", "another line here.", "", "  padded line.  ", "Ünïcode line.",
             "Last one!"]
    for _ in range(3000):
        page = Page(url="http://x.example/", text="\n".join(rng.choice(lines) for _ in range(rng.randint(1, 6))))
        hashes = {dedup.line_hash_unicode(line) for line in lines}
        owned = set(rng.sample(sorted(hashes), rng.randint(0, len(hashes))))
        for local_dedup in (True, False):
            for min_num_sentences in (0, 2):
                counters = Counter()
                got = dedup.remove_duplicate_lines(page, owned, counters, min_num_sentences, local_dedup)
                assert (got, +counters) == remove_duplicate_lines_line_by_line(
                    page, owned, min_num_sentences, local_dedup), (page.text, local_dedup)
