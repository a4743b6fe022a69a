/* Punkt's sentence breaks of a text counted in C, for sentences.has_at_least_sentences.

   count_breaks(text, n, text_end, abbrev_types, collocation_firsts, contains_break) -> int
   walks the text as NLTK 3.10's PunktSentenceTokenizer._slices_from_text does
   (span_tokenize without realignment) and returns how many break slices end before text_end
   (len(text.rstrip())), stopping at n:
   - _match_potential_end_contexts: every ".", "?" or "!" followed by one of NonWord's
     characters, or by white space and a token (period_context_re; set_classes() passes in
     the code points of both classes as the `regex` module matches them: its \s is not
     str.isspace()); the word before it runs from
     the last white space of string.whitespace after the previous candidate (or, where that
     search finds nothing or only the first character, from the previous candidate's word
     start, as NLTK's _get_last_whitespace_index leaves it); a candidate is given up when
     the next one's word starts before it; the context is text[word start : token end].
   - text_contains_sentbreak(context), as sentences._punkt_with_shortcut's: a context that
     is `re`'s fullmatch of "<letters>{2,}.<spaces><non-spaces>" holds a break unless
     word.lower() is in abbrev_types or (word + ".").lower()[:-1] in collocation_firsts;
     "<letters>[?!]<spaces><non-spaces>" holds one; letters are [^\W\d_] (str.isalnum(),
     not a decimal digit, not "_"), spaces str.isspace(). Any other context is decided by
     contains_break(context), NLTK's own method.
   The tests compare it with the Python path on the real pages, every code point around a
   break and random texts. */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>

#define MAX_OTHER 64

/* A class of the period context's regex: code points below 128 as a table, the others as a
   short list (set_classes()). */
typedef struct {
    unsigned char ascii[128];
    Py_UCS4 other[MAX_OTHER];
    Py_ssize_t n_other;
} CharClass;

static CharClass regex_space, non_word;  /* the `regex` module's \s; NonWord */
static int classes_set;

static inline int
in_class(const CharClass *c, Py_UCS4 ch)
{
    if (ch < 128)
        return c->ascii[ch];
    for (Py_ssize_t i = 0; i < c->n_other; i++)
        if (c->other[i] == ch)
            return 1;
    return 0;
}

/* string.whitespace */
static inline int
is_ascii_whitespace(Py_UCS4 ch)
{
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\x0b' || ch == '\x0c';
}

/* `re`'s [^\W\d_] */
static inline int
is_re_letter(Py_UCS4 ch)
{
    return Py_UNICODE_ISALNUM(ch) && !Py_UNICODE_ISDECIMAL(ch) && ch != '_';
}

typedef struct {
    PyObject *text;
    int kind;
    const void *data;
    Py_ssize_t len;
} Text;

static inline Py_UCS4
at(const Text *t, Py_ssize_t i)
{
    return PyUnicode_READ(t->kind, t->data, i);
}

/* Whether the word (letters, from `start` to `stop`) followed by "." is a plain break: its
   lower-cased form is no abbreviation and its type no collocation's first word. */
static int
plain_period_break(const Text *t, Py_ssize_t start, Py_ssize_t stop, PyObject *abbrev_types,
                   PyObject *collocation_firsts)
{
    PyObject *word = PyUnicode_Substring(t->text, start, stop);
    if (word == NULL)
        return -1;
    PyObject *lower = PyObject_CallMethod(word, "lower", NULL);
    int found = lower == NULL ? -1 : PySet_Contains(abbrev_types, lower);
    if (found == 0) {
        /* (word + ".").lower()[:-1], as Punkt computes a token's type */
        PyObject *dotted = PyUnicode_FromFormat("%U.", word);
        PyObject *dotted_lower = dotted == NULL ? NULL : PyObject_CallMethod(dotted, "lower", NULL);
        PyObject *type = dotted_lower == NULL ? NULL
                         : PyUnicode_Substring(dotted_lower, 0, PyUnicode_GET_LENGTH(dotted_lower) - 1);
        found = type == NULL ? -1 : PySet_Contains(collocation_firsts, type);
        Py_XDECREF(type);
        Py_XDECREF(dotted_lower);
        Py_XDECREF(dotted);
    }
    Py_XDECREF(lower);
    Py_DECREF(word);
    return found < 0 ? -1 : !found;
}

/* text_contains_sentbreak(text[start:stop]): 1, 0, -1 on error. */
static int
contains_break(const Text *t, Py_ssize_t start, Py_ssize_t stop, PyObject *abbrev_types,
               PyObject *collocation_firsts, PyObject *nltk_contains_break)
{
    Py_ssize_t pos = start;
    while (pos < stop && is_re_letter(at(t, pos)))
        pos++;
    const Py_ssize_t letters = pos - start;
    const Py_UCS4 end_char = pos < stop ? at(t, pos) : 0;
    const int period = letters >= 2 && end_char == '.', mark = letters >= 1 && (end_char == '?' || end_char == '!');
    if (period || mark) {
        /* the rest: one or more spaces, then one or more non-spaces to the end */
        Py_ssize_t k = pos + 1;
        while (k < stop && Py_UNICODE_ISSPACE(at(t, k)))
            k++;
        Py_ssize_t spaces_end = k;
        while (k < stop && !Py_UNICODE_ISSPACE(at(t, k)))
            k++;
        if (spaces_end > pos + 1 && k == stop && stop > spaces_end) {
            if (mark)
                return 1;
            const int plain = plain_period_break(t, start, pos, abbrev_types, collocation_firsts);
            if (plain != 0)
                return plain;
        }
    }
    PyObject *context = PyUnicode_Substring(t->text, start, stop);
    if (context == NULL)
        return -1;
    PyObject *verdict = PyObject_CallOneArg(nltk_contains_break, context);
    Py_DECREF(context);
    if (verdict == NULL)
        return -1;
    const int yes = PyObject_IsTrue(verdict);
    Py_DECREF(verdict);
    return yes;
}

static PyObject *
count_breaks(PyObject *Py_UNUSED(module), PyObject *args)
{
    PyObject *text, *abbrev_types, *collocation_firsts, *nltk_contains_break;
    Py_ssize_t n, text_end;
    if (!PyArg_ParseTuple(args, "UnnO!O!O", &text, &n, &text_end, &PySet_Type, &abbrev_types,
                          &PyFrozenSet_Type, &collocation_firsts, &nltk_contains_break))
        return NULL;
    if (!classes_set) {
        PyErr_SetString(PyExc_RuntimeError, "count_breaks: set_classes() has not been called");
        return NULL;
    }
#if PY_VERSION_HEX < 0x030C0000
    if (PyUnicode_READY(text) < 0)
        return NULL;
#endif
    const Text t = {text, PyUnicode_KIND(text), PyUnicode_DATA(text), PyUnicode_GET_LENGTH(text)};
    Py_ssize_t breaks = 0;
    /* the candidate before this one, not yet given out: its word start, position and the
       end of the token after it */
    int pending = 0;
    Py_ssize_t word_start = 0, mark_at = 0, token_end = 0;
    for (Py_ssize_t m = 0; m < t.len && breaks < n; m++) {
        const Py_UCS4 ch = at(&t, m);
        if (ch != '.' && ch != '?' && ch != '!')
            continue;
        Py_ssize_t end;
        if (m + 1 < t.len && in_class(&non_word, at(&t, m + 1)))
            end = m + 2;
        else {
            Py_ssize_t k = m + 1;
            while (k < t.len && in_class(&regex_space, at(&t, k)))
                k++;
            if (k == m + 1 || k == t.len)
                continue;  /* no white space after it, or nothing after that */
            while (k < t.len && !in_class(&regex_space, at(&t, k)))
                k++;
            end = k;
        }
        /* the word before it: after the last white space since the previous candidate */
        const Py_ssize_t previous_stop = pending ? mark_at : 0, previous_start = pending ? word_start : 0;
        Py_ssize_t last = m - 1;
        while (last >= previous_stop && !is_ascii_whitespace(at(&t, last)))
            last--;
        const Py_ssize_t start = last > previous_stop ? last + 1 : previous_start;
        if (pending && mark_at <= start) {
            const int yes = contains_break(&t, word_start, token_end, abbrev_types, collocation_firsts,
                                           nltk_contains_break);
            if (yes < 0)
                return NULL;
            if (yes) {
                if (mark_at + 1 >= text_end)
                    return PyLong_FromSsize_t(breaks);
                breaks++;
            }
        }
        pending = 1;
        word_start = start;
        mark_at = m;
        token_end = end;
    }
    if (pending && breaks < n) {
        const int yes = contains_break(&t, word_start, token_end, abbrev_types, collocation_firsts,
                                       nltk_contains_break);
        if (yes < 0)
            return NULL;
        if (yes && mark_at + 1 < text_end)
            breaks++;
    }
    return PyLong_FromSsize_t(breaks);
}

static int
class_of(PyObject *code_points, CharClass *c)
{
    PyObject *seq = PySequence_Fast(code_points, "set_classes() takes sequences of code points");
    if (seq == NULL)
        return -1;
    memset(c, 0, sizeof *c);
    for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(seq); i++) {
        const long cp = PyLong_AsLong(PySequence_Fast_GET_ITEM(seq, i));
        if (cp == -1 && PyErr_Occurred())
            break;
        if (cp < 0 || cp > 0x10FFFF) {
            PyErr_SetString(PyExc_ValueError, "set_classes(): not a code point");
            break;
        }
        if (cp < 128)
            c->ascii[cp] = 1;
        else if (c->n_other == MAX_OTHER) {
            PyErr_SetString(PyExc_ValueError, "set_classes(): a class with more code points than expected");
            break;
        }
        else
            c->other[c->n_other++] = (Py_UCS4)cp;
    }
    Py_DECREF(seq);
    return PyErr_Occurred() ? -1 : 0;
}

static PyObject *
set_classes(PyObject *Py_UNUSED(module), PyObject *args)
{
    PyObject *spaces, *non_word_chars;
    if (!PyArg_ParseTuple(args, "OO", &spaces, &non_word_chars))
        return NULL;
    CharClass s, w;
    if (class_of(spaces, &s) < 0 || class_of(non_word_chars, &w) < 0)
        return NULL;
    regex_space = s;
    non_word = w;
    classes_set = 1;
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"count_breaks", count_breaks, METH_VARARGS,
     "count_breaks(text, n, text_end, abbrev_types, collocation_firsts, contains_break) -> break slices "
     "ending before text_end, at most n"},
    {"set_classes", set_classes, METH_VARARGS,
     "set_classes(spaces, non_word): the code points of the period context's \\s (the `regex` module's) "
     "and NonWord"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "sentences_compiled",
    "Punkt's sentence breaks counted in C (see sentences.py).", -1, methods,
};

PyMODINIT_FUNC
PyInit_sentences_compiled(void)
{
    return PyModule_Create(&module);
}
