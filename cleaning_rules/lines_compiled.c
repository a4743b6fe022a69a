/* C4's line rules over a whole page, compiled: lines.py's judge_line applied to every line of
   text.splitlines(), stripped, in TFDS order (lines.py; TFDS c4_utils.clean_page):

     too long word (a word of the stripped line longer than max_word_length; -1 = no limit)
     citations removed (the line holds "[": the `remove_citations` callable given, Python's regex)
     no end mark (not ending in . ? ! " or ending in ...)
     too short (fewer than min_words words)
     then on the lower-cased line: "lorem ipsum" (page), "javascript" (line), "{" (page, on the
     line itself), a policy phrase (line); else the line is kept.

   judge_lines(text, min_words, max_word_length, remove_citations)
     -> (kept lines, [lines, raw chars] per line reason, page reason, raw chars before the stop,
         raw chars of the kept lines)
   Line reasons in this order: too_long_word, no_endmark, too_short, javascript, policy.
   Page reason: 0 none, 1 lorem ipsum, 2 curly bracket; judging stops at that line, and "raw
   chars before the stop" sums the raw lines before it (all lines when there is none).

   line_hashes(text) -> [md5 of line.strip().lower() in UTF-8 for each line of text.split("\n")]:
   line dedup's hashes (dedup.line_hash_unicode). Lines of code points below U+10000 are
   lower-cased by tables of str.lower() of each (below 256 filled at import, the rest when a
   text first needs them) and encoded here; a line holding U+0130, capital sigma (whose lower
   case depends on its neighbours), a surrogate or a code point beyond U+FFFF by str.lower()
   and CPython's UTF-8 encoder.

   plain_wet_block(text) -> True when every line of text.split("\n") is non-empty, its own
   strip() and starts with none of "WARC", "CONTENT-", "Content-": a WET body block that
   wet.py's parser may add to a page as one text (what its regex and strip checks find).

   plain_wet_block_utf8(data) -> the number of code points of data.decode() when that text is a
   plain_wet_block and holds no "\r" (so universal newlines leave it as it is), else -1. data must
   be valid UTF-8 (a body of a file the strict check passed); the code points next to each "\n"
   and at the ends are decoded to be judged.

   CPython's own rules decide what a line break, a space and a lower-case letter are:
   Py_UNICODE_ISLINEBREAK (str.splitlines, "\r\n" one break), Py_UNICODE_ISSPACE (str.strip,
   str.split), and str.lower(), either called or as tables the import fills and checks from it.
   The tests compare this with lines.py's per-rule functions (and those with TFDS's clean_page)
   and with hashlib. */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

enum { TOO_LONG_WORD, NO_ENDMARK, TOO_SHORT, JAVASCRIPT, POLICY, N_LINE_REASONS };
enum { PAGE_KEPT, PAGE_LOREM_IPSUM, PAGE_CURLY_BRACKET };

#define N_POLICY 6
static const char *const POLICY_PHRASES[N_POLICY] = {
    "terms of use", "privacy policy", "cookie policy", "uses cookies", "use of cookies", "use cookies",
};
static const char LOREM_IPSUM[] = "lorem ipsum";
static const char JAVASCRIPT_WORD[] = "javascript";

/* The same phrases as str objects, for lines lower-cased by str.lower(). */
static PyObject *policy_objects[N_POLICY], *lorem_object, *javascript_object, *lower_name;

typedef struct {  /* a stretch of a str's code points */
    int kind;
    const void *data;
    Py_ssize_t start, end;
} View;

static inline Py_UCS4
at(const View *v, Py_ssize_t i)
{
    return PyUnicode_READ(v->kind, v->data, i);
}

static inline int
is_end_mark(Py_UCS4 ch)
{
    return ch == '.' || ch == '?' || ch == '!' || ch == '"';
}

static inline int
lacks_end_mark(const View *v)
{
    Py_ssize_t n = v->end - v->start;
    if (n == 0 || !is_end_mark(at(v, v->end - 1)))
        return 1;
    return n >= 3 && at(v, v->end - 1) == '.' && at(v, v->end - 2) == '.' && at(v, v->end - 3) == '.';
}

/* len(line.split()) capped at limit. */
static Py_ssize_t
words_up_to(const View *v, Py_ssize_t limit)
{
    Py_ssize_t count = 0;
    int in_word = 0;
    for (Py_ssize_t i = v->start; i < v->end && count < limit; i++) {
        if (Py_UNICODE_ISSPACE(at(v, i)))
            in_word = 0;
        else if (!in_word) {
            in_word = 1;
            count++;
        }
    }
    return count;
}

static int
has_word_longer_than(const View *v, Py_ssize_t max_length)
{
    if (v->end - v->start <= max_length)
        return 0;
    Py_ssize_t run = 0;
    for (Py_ssize_t i = v->start; i < v->end; i++) {
        if (Py_UNICODE_ISSPACE(at(v, i)))
            run = 0;
        else if (++run > max_length)
            return 1;
    }
    return 0;
}

static int
holds(const View *v, Py_UCS4 wanted)
{
    for (Py_ssize_t i = v->start; i < v->end; i++)
        if (at(v, i) == wanted)
            return 1;
    return 0;
}

typedef struct {  /* a scratch buffer for lower-cased lines */
    char *data;
    Py_ssize_t cap;
} Scratch;

/* The buffer, grown to hold `bytes`; NULL (MemoryError set) when it cannot. */
static char *
reserve(Scratch *scratch, Py_ssize_t bytes)
{
    if (bytes > scratch->cap || scratch->data == NULL) {
        Py_ssize_t size = bytes > 0 ? bytes : 1;  /* never NULL for an empty line */
        char *grown = PyMem_Realloc(scratch->data, (size_t)size);
        if (grown == NULL) {
            PyErr_NoMemory();
            return NULL;
        }
        scratch->data = grown;
        scratch->cap = size;
    }
    return scratch->data;
}

/* str.lower() of text[start:end], a new reference; NULL on error. */
static PyObject *
lower_of(PyObject *text, Py_ssize_t start, Py_ssize_t end)
{
    PyObject *line = PyUnicode_Substring(text, start, end);
    if (line == NULL)
        return NULL;
    PyObject *lower = PyObject_CallMethodNoArgs(line, lower_name);
    Py_DECREF(line);
    return lower;
}

/* [start, end) narrowed as str.strip() narrows it. */
static inline __attribute__((always_inline)) void
strip(int kind, const void *data, Py_ssize_t *start, Py_ssize_t *end)
{
    while (*start < *end && Py_UNICODE_ISSPACE(PyUnicode_READ(kind, data, *start)))
        (*start)++;
    while (*end > *start && Py_UNICODE_ISSPACE(PyUnicode_READ(kind, data, *end - 1)))
        (*end)--;
}

static int
found(const char *haystack, Py_ssize_t n, const char *needle)
{
    size_t m = strlen(needle);
    return (size_t)n >= m && memmem(haystack, (size_t)n, needle, m) != NULL;
}

/* Whether every code point's str.lower() holds no ASCII letter but these two, as the import
   checks on this interpreter (then ASCII phrases are looked for in a byte copy of the line,
   else in str.lower() of it). */
#define KELVIN_SIGN 0x212A       /* lower-cases to "k" */
#define DOTTED_CAPITAL_I 0x130   /* lower-cases to "i" + U+0307 */
#define NOT_ASCII 0x80
static int lower_by_table, lower_checked;

static int
check_lower_by_table(void)
{
    Py_ssize_t n = 0x110000 - 128;
    PyObject *all = PyUnicode_New(n, 0x10FFFF);
    if (all == NULL)
        return -1;
    for (Py_ssize_t i = 0; i < n; i++)
        PyUnicode_WRITE(PyUnicode_4BYTE_KIND, PyUnicode_DATA(all), i, (Py_UCS4)(128 + i));
    PyObject *lower = PyObject_CallMethodNoArgs(all, lower_name);
    Py_DECREF(all);
    if (lower == NULL)
        return -1;
    char ascii[3] = {0};
    Py_ssize_t ascii_count = 0;
    int kind = PyUnicode_KIND(lower);
    const void *data = PyUnicode_DATA(lower);
    for (Py_ssize_t i = 0; i < PyUnicode_GET_LENGTH(lower); i++) {
        Py_UCS4 ch = PyUnicode_READ(kind, data, i);
        if (ch < 128 && ascii_count < 3)
            ascii[ascii_count++] = (char)ch;
    }
    Py_DECREF(lower);
    PyObject *kelvin = PyUnicode_FromOrdinal(KELVIN_SIGN), *dotted = PyUnicode_FromOrdinal(DOTTED_CAPITAL_I);
    PyObject *kelvin_lower = kelvin ? PyObject_CallMethodNoArgs(kelvin, lower_name) : NULL;
    PyObject *dotted_lower = dotted ? PyObject_CallMethodNoArgs(dotted, lower_name) : NULL;
    Py_XDECREF(kelvin);
    Py_XDECREF(dotted);
    if (kelvin_lower == NULL || dotted_lower == NULL) {
        Py_XDECREF(kelvin_lower);
        Py_XDECREF(dotted_lower);
        return -1;
    }
    lower_by_table = lower_checked = ascii_count == 2 && ascii[0] == 'i' && ascii[1] == 'k'
        && PyUnicode_CompareWithASCIIString(kelvin_lower, "k") == 0
        && PyUnicode_GET_LENGTH(dotted_lower) == 2 && PyUnicode_READ_CHAR(dotted_lower, 0) == 'i'
        && PyUnicode_READ_CHAR(dotted_lower, 1) >= 128;
    Py_DECREF(kelvin_lower);
    Py_DECREF(dotted_lower);
    return 0;
}

/* Which phrases the lower-cased line holds: bit 0 lorem ipsum, bit 1 javascript, bit 2 a
   policy phrase; -1 on error. `source` is the str the view is a stretch of. */
static int
lower_case_phrases(const View *v, PyObject *source, Scratch *scratch)
{
    Py_ssize_t n = v->end - v->start;
    int by_table = lower_by_table;
    if (!by_table) {  /* then only ASCII lines */
        by_table = 1;
        for (Py_ssize_t i = v->start; i < v->end && by_table; i++)
            by_table = at(v, i) < 128;
    }
    int phrases = 0;
    if (by_table) {
        char *low = reserve(scratch, 2 * n);
        if (low == NULL)
            return -1;
        Py_ssize_t m = 0;
        for (Py_ssize_t i = v->start; i < v->end; i++) {
            Py_UCS4 ch = at(v, i);
            if (ch < 128)
                low[m++] = (char)(ch >= 'A' && ch <= 'Z' ? ch + 32 : ch);
            else if (ch == KELVIN_SIGN)
                low[m++] = 'k';
            else if (ch == DOTTED_CAPITAL_I) {
                low[m++] = 'i';
                low[m++] = (char)NOT_ASCII;
            } else
                low[m++] = (char)NOT_ASCII;
        }
        if (found(low, m, LOREM_IPSUM))
            phrases |= 1;
        if (found(low, m, JAVASCRIPT_WORD))
            phrases |= 2;
        /* Every policy phrase holds one of these (as lines.mentions_policy). */
        if (found(low, m, "policy") || found(low, m, "cookies") || found(low, m, "terms of use"))
            for (int k = 0; k < N_POLICY; k++)
                if (found(low, m, POLICY_PHRASES[k])) {
                    phrases |= 4;
                    break;
                }
        return phrases;
    }
    PyObject *lower = lower_of(source, v->start, v->end);
    if (lower == NULL)
        return -1;
    int hit;
    if ((hit = PyUnicode_Contains(lower, lorem_object)) < 0)
        goto error;
    phrases |= hit;
    if ((hit = PyUnicode_Contains(lower, javascript_object)) < 0)
        goto error;
    phrases |= hit << 1;
    for (int k = 0; k < N_POLICY; k++) {
        if ((hit = PyUnicode_Contains(lower, policy_objects[k])) < 0)
            goto error;
        if (hit) {
            phrases |= 4;
            break;
        }
    }
    Py_DECREF(lower);
    return phrases;
error:
    Py_DECREF(lower);
    return -1;
}

typedef struct {
    Py_ssize_t lines[N_LINE_REASONS], chars[N_LINE_REASONS];
    Py_ssize_t kept_raw_chars;
    PyObject *kept;
} Tally;

enum { LINE_REMOVED, LINE_KEPT, PAGE_REMOVED };

/* judge_line on the stripped line [start, end) of text (a raw line of raw_length chars). */
static int
judge(PyObject *text, Py_ssize_t start, Py_ssize_t end, Py_ssize_t raw_length,
      Py_ssize_t min_words, Py_ssize_t max_word_length, PyObject *remove_citations,
      Scratch *scratch, Tally *tally, int *page_reason)
{
    View v = {PyUnicode_KIND(text), PyUnicode_DATA(text), start, end};
    PyObject *line = NULL;  /* the line as a str, once one is needed */
    int reason = -1, result = LINE_REMOVED;
    if (max_word_length >= 0 && has_word_longer_than(&v, max_word_length)) {
        reason = TOO_LONG_WORD;
        goto done;
    }
    if (holds(&v, '[')) {
        PyObject *raw = PyUnicode_Substring(text, start, end);
        if (raw == NULL)
            return -1;
        line = PyObject_CallOneArg(remove_citations, raw);
        Py_DECREF(raw);
        if (line == NULL)
            return -1;
        if (!PyUnicode_Check(line)) {
            PyErr_SetString(PyExc_TypeError, "remove_citations must return a str");
            Py_DECREF(line);
            return -1;
        }
        v = (View){PyUnicode_KIND(line), PyUnicode_DATA(line), 0, PyUnicode_GET_LENGTH(line)};
    }
    if (lacks_end_mark(&v)) {
        reason = NO_ENDMARK;
        goto done;
    }
    if (min_words > 0 && words_up_to(&v, min_words) < min_words) {
        reason = TOO_SHORT;
        goto done;
    }
    int phrases = lower_case_phrases(&v, line == NULL ? text : line, scratch);
    if (phrases < 0) {
        Py_XDECREF(line);
        return -1;
    }
    if (phrases & 1) {
        *page_reason = PAGE_LOREM_IPSUM;
        result = PAGE_REMOVED;
    } else if (phrases & 2) {
        reason = JAVASCRIPT;
    } else if (holds(&v, '{')) {
        *page_reason = PAGE_CURLY_BRACKET;
        result = PAGE_REMOVED;
    } else if (phrases & 4) {
        reason = POLICY;
    } else {
        result = LINE_KEPT;
        if (line == NULL && (line = PyUnicode_Substring(text, start, end)) == NULL)
            return -1;
        if (PyList_Append(tally->kept, line) < 0) {
            Py_DECREF(line);
            return -1;
        }
        tally->kept_raw_chars += raw_length;
    }
done:
    Py_XDECREF(line);
    if (reason >= 0) {
        tally->lines[reason]++;
        tally->chars[reason] += raw_length;
    }
    return result;
}

/* What the line scan looks for: line breaks (Py_UNICODE_ISLINEBREAK, as str.splitlines) and
   "[" (a line the citation rule may change). Code points below 256 by table, filled at import
   from CPython's own predicate; above, the line breaks are U+2028 and U+2029 in every Unicode
   version CPython has shipped, which the import checks, else asks CPython for each. */
enum { LINE_BREAK = 1, BRACKET = 2 };
static unsigned char low_class[256];
static int wide_breaks_checked;

static void
fill_classes(void)
{
    for (Py_UCS4 ch = 0; ch < 256; ch++)
        low_class[ch] = (Py_UNICODE_ISLINEBREAK(ch) ? LINE_BREAK : 0) | (ch == '[' ? BRACKET : 0);
    wide_breaks_checked = 1;
    for (Py_UCS4 ch = 256; ch < 0x110000; ch++)
        if (Py_UNICODE_ISLINEBREAK(ch) != (ch == 0x2028 || ch == 0x2029))
            wide_breaks_checked = 0;
}

static inline unsigned
scan_class(Py_UCS4 ch)
{
    if (ch < 256)
        return low_class[ch];
    if (wide_breaks_checked)
        return ch == 0x2028 || ch == 0x2029 ? LINE_BREAK : 0;
    return Py_UNICODE_ISLINEBREAK(ch) ? LINE_BREAK : 0;
}

/* The page's lines, one kind of str at a time (the compiler specializes each). Returns the
   raw chars before the stop, -1 on error. */
static inline __attribute__((always_inline)) Py_ssize_t
judge_all(PyObject *text, int kind, Py_ssize_t min_words, Py_ssize_t max_word_length,
          PyObject *remove_citations, Scratch *scratch, Tally *tally, int *page_reason)
{
    const void *data = PyUnicode_DATA(text);
    Py_ssize_t n = PyUnicode_GET_LENGTH(text), i = 0, before = 0;
    while (i < n) {
        Py_ssize_t line_start = i;
        int bracket = 0;
        Py_UCS4 ch = 0;
        for (; i < n; i++) {
            unsigned found_class = scan_class(ch = PyUnicode_READ(kind, data, i));
            if (found_class & LINE_BREAK)
                break;
            bracket |= found_class;
        }
        Py_ssize_t line_end = i;
        if (i < n)
            i += (ch == '\r' && i + 1 < n && PyUnicode_READ(kind, data, i + 1) == '\n') ? 2 : 1;
        Py_ssize_t start = line_start, end = line_end, raw_length = line_end - line_start;
        strip(kind, data, &start, &end);
        /* Most lines: no "[" (citations cannot change the line), not long enough for a
           too-long word, no end mark. */
        View v = {kind, data, start, end};
        if (!bracket && (max_word_length < 0 || end - start <= max_word_length) && lacks_end_mark(&v)) {
            tally->lines[NO_ENDMARK]++;
            tally->chars[NO_ENDMARK] += raw_length;
        } else {
            int result = judge(text, start, end, raw_length, min_words, max_word_length, remove_citations,
                               scratch, tally, page_reason);
            if (result < 0)
                return -1;
            if (result == PAGE_REMOVED)
                return before;
        }
        before += raw_length;
    }
    return before;
}

static PyObject *
judge_lines(PyObject *Py_UNUSED(module), PyObject *args)
{
    PyObject *text, *remove_citations;
    Py_ssize_t min_words, max_word_length;
    if (!PyArg_ParseTuple(args, "UnnO:judge_lines", &text, &min_words, &max_word_length, &remove_citations))
        return NULL;
#if PY_VERSION_HEX < 0x030C0000
    if (PyUnicode_READY(text) < 0)
        return NULL;
#endif
    Tally tally = {{0}, {0}, 0, PyList_New(0)};
    if (tally.kept == NULL)
        return NULL;
    Scratch scratch = {NULL, 0};
    int page_reason = PAGE_KEPT;
    Py_ssize_t before;
    switch (PyUnicode_KIND(text)) {
    case PyUnicode_1BYTE_KIND:
        before = judge_all(text, PyUnicode_1BYTE_KIND, min_words, max_word_length, remove_citations,
                           &scratch, &tally, &page_reason);
        break;
    case PyUnicode_2BYTE_KIND:
        before = judge_all(text, PyUnicode_2BYTE_KIND, min_words, max_word_length, remove_citations,
                           &scratch, &tally, &page_reason);
        break;
    default:
        before = judge_all(text, PyUnicode_4BYTE_KIND, min_words, max_word_length, remove_citations,
                           &scratch, &tally, &page_reason);
    }
    PyMem_Free(scratch.data);
    if (before < 0) {
        Py_DECREF(tally.kept);
        return NULL;
    }
    PyObject *removed = PyList_New(2 * N_LINE_REASONS);
    if (removed == NULL) {
        Py_DECREF(tally.kept);
        return NULL;
    }
    for (int r = 0; r < N_LINE_REASONS; r++) {
        PyObject *lines = PyLong_FromSsize_t(tally.lines[r]), *chars = PyLong_FromSsize_t(tally.chars[r]);
        if (lines == NULL || chars == NULL) {
            Py_XDECREF(lines);
            Py_XDECREF(chars);
            Py_DECREF(removed);
            Py_DECREF(tally.kept);
            return NULL;
        }
        PyList_SET_ITEM(removed, 2 * r, lines);
        PyList_SET_ITEM(removed, 2 * r + 1, chars);
    }
    return Py_BuildValue("(NNinn)", tally.kept, removed, page_reason, before, tally.kept_raw_chars);
}

/* --- line dedup's hashes ------------------------------------------------------------------- */

/* MD5 (RFC 1321). */
#define MD5_F(x, y, z) (((x) & (y)) | (~(x) & (z)))
#define MD5_G(x, y, z) (((x) & (z)) | ((y) & ~(z)))
#define MD5_H(x, y, z) ((x) ^ (y) ^ (z))
#define MD5_I(x, y, z) ((y) ^ ((x) | ~(z)))
#define MD5_STEP(f, a, b, c, d, x, t, s) \
    do { \
        (a) += f((b), (c), (d)) + (x) + (uint32_t)(t); \
        (a) = ((a) << (s) | (a) >> (32 - (s))) + (b); \
    } while (0)

static void
md5_block(uint32_t state[4], const unsigned char *block)
{
    uint32_t w[16];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)block[4 * i] | (uint32_t)block[4 * i + 1] << 8 | (uint32_t)block[4 * i + 2] << 16
               | (uint32_t)block[4 * i + 3] << 24;
    uint32_t a = state[0], b = state[1], c = state[2], d = state[3];
    /* The constants are floor(|sin(i + 1)| * 2^32), i = 0..63. */
    MD5_STEP(MD5_F, a, b, c, d, w[0], 0xd76aa478, 7);
    MD5_STEP(MD5_F, d, a, b, c, w[1], 0xe8c7b756, 12);
    MD5_STEP(MD5_F, c, d, a, b, w[2], 0x242070db, 17);
    MD5_STEP(MD5_F, b, c, d, a, w[3], 0xc1bdceee, 22);
    MD5_STEP(MD5_F, a, b, c, d, w[4], 0xf57c0faf, 7);
    MD5_STEP(MD5_F, d, a, b, c, w[5], 0x4787c62a, 12);
    MD5_STEP(MD5_F, c, d, a, b, w[6], 0xa8304613, 17);
    MD5_STEP(MD5_F, b, c, d, a, w[7], 0xfd469501, 22);
    MD5_STEP(MD5_F, a, b, c, d, w[8], 0x698098d8, 7);
    MD5_STEP(MD5_F, d, a, b, c, w[9], 0x8b44f7af, 12);
    MD5_STEP(MD5_F, c, d, a, b, w[10], 0xffff5bb1, 17);
    MD5_STEP(MD5_F, b, c, d, a, w[11], 0x895cd7be, 22);
    MD5_STEP(MD5_F, a, b, c, d, w[12], 0x6b901122, 7);
    MD5_STEP(MD5_F, d, a, b, c, w[13], 0xfd987193, 12);
    MD5_STEP(MD5_F, c, d, a, b, w[14], 0xa679438e, 17);
    MD5_STEP(MD5_F, b, c, d, a, w[15], 0x49b40821, 22);
    MD5_STEP(MD5_G, a, b, c, d, w[1], 0xf61e2562, 5);
    MD5_STEP(MD5_G, d, a, b, c, w[6], 0xc040b340, 9);
    MD5_STEP(MD5_G, c, d, a, b, w[11], 0x265e5a51, 14);
    MD5_STEP(MD5_G, b, c, d, a, w[0], 0xe9b6c7aa, 20);
    MD5_STEP(MD5_G, a, b, c, d, w[5], 0xd62f105d, 5);
    MD5_STEP(MD5_G, d, a, b, c, w[10], 0x02441453, 9);
    MD5_STEP(MD5_G, c, d, a, b, w[15], 0xd8a1e681, 14);
    MD5_STEP(MD5_G, b, c, d, a, w[4], 0xe7d3fbc8, 20);
    MD5_STEP(MD5_G, a, b, c, d, w[9], 0x21e1cde6, 5);
    MD5_STEP(MD5_G, d, a, b, c, w[14], 0xc33707d6, 9);
    MD5_STEP(MD5_G, c, d, a, b, w[3], 0xf4d50d87, 14);
    MD5_STEP(MD5_G, b, c, d, a, w[8], 0x455a14ed, 20);
    MD5_STEP(MD5_G, a, b, c, d, w[13], 0xa9e3e905, 5);
    MD5_STEP(MD5_G, d, a, b, c, w[2], 0xfcefa3f8, 9);
    MD5_STEP(MD5_G, c, d, a, b, w[7], 0x676f02d9, 14);
    MD5_STEP(MD5_G, b, c, d, a, w[12], 0x8d2a4c8a, 20);
    MD5_STEP(MD5_H, a, b, c, d, w[5], 0xfffa3942, 4);
    MD5_STEP(MD5_H, d, a, b, c, w[8], 0x8771f681, 11);
    MD5_STEP(MD5_H, c, d, a, b, w[11], 0x6d9d6122, 16);
    MD5_STEP(MD5_H, b, c, d, a, w[14], 0xfde5380c, 23);
    MD5_STEP(MD5_H, a, b, c, d, w[1], 0xa4beea44, 4);
    MD5_STEP(MD5_H, d, a, b, c, w[4], 0x4bdecfa9, 11);
    MD5_STEP(MD5_H, c, d, a, b, w[7], 0xf6bb4b60, 16);
    MD5_STEP(MD5_H, b, c, d, a, w[10], 0xbebfbc70, 23);
    MD5_STEP(MD5_H, a, b, c, d, w[13], 0x289b7ec6, 4);
    MD5_STEP(MD5_H, d, a, b, c, w[0], 0xeaa127fa, 11);
    MD5_STEP(MD5_H, c, d, a, b, w[3], 0xd4ef3085, 16);
    MD5_STEP(MD5_H, b, c, d, a, w[6], 0x04881d05, 23);
    MD5_STEP(MD5_H, a, b, c, d, w[9], 0xd9d4d039, 4);
    MD5_STEP(MD5_H, d, a, b, c, w[12], 0xe6db99e5, 11);
    MD5_STEP(MD5_H, c, d, a, b, w[15], 0x1fa27cf8, 16);
    MD5_STEP(MD5_H, b, c, d, a, w[2], 0xc4ac5665, 23);
    MD5_STEP(MD5_I, a, b, c, d, w[0], 0xf4292244, 6);
    MD5_STEP(MD5_I, d, a, b, c, w[7], 0x432aff97, 10);
    MD5_STEP(MD5_I, c, d, a, b, w[14], 0xab9423a7, 15);
    MD5_STEP(MD5_I, b, c, d, a, w[5], 0xfc93a039, 21);
    MD5_STEP(MD5_I, a, b, c, d, w[12], 0x655b59c3, 6);
    MD5_STEP(MD5_I, d, a, b, c, w[3], 0x8f0ccc92, 10);
    MD5_STEP(MD5_I, c, d, a, b, w[10], 0xffeff47d, 15);
    MD5_STEP(MD5_I, b, c, d, a, w[1], 0x85845dd1, 21);
    MD5_STEP(MD5_I, a, b, c, d, w[8], 0x6fa87e4f, 6);
    MD5_STEP(MD5_I, d, a, b, c, w[15], 0xfe2ce6e0, 10);
    MD5_STEP(MD5_I, c, d, a, b, w[6], 0xa3014314, 15);
    MD5_STEP(MD5_I, b, c, d, a, w[13], 0x4e0811a1, 21);
    MD5_STEP(MD5_I, a, b, c, d, w[4], 0xf7537e82, 6);
    MD5_STEP(MD5_I, d, a, b, c, w[11], 0xbd3af235, 10);
    MD5_STEP(MD5_I, c, d, a, b, w[2], 0x2ad7d2bb, 15);
    MD5_STEP(MD5_I, b, c, d, a, w[9], 0xeb86d391, 21);
    state[0] += a;
    state[1] += b;
    state[2] += c;
    state[3] += d;
}

static void
md5(const unsigned char *data, size_t n, unsigned char digest[16])
{
    uint32_t state[4] = {0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476};
    size_t done = 0;
    for (; n - done >= 64; done += 64)
        md5_block(state, data + done);
    unsigned char tail[128] = {0};
    size_t rest = n - done, padded = rest < 56 ? 64 : 128;
    memcpy(tail, data + done, rest);
    tail[rest] = 0x80;
    uint64_t bits = (uint64_t)n * 8;
    for (int i = 0; i < 8; i++)
        tail[padded - 8 + i] = (unsigned char)(bits >> (8 * i));
    md5_block(state, tail);
    if (padded == 128)
        md5_block(state, tail + 64);
    for (int i = 0; i < 16; i++)
        digest[i] = (unsigned char)(state[i / 4] >> (8 * (i % 4)));
}

/* str.lower() of each code point below 256, where each is one code point below 256 (checked
   at import; else only ASCII lines are lower-cased here, A-Z to a-z). */
static Py_UCS1 latin1_lower[256];
static int latin1_lower_checked;

static int
fill_latin1_lower(void)
{
    for (int ch = 0; ch < 256; ch++)
        latin1_lower[ch] = (Py_UCS1)(ch >= 'A' && ch <= 'Z' ? ch + 32 : ch);
    PyObject *all = PyUnicode_New(256, 255);
    if (all == NULL)
        return -1;
    for (int ch = 0; ch < 256; ch++)
        PyUnicode_WRITE(PyUnicode_1BYTE_KIND, PyUnicode_DATA(all), ch, (Py_UCS4)ch);
    PyObject *lower = PyObject_CallMethodNoArgs(all, lower_name);
    Py_DECREF(all);
    if (lower == NULL)
        return -1;
    latin1_lower_checked = PyUnicode_GET_LENGTH(lower) == 256 && PyUnicode_KIND(lower) == PyUnicode_1BYTE_KIND;
    for (int ch = 0; ch < 256 && latin1_lower_checked; ch++)
        latin1_lower_checked = ch >= 128 || PyUnicode_READ_CHAR(lower, ch) == latin1_lower[ch];
    if (latin1_lower_checked)
        for (int ch = 128; ch < 256; ch++)
            latin1_lower[ch] = (Py_UCS1)PyUnicode_READ_CHAR(lower, ch);
    Py_DECREF(lower);
    return 0;
}

/* str.lower() of each code point below U+10000 where that is one code point below U+10000 and
   does not depend on its neighbours; NO_SIMPLE_LOWER for the others (U+0130, whose lower case
   is two code points; capital sigma, final or not by its context; surrogates, which UTF-8
   cannot encode). Filled from str.lower() of each when a text first needs it. */
#define NO_SIMPLE_LOWER 0xD800
#define CAPITAL_SIGMA 0x3A3
static uint16_t *bmp_lower;

static int
fill_bmp_lower(void)
{
    uint16_t *table = PyMem_Malloc(sizeof(uint16_t) * 0x10000);
    if (table == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (Py_UCS4 ch = 0; ch < 0x10000; ch++) {
        table[ch] = NO_SIMPLE_LOWER;
        if ((ch >= 0xD800 && ch < 0xE000) || ch == CAPITAL_SIGMA)
            continue;
        PyObject *one = PyUnicode_FromOrdinal((int)ch);
        PyObject *lower = one == NULL ? NULL : PyObject_CallMethodNoArgs(one, lower_name);
        Py_XDECREF(one);
        if (lower == NULL) {
            PyMem_Free(table);
            return -1;
        }
        if (PyUnicode_GET_LENGTH(lower) == 1) {
            const Py_UCS4 low = PyUnicode_READ_CHAR(lower, 0);
            if (low < 0x10000 && !(low >= 0xD800 && low < 0xE000))
                table[ch] = (uint16_t)low;
        }
        Py_DECREF(lower);
    }
    bmp_lower = table;
    return 0;
}

/* A code point below U+10000 (not a surrogate) in UTF-8 at out + m; the new end. */
static inline Py_ssize_t
put_utf8_bmp(unsigned char *out, Py_ssize_t m, Py_UCS4 cp)
{
    if (cp < 0x80)
        out[m++] = (unsigned char)cp;
    else if (cp < 0x800) {
        out[m++] = (unsigned char)(0xC0 | cp >> 6);
        out[m++] = (unsigned char)(0x80 | (cp & 0x3F));
    }
    else {
        out[m++] = (unsigned char)(0xE0 | cp >> 12);
        out[m++] = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
        out[m++] = (unsigned char)(0x80 | (cp & 0x3F));
    }
    return m;
}

/* md5 of the line [start, end) of text, stripped, lower-cased, in UTF-8. */
static inline __attribute__((always_inline)) int
hash_line(PyObject *text, int kind, const void *data, Py_ssize_t start, Py_ssize_t end, Scratch *scratch,
          unsigned char digest[16])
{
    strip(kind, data, &start, &end);
    Py_ssize_t n = end - start;
    unsigned char *utf8 = (unsigned char *)reserve(scratch, 3 * n);
    if (utf8 == NULL)
        return -1;
    Py_ssize_t m = 0, i = start;
    Py_UCS4 beyond = latin1_lower_checked ? 256 : 128;  /* lower-cased by latin1_lower below this */
    for (; i < end; i++) {
        Py_UCS4 ch = PyUnicode_READ(kind, data, i);
        if (ch >= beyond) {
            if (kind == PyUnicode_1BYTE_KIND || ch >= 0x10000)
                break;
            if (bmp_lower == NULL && fill_bmp_lower() < 0)
                return -1;
            const Py_UCS4 low = bmp_lower[ch];
            if (low == NO_SIMPLE_LOWER)
                break;
            m = put_utf8_bmp(utf8, m, low);
            continue;
        }
        m = put_utf8_bmp(utf8, m, latin1_lower[ch]);
    }
    if (i == end) {
        md5(utf8, (size_t)m, digest);
        return 0;
    }
    PyObject *lower = lower_of(text, start, end);
    if (lower == NULL)
        return -1;
    Py_ssize_t size;
    const char *encoded = PyUnicode_AsUTF8AndSize(lower, &size);  /* raises as str.encode does (surrogates) */
    if (encoded != NULL)
        md5((const unsigned char *)encoded, (size_t)size, digest);
    Py_DECREF(lower);
    return encoded == NULL ? -1 : 0;
}

static inline __attribute__((always_inline)) int
hash_all_lines(PyObject *text, int kind, PyObject *hashes, Scratch *scratch)
{
    const void *data = PyUnicode_DATA(text);
    Py_ssize_t n = PyUnicode_GET_LENGTH(text), start = 0;
    for (;;) {
        Py_ssize_t end = start;
        if (kind == PyUnicode_1BYTE_KIND) {
            const char *newline = memchr((const char *)data + start, '\n', (size_t)(n - start));
            end = newline == NULL ? n : newline - (const char *)data;
        } else
            while (end < n && PyUnicode_READ(kind, data, end) != '\n')
                end++;
        unsigned char digest[16];
        if (hash_line(text, kind, data, start, end, scratch, digest) < 0)
            return -1;
        PyObject *hash = PyBytes_FromStringAndSize((const char *)digest, 16);
        if (hash == NULL || PyList_Append(hashes, hash) < 0) {
            Py_XDECREF(hash);
            return -1;
        }
        Py_DECREF(hash);
        if (end == n)
            return 0;
        start = end + 1;
    }
}

static PyObject *
line_hashes(PyObject *Py_UNUSED(module), PyObject *text)
{
    if (!PyUnicode_Check(text)) {
        PyErr_Format(PyExc_TypeError, "line_hashes() takes a str, not %.100s", Py_TYPE(text)->tp_name);
        return NULL;
    }
#if PY_VERSION_HEX < 0x030C0000
    if (PyUnicode_READY(text) < 0)
        return NULL;
#endif
    PyObject *hashes = PyList_New(0);
    if (hashes == NULL)
        return NULL;
    Scratch scratch = {NULL, 0};
    int done;
    switch (PyUnicode_KIND(text)) {
    case PyUnicode_1BYTE_KIND:
        done = hash_all_lines(text, PyUnicode_1BYTE_KIND, hashes, &scratch);
        break;
    case PyUnicode_2BYTE_KIND:
        done = hash_all_lines(text, PyUnicode_2BYTE_KIND, hashes, &scratch);
        break;
    default:
        done = hash_all_lines(text, PyUnicode_4BYTE_KIND, hashes, &scratch);
    }
    PyMem_Free(scratch.data);
    if (done < 0) {
        Py_DECREF(hashes);
        return NULL;
    }
    return hashes;
}

static PyObject *
set_lower_by_table(PyObject *Py_UNUSED(module), PyObject *arg)
{
    int enable = PyObject_IsTrue(arg);
    if (enable < 0)
        return NULL;
    if (enable && !lower_checked) {
        PyErr_SetString(PyExc_ValueError, "this interpreter's str.lower() failed the import check");
        return NULL;
    }
    int previous = lower_by_table;
    lower_by_table = enable;
    return PyBool_FromLong(previous);
}

/* wet.py's METADATA_PREFIXES: a line starting with one is a WET field or delimiter. */
#define N_FIELD_PREFIXES 3
static const char *const FIELD_PREFIXES[N_FIELD_PREFIXES] = {"WARC", "CONTENT-", "Content-"};

/* A line at i (just after a "\n" or at the text's start) that starts like a field or delimiter. */
static int
starts_like_field(int kind, const void *data, Py_ssize_t i, Py_ssize_t n)
{
    for (int p = 0; p < N_FIELD_PREFIXES; p++) {
        const char *prefix = FIELD_PREFIXES[p];
        Py_ssize_t k = 0;
        while (prefix[k] && i + k < n && PyUnicode_READ(kind, data, i + k) == (Py_UCS4)(unsigned char)prefix[k])
            k++;
        if (!prefix[k])
            return 1;
    }
    return 0;
}

static PyObject *
plain_wet_block(PyObject *module, PyObject *text)
{
    if (!PyUnicode_Check(text)) {
        PyErr_SetString(PyExc_TypeError, "plain_wet_block() takes a str");
        return NULL;
    }
    const int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    const Py_ssize_t n = PyUnicode_GET_LENGTH(text);
    /* "\n" is whitespace: ends that are not also exclude a "\n" at either end */
    if (n == 0 || Py_UNICODE_ISSPACE(PyUnicode_READ(kind, data, 0))
            || Py_UNICODE_ISSPACE(PyUnicode_READ(kind, data, n - 1)) || starts_like_field(kind, data, 0, n))
        Py_RETURN_FALSE;
    /* each "\n" with whitespace on neither side and no field after it */
#define CHECK_NEWLINE_AT(i) \
    if (Py_UNICODE_ISSPACE(PyUnicode_READ(kind, data, (i) - 1)) \
            || Py_UNICODE_ISSPACE(PyUnicode_READ(kind, data, (i) + 1)) || starts_like_field(kind, data, (i) + 1, n)) \
        Py_RETURN_FALSE;
    if (kind == PyUnicode_1BYTE_KIND) {
        const Py_UCS1 *s = data, *found = s;
        while ((found = memchr(found, '\n', (size_t)(n - (found - s)))) != NULL) {
            CHECK_NEWLINE_AT(found - s)
            found++;
        }
    }
    else if (kind == PyUnicode_2BYTE_KIND) {  /* most pages: four code points a word */
        const Py_UCS2 *s = data;
        const uint64_t lows = 0x0001000100010001ULL, highs = 0x8000800080008000ULL;
        Py_ssize_t i = 0;
        for (; i + 4 <= n; i += 4) {
            uint64_t word;
            memcpy(&word, s + i, sizeof word);
            word ^= lows * '\n';  /* a zero half-word where a "\n" is */
            if (((word - lows) & ~word & highs) == 0)
                continue;
            for (Py_ssize_t j = i; j < i + 4; j++)
                if (s[j] == '\n') {
                    CHECK_NEWLINE_AT(j)
                }
        }
        for (; i < n; i++)
            if (s[i] == '\n') {
                CHECK_NEWLINE_AT(i)
            }
    }
    else {
        const Py_UCS4 *s = data;
        for (Py_ssize_t i = 0; i < n; i++)
            if (s[i] == '\n') {
                CHECK_NEWLINE_AT(i)
            }
    }
#undef CHECK_NEWLINE_AT
    Py_RETURN_TRUE;
}

/* The code point starting at s[i] / ending just before s[i] of valid UTF-8. */
static Py_UCS4
utf8_at(const unsigned char *s, Py_ssize_t i)
{
    const unsigned char b = s[i];
    if (b < 0x80)
        return b;
    if (b < 0xE0)
        return ((Py_UCS4)(b & 0x1F) << 6) | (s[i + 1] & 0x3F);
    if (b < 0xF0)
        return ((Py_UCS4)(b & 0x0F) << 12) | ((Py_UCS4)(s[i + 1] & 0x3F) << 6) | (s[i + 2] & 0x3F);
    return ((Py_UCS4)(b & 0x07) << 18) | ((Py_UCS4)(s[i + 1] & 0x3F) << 12) | ((Py_UCS4)(s[i + 2] & 0x3F) << 6)
        | (s[i + 3] & 0x3F);
}

static Py_UCS4
utf8_before(const unsigned char *s, Py_ssize_t i)
{
    Py_ssize_t lead = i - 1;
    while (lead > 0 && (s[lead] & 0xC0) == 0x80)
        lead--;
    return utf8_at(s, lead);
}

static int
utf8_starts_like_field(const unsigned char *s, Py_ssize_t i, Py_ssize_t n)
{
    for (int p = 0; p < N_FIELD_PREFIXES; p++) {
        const size_t len = strlen(FIELD_PREFIXES[p]);
        if ((size_t)(n - i) >= len && memcmp(s + i, FIELD_PREFIXES[p], len) == 0)
            return 1;
    }
    return 0;
}

static PyObject *
plain_wet_block_utf8(PyObject *module, PyObject *arg)
{
    Py_buffer view;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0)
        return NULL;
    const unsigned char *s = view.buf;
    const Py_ssize_t n = view.len;
    Py_ssize_t code_points = -1;
    if (n == 0 || memchr(s, '\r', (size_t)n) != NULL || Py_UNICODE_ISSPACE(utf8_at(s, 0))
            || Py_UNICODE_ISSPACE(utf8_before(s, n)) || utf8_starts_like_field(s, 0, n))
        goto done;
    for (const unsigned char *found = s; (found = memchr(found, '\n', (size_t)(n - (found - s)))) != NULL; found++) {
        const Py_ssize_t i = found - s;  /* never at either end: those are not whitespace */
        if (Py_UNICODE_ISSPACE(utf8_before(s, i)) || Py_UNICODE_ISSPACE(utf8_at(s, i + 1))
                || utf8_starts_like_field(s, i + 1, n))
            goto done;
    }
    code_points = 0;
    for (Py_ssize_t i = 0; i < n; i++)
        code_points += (s[i] & 0xC0) != 0x80;
done:
    PyBuffer_Release(&view);
    return PyLong_FromSsize_t(code_points);
}

static PyMethodDef methods[] = {
    {"plain_wet_block_utf8", plain_wet_block_utf8, METH_O,
     "plain_wet_block_utf8(data) -> code points of data.decode() when it is a plain_wet_block without "
     "'\\r', else -1 (data: valid UTF-8)"},
    {"plain_wet_block", plain_wet_block, METH_O,
     "plain_wet_block(text) -> True when every line of text.split('\\n') is non-empty, stripped "
     "and starts like no WET field or delimiter (WARC, CONTENT-, Content-)"},
    {"line_hashes", line_hashes, METH_O,
     "line_hashes(text) -> md5 digests of line.strip().lower() in UTF-8 for each line of text.split('\\n')"},
    {"set_lower_by_table", set_lower_by_table, METH_O,
     "set_lower_by_table(enabled) -> previous: phrases looked for in a byte copy of each line "
     "(the default where the import check passed) or in str.lower() of lines beyond ASCII."},
    {"judge_lines", judge_lines, METH_VARARGS,
     "judge_lines(text, min_words, max_word_length, remove_citations) -> (kept lines, "
     "[lines, raw chars] per line reason, page reason, raw chars before the stop, raw chars kept)"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "lines_compiled",
    "C4's line rules over a page, compiled (lines.py's clean_page, dedup.py's line_hashes).", -1, methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC
PyInit_lines_compiled(void)
{
    if ((lower_name = PyUnicode_InternFromString("lower")) == NULL)
        return NULL;
    fill_classes();
    if (fill_latin1_lower() < 0 || check_lower_by_table() < 0)
        return NULL;
    for (int k = 0; k < N_POLICY; k++)
        if ((policy_objects[k] = PyUnicode_InternFromString(POLICY_PHRASES[k])) == NULL)
            return NULL;
    if ((lorem_object = PyUnicode_InternFromString(LOREM_IPSUM)) == NULL
        || (javascript_object = PyUnicode_InternFromString(JAVASCRIPT_WORD)) == NULL)
        return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL)
        return NULL;
    if (PyModule_AddIntConstant(m, "PAGE_LOREM_IPSUM", PAGE_LOREM_IPSUM) < 0
        || PyModule_AddIntConstant(m, "PAGE_CURLY_BRACKET", PAGE_CURLY_BRACKET) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
