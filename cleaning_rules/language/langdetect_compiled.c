/* langdetect 1.0.9's detection of a text (seed 0), compiled: the same n-grams, the same
   random draws and the same double operations in the same order as langdetect's Python
   (Detector._extract_ngrams, _detect_block) and as langdetect_exact.py's per-text and numpy
   batch paths: its load-time check compares it with the per-text path, the tests with
   langdetect and with both paths.

   Detector(lut, ngram_keys, ngram_rows, matrix, n_lang) holds the model:
     lut         NGram.normalize as a code-point table (uint32, 0x110000 entries);
     ngram_keys  the profile's n-grams as packed keys (code points + 1, 21 bits each; int64)
     ngram_rows  and their rows of matrix (int32, >= 1; row 0 is unused);
     matrix      the profiles' probabilities (rows x n_lang doubles).
   and a cache of words and their n-gram rows (an exact cache: words are compared char by
   char; emptied before a text when it holds more than max_words words, max_chars chars or
   max_rows rows, keyword arguments; results never depend on it); keyword sum_mode: below;
   keyword word_hash_bits (64) keeps that many bits of each word's hash, which only tests
   lower: words then share hashes, and are still told apart by their code points.

   Detector.langprob_many(texts, stream, weight_first, weight_next, out, counts, start)
   takes texts prepared as langdetect's Detector.append leaves them (URLs and e-mails
   removed, normalize_vi, the 10,000-char cut: langdetect_exact._prepare_str) and writes,
   for texts start.., each text's langprob (out: texts x n_lang doubles) and n-gram count
   (counts: int64; 0 = no features, langprob all 0). Per text:
     cleaning_text: if 2 * (chars in 'A'..'z') < (chars >= U+0300), drop the former;
     the n-grams of each word (runs between spaces after NGram.normalize), as NGram.add_char
       emits them over ' ' + word + ' ' (1-, 2-, 3-grams at each char, none where this char
       and the previous one are upper case, none of a text's last word that end at a space
       when the text does not end with one), those in the profiles;
     seven trials: alpha from the next gauss, prob = 1/L each; then, update i = 0, 1, ...:
       random.choice(ngrams) -> prob[j] *= weight + p(row)[j];
       when i % 5 == 0: sump = sum(prob), prob[j] /= sump, maxp the largest;
       stop when maxp > 0.99999 or i >= 1000;
     langprob[j] += prob[j] / 7, trial after trial.
   random.Random(0)'s 32-bit outputs come in as `stream`; a trial that draws its gauss pair
   at stream position q has weight alpha / 10000 = weight_first[q], the trial after it
   weight_next[q]. So what needs libm stays in Python, and this file only multiplies, adds
   and divides; it is compiled with -ffp-contract=off (no fused multiply-add). sum() is the
   running interpreter's: sum_mode 0 adds left to right (CPython before 3.12), 1 is 3.12's
   compensated sum (Neumaier); the caller finds out which at load.
   Returns the number of texts done: fewer than given where a text needs stream words
   beyond those passed (the caller grows the stream and calls again from that text). */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#define N_TRIAL 7
#define ITERATION_LIMIT 1000
#define CONV_THRESHOLD 0.99999
#define LUT_SIZE 0x110000
#define SPACE 32
#define SHORT_STREAM (-1)
#define HASH_MIX 0x9E3779B97F4A7C15ULL

typedef struct {  /* a growable array */
    void *data;
    Py_ssize_t len, cap, item;
} Vec;

static int
vec_reserve(Vec *v, Py_ssize_t need)
{
    if (need <= v->cap)
        return 0;
    Py_ssize_t cap = v->cap ? v->cap : 256;
    while (cap < need)
        cap *= 2;
    void *data = PyMem_Realloc(v->data, (size_t)(cap * v->item));
    if (data == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    v->data = data;
    v->cap = cap;
    return 0;
}

typedef struct {  /* open addressing, linear probing; key 0 = empty */
    uint64_t *keys;
    int32_t *values;
    Py_ssize_t mask, used;
} Table;

/* Where a key's probe starts in a table of mask + 1 slots (both tables below). */
static inline Py_ssize_t
slot_index(uint64_t key, Py_ssize_t mask)
{
    return (Py_ssize_t)((key * HASH_MIX) >> 20) & mask;
}

/* Slots for `want` keys at a load <= 1/2: a power of two, at least 1024. */
static Py_ssize_t
table_size(Py_ssize_t want)
{
    Py_ssize_t size = 1024;
    while (size < 2 * want)
        size *= 2;
    return size;
}

static inline Py_ssize_t
slot_of(const Table *t, uint64_t key)
{
    return slot_index(key, t->mask);
}

static int
table_init(Table *t, Py_ssize_t want)
{
    const Py_ssize_t size = table_size(want);
    t->keys = PyMem_Calloc((size_t)size, sizeof(uint64_t));
    t->values = PyMem_Calloc((size_t)size, sizeof(int32_t));
    t->mask = size - 1;
    t->used = 0;
    if (t->keys == NULL || t->values == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    return 0;
}

static void
table_free(Table *t)
{
    PyMem_Free(t->keys);
    PyMem_Free(t->values);
    t->keys = NULL;
    t->values = NULL;
}

/* Slot holding key, or the empty slot where it would go. */
static inline Py_ssize_t
table_find(const Table *t, uint64_t key)
{
    Py_ssize_t s = slot_of(t, key);
    while (t->keys[s] != 0 && t->keys[s] != key)
        s = (s + 1) & t->mask;
    return s;
}

static int
table_put(Table *t, uint64_t key, int32_t value)
{
    if (2 * (t->used + 1) > t->mask + 1) {  /* keep the load <= 1/2 */
        Table bigger;
        if (table_init(&bigger, t->used + 1) < 0)
            return -1;
        for (Py_ssize_t s = 0; s <= t->mask; s++)
            if (t->keys[s] != 0) {
                Py_ssize_t d = table_find(&bigger, t->keys[s]);
                bigger.keys[d] = t->keys[s];
                bigger.values[d] = t->values[s];
            }
        bigger.used = t->used;
        table_free(t);
        *t = bigger;
    }
    Py_ssize_t s = table_find(t, key);
    if (t->keys[s] == 0)
        t->used++;
    t->keys[s] = key;
    t->values[s] = value;
    return 0;
}

typedef struct {  /* a cached word, in its slot of the word table (key 0 = empty) */
    uint64_t key;                 /* the word's hash (word_hash); words may share one */
    int32_t char_off, length;     /* its code points in word_chars */
    int32_t row_off, row_cnt;     /* its n-gram rows in word_rows: those with a space after it, */
    int32_t trail, unused;        /* and of those, how many end at that space */
} WordSlot;

typedef struct {  /* open addressing, linear probing; words of equal hashes take a slot each */
    WordSlot *slots;
    Py_ssize_t mask, used;
} WordTable;

typedef struct {  /* a word of the text being read: code points [start, start + length) */
    Py_ssize_t start, length;
    uint64_t key;
    int last;                     /* it ends the text (no space after it) */
} WordSpan;

typedef struct {
    PyObject_HEAD
    Py_buffer lut, matrix;
    Py_ssize_t n_lang, matrix_rows;
    Py_ssize_t max_words, max_chars, max_rows;  /* the word cache's limits */
    int sum_mode;       /* how sum() adds: 0 left to right, 1 Neumaier (CPython >= 3.12) */
    uint64_t word_hash_mask;  /* all ones; tests keep a few bits so that words share hashes */
    Table ngrams;       /* packed n-gram key -> matrix row */
    WordTable words;    /* the cache: word -> its n-gram rows */
    Vec word_chars;     /* uint32 */
    Vec word_rows;      /* int32 */
    /* per text, reused */
    Vec cps;            /* uint32: the text's normalized code points */
    Vec spans;          /* WordSpan: its words */
    Vec text_rows;      /* int32: its n-grams' rows, in langdetect's order (random.choice's list) */
    Vec prob;           /* double */
} Detector;

static int
words_init(WordTable *t, Py_ssize_t want)
{
    const Py_ssize_t size = table_size(want);
    t->slots = PyMem_Calloc((size_t)size, sizeof(WordSlot));
    t->mask = size - 1;
    t->used = 0;
    if (t->slots == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    return 0;
}

static inline const WordSlot *
first_probe(const WordTable *t, uint64_t key)
{
    return t->slots + slot_index(key, t->mask);
}

/* The first empty slot from key's on. */
static inline Py_ssize_t
empty_slot(const WordTable *t, uint64_t key)
{
    Py_ssize_t s = first_probe(t, key) - t->slots;
    while (t->slots[s].key != 0)
        s = (s + 1) & t->mask;
    return s;
}

/* Room for one more word at a load <= 1/2 (a bigger table, the slots moved over). */
static int
words_make_room(WordTable *t)
{
    if (2 * (t->used + 1) <= t->mask + 1)
        return 0;
    WordTable bigger;
    if (words_init(&bigger, t->used + 1) < 0)
        return -1;
    for (Py_ssize_t s = 0; s <= t->mask; s++)
        if (t->slots[s].key != 0)
            bigger.slots[empty_slot(&bigger, t->slots[s].key)] = t->slots[s];
    bigger.used = t->used;
    PyMem_Free(t->slots);
    *t = bigger;
    return 0;
}

static void
cache_clear(Detector *d)
{
    memset(d->words.slots, 0, sizeof(WordSlot) * (size_t)(d->words.mask + 1));
    d->words.used = 0;
    d->word_chars.len = d->word_rows.len = 0;
}

static inline int32_t
ngram_row(const Detector *d, uint64_t key)
{
    Py_ssize_t s = table_find(&d->ngrams, key);
    return d->ngrams.keys[s] == key ? d->ngrams.values[s] : 0;
}

/* The word's n-gram rows over ' ' + word + ' ', appended to word_rows; *trail = how many
   of them end at the trailing space. */
static int
word_ngrams(Detector *d, const uint32_t *w, Py_ssize_t len, int32_t *count, int32_t *trail)
{
    if (vec_reserve(&d->word_rows, d->word_rows.len + 3 * (len + 1)) < 0)
        return -1;
    int32_t *out = (int32_t *)d->word_rows.data + d->word_rows.len;
    int32_t n = 0, before_space = 0;
    uint64_t a = SPACE + 1, b = 0;  /* the previous two chars (+ 1), b the older */
    int prev_upper = 0;
    for (Py_ssize_t k = 0; k <= len; k++) {
        const uint32_t ch = k < len ? w[k] : SPACE;
        const uint64_t c1 = (uint64_t)ch + 1;
        const int upper = Py_UNICODE_ISUPPER(ch) ? 1 : 0;
        if (k == len)
            before_space = n;
        if (!(upper && prev_upper)) {  /* NGram.capitalword: nothing emitted */
            int32_t r;
            if (ch != SPACE && (r = ngram_row(d, c1)) != 0)
                out[n++] = r;
            if ((r = ngram_row(d, (a << 21) | c1)) != 0)
                out[n++] = r;
            if (k >= 1 && (r = ngram_row(d, (b << 42) | (a << 21) | c1)) != 0)
                out[n++] = r;
        }
        prev_upper = upper;
        b = a;
        a = c1;
    }
    *trail = n - before_space;
    *count = n;
    d->word_rows.len += n;
    return 0;
}

static inline uint64_t
word_hash(const Detector *d, const uint32_t *w, Py_ssize_t len)
{
    uint64_t h = 0;
    for (Py_ssize_t k = 0; k < len; k++)
        h = (h + w[k] + 1) * HASH_MIX;
    return (h & d->word_hash_mask) | 1;  /* never 0 (empty) */
}

/* The cached word w (hash key), added if new; NULL on error. Valid until the next word is
   added (the table may grow). */
static const WordSlot *
cached_word(Detector *d, const uint32_t *w, Py_ssize_t len, uint64_t key)
{
    const WordTable *t = &d->words;
    const uint32_t *chars = d->word_chars.data;
    Py_ssize_t s = first_probe(t, key) - t->slots;
    for (; t->slots[s].key != 0; s = (s + 1) & t->mask) {
        const WordSlot *e = t->slots + s;
        if (e->key == key && e->length == len && memcmp(chars + e->char_off, w, sizeof(uint32_t) * (size_t)len) == 0)
            return e;
    }
    /* a new word */
    if (d->word_chars.len + len > INT32_MAX || d->word_rows.len + 3 * (len + 1) > INT32_MAX) {
        PyErr_SetString(PyExc_ValueError, "langprob_many: a text too long for the word cache");
        return NULL;
    }
    if (words_make_room(&d->words) < 0 || vec_reserve(&d->word_chars, d->word_chars.len + len) < 0)
        return NULL;
    WordSlot word = {.key = key, .char_off = (int32_t)d->word_chars.len, .length = (int32_t)len,
                     .row_off = (int32_t)d->word_rows.len};
    memcpy((uint32_t *)d->word_chars.data + d->word_chars.len, w, sizeof(uint32_t) * (size_t)len);
    d->word_chars.len += len;
    if (word_ngrams(d, w, len, &word.row_cnt, &word.trail) < 0)
        return NULL;
    s = empty_slot(&d->words, key);
    d->words.slots[s] = word;
    d->words.used++;
    return d->words.slots + s;
}

/* How many words ahead of the one being looked up its slot is fetched, and, once it is
   there, the word's code points and rows: the cache is megabytes, each lookup a random
   place in it, and the lookups of a text are independent. */
#define SLOT_AHEAD 16
#define WORD_AHEAD 8

/* Detector._extract_ngrams of one prepared text: its n-grams' rows in text_rows, in
   langdetect's order; returns their count, -1 on error. */
static int64_t
text_ngrams(Detector *d, PyObject *text)
{
    const Py_ssize_t len = PyUnicode_GET_LENGTH(text);
    const int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    Py_ssize_t latin = 0, non_latin = 0;
    for (Py_ssize_t i = 0; i < len; i++) {
        const Py_UCS4 ch = PyUnicode_READ(kind, data, i);
        latin += ch >= 0x41 && ch <= 0x7A;  /* 'A' <= ch <= 'z' */
        non_latin += ch >= 0x300;
    }
    const int drop_latin = non_latin > 0 && latin * 2 < non_latin;
    if (vec_reserve(&d->cps, len + 1) < 0)
        return -1;
    uint32_t *c = d->cps.data;
    const uint32_t *lut = d->lut.buf;
    Py_ssize_t m = 0;
    for (Py_ssize_t i = 0; i < len; i++) {
        const Py_UCS4 ch = PyUnicode_READ(kind, data, i);
        if (!(drop_latin && ch >= 0x41 && ch <= 0x7A))
            c[m++] = lut[ch];
    }
    /* the words (runs between spaces) and their hashes first, so that lookups can fetch ahead */
    d->spans.len = 0;
    Py_ssize_t i = 0;
    while (i < m) {
        if (c[i] == SPACE) {
            i++;
            continue;
        }
        Py_ssize_t j = i;
        while (j < m && c[j] != SPACE)
            j++;
        if (vec_reserve(&d->spans, d->spans.len + 1) < 0)
            return -1;
        ((WordSpan *)d->spans.data)[d->spans.len++] = (WordSpan){i, j - i, word_hash(d, c + i, j - i), j == m};
        i = j;
    }
    const WordSpan *spans = d->spans.data;
    const Py_ssize_t n_words = d->spans.len;
    d->text_rows.len = 0;
    for (Py_ssize_t k = 0; k < n_words; k++) {
#if defined(__GNUC__)
        if (k + SLOT_AHEAD < n_words)
            __builtin_prefetch(first_probe(&d->words, spans[k + SLOT_AHEAD].key));
        if (k + WORD_AHEAD < n_words) {
            const WordSlot *e = first_probe(&d->words, spans[k + WORD_AHEAD].key);
            if (e->key == spans[k + WORD_AHEAD].key) {
                __builtin_prefetch((const uint32_t *)d->word_chars.data + e->char_off);
                __builtin_prefetch((const int32_t *)d->word_rows.data + e->row_off);
            }
        }
#endif
        const WordSlot *word = cached_word(d, c + spans[k].start, spans[k].length, spans[k].key);
        if (word == NULL)
            return -1;
        const Py_ssize_t count = word->row_cnt - (spans[k].last ? word->trail : 0);
        if (count > 0) {
            if (vec_reserve(&d->text_rows, d->text_rows.len + count) < 0)
                return -1;
            memcpy((int32_t *)d->text_rows.data + d->text_rows.len, (const int32_t *)d->word_rows.data + word->row_off,
                   sizeof(int32_t) * (size_t)count);
            d->text_rows.len += count;
        }
    }
    return d->text_rows.len;
}

/* random.choice(ngrams) from stream position *q on: _randbelow(n) by rejection
   (getrandbits(k) is a stream word >> shift), then that n-gram's profile row. Advances *q
   past the accepted word; SHORT_STREAM where the stream ends first. */
static inline int64_t
next_row(const Detector *d, const uint32_t *stream, Py_ssize_t n_stream, int64_t n, int shift,
         Py_ssize_t *q)
{
    uint32_t r;
    do {
        if (*q >= n_stream)
            return SHORT_STREAM;
        r = stream[(*q)++] >> shift;
    } while (r >= (uint64_t)n);
    return ((const int32_t *)d->text_rows.data)[r];
}

/* sum(values) as the running CPython computes it (values are finite and positive here;
   the first one comes in through 0 + values[0], exactly values[0]). */
static inline double
python_sum(const double *values, Py_ssize_t count, int mode)
{
    double total = values[0];
    if (mode == 0) {
        for (Py_ssize_t j = 1; j < count; j++)
            total += values[j];
        return total;
    }
    double compensation = 0.0;  /* bltinmodule.c's Neumaier loop (3.12 and later) */
    for (Py_ssize_t j = 1; j < count; j++) {
        const double x = values[j], t = total + x;
        if (fabs(total) >= fabs(x))
            compensation += (total - t) + x;
        else
            compensation += (x - t) + total;
        total = t;
    }
    if (compensation != 0.0 && isfinite(compensation))
        total += compensation;
    return total;
}

/* Detector._detect_block's langprob for the n-grams in text_rows (n > 0);
   0, or 1 where the stream runs out. */
static int
trials(Detector *d, int64_t n, const uint32_t *stream, Py_ssize_t n_stream, const double *weight_first,
       const double *weight_next, Py_ssize_t n_weights, double *langprob)
{
    const Py_ssize_t n_lang = d->n_lang;
    const double *matrix = d->matrix.buf;
    double *prob = d->prob.data;
    const double init = 1.0 / (double)n_lang;
    int shift = 32;  /* 32 - n.bit_length() */
    for (int64_t v = n; v; v >>= 1)
        shift--;
    for (Py_ssize_t j = 0; j < n_lang; j++)
        langprob[j] = 0.0;
    Py_ssize_t q = 0;  /* stream position */
    int have_next = 0;
    double weight, weight_after = 0.0;
    for (int trial = 0; trial < N_TRIAL; trial++) {
        if (!have_next) {  /* random.gauss draws a pair: four stream words */
            if (q >= n_weights || q + 4 > n_stream)
                return 1;
            weight = weight_first[q];
            weight_after = weight_next[q];
            q += 4;
            have_next = 1;
        }
        else {
            weight = weight_after;
            have_next = 0;
        }
        for (Py_ssize_t j = 0; j < n_lang; j++)
            prob[j] = init;
        /* the next update's row is looked up (and its cache lines fetched) one update
           ahead: the profile matrix is tens of MB, each draw a random row of it */
        int64_t row = next_row(d, stream, n_stream, n, shift, &q);
        for (int i = 0;; i++) {
            if (row == SHORT_STREAM)
                return 1;
            const Py_ssize_t q_row = q;  /* the stream just after this update's draw */
            const int64_t next = next_row(d, stream, n_stream, n, shift, &q);
#if defined(__GNUC__)
            if (next != SHORT_STREAM)
                for (Py_ssize_t j = 0; j < n_lang; j += 8)
                    __builtin_prefetch(matrix + next * n_lang + j);
#endif
            const double *p = matrix + row * n_lang;
            for (Py_ssize_t j = 0; j < n_lang; j++)
                prob[j] *= weight + p[j];
            if (i % 5 == 0) {
                const double sump = python_sum(prob, n_lang, d->sum_mode);
                double maxp = 0.0;
                for (Py_ssize_t j = 0; j < n_lang; j++) {
                    const double v = prob[j] / sump;
                    if (maxp < v)
                        maxp = v;
                    prob[j] = v;
                }
                if (maxp > CONV_THRESHOLD || i >= ITERATION_LIMIT) {
                    q = q_row;  /* the look-ahead draw is the next trial's to make */
                    break;
                }
            }
            row = next;
        }
        for (Py_ssize_t j = 0; j < n_lang; j++)
            langprob[j] += prob[j] / (double)N_TRIAL;
    }
    return 0;
}

static int
buffer_of(PyObject *obj, Py_buffer *view, int flags, Py_ssize_t itemsize, const char *name)
{
    if (PyObject_GetBuffer(obj, view, flags | PyBUF_C_CONTIGUOUS) < 0)
        return -1;
    if (view->len % itemsize != 0) {
        PyErr_Format(PyExc_ValueError, "%s: not a whole number of %zd-byte items", name, itemsize);
        PyBuffer_Release(view);
        return -1;
    }
    return 0;
}

static PyObject *
langprob_many(Detector *d, PyObject *args)
{
    PyObject *texts, *stream_obj, *first_obj, *next_obj, *out_obj, *counts_obj;
    Py_ssize_t start;
    if (!PyArg_ParseTuple(args, "O!OOOOOn", &PyList_Type, &texts, &stream_obj, &first_obj, &next_obj,
                          &out_obj, &counts_obj, &start))
        return NULL;
    Py_buffer stream = {0}, first = {0}, next = {0}, out = {0}, counts = {0};
    Py_ssize_t done = -1;
    if (buffer_of(stream_obj, &stream, PyBUF_SIMPLE, 4, "stream") < 0 ||
        buffer_of(first_obj, &first, PyBUF_SIMPLE, 8, "weight_first") < 0 ||
        buffer_of(next_obj, &next, PyBUF_SIMPLE, 8, "weight_next") < 0 ||
        buffer_of(out_obj, &out, PyBUF_WRITABLE, 8, "out") < 0 ||
        buffer_of(counts_obj, &counts, PyBUF_WRITABLE, 8, "counts") < 0)
        goto finish;
    const Py_ssize_t n_texts = PyList_GET_SIZE(texts);
    if (out.len / 8 != n_texts * d->n_lang || counts.len / 8 != n_texts || next.len != first.len ||
        start < 0 || start > n_texts) {
        PyErr_SetString(PyExc_ValueError, "langprob_many: sizes do not match the texts");
        goto finish;
    }
    for (done = start; done < n_texts; done++) {
        PyObject *text = PyList_GET_ITEM(texts, done);
        if (!PyUnicode_Check(text)) {
            PyErr_SetString(PyExc_TypeError, "langprob_many: texts must be str");
            done = -1;
            break;
        }
        if (d->words.used > d->max_words || d->word_chars.len > d->max_chars ||
            d->word_rows.len > d->max_rows)
            cache_clear(d);
        const int64_t n = text_ngrams(d, text);
        if (n < 0) {
            done = -1;
            break;
        }
        double *langprob = (double *)out.buf + done * d->n_lang;
        ((int64_t *)counts.buf)[done] = n;
        if (n == 0) {
            memset(langprob, 0, sizeof(double) * (size_t)d->n_lang);
            continue;
        }
        if (n > 0xFFFFFFFFLL) {
            PyErr_SetString(PyExc_ValueError, "langprob_many: more than 2**32 - 1 n-grams in a text");
            done = -1;
            break;
        }
        if (trials(d, n, stream.buf, stream.len / 4, first.buf, next.buf, first.len / 8, langprob))
            break;  /* the stream ran out: the caller grows it */
    }
finish:
    PyBuffer_Release(&stream);
    PyBuffer_Release(&first);
    PyBuffer_Release(&next);
    PyBuffer_Release(&out);
    PyBuffer_Release(&counts);
    if (done < 0)
        return NULL;
    return PyLong_FromSsize_t(done);
}

static PyObject *
clear(Detector *d, PyObject *unused)
{
    cache_clear(d);
    Py_RETURN_NONE;
}

static PyObject *
cached_words(Detector *d, PyObject *unused)
{
    return PyLong_FromSsize_t(d->words.used);
}

static int
detector_init(Detector *d, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"lut", "ngram_keys", "ngram_rows", "matrix", "n_lang",
                             "max_words", "max_chars", "max_rows", "sum_mode", "word_hash_bits", NULL};
    PyObject *lut_obj, *keys_obj, *rows_obj, *matrix_obj;
    Py_ssize_t n_lang;
    int word_hash_bits = 64;
    d->max_words = 100000;  /* as the numpy path's word table (< 60 MB), then emptied */
    d->max_chars = 1 << 22;
    d->max_rows = 1 << 23;
    d->sum_mode = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OOOOn|nnnii", kwlist, &lut_obj, &keys_obj, &rows_obj,
                                     &matrix_obj, &n_lang, &d->max_words, &d->max_chars, &d->max_rows,
                                     &d->sum_mode, &word_hash_bits))
        return -1;
    if (d->sum_mode != 0 && d->sum_mode != 1) {
        PyErr_SetString(PyExc_ValueError, "Detector: sum_mode is 0 (left to right) or 1 (Neumaier)");
        return -1;
    }
    if (word_hash_bits < 1 || word_hash_bits > 64) {
        PyErr_SetString(PyExc_ValueError, "Detector: word_hash_bits is 1 to 64");
        return -1;
    }
    d->word_hash_mask = word_hash_bits == 64 ? UINT64_MAX : ((uint64_t)1 << word_hash_bits) - 1;
    if (d->lut.obj != NULL) {
        PyErr_SetString(PyExc_RuntimeError, "Detector is already initialized");
        return -1;
    }
    Py_buffer keys = {0}, rows = {0};
    int rc = -1;
    if (buffer_of(lut_obj, &d->lut, PyBUF_SIMPLE, 4, "lut") < 0)
        return -1;
    if (buffer_of(matrix_obj, &d->matrix, PyBUF_SIMPLE, 8, "matrix") < 0 ||
        buffer_of(keys_obj, &keys, PyBUF_SIMPLE, 8, "ngram_keys") < 0 ||
        buffer_of(rows_obj, &rows, PyBUF_SIMPLE, 4, "ngram_rows") < 0)
        goto finish;
    const Py_ssize_t n_keys = keys.len / 8;
    if (d->lut.len / 4 != LUT_SIZE || n_lang <= 0 || d->matrix.len / 8 % n_lang != 0 ||
        rows.len / 4 != n_keys) {
        PyErr_SetString(PyExc_ValueError, "Detector: inconsistent model sizes");
        goto finish;
    }
    d->n_lang = n_lang;
    d->matrix_rows = d->matrix.len / 8 / n_lang;
    const uint32_t *lut = d->lut.buf;
    for (Py_ssize_t i = 0; i < LUT_SIZE; i++)
        if (lut[i] >= LUT_SIZE) {
            PyErr_SetString(PyExc_ValueError, "Detector: lut maps outside Unicode");
            goto finish;
        }
    if (table_init(&d->ngrams, n_keys) < 0 || words_init(&d->words, 1 << 16) < 0)
        goto finish;
    const int64_t *k = keys.buf;
    const int32_t *r = rows.buf;
    for (Py_ssize_t i = 0; i < n_keys; i++) {
        if (k[i] <= 0 || r[i] <= 0 || r[i] >= d->matrix_rows) {  /* the numpy table's sentinel */
            if (k[i] == INT64_MAX && r[i] == 0)
                continue;
            PyErr_SetString(PyExc_ValueError, "Detector: a bad n-gram key or row");
            goto finish;
        }
        if (table_put(&d->ngrams, (uint64_t)k[i], r[i]) < 0)
            goto finish;
    }
    d->word_chars.item = sizeof(uint32_t);
    d->word_rows.item = sizeof(int32_t);
    d->cps.item = sizeof(uint32_t);
    d->spans.item = sizeof(WordSpan);
    d->text_rows.item = sizeof(int32_t);
    d->prob.item = sizeof(double);
    if (vec_reserve(&d->prob, n_lang) < 0)
        goto finish;
    rc = 0;
finish:
    PyBuffer_Release(&keys);
    PyBuffer_Release(&rows);
    return rc;
}

static void
detector_dealloc(Detector *d)
{
    if (d->lut.obj != NULL)
        PyBuffer_Release(&d->lut);
    if (d->matrix.obj != NULL)
        PyBuffer_Release(&d->matrix);
    table_free(&d->ngrams);
    PyMem_Free(d->words.slots);
    Vec *vecs[] = {&d->word_chars, &d->word_rows, &d->cps, &d->spans, &d->text_rows, &d->prob};
    for (size_t i = 0; i < sizeof vecs / sizeof vecs[0]; i++)
        PyMem_Free(vecs[i]->data);
    Py_TYPE(d)->tp_free((PyObject *)d);
}

static PyMethodDef detector_methods[] = {
    {"langprob_many", (PyCFunction)langprob_many, METH_VARARGS,
     "langprob_many(texts, stream, weight_first, weight_next, out, counts, start) -> texts done"},
    {"clear", (PyCFunction)clear, METH_NOARGS, "Empties the word cache (results never depend on it)."},
    {"cached_words", (PyCFunction)cached_words, METH_NOARGS, "Words in the cache."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject DetectorType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "c4forge.cleaning_rules.language.langdetect_compiled.Detector",
    .tp_basicsize = sizeof(Detector),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "langdetect 1.0.9's detection (seed 0), compiled; see the top of langdetect_compiled.c.",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)detector_init,
    .tp_dealloc = (destructor)detector_dealloc,
    .tp_methods = detector_methods,
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "langdetect_compiled",
    "langdetect 1.0.9's detection (seed 0), compiled (see langdetect_exact.py).", -1, NULL,
};

PyMODINIT_FUNC
PyInit_langdetect_compiled(void)
{
    if (PyType_Ready(&DetectorType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL)
        return NULL;
    Py_INCREF(&DetectorType);
    if (PyModule_AddObject(m, "Detector", (PyObject *)&DetectorType) < 0) {
        Py_DECREF(&DetectorType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
