/* The lines rules' matching in C: the suffix automaton of engine/clones/automaton.py
   (Blumer et al.'s DAWG over output stretches, built online), corpus regions fed through
   it, and the maximal memorized spans with their corpus counts and first places. The
   definitions are those of automaton.py (Matcher and Finished) and memorized.py
   (find_memorized); this file computes the same numbers without a Python object per
   state or per position.

   build(ids, bounds, k, samples) -> automaton
       ids: int64 symbols in [1, 2**31); the stretch s is ids[bounds[s]:bounds[s+1]]
       (bounds: int64, from 0 to len(ids), never decreasing). Each stretch is followed by
       a symbol of its own, so that no match crosses from one stretch into the next. k:
       the fewest lines of a memorized span; samples (1..255): the first corpus places kept
       per string.

   feed(automaton, ids, bounds, first) -> None
       Corpus regions in corpus order: region first + r is ids[bounds[r]:bounds[r+1]].
       At each region position q it notes the state s and length n of the longest suffix
       of the region up to q that the outputs hold, where n >= k: counts per state, and
       the first refs per state and per its longest length (memory follows the outputs,
       not the corpus).

   spans(automaton) -> (spans, states, train, bounds, refs), once (it frees the
   transitions: no feed after it)
       spans: int64 rows (stretch, position in the stretch, E, state) of every maximal
       memorized span (E >= k lines ending at that position, and the next position's E is
       not E + 1), in stretch and position order; states: each span state once, in no
       particular order, with train (the corpus positions where its span's string ends)
       and its first refs in corpus order (at most samples):
       refs[bounds[i]:bounds[i+1]], each (region << 32) | q. All int64 bytearrays.

   The loops run without the GIL, so an automaton is for one thread at a time; it is
   freed with its capsule. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#define CAPSULE "engine.clones._automaton.Automaton"
#define EMPTY UINT64_MAX
#define SEPARATOR 0x80000000u /* stretch s ends with the symbol SEPARATOR + s */

typedef struct {
    /* states: the longest string's length, the suffix link, the first of its edges */
    Py_ssize_t states, state_cap;
    int32_t *len, *link, *head;
    /* edges, for copying a state's transitions to a clone: symbol and the next edge */
    Py_ssize_t edges, edge_cap;
    uint32_t *edge_sym;
    int32_t *edge_next;
    /* transitions: open addressing on (state << 32) | symbol -> state */
    uint64_t *slot_key;
    int32_t *slot_to;
    Py_ssize_t slots_used;
    int shift; /* 64 - log2(number of slots) */
    int64_t k, samples; /* a span's fewest lines; the first refs kept per string */
    /* the prefix state of each output position; the stretches' bounds */
    int32_t *prefix;
    int64_t *bounds;
    Py_ssize_t positions, stretches;
    /* what feed noted, per state (allocated with the first feed): the corpus positions
       it reached (own), the longest length reached (best), the positions reaching that
       length (top), and how many of the first refs of each kind are kept */
    int64_t *own, *top;
    int32_t *best;
    unsigned char *kept_refs, *kept_top;
    /* the kept refs in corpus order: state, length, (region << 32) | q, and kind (REF:
       one of the state's first refs; TOP: one of the first at its best length when it
       was noted, stale if the best grew later) */
    Py_ssize_t notes, note_cap;
    int32_t *note_state, *note_len;
    int64_t *note_ref;
    unsigned char *note_kind;
} Automaton;

#define REF 1
#define TOP 2

static void automaton_free(Automaton *a)
{
    if (a == NULL)
        return;
    void *blocks[] = {a->len, a->link, a->head, a->edge_sym, a->edge_next, a->slot_key, a->slot_to,
                      a->prefix, a->bounds, a->own, a->top, a->best, a->kept_refs, a->kept_top,
                      a->note_state, a->note_len, a->note_ref, a->note_kind};
    for (size_t i = 0; i < sizeof(blocks) / sizeof(blocks[0]); i++)
        PyMem_RawFree(blocks[i]);
    PyMem_RawFree(a);
}

static void capsule_free(PyObject *capsule)
{
    automaton_free((Automaton *)PyCapsule_GetPointer(capsule, CAPSULE));
}

static inline uint64_t slot_of(const Automaton *a, uint64_t key)
{
    return (key * 0x9E3779B97F4A7C15ULL) >> a->shift;
}

/* The slot holding the key, or the empty one where it would go. */
static inline uint64_t find_slot(const Automaton *a, uint64_t key)
{
    const uint64_t mask = (1ULL << (64 - a->shift)) - 1;
    uint64_t i = slot_of(a, key);
    while (a->slot_key[i] != key && a->slot_key[i] != EMPTY)
        i = (i + 1) & mask;
    return i;
}

static inline int32_t next_state(const Automaton *a, int32_t state, uint32_t symbol)
{
    const uint64_t i = find_slot(a, ((uint64_t)state << 32) | symbol);
    return a->slot_key[i] == EMPTY ? -1 : a->slot_to[i];
}

static int grow_slots(Automaton *a)
{
    const uint64_t old_n = 1ULL << (64 - a->shift);
    uint64_t *old_key = a->slot_key;
    int32_t *old_to = a->slot_to;
    uint64_t *key = (uint64_t *)PyMem_RawMalloc(sizeof(uint64_t) * 2 * old_n);
    int32_t *to = (int32_t *)PyMem_RawMalloc(sizeof(int32_t) * 2 * old_n);
    if (key == NULL || to == NULL) {
        PyMem_RawFree(key);
        PyMem_RawFree(to);
        return -1;
    }
    memset(key, 0xFF, sizeof(uint64_t) * 2 * old_n);
    a->slot_key = key;
    a->slot_to = to;
    a->shift--;
    for (uint64_t i = 0; i < old_n; i++) {
        if (old_key[i] != EMPTY) {
            const uint64_t j = find_slot(a, old_key[i]);
            key[j] = old_key[i];
            to[j] = old_to[i];
        }
    }
    PyMem_RawFree(old_key);
    PyMem_RawFree(old_to);
    return 0;
}

/* block resized to size bytes; where there is no memory (or *failed is set already),
   block as it was, and *failed set. */
static void *resized(void *block, size_t size, int *failed)
{
    void *grown = *failed ? NULL : PyMem_RawRealloc(block, size);
    if (grown == NULL) {
        *failed = 1;
        return block;
    }
    return grown;
}

/* A new transition state --symbol--> to (the state has none on that symbol yet). */
static int add_edge(Automaton *a, int32_t state, uint32_t symbol, int32_t to)
{
    if (2 * (a->slots_used + 1) > (Py_ssize_t)(1ULL << (64 - a->shift)) && grow_slots(a) < 0)
        return -1;
    if (a->edges == a->edge_cap) {
        const size_t cap = 2 * (size_t)a->edge_cap;
        int failed = 0;
        a->edge_sym = resized(a->edge_sym, sizeof(uint32_t) * cap, &failed);
        a->edge_next = resized(a->edge_next, sizeof(int32_t) * cap, &failed);
        if (failed)
            return -1;
        a->edge_cap = (Py_ssize_t)cap;
    }
    const uint64_t key = ((uint64_t)state << 32) | symbol;
    const uint64_t i = find_slot(a, key);
    a->slot_key[i] = key;
    a->slot_to[i] = to;
    a->slots_used++;
    a->edge_sym[a->edges] = symbol;
    a->edge_next[a->edges] = a->head[state];
    a->head[state] = (int32_t)a->edges++;
    return 0;
}

static int32_t new_state(Automaton *a, int32_t len, int32_t link)
{
    const int32_t s = (int32_t)a->states++;
    a->len[s] = len;
    a->link[s] = link;
    a->head[s] = -1;
    return s;
}

/* Blumer et al.'s online step: the automaton of w extended to w + symbol; its new last
   state, or -1 out of memory. */
static int32_t extend(Automaton *a, int32_t last, uint32_t symbol)
{
    const int32_t cur = new_state(a, a->len[last] + 1, 0);
    int32_t p = last;
    while (p != -1 && next_state(a, p, symbol) < 0) {
        if (add_edge(a, p, symbol, cur) < 0)
            return -1;
        p = a->link[p];
    }
    if (p == -1)
        return cur;
    const int32_t q = next_state(a, p, symbol);
    if (a->len[p] + 1 == a->len[q]) {
        a->link[cur] = q;
        return cur;
    }
    const int32_t clone = new_state(a, a->len[p] + 1, a->link[q]);
    for (int32_t e = a->head[q]; e >= 0; e = a->edge_next[e]) {
        const uint32_t c = a->edge_sym[e];
        if (add_edge(a, clone, c, next_state(a, q, c)) < 0)
            return -1;
    }
    while (p != -1) {
        const uint64_t i = find_slot(a, ((uint64_t)p << 32) | symbol);
        if (a->slot_key[i] == EMPTY || a->slot_to[i] != q)
            break;
        a->slot_to[i] = clone;
        p = a->link[p];
    }
    a->link[q] = a->link[cur] = clone;
    return cur;
}

/* bounds: n + 1 int64 from 0 to size, never decreasing; 0 if so. */
static int bad_bounds(const int64_t *bounds, Py_ssize_t n, Py_ssize_t size)
{
    if (n < 0 || bounds[0] != 0 || bounds[n] != size)
        return 1;
    for (Py_ssize_t i = 0; i < n; i++)
        if (bounds[i + 1] < bounds[i])
            return 1;
    return 0;
}

static PyObject *build(PyObject *Py_UNUSED(module), PyObject *args)
{
    Py_buffer ids, bounds;
    Py_ssize_t k, samples;
    if (!PyArg_ParseTuple(args, "y*y*nn:build", &ids, &bounds, &k, &samples))
        return NULL;
    PyObject *result = NULL;
    Automaton *a = NULL;
    const int64_t *sym = (const int64_t *)ids.buf, *b = (const int64_t *)bounds.buf;
    const Py_ssize_t n = ids.len / 8, stretches = bounds.len / 8 - 1;
    int bad = ids.len % 8 || bounds.len % 8 || stretches < 0 || bad_bounds(b, stretches, n)
              || n + stretches >= INT32_MAX / 2 || k < 1 || samples < 1 || samples > 255;
    for (Py_ssize_t i = 0; i < n && !bad; i++)
        bad = sym[i] < 1 || sym[i] >= SEPARATOR;
    if (bad) {
        PyErr_SetString(PyExc_ValueError, "build needs int64 symbols in [1, 2**31), bounds from 0 to their "
                                          "number, k >= 1 and samples in [1, 255]");
        goto done;
    }
    a = (Automaton *)PyMem_RawCalloc(1, sizeof(Automaton));
    if (a == NULL)
        goto nomemory;
    a->state_cap = 2 * (n + stretches) + 2;
    a->edge_cap = a->state_cap;
    a->shift = 64 - 10;
    while ((Py_ssize_t)(1ULL << (64 - a->shift)) < 2 * a->state_cap)
        a->shift--;
    a->len = (int32_t *)PyMem_RawMalloc(sizeof(int32_t) * (size_t)a->state_cap);
    a->link = (int32_t *)PyMem_RawMalloc(sizeof(int32_t) * (size_t)a->state_cap);
    a->head = (int32_t *)PyMem_RawMalloc(sizeof(int32_t) * (size_t)a->state_cap);
    a->edge_sym = (uint32_t *)PyMem_RawMalloc(sizeof(uint32_t) * (size_t)a->edge_cap);
    a->edge_next = (int32_t *)PyMem_RawMalloc(sizeof(int32_t) * (size_t)a->edge_cap);
    a->slot_key = (uint64_t *)PyMem_RawMalloc(sizeof(uint64_t) << (64 - a->shift));
    a->slot_to = (int32_t *)PyMem_RawMalloc(sizeof(int32_t) << (64 - a->shift));
    a->prefix = (int32_t *)PyMem_RawMalloc(sizeof(int32_t) * (size_t)(n + 1));
    a->bounds = (int64_t *)PyMem_RawMalloc(sizeof(int64_t) * (size_t)(stretches + 1));
    if (!a->len || !a->link || !a->head || !a->edge_sym || !a->edge_next || !a->slot_key || !a->slot_to
        || !a->prefix || !a->bounds)
        goto nomemory;
    memset(a->slot_key, 0xFF, sizeof(uint64_t) << (64 - a->shift));
    memcpy(a->bounds, b, sizeof(int64_t) * (size_t)(stretches + 1));
    a->k = k;
    a->samples = samples;
    a->positions = n;
    a->stretches = stretches;
    int failed = 0;
    Py_BEGIN_ALLOW_THREADS
    int32_t last = new_state(a, 0, -1);
    for (Py_ssize_t s = 0; s < stretches && !failed; s++) {
        for (int64_t i = b[s]; i < b[s + 1] && !failed; i++) {
            last = extend(a, last, (uint32_t)sym[i]);
            failed = last < 0;
            a->prefix[i] = last;
        }
        if (!failed) {
            last = extend(a, last, SEPARATOR + (uint32_t)s);
            failed = last < 0;
        }
    }
    Py_END_ALLOW_THREADS
    if (failed)
        goto nomemory;
    result = PyCapsule_New(a, CAPSULE, capsule_free);
    if (result != NULL)
        a = NULL;
    goto done;
nomemory:
    PyErr_NoMemory();
done:
    automaton_free(a);
    PyBuffer_Release(&ids);
    PyBuffer_Release(&bounds);
    return result;
}

/* The per-state counts feed keeps, all 0; 0, or -1 out of memory. */
static int feed_counts(Automaton *a)
{
    a->own = (int64_t *)PyMem_RawCalloc((size_t)a->states, sizeof(int64_t));
    a->top = (int64_t *)PyMem_RawCalloc((size_t)a->states, sizeof(int64_t));
    a->best = (int32_t *)PyMem_RawCalloc((size_t)a->states, sizeof(int32_t));
    a->kept_refs = (unsigned char *)PyMem_RawCalloc((size_t)a->states, 1);
    a->kept_top = (unsigned char *)PyMem_RawCalloc((size_t)a->states, 1);
    return a->own && a->top && a->best && a->kept_refs && a->kept_top ? 0 : -1;
}

/* A ref kept for a state, of the given kinds; 0, or -1 out of memory. */
static int keep_note(Automaton *a, int32_t state, int32_t len, int64_t ref, unsigned char kind)
{
    if (a->notes == a->note_cap) {
        const size_t cap = a->note_cap ? 2 * (size_t)a->note_cap : 1 << 12;
        int failed = 0;
        a->note_state = resized(a->note_state, sizeof(int32_t) * cap, &failed);
        a->note_len = resized(a->note_len, sizeof(int32_t) * cap, &failed);
        a->note_ref = resized(a->note_ref, sizeof(int64_t) * cap, &failed);
        a->note_kind = resized(a->note_kind, cap, &failed);
        if (failed)
            return -1;
        a->note_cap = (Py_ssize_t)cap;
    }
    a->note_state[a->notes] = state;
    a->note_len[a->notes] = len;
    a->note_ref[a->notes] = ref;
    a->note_kind[a->notes++] = kind;
    return 0;
}

/* A corpus position whose longest suffix the outputs hold is of state s, length len >= k
   (automaton.py's Matcher.feed): counted, and its ref kept where it is among the first
   max refs of the state or of its best length. */
static int note_hit(Automaton *a, int32_t s, int32_t len, int64_t ref, Py_ssize_t max)
{
    unsigned char kind = 0;
    a->own[s]++;
    if (len > a->best[s]) {
        a->best[s] = len;
        a->top[s] = 0;
        a->kept_top[s] = 0;
    }
    if (len == a->best[s]) {
        a->top[s]++;
        if (a->kept_top[s] < max) {
            a->kept_top[s]++;
            kind |= TOP;
        }
    }
    if (a->kept_refs[s] < max) {
        a->kept_refs[s]++;
        kind |= REF;
    }
    return kind ? keep_note(a, s, len, ref, kind) : 0;
}

static PyObject *feed(PyObject *Py_UNUSED(module), PyObject *args)
{
    PyObject *capsule;
    Py_buffer ids, bounds;
    Py_ssize_t first;
    if (!PyArg_ParseTuple(args, "Oy*y*n:feed", &capsule, &ids, &bounds, &first))
        return NULL;
    PyObject *result = NULL;
    Automaton *a = (Automaton *)PyCapsule_GetPointer(capsule, CAPSULE);
    const int64_t *sym = (const int64_t *)ids.buf, *b = (const int64_t *)bounds.buf;
    const Py_ssize_t n = ids.len / 8, regions = bounds.len / 8 - 1;
    if (a == NULL)
        goto done;
    if (a->slot_key == NULL) {
        PyErr_SetString(PyExc_ValueError, "the automaton has given its spans");
        goto done;
    }
    if (a->own == NULL && feed_counts(a) < 0) {
        PyErr_NoMemory();
        goto done;
    }
    if (ids.len % 8 || bounds.len % 8 || regions < 0 || bad_bounds(b, regions, n) || first < 0
        || first + regions > INT32_MAX) {
        PyErr_SetString(PyExc_ValueError, "feed needs int64 ids, bounds from 0 to their number and first >= 0");
        goto done;
    }
    int failed = 0;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t r = 0; r < regions && !failed; r++) {
        int32_t s = 0, len = 0;
        for (int64_t q = 0; q < b[r + 1] - b[r]; q++) {
            const int64_t c = sym[b[r] + q];
            if (c < 1 || c >= SEPARATOR) { /* no output holds it */
                s = len = 0;
                continue;
            }
            int32_t t;
            while ((t = next_state(a, s, (uint32_t)c)) < 0 && s != 0) {
                s = a->link[s];
                len = a->len[s];
            }
            if (t < 0) {
                s = len = 0;
                continue;
            }
            s = t;
            len++;
            if (len >= a->k && note_hit(a, s, len, ((int64_t)(first + r) << 32) | q, a->samples) < 0) {
                failed = 1;
                break;
            }
        }
    }
    Py_END_ALLOW_THREADS
    if (failed) {
        PyErr_NoMemory();
        goto done;
    }
    result = Py_NewRef(Py_None);
done:
    PyBuffer_Release(&ids);
    PyBuffer_Release(&bounds);
    return result;
}

/* out[0:] = the first cap of the sorted x[0:nx] and y[0:ny] (no ref is in both); its size. */
static Py_ssize_t merge(const int64_t *x, Py_ssize_t nx, const int64_t *y, Py_ssize_t ny, int64_t *out, Py_ssize_t cap)
{
    Py_ssize_t i = 0, j = 0, m = 0;
    while (m < cap && (i < nx || j < ny))
        out[m++] = (j >= ny || (i < nx && x[i] < y[j])) ? x[i++] : y[j++];
    return m;
}

/* The walk's path twice as deep; 0, or -1 out of memory (the old blocks kept). */
static int grow_path(Py_ssize_t *room, int32_t **path, Py_ssize_t **path_next, Py_ssize_t **acc_n, int64_t **acc,
                     Py_ssize_t cap)
{
    const size_t n = 2 * (size_t)*room;
    int failed = 0;
    *path = resized(*path, sizeof(int32_t) * n, &failed);
    *path_next = resized(*path_next, sizeof(Py_ssize_t) * n, &failed);
    *acc_n = resized(*acc_n, sizeof(Py_ssize_t) * n, &failed);
    *acc = resized(*acc, sizeof(int64_t) * (size_t)cap * n, &failed);
    if (failed)
        return -1;
    *room = (Py_ssize_t)n;
    return 0;
}

/* A growing int64 bytearray. */
typedef struct {
    PyObject *array;
    Py_ssize_t size, cap;
} Column;

static int column_put(Column *c, int64_t value)
{
    if (c->size == c->cap) {
        c->cap = c->cap ? 2 * c->cap : 1024;
        if (PyByteArray_Resize(c->array, c->cap * 8) < 0)
            return -1;
    }
    ((int64_t *)PyByteArray_AS_STRING(c->array))[c->size++] = value;
    return 0;
}

static PyObject *spans(PyObject *Py_UNUSED(module), PyObject *args)
{
    PyObject *capsule;
    if (!PyArg_ParseTuple(args, "O:spans", &capsule))
        return NULL;
    Automaton *a = (Automaton *)PyCapsule_GetPointer(capsule, CAPSULE);
    if (a == NULL)
        return NULL;
    const int64_t k = a->k;
    const Py_ssize_t cap = a->samples;
    if (a->slot_key == NULL) {
        PyErr_SetString(PyExc_ValueError, "the automaton has given its spans");
        return NULL;
    }
    if (a->own == NULL && feed_counts(a) < 0)  /* nothing fed */
        return PyErr_NoMemory();
    /* the transitions are done with: their memory goes before this step's */
    PyMem_RawFree(a->slot_key);
    PyMem_RawFree(a->slot_to);
    PyMem_RawFree(a->edge_sym);
    PyMem_RawFree(a->edge_next);
    a->slot_key = NULL;
    a->slot_to = NULL;
    a->edge_sym = NULL;
    a->edge_next = NULL;
    const Py_ssize_t S = a->states, H = a->notes;
    const int64_t *own = a->own, *top = a->top;
    const int32_t *best = a->best;
    PyObject *result = NULL;
    Column out[5] = {{NULL, 0, 0}};
    int64_t *start = NULL, *order = NULL, *below = NULL, *bylen = NULL, *child_start = NULL, *acc = NULL, *tmp = NULL;
    int32_t *emax = NULL, *earg = NULL, *want = NULL, *children = NULL, *path = NULL;
    Py_ssize_t *acc_n = NULL, *path_next = NULL;
    char *reached_below = NULL;
    for (int i = 0; i < 5; i++)
        if ((out[i].array = PyByteArray_FromStringAndSize(NULL, 0)) == NULL)
            goto done;
    int32_t maxlen = 0;
    for (Py_ssize_t u = 0; u < S; u++)
        maxlen = a->len[u] > maxlen ? a->len[u] : maxlen;
    start = (int64_t *)PyMem_RawCalloc((size_t)S + 1, sizeof(int64_t));
    order = (int64_t *)PyMem_RawMalloc(sizeof(int64_t) * (size_t)(H + 1));
    below = (int64_t *)PyMem_RawCalloc((size_t)S, sizeof(int64_t));
    bylen = (int64_t *)PyMem_RawCalloc((size_t)S + (size_t)maxlen + 2, sizeof(int64_t));
    child_start = (int64_t *)PyMem_RawCalloc((size_t)S + 1, sizeof(int64_t));
    emax = (int32_t *)PyMem_RawCalloc((size_t)S, sizeof(int32_t));
    earg = (int32_t *)PyMem_RawCalloc((size_t)S, sizeof(int32_t));
    want = (int32_t *)PyMem_RawCalloc((size_t)S, sizeof(int32_t));
    children = (int32_t *)PyMem_RawMalloc(sizeof(int32_t) * (size_t)S);
    reached_below = (char *)PyMem_RawCalloc((size_t)S, 1);
    /* the walk's path, grown with the depth it reaches (deep only where an output
       repeats itself: a run of n equal lines is a chain of n states) */
    Py_ssize_t room = 64;
    path = (int32_t *)PyMem_RawMalloc(sizeof(int32_t) * (size_t)room);
    path_next = (Py_ssize_t *)PyMem_RawMalloc(sizeof(Py_ssize_t) * (size_t)room);
    acc_n = (Py_ssize_t *)PyMem_RawMalloc(sizeof(Py_ssize_t) * (size_t)room);
    acc = (int64_t *)PyMem_RawMalloc(sizeof(int64_t) * (size_t)cap * (size_t)room);
    tmp = (int64_t *)PyMem_RawMalloc(sizeof(int64_t) * 2 * (size_t)cap);
    if (!start || !order || !below || !bylen || !child_start || !emax || !earg || !want || !children
        || !reached_below || !path || !path_next || !acc_n || !acc || !tmp) {
        PyErr_NoMemory();
        goto done;
    }
    /* the kept refs by state, each state's in corpus order */
    for (Py_ssize_t h = 0; h < H; h++)
        start[a->note_state[h] + 1]++;
    for (Py_ssize_t u = 0; u < S; u++)
        start[u + 1] += start[u];
    for (Py_ssize_t h = 0; h < H; h++)
        order[start[a->note_state[h]]++] = h;
    for (Py_ssize_t u = S; u > 0; u--)
        start[u] = start[u - 1];
    start[0] = 0;
    /* states by length (parents before children in the suffix-link tree) */
    int64_t *len_start = bylen + S;
    for (Py_ssize_t u = 0; u < S; u++)
        len_start[a->len[u] + 1]++;
    for (int32_t l = 0; l <= maxlen; l++)
        len_start[l + 1] += len_start[l];
    for (Py_ssize_t u = 0; u < S; u++)
        bylen[len_start[a->len[u]]++] = u;
    /* children first: reached below, and the corpus positions of the strict subtree */
    for (Py_ssize_t i = S - 1; i > 0; i--) {
        const int64_t u = bylen[i];
        const int32_t p = a->link[u];
        if (own[u] || reached_below[u]) {
            reached_below[p] = 1;
            below[p] += own[u] + below[u];
        }
    }
    /* parents first: E at every state, and the state of its span */
    for (Py_ssize_t i = 1; i < S; i++) {
        const int64_t u = bylen[i];
        const int32_t eff = reached_below[u] ? a->len[u] : best[u];
        if (eff) {
            emax[u] = eff;
            earg[u] = (int32_t)u;
        } else {
            emax[u] = emax[a->link[u]];
            earg[u] = earg[a->link[u]];
        }
    }
    /* the maximal spans; the states whose counts and places they need (want: its E) */
    for (Py_ssize_t s = 0; s < a->stretches; s++) {
        const int64_t lo = a->bounds[s], hi = a->bounds[s + 1];
        for (int64_t i = lo; i < hi; i++) {
            const int32_t size = emax[a->prefix[i]], state = earg[a->prefix[i]];
            if (size < k || (i + 1 < hi && emax[a->prefix[i + 1]] >= size + 1))
                continue;
            if (column_put(&out[0], s) < 0 || column_put(&out[0], i - lo) < 0 || column_put(&out[0], size) < 0
                || column_put(&out[0], state) < 0)
                goto done;
            want[state] = size;
        }
    }
    /* the suffix-link tree's children, for a walk that holds only the path's samples */
    for (Py_ssize_t u = 1; u < S; u++)
        child_start[a->link[u] + 1]++;
    for (Py_ssize_t u = 0; u < S; u++)
        child_start[u + 1] += child_start[u];
    int64_t *cursor = (int64_t *)PyMem_RawMalloc(sizeof(int64_t) * (size_t)(S + 1));
    if (cursor == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    memcpy(cursor, child_start, sizeof(int64_t) * (size_t)(S + 1));
    for (Py_ssize_t u = 1; u < S; u++)
        children[cursor[a->link[u]]++] = (int32_t)u;
    PyMem_RawFree(cursor);
    /* depth-first from the root: each state's first refs of its subtree, merged into its
       parent's when it is left; a wanted state's samples when it is left */
    Py_ssize_t depth = 0;
    path[0] = 0;
    path_next[0] = child_start[0];
    acc_n[0] = 0;
    while (depth >= 0) {
        const int32_t u = path[depth];
        if (path_next[depth] < child_start[u + 1]) {
            const int32_t v = children[path_next[depth]++];
            if (depth + 1 == room && grow_path(&room, &path, &path_next, &acc_n, &acc, cap) < 0) {
                PyErr_NoMemory();
                goto done;
            }
            depth++;
            path[depth] = v;
            path_next[depth] = child_start[v];
            acc_n[depth] = 0;
            continue;
        }
        if (depth == 0)
            break;
        int64_t *mine = acc + (size_t)depth * (size_t)cap;
        if (want[u]) {
            /* own positions where the span's whole string ends (it is the state's longest
               reached, or the state's own length, which only a best as long reaches),
               then the subtree's */
            Py_ssize_t m = 0;
            const int whole = want[u] == best[u];
            const int64_t train = (whole ? top[u] : 0) + below[u];
            for (int64_t j = start[u]; whole && j < start[u + 1] && m < cap; j++)
                if ((a->note_kind[order[j]] & TOP) && a->note_len[order[j]] == best[u])
                    tmp[m++] = a->note_ref[order[j]];
            const Py_ssize_t got = merge(tmp, m, mine, acc_n[depth], tmp + cap, cap);
            if (column_put(&out[1], u) < 0 || column_put(&out[2], train) < 0 || column_put(&out[3], out[4].size) < 0)
                goto done;
            for (Py_ssize_t j = 0; j < got; j++)
                if (column_put(&out[4], tmp[cap + j]) < 0)
                    goto done;
        }
        if (own[u] || acc_n[depth]) {
            Py_ssize_t m = 0;
            for (int64_t j = start[u]; j < start[u + 1] && m < cap; j++)
                if (a->note_kind[order[j]] & REF)
                    tmp[m++] = a->note_ref[order[j]];
            const Py_ssize_t got = merge(tmp, m, mine, acc_n[depth], tmp + cap, cap);
            int64_t *parent = mine - cap;
            const Py_ssize_t joined = merge(parent, acc_n[depth - 1], tmp + cap, got, tmp, cap);
            memcpy(parent, tmp, sizeof(int64_t) * (size_t)joined);
            acc_n[depth - 1] = joined;
        }
        depth--;
    }
    if (column_put(&out[3], out[4].size) < 0)
        goto done;
    for (int i = 0; i < 5; i++)
        if (PyByteArray_Resize(out[i].array, out[i].size * 8) < 0)
            goto done;
    result = PyTuple_Pack(5, out[0].array, out[1].array, out[2].array, out[3].array, out[4].array);
done:
    for (int i = 0; i < 5; i++)
        Py_XDECREF(out[i].array);
    void *blocks[] = {start, order, below, bylen, child_start, acc, tmp, emax, earg, want, children, path,
                      path_next, acc_n, reached_below};
    for (size_t i = 0; i < sizeof(blocks) / sizeof(blocks[0]); i++)
        PyMem_RawFree(blocks[i]);
    return result;
}

static PyMethodDef module_methods[] = {
    {"build", build, METH_VARARGS,
     "build(ids, bounds, k, samples) -> automaton\n\nThe suffix automaton of the stretches ids[bounds[s]:bounds[s+1]] (int64)."},
    {"feed", feed, METH_VARARGS,
     "feed(automaton, ids, bounds, first) -> None\n\nCorpus regions first, first + 1, ... "
     "(ids[bounds[r]:bounds[r+1]]) through the automaton, in corpus order."},
    {"spans", spans, METH_VARARGS,
     "spans(automaton) -> (spans, states, train, bounds, refs)\n\nThe maximal memorized spans "
     "and their states' corpus counts and first refs, as int64 bytearrays."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef automaton_module = {
    PyModuleDef_HEAD_INIT, "_automaton",
    "The lines rules' suffix automaton and matching (engine/clones/automaton.py's, compiled).", -1, module_methods,
};

PyMODINIT_FUNC PyInit__automaton(void)
{
    return PyModule_Create(&automaton_module);
}
