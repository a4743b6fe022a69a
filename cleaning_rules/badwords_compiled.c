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
   (sre: Py_UNICODE_ISALNUM or "_"); the tests check every code point against the regex's. */

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

static inline __attribute__((always_inline)) PyObject *
search_kind(const Matcher *m, int kind, const void *data, Py_ssize_t n)
{
    int after_word = 0;
    for (Py_ssize_t start = 0; start < n; start++) {
        Py_UCS4 first = PyUnicode_READ(kind, data, start);
        if (!after_word) {
            int32_t node = child_of(m, 0, first);
            for (Py_ssize_t end = start + 1; node >= 0; end++) {
                if (m->ends[node] && (end == n || !is_word(PyUnicode_READ(kind, data, end))))
                    return Py_BuildValue("(nn)", start, end);
                if (end == n)
                    break;
                node = child_of(m, node, PyUnicode_READ(kind, data, end));
            }
        }
        after_word = is_word(first);
    }
    Py_RETURN_NONE;
}

static PyObject *
matcher_search(Matcher *self, PyObject *text)
{
    if (!PyUnicode_Check(text)) {
        PyErr_Format(PyExc_TypeError, "search() takes a str, not %.100s", Py_TYPE(text)->tp_name);
        return NULL;
    }
    if (self->n_nodes == 0) {  /* __init__ never ran, or failed */
        PyErr_SetString(PyExc_ValueError, "Matcher has no trie");
        return NULL;
    }
#if PY_VERSION_HEX < 0x030C0000
    if (PyUnicode_READY(text) < 0)
        return NULL;
#endif
    const void *data = PyUnicode_DATA(text);
    Py_ssize_t n = PyUnicode_GET_LENGTH(text);
    switch (PyUnicode_KIND(text)) {
    case PyUnicode_1BYTE_KIND:
        return search_kind(self, PyUnicode_1BYTE_KIND, data, n);
    case PyUnicode_2BYTE_KIND:
        return search_kind(self, PyUnicode_2BYTE_KIND, data, n);
    default:
        return search_kind(self, PyUnicode_4BYTE_KIND, data, n);
    }
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

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "badwords_compiled",
    "The page bad-words rule's search, compiled (see badwords.py's PageBadwords).", -1, NULL, NULL, NULL, NULL, NULL,
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
