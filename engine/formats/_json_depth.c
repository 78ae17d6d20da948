/* How deep a JSON text nests, in one pass over its bytes: the compiled path of
   engine.formats.json_depth_ok.

   depth_ok(data, limit) -> bool
       data: bytes-like, JSON as UTF-8. Whether its brackets ([ and {, closed by ] and })
       outside strings never nest deeper than limit. A string runs from a quote to the
       next quote that no backslash escapes. Exact on valid JSON; on invalid JSON exact up
       to the first error, where a parser stops (after it the count can only be higher).

   The loop runs without the GIL. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

static PyObject *depth_ok(PyObject *Py_UNUSED(module), PyObject *args)
{
    Py_buffer buf;
    Py_ssize_t limit;
    if (!PyArg_ParseTuple(args, "y*n:depth_ok", &buf, &limit))
        return NULL;
    const unsigned char *p = (const unsigned char *)buf.buf, *end = p + buf.len;
    Py_ssize_t depth = 0;
    int ok = 1;
    Py_BEGIN_ALLOW_THREADS
    while (p < end) {
        const unsigned char c = *p++;
        if (c == '"') {
            /* to the closing quote: the next quote with an even run of backslashes before it */
            for (;;) {
                const unsigned char *q = memchr(p, '"', (size_t)(end - p));
                if (q == NULL) {
                    p = end;
                    break;
                }
                const unsigned char *b = q;
                while (b > p && b[-1] == '\\')
                    b--;
                p = q + 1;
                if ((q - b) % 2 == 0)
                    break;
            }
        } else if (c == '[' || c == '{') {
            if (++depth > limit) {
                ok = 0;
                break;
            }
        } else if (c == ']' || c == '}') {
            depth--;
        }
    }
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&buf);
    return PyBool_FromLong(ok);
}

static PyMethodDef module_methods[] = {
    {"depth_ok", depth_ok, METH_VARARGS,
     "depth_ok(data, limit) -> bool\n\nWhether the JSON in data nests at most limit levels of brackets."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef json_depth_module = {
    PyModuleDef_HEAD_INIT, "_json_depth", "How deep a JSON text nests (engine.formats.json_depth_ok, compiled).", -1,
    module_methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__json_depth(void)
{
    return PyModule_Create(&json_depth_module);
}
