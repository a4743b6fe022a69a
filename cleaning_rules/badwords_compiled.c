/* The page bad-words rule's search, compiled (badwords.PageBadwords): an occurrence of a list
   entry in the lower-cased page counts when a non-word character or the page's end flanks it
   on each side, TFDS's (?:\W|^)(word)(?:\W|$).

   Matcher(offsets, chars, children, ends) holds the entries as a trie that badwords.py builds:
   node i's edges are chars[offsets[i]:offsets[i + 1]] (sorted code points) to
   children[offsets[i]:offsets[i + 1]]; ends[i] is 1 where an entry ends at node i; node 0 is
   the root. Matcher.search(text) -> (start, end) of a flanked occurrence, the one that starts
   first (the shortest there), or None.

   An occurrence is flanked on the left exactly when it starts where the text starts or after
   a non-word character, so the trie is walked from those positions only; at each entry's end
   the right flank is checked. A word character is what Python's re calls \w in a str pattern
   (sre: Py_UNICODE_ISALNUM or "_"); the tests check every code point against the regex's.

   Matcher.search_lowered(text) is search(text.lower()) without making the lower-cased copy
   (on pages with any non-ASCII character str.lower maps each one through Unicode's tables, and
   that copy cost about as much as the search): each character is lower-cased as it is read,
   flanks included. str.lower's mapping is one character to one except for U+0130 (two
   characters) and U+03A3 (by context, final sigma); a text that holds either is lower-cased
   whole and searched as before. lower_chars(text) is the per-character mapping itself (the
   tests compare it with str.lower on every other code point). */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

typedef struct {
    PyObject_HEAD
    Py_ssize_t n_nodes;
    int32_t *offsets;     /* n_nodes + 1 */
    Py_UCS4 *chars;       /* edges, per node sorted */
    int32_t *children;
    unsigned char *ends;  /* n_nodes */
    int32_t *ascii_child; /* node * 128 + char: the child for an ASCII char, or -1 */
} Matcher;

static unsigned char latin1_word[256];  /* filled at import from the same predicate */

static inline int
is_word(Py_UCS4 ch)
{
    return ch < 256 ? latin1_word[ch] : Py_UNICODE_ISALNUM(ch);  /* "_" is below 256 */
}

#define DOTTED_CAPITAL_I 0x130  /* lower: "i" + U+0307 */
#define CAPITAL_SIGMA 0x3A3     /* lower: final or medial sigma, by context */

static inline Py_UCS4
lower_char(Py_UCS4 ch)
{
    if (ch < 128)
        return (ch >= 'A' && ch <= 'Z') ? ch + ('a' - 'A') : ch;
    return Py_UNICODE_TOLOWER(ch);
}

/* Returned by search_kind in lowering mode at a character lower_char cannot map alone. */
static PyObject LOWER_WHOLE_TEXT;

static inline int32_t
child_of(const Matcher *m, int32_t node, Py_UCS4 ch)
{
    if (ch < 128)
        return m->ascii_child[(size_t)node * 128 + ch];
    for (int32_t e = m->offsets[node]; e < m->offsets[node + 1]; e++)
        if (m->chars[e] == ch)
            return m->children[e];
    return -1;
}

static inline __attribute__((always_inline)) Py_UCS4
read_char(int kind, const void *data, Py_ssize_t i, int lowering, int *whole)
{
    Py_UCS4 ch = PyUnicode_READ(kind, data, i);
    if (!lowering)
        return ch;
    if (ch == DOTTED_CAPITAL_I || ch == CAPITAL_SIGMA)
        *whole = 1;
    return lower_char(ch);
}

static inline __attribute__((always_inline)) PyObject *
search_kind(const Matcher *m, int kind, const void *data, Py_ssize_t n, int lowering)
{
    int after_word = 0, whole = 0;
    for (Py_ssize_t start = 0; start < n; start++) {
        Py_UCS4 first = read_char(kind, data, start, lowering, &whole);
        if (whole)
            return &LOWER_WHOLE_TEXT;
        if (!after_word) {
            int32_t node = child_of(m, 0, first);
            for (Py_ssize_t end = start + 1; node >= 0; end++) {
                if (m->ends[node]) {
                    int flanked = end == n || !is_word(read_char(kind, data, end, lowering, &whole));
                    if (whole)
                        return &LOWER_WHOLE_TEXT;
                    if (flanked)
                        return Py_BuildValue("(nn)", start, end);
                }
                if (end == n)
                    break;
                node = child_of(m, node, read_char(kind, data, end, lowering, &whole));
                if (whole)
                    return &LOWER_WHOLE_TEXT;
            }
        }
        after_word = is_word(first);
    }
    Py_RETURN_NONE;
}

static int
ready_text(PyObject *text, const char *method)
{
    if (!PyUnicode_Check(text)) {
        PyErr_Format(PyExc_TypeError, "%s() takes a str, not %.100s", method, Py_TYPE(text)->tp_name);
        return -1;
    }
#if PY_VERSION_HEX < 0x030C0000
    if (PyUnicode_READY(text) < 0)
        return -1;
#endif
    return 0;
}

static PyObject *
search_text(Matcher *self, PyObject *text, int lowering, const char *method)
{
    if (ready_text(text, method) < 0)
        return NULL;
    if (self->n_nodes == 0) {  /* __init__ never ran, or failed */
        PyErr_SetString(PyExc_ValueError, "Matcher has no trie");
        return NULL;
    }
    const void *data = PyUnicode_DATA(text);
    Py_ssize_t n = PyUnicode_GET_LENGTH(text);
    switch (PyUnicode_KIND(text)) {
    case PyUnicode_1BYTE_KIND:
        return search_kind(self, PyUnicode_1BYTE_KIND, data, n, lowering);
    case PyUnicode_2BYTE_KIND:
        return search_kind(self, PyUnicode_2BYTE_KIND, data, n, lowering);
    default:
        return search_kind(self, PyUnicode_4BYTE_KIND, data, n, lowering);
    }
}

static PyObject *
matcher_search(Matcher *self, PyObject *text)
{
    return search_text(self, text, 0, "search");
}

static PyObject *
matcher_search_lowered(Matcher *self, PyObject *text)
{
    PyObject *found = search_text(self, text, 1, "search_lowered");
    if (found != &LOWER_WHOLE_TEXT)
        return found;
    PyObject *lowered = PyObject_CallMethod(text, "lower", NULL);
    if (lowered == NULL)
        return NULL;
    found = search_text(self, lowered, 0, "search_lowered");
    Py_DECREF(lowered);
    return found;
}

static PyObject *
lower_chars(PyObject *module, PyObject *text)
{
    if (ready_text(text, "lower_chars") < 0)
        return NULL;
    Py_ssize_t n = PyUnicode_GET_LENGTH(text);
    int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    Py_UCS4 max_char = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_UCS4 ch = lower_char(PyUnicode_READ(kind, data, i));
        if (ch > max_char)
            max_char = ch;
    }
    PyObject *out = PyUnicode_New(n, max_char);
    if (out == NULL)
        return NULL;
    for (Py_ssize_t i = 0; i < n; i++)
        PyUnicode_WRITE(PyUnicode_KIND(out), PyUnicode_DATA(out), i, lower_char(PyUnicode_READ(kind, data, i)));
    return out;
}

/* A list of ints as a C array of `count` items (each within [low, high]). */
static int
read_ints(PyObject *list, const char *name, Py_ssize_t count, long long low, long long high,
          void *out, size_t item)
{
    if (!PyList_Check(list) || PyList_GET_SIZE(list) != count) {
        PyErr_Format(PyExc_ValueError, "Matcher: %s must be a list of %zd ints", name, count);
        return -1;
    }
    for (Py_ssize_t i = 0; i < count; i++) {
        long long v = PyLong_AsLongLong(PyList_GET_ITEM(list, i));
        if (v == -1 && PyErr_Occurred())
            return -1;
        if (v < low || v > high) {
            PyErr_Format(PyExc_ValueError, "Matcher: %s[%zd] = %lld is out of range", name, i, v);
            return -1;
        }
        if (item == 4)
            ((int32_t *)out)[i] = (int32_t)v;
        else
            ((unsigned char *)out)[i] = (unsigned char)v;
    }
    return 0;
}

static int
matcher_init(Matcher *self, PyObject *args, PyObject *kwds)
{
    static char *keywords[] = {"offsets", "chars", "children", "ends", NULL};
    PyObject *offsets, *chars, *children, *ends;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OOOO:Matcher", keywords, &offsets, &chars, &children, &ends))
        return -1;
    if (!PyList_Check(ends) || PyList_GET_SIZE(ends) < 1 || !PyList_Check(chars)) {
        PyErr_SetString(PyExc_ValueError, "Matcher: ends (one per node, the root first) and chars must be lists");
        return -1;
    }
    Py_ssize_t nodes = PyList_GET_SIZE(ends), edges = PyList_GET_SIZE(chars);
    if (nodes > INT32_MAX - 1 || edges > INT32_MAX) {
        PyErr_SetString(PyExc_ValueError, "Matcher: too many nodes");
        return -1;
    }
    PyMem_Free(self->offsets);
    PyMem_Free(self->chars);
    PyMem_Free(self->children);
    PyMem_Free(self->ends);
    PyMem_Free(self->ascii_child);
    self->ascii_child = PyMem_Malloc((size_t)nodes * 128 * sizeof(int32_t));
    self->offsets = PyMem_Calloc((size_t)nodes + 1, sizeof(int32_t));
    self->chars = PyMem_Calloc((size_t)edges + 1, sizeof(Py_UCS4));
    self->children = PyMem_Calloc((size_t)edges + 1, sizeof(int32_t));
    self->ends = PyMem_Calloc((size_t)nodes, 1);
    self->n_nodes = 0;
    if (!self->offsets || !self->chars || !self->children || !self->ends || !self->ascii_child) {
        PyErr_NoMemory();
        return -1;
    }
    if (read_ints(offsets, "offsets", nodes + 1, 0, edges, self->offsets, 4) < 0
        || read_ints(chars, "chars", edges, 0, 0x10FFFF, self->chars, 4) < 0
        || read_ints(children, "children", edges, 1, nodes - 1, self->children, 4) < 0
        || read_ints(ends, "ends", nodes, 0, 1, self->ends, 1) < 0)
        return -1;
    for (Py_ssize_t i = 0; i < nodes; i++)
        if (self->offsets[i] > self->offsets[i + 1]) {
            PyErr_SetString(PyExc_ValueError, "Matcher: offsets must not decrease");
            return -1;
        }
    if (self->offsets[0] != 0 || self->offsets[nodes] != edges) {
        PyErr_SetString(PyExc_ValueError, "Matcher: offsets must run from 0 to the number of edges");
        return -1;
    }
    if (self->ends[0]) {
        PyErr_SetString(PyExc_ValueError, "Matcher: an empty entry");
        return -1;
    }
    for (Py_ssize_t i = 0; i < nodes * 128; i++)
        self->ascii_child[i] = -1;
    for (Py_ssize_t node = 0; node < nodes; node++)
        for (int32_t e = self->offsets[node]; e < self->offsets[node + 1]; e++)
            if (self->chars[e] < 128)
                self->ascii_child[node * 128 + self->chars[e]] = self->children[e];
    self->n_nodes = nodes;
    return 0;
}

static void
matcher_dealloc(Matcher *self)
{
    PyMem_Free(self->offsets);
    PyMem_Free(self->chars);
    PyMem_Free(self->children);
    PyMem_Free(self->ends);
    PyMem_Free(self->ascii_child);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyMethodDef matcher_methods[] = {
    {"search", (PyCFunction)matcher_search, METH_O,
     "search(text) -> (start, end) of the first-starting flanked occurrence of an entry, or None"},
    {"search_lowered", (PyCFunction)matcher_search_lowered, METH_O,
     "search_lowered(text) -> search(text.lower()), lower-casing each character as it is read"},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject MatcherType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "c4forge.cleaning_rules.badwords_compiled.Matcher",
    .tp_basicsize = sizeof(Matcher),
    .tp_dealloc = (destructor)matcher_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Matcher(offsets, chars, children, ends): the bad-words trie (see badwords.py)",
    .tp_methods = matcher_methods,
    .tp_init = (initproc)matcher_init,
    .tp_new = PyType_GenericNew,
};

static PyMethodDef module_methods[] = {
    {"lower_chars", (PyCFunction)lower_chars, METH_O,
     "lower_chars(text) -> text with each character lower-cased alone, as search_lowered reads it"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "badwords_compiled",
    "The page bad-words rule's search, compiled (see badwords.py's PageBadwords).", -1, module_methods, NULL, NULL,
    NULL, NULL,
};

PyMODINIT_FUNC
PyInit_badwords_compiled(void)
{
    for (int ch = 0; ch < 256; ch++)
        latin1_word[ch] = (unsigned char)(Py_UNICODE_ISALNUM((Py_UCS4)ch) || ch == '_');
    if (PyType_Ready(&MatcherType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL)
        return NULL;
    Py_INCREF(&MatcherType);
    if (PyModule_AddObject(m, "Matcher", (PyObject *)&MatcherType) < 0) {
        Py_DECREF(&MatcherType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
