/* Strict UTF-8 validation of a stream given in pieces, without decoding it (records/utf8.py).

   Python's strict decoder is the reference: a byte sequence is valid exactly when
   bytes.decode("utf-8") accepts it (no overlong forms, no surrogates, nothing above U+10FFFF),
   and the offset reported for the first invalid sequence is the decoder's UnicodeDecodeError
   start: the lead byte of the sequence being read, or the offending byte when it cannot start
   a sequence. The tests compare both on random and crafted bytes cut into random pieces.

   scan(piece, base, state, lead_at) -> (bad_at, state, lead_at)
     base: the stream offset of piece[0]; state: continuation bytes still expected by the
     sequence the previous piece left unfinished (0: none) and, in bits 8 and up, the range
     its next byte must fall in; lead_at: that sequence's lead offset. bad_at: the stream
     offset of the first invalid sequence, or -1. After the last piece, a state other than
     0 means the stream ends inside a sequence: invalid at lead_at. */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

/* The allowed range of the first continuation byte after each lead (Unicode table 3-7). */
enum { ANY = 0, E0_A0 = 1, ED_80 = 2, F0_90 = 3, F4_80 = 4 };

static inline int
first_continuation_ok(int range, unsigned char b)
{
    switch (range) {
    case E0_A0: return b >= 0xA0 && b <= 0xBF;
    case ED_80: return b >= 0x80 && b <= 0x9F;
    case F0_90: return b >= 0x90 && b <= 0xBF;
    case F4_80: return b >= 0x80 && b <= 0x8F;
    default: return b >= 0x80 && b <= 0xBF;
    }
}

static PyObject *
scan(PyObject *module, PyObject *args)
{
    Py_buffer view;
    Py_ssize_t base, lead_at;
    int state;
    if (!PyArg_ParseTuple(args, "y*nin:scan", &view, &base, &state, &lead_at))
        return NULL;
    const unsigned char *s = view.buf;
    const Py_ssize_t n = view.len;
    int need = state & 0xFF, range = state >> 8;
    Py_ssize_t i = 0, bad = -1;
    while (i < n) {
        if (need) {
            const unsigned char b = s[i];
            if (range != ANY ? !first_continuation_ok(range, b) : (b & 0xC0) != 0x80) {
                bad = lead_at;
                break;
            }
            range = ANY;
            need--;
            i++;
            continue;
        }
        /* ASCII eight bytes at a time: most of a WET file */
        while (i + 8 <= n) {
            uint64_t word;
            memcpy(&word, s + i, 8);
            if (word & UINT64_C(0x8080808080808080))
                break;
            i += 8;
        }
        if (i >= n)
            break;
        const unsigned char b = s[i];
        if (b < 0x80) {
            i++;
            continue;
        }
        lead_at = base + i;
        if (b >= 0xC2 && b <= 0xDF) {
            need = 1;
            range = ANY;
        }
        else if (b >= 0xE0 && b <= 0xEF) {
            need = 2;
            range = b == 0xE0 ? E0_A0 : b == 0xED ? ED_80 : ANY;
        }
        else if (b >= 0xF0 && b <= 0xF4) {
            need = 3;
            range = b == 0xF0 ? F0_90 : b == 0xF4 ? F4_80 : ANY;
        }
        else {  /* a continuation byte alone, C0, C1 or F5..FF */
            bad = base + i;
            break;
        }
        i++;
    }
    PyBuffer_Release(&view);
    if (bad >= 0)
        return Py_BuildValue("(nin)", bad, 0, lead_at);
    return Py_BuildValue("(nin)", (Py_ssize_t)-1, need | (range << 8), lead_at);
}

static PyMethodDef methods[] = {
    {"scan", scan, METH_VARARGS,
     "scan(piece, base, state, lead_at) -> (bad_at, state, lead_at): strict UTF-8 over a stream in pieces"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "utf8_compiled",
    "Strict UTF-8 validation without decoding (see records/utf8.py).", -1, methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC
PyInit_utf8_compiled(void)
{
    return PyModule_Create(&module);
}
