/* A plain WET record's header block parsed in C (records/plain_wet.py, split_plain_record).

   split(member) -> None, or (headers, body_at, length): the (name, value) pairs warcio would
   give, in order, where the body starts and its Content-Length. None whenever the Python
   split_plain_record returns None: the member is not one plain record (then the general path
   reads the file). The tests compare both on crafted, mutated and real members.

   Python's rules, which this follows step by step: the header lines (between "WARC/1.0\r\n"
   and the first "\r\n\r\n") hold CR and LF only as "\r\n" pairs and decode as strict UTF-8;
   a line starting with a space or tab is a continuation (not plain); each line is rstripped
   (str.isspace), must be non-empty and hold a ':'; the name before it is rstripped of spaces
   and tabs, the value after it lstripped (str.isspace). Exactly one Content-Length (its name
   compared case-insensitively: no other code point lower-cases to one of its letters alone),
   of ASCII digits, and the member ends right after the body with "\r\n\r\n". */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

#define MAX_PLAIN_MEMBER_BYTES (1 << 20)
static const char VERSION_LINE[] = "WARC/1.0\r\n";
#define VERSION_LINE_LEN 10

static Py_ssize_t
find_crlfcrlf(const char *s, Py_ssize_t start, Py_ssize_t n)
{
    for (Py_ssize_t i = start; i + 4 <= n; i++) {
        const char *p = memchr(s + i, '\r', (size_t)(n - 3 - i));
        if (p == NULL)
            return -1;
        i = p - s;
        if (p[1] == '\n' && p[2] == '\r' && p[3] == '\n')
            return i;
    }
    return -1;
}

/* Every CR followed by LF and every LF preceded by CR (the counts of "\r\n", "\n" and "\r" equal). */
static int
crlf_pairs_only(const char *s, Py_ssize_t n)
{
    for (Py_ssize_t i = 0; i < n; i++) {
        if (s[i] == '\r') {
            if (i + 1 >= n || s[i + 1] != '\n')
                return 0;
            i++;
        }
        else if (s[i] == '\n')
            return 0;
    }
    return 1;
}

static int
is_content_length(PyObject *name)
{
    static const char want[] = "content-length";
    if (PyUnicode_GET_LENGTH(name) != (Py_ssize_t)(sizeof(want) - 1))
        return 0;
    const int kind = PyUnicode_KIND(name);
    const void *data = PyUnicode_DATA(name);
    for (Py_ssize_t i = 0; i < (Py_ssize_t)(sizeof(want) - 1); i++) {
        Py_UCS4 c = PyUnicode_READ(kind, data, i);
        if (c >= 'A' && c <= 'Z')
            c += 'a' - 'A';
        if (c != (Py_UCS4)want[i])
            return 0;
    }
    return 1;
}

/* The header pairs of a block of lines joined with "\r\n", or Py_None when one is not plain;
   *length the Content-Length (-1: none). NULL with an exception only on memory errors. */
static PyObject *
parse_headers(PyObject *text, Py_ssize_t *length)
{
    const int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    const Py_ssize_t n = PyUnicode_GET_LENGTH(text);
    PyObject *headers = PyList_New(0);
    if (headers == NULL)
        return NULL;
    *length = -1;
    Py_ssize_t start = 0;
    while (start <= n) {
        Py_ssize_t end = start;
        while (end < n && PyUnicode_READ(kind, data, end) != '\r')
            end++;  /* CR only comes in "\r\n" pairs here */
        const Py_ssize_t next = end + 2;
        if (end > start) {
            Py_UCS4 first = PyUnicode_READ(kind, data, start);
            if (first == ' ' || first == '\t')
                goto not_plain;
        }
        Py_ssize_t stop = end;  /* line.rstrip() */
        while (stop > start && Py_UNICODE_ISSPACE(PyUnicode_READ(kind, data, stop - 1)))
            stop--;
        if (stop == start)
            goto not_plain;
        Py_ssize_t colon = start;
        while (colon < stop && PyUnicode_READ(kind, data, colon) != ':')
            colon++;
        if (colon == stop)
            goto not_plain;
        Py_ssize_t name_end = colon;  /* name.rstrip(" \t") */
        while (name_end > start) {
            Py_UCS4 c = PyUnicode_READ(kind, data, name_end - 1);
            if (c != ' ' && c != '\t')
                break;
            name_end--;
        }
        Py_ssize_t value_start = colon + 1;  /* value.lstrip() */
        while (value_start < stop && Py_UNICODE_ISSPACE(PyUnicode_READ(kind, data, value_start)))
            value_start++;
        PyObject *name = PyUnicode_Substring(text, start, name_end);
        if (name == NULL)
            goto error;
        if (is_content_length(name)) {
            Py_ssize_t value = 0;
            if (*length >= 0 || value_start == stop) {
                Py_DECREF(name);
                goto not_plain;
            }
            for (Py_ssize_t i = value_start; i < stop; i++) {
                Py_UCS4 c = PyUnicode_READ(kind, data, i);
                if (c < '0' || c > '9') {
                    Py_DECREF(name);
                    goto not_plain;
                }
                /* beyond any member's size: the length check below fails either way */
                if (value <= MAX_PLAIN_MEMBER_BYTES)
                    value = value * 10 + (c - '0');
            }
            *length = value;
        }
        PyObject *value = PyUnicode_Substring(text, value_start, stop);
        if (value == NULL) {
            Py_DECREF(name);
            goto error;
        }
        PyObject *pair = PyTuple_Pack(2, name, value);
        Py_DECREF(name);
        Py_DECREF(value);
        if (pair == NULL || PyList_Append(headers, pair) < 0) {
            Py_XDECREF(pair);
            goto error;
        }
        Py_DECREF(pair);
        if (end >= n)
            break;
        start = next;
    }
    return headers;
not_plain:
    Py_DECREF(headers);
    Py_RETURN_NONE;
error:
    Py_DECREF(headers);
    return NULL;
}

static PyObject *
split(PyObject *module, PyObject *arg)
{
    Py_buffer view;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0)
        return NULL;
    const char *s = view.buf;
    const Py_ssize_t n = view.len;
    PyObject *result = NULL;
    if (n > MAX_PLAIN_MEMBER_BYTES || n < VERSION_LINE_LEN || memcmp(s, VERSION_LINE, VERSION_LINE_LEN) != 0)
        goto not_plain;
    const Py_ssize_t header_end = find_crlfcrlf(s, VERSION_LINE_LEN - 2, n);
    if (header_end <= VERSION_LINE_LEN)  /* none, or an empty header block */
        goto not_plain;
    const char *block = s + VERSION_LINE_LEN;
    const Py_ssize_t block_len = header_end - VERSION_LINE_LEN;
    if (!crlf_pairs_only(block, block_len))
        goto not_plain;
    PyObject *text = PyUnicode_DecodeUTF8(block, block_len, "strict");
    if (text == NULL) {
        if (!PyErr_ExceptionMatches(PyExc_UnicodeDecodeError))
            goto done;
        PyErr_Clear();
        goto not_plain;
    }
    Py_ssize_t length;
    PyObject *headers = parse_headers(text, &length);
    Py_DECREF(text);
    if (headers == NULL)
        goto done;
    const Py_ssize_t body_at = header_end + 4;
    if (headers == Py_None || length < 0 || body_at + length + 4 != n
            || memcmp(s + n - 4, "\r\n\r\n", 4) != 0) {
        Py_DECREF(headers);
        goto not_plain;
    }
    result = Py_BuildValue("(Nnn)", headers, body_at, length);
    goto done;
not_plain:
    result = Py_NewRef(Py_None);
done:
    PyBuffer_Release(&view);
    return result;
}

static PyMethodDef methods[] = {
    {"split", split, METH_O,
     "split(member) -> None or (headers, body_at, length): a plain WET record's header pairs "
     "and where its body is, as records/plain_wet.py's split_plain_record finds them."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "plain_wet_compiled",
    "A plain WET record's headers parsed in C (records/plain_wet.py).", -1, methods,
};

PyMODINIT_FUNC
PyInit_plain_wet_compiled(void)
{
    return PyModule_Create(&module_def);
}
