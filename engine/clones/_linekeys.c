/* Line keys -> vocabulary ids in one pass over a document's bytes.

   The C kernel behind engine/clones/linekeys.py. A line key (engine/clones/rules/lines.py) is a
   line (cut at '\n') without leading and trailing ASCII white space (bytes.strip), folded
   like str.lower() unless the scan is case-sensitive. For an ASCII line the fold is
   A-Z -> a-z, done here on the fly; a line holding bytes >= 0x80 in a case-insensitive
   scan is handed back to Python, which folds it exactly (str.lower is context-sensitive
   and may change lengths). Lookups are exact: an open-addressing table of 64-bit hashes,
   each candidate confirmed on the bytes.

   Table(keys)                        keys: a list or tuple of bytes; keys[i] gets id i+1
   Table(data, sep=b"\0")             the same keys joined by a byte in one buffer (data.split(sep),
                                      none for b""), with no Python object per key
   Table.lookup(data, case_sensitive) -> (ids, back, text) | None
       data: any contiguous buffer. ids: a bytearray of native int64, one per line of data
       (data.split(b"\n")): the line key's id, 0 for an unknown key, -1 for an ignored
       line (key b"", b"{" or b"}"), -2 for a line handed back. back: a bytearray of int64,
       the indices of the handed-back lines, and text: their stripped bytes joined with
       b"\n" (both None if no line is handed back). None if data is not valid UTF-8
       (exactly as Python's strict decoder judges).

   Table.lookup_simian(data, min_run=1) -> (ids, lines, starts, back, text) | None
       The same under Simian 2.5.10's plain-text rules (engine/clones/rules/simian.py):
       lines end at '\n', "\r\n" or a lone '\r'; an ASCII line's key is its tokens
       concatenated (separators <= ' ' and !"',.:;? dropped; words, runs of ASCII letters
       and digits, lower-cased; every other character a symbol; one ' ' between two words
       that had separators between them); a line with no token is ignored (-1). An
       unknown line just before or after a run of min_run or more known lines gets
       unknown_symbol(key), a number <= -3; other unknown lines stay 0 (see walk_simian).
       ids has one entry per line, lines (None when no lone '\r' splits a line) the 1-based
       number of the '\n'-line each starts in, starts (int64) the offset of its first byte. Characters U+0080..U+00FF (symbols, marked
       by 0x01 in the key) and caseless ones from U+0100 up (see caseless()) are keyed here;
       a line with any other non-ASCII character is handed back whole (unstripped) for
       Python to tokenize.

   unknown_symbol(key) -> int
       -(hash(key) mod 2**61) - 3, the kernel's 64-bit hash of the key's bytes
       (engine.clones.linekeys.key_hash computes the same in Python).

   window_hits(ids, k, windows, sieve, directory, positions=False) -> starts
       The starts p of every window ids[p:p+k] of k known ids (> 0) whose hash
       (engine.clones.index.window_hashes) is in windows (sorted, unique uint64): a bytearray
       of int64, in order; with positions, each start followed by the hash's position in
       windows. sieve: a bit per slot (h & (64 * len(sieve) - 1)) of each window
       hash, as engine.clones.index makes it: most unknown windows stop there. directory:
       2**b + 1 int64, where the windows whose top b bits are i start (i) and end (i + 1):
       the search then stays in a few cache lines.

   No numpy C API: buffers only. The walk runs without the GIL. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#define HANDED_BACK (-2)
/* An unknown line under the Simian rules: a number <= -3 from its key's hash (equal keys,
   equal numbers), so a region's neighbours need no second look at the text. */
#define UNKNOWN_SYMBOL(h) (-(int64_t)((h) & ((1ULL << 61) - 1)) - 3)

static const uint64_t ONES = 0x0101010101010101ULL;
static const uint64_t HIGHS = 0x8080808080808080ULL;

/* ASCII white space as bytes.strip() sees it: \t \n \v \f \r and space. */
static unsigned char is_space[256];

/* Simian's plain-text character classes for a byte: separator (dropped), word (ASCII
   letter or digit), symbol (any other ASCII), high (a byte >= 0x80: the line goes back),
   end of line ('\n' and '\r', separators that also end the line). */
enum { C_SEP = 0, C_WORD = 1, C_SYMBOL = 2, C_HIGH = 3, C_EOL = 4 };
static unsigned char simian_class[256];
/* The same as bit flags for the branch-free loop: F_STOP for high and end-of-line bytes. */
enum { F_WORD = 1, F_SYMBOL = 2, F_SEP = 4, F_STOP = 8 };
static unsigned char simian_flags[256];
/* A random 64-bit number per byte that is part of a token (the lower-case one for a
   letter), 0 for the others: a line's "bag hash", the sum over its bytes, depends only on
   the multiset of its tokens' bytes, so a line whose bag hash no key has cannot be known. */
static uint64_t bag_of[256];
static unsigned char ascii_lower[256];

/* The index of the lowest byte of x (not 0) whose high bit is set. */
static inline unsigned lowest_byte(uint64_t x)
{
#if defined(__GNUC__) || defined(__clang__)
    return (unsigned)__builtin_ctzll(x) >> 3;
#else
    unsigned i = 0;
    while (!((x >> (8 * i + 7)) & 1))
        i++;
    return i;
#endif
}

static inline uint64_t load64(const unsigned char *p) { uint64_t v; memcpy(&v, p, 8); return v; }
static inline uint64_t load32(const unsigned char *p) { uint32_t v; memcpy(&v, p, 4); return v; }

/* A-Z -> a-z in each byte of w; bytes >= 0x80 are left alone. */
static inline uint64_t lower8(uint64_t w)
{
    uint64_t h = w & ~HIGHS;                       /* low seven bits of each byte */
    uint64_t gt_z = h + ONES * (0x7F - 'Z');       /* high bit set where byte > 'Z' */
    uint64_t ge_a = h + ONES * (0x80 - 'A');       /* high bit set where byte >= 'A' */
    uint64_t upper = (ge_a ^ gt_z) & ~w & HIGHS;   /* 'A' <= byte <= 'Z', ASCII only */
    return w | (upper >> 2);
}

/* The n-th word of a span of len bytes (the same scheme for hashing and comparing):
   len >= 8: the 8-byte words at 0, 8, ..., and the last 8 bytes if len % 8 != 0;
   4 <= len < 8: first 4 bytes | last 4 bytes << 32; 1 <= len < 4: three single bytes.
   Together they cover every byte, and for a given length the words determine the span. */
static inline uint64_t short_word(const unsigned char *s, size_t len)
{
    if (len >= 4)
        return load32(s) | (load32(s + len - 4) << 32);
    return (uint64_t)s[0] | ((uint64_t)s[len >> 1] << 8) | ((uint64_t)s[len - 1] << 16);
}

/* The low and high halves of the 128-bit product x * y folded together by xor (the same
   value with or without a 128-bit type: engine.clones.linekeys.key_hash computes it too). */
static inline uint64_t mul_fold(uint64_t x, uint64_t y)
{
#ifdef __SIZEOF_INT128__
    __uint128_t m = (__uint128_t)x * y;
    return (uint64_t)m ^ (uint64_t)(m >> 64);
#else
    uint64_t xl = x & 0xFFFFFFFFULL, xh = x >> 32, yl = y & 0xFFFFFFFFULL, yh = y >> 32;
    uint64_t ll = xl * yl, lh = xl * yh, hl = xh * yl, hh = xh * yh;
    uint64_t mid = (ll >> 32) + (lh & 0xFFFFFFFFULL) + (hl & 0xFFFFFFFFULL);
    uint64_t lo = (mid << 32) | (ll & 0xFFFFFFFFULL);
    uint64_t hi = hh + (lh >> 32) + (hl >> 32) + (mid >> 32);
    return lo ^ hi;
#endif
}

static inline uint64_t mix(uint64_t h, uint64_t w)
{
    return mul_fold(h ^ w, 0x9E3779B97F4A7C15ULL);
}

static inline uint64_t finish(uint64_t h, size_t len)
{
    h ^= (uint64_t)len * 0xD6E8FEB86659FD93ULL;
    h ^= h >> 33;
    h *= 0xFF51AFD7ED558CCDULL;
    h ^= h >> 33;
    h *= 0xC4CEB9FE1A85EC53ULL;
    h ^= h >> 33;
    return h;
}

#define SEED 0x243F6A8885A308D3ULL

/* Hash of s[0:len] (len >= 1), lowered on the fly if fold; *high gets the OR of all
   bytes' high bits (non-zero iff some byte is >= 0x80). */
static inline uint64_t hash_span(const unsigned char *s, size_t len, int fold, uint64_t *high)
{
    uint64_t h = SEED, acc = 0, w;
    if (len >= 8) {
        size_t i = 0;
        for (; i + 8 <= len; i += 8) {
            w = load64(s + i);
            acc |= w;
            h = mix(h, fold ? lower8(w) : w);
        }
        if (i < len) {
            w = load64(s + len - 8);
            acc |= w;
            h = mix(h, fold ? lower8(w) : w);
        }
    } else {
        w = short_word(s, len);
        acc = w;
        h = mix(h, fold ? lower8(w) : w);
    }
    *high = acc & HIGHS;
    return finish(h, len);
}

/* Whether lower(s[0:len]) == k[0:len] (s ASCII-only when fold). */
static inline int equal_span(const unsigned char *s, const unsigned char *k, size_t len, int fold)
{
    if (!fold)
        return memcmp(s, k, len) == 0;
    if (len < 8)
        return lower8(short_word(s, len)) == short_word(k, len);
    size_t i = 0;
    for (; i + 8 <= len; i += 8)
        if (lower8(load64(s + i)) != load64(k + i))
            return 0;
    return i == len || lower8(load64(s + len - 8)) == load64(k + len - 8);
}

/* Well-formed UTF-8 (Unicode Table 3-7), which is exactly what Python's strict
   decoder accepts: no overlongs, no surrogates, nothing above U+10FFFF. */
static int valid_utf8(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        if (c < 0x80) { i++; continue; }
        if (c < 0xC2) return 0;
        if (c < 0xE0) {
            if (n - i < 2 || (s[i + 1] & 0xC0) != 0x80) return 0;
            i += 2;
            continue;
        }
        if (c < 0xF0) {
            if (n - i < 3) return 0;
            unsigned c1 = s[i + 1];
            if ((c1 & 0xC0) != 0x80 || (s[i + 2] & 0xC0) != 0x80) return 0;
            if (c == 0xE0 && c1 < 0xA0) return 0;   /* overlong */
            if (c == 0xED && c1 > 0x9F) return 0;   /* surrogate */
            i += 3;
            continue;
        }
        if (c < 0xF5) {
            if (n - i < 4) return 0;
            unsigned c1 = s[i + 1];
            if ((c1 & 0xC0) != 0x80 || (s[i + 2] & 0xC0) != 0x80 || (s[i + 3] & 0xC0) != 0x80) return 0;
            if (c == 0xF0 && c1 < 0x90) return 0;   /* overlong */
            if (c == 0xF4 && c1 > 0x8F) return 0;   /* above U+10FFFF */
            i += 4;
            continue;
        }
        return 0;
    }
    return 1;
}

typedef struct {
    uint32_t tag;    /* the hash's high 32 bits */
    uint32_t id;     /* 0: empty slot */
} Slot;

typedef struct {
    PyObject_HEAD
    Slot *slots;
    size_t mask;
    unsigned char *blob;   /* the keys, concatenated */
    size_t *offsets;       /* key id is blob[offsets[id - 1]:offsets[id]] */
    Py_ssize_t nkeys;
    uint64_t *bags;        /* the Simian prefilter: a bit per slot, set for the ASCII keys' bag hashes */
    size_t bag_mask;       /* slots - 1 */
} Table;

static inline uint32_t tag_of(uint64_t h) { return (uint32_t)(h >> 32); }

static void Table_free(Table *self)
{
    PyMem_Free(self->slots);
    PyMem_Free(self->blob);
    PyMem_Free(self->offsets);
    PyMem_Free(self->bags);
    self->bags = NULL;
    self->slots = NULL;
    self->blob = NULL;
    self->offsets = NULL;
    self->nkeys = 0;
    self->mask = 0;
}

static void Table_dealloc(Table *self)
{
    Table_free(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* The table filled with n keys, key i the bytes key_at(i) gives (total bytes in all). */
static int table_fill(Table *self, Py_ssize_t n, size_t total,
                      void (*key_at)(void *, Py_ssize_t, const unsigned char **, size_t *), void *keys)
{
    if ((uint64_t)n >= UINT32_MAX) {
        PyErr_SetString(PyExc_OverflowError, "too many keys");
        return -1;
    }
    size_t cap = 16;
    while (cap < 2 * (size_t)n)   /* load <= 0.5 */
        cap <<= 1;
    self->slots = PyMem_Calloc(cap, sizeof(Slot));
    self->blob = PyMem_Malloc(total + 1);
    self->offsets = PyMem_Malloc(((size_t)n + 1) * sizeof(size_t));
    if (self->slots == NULL || self->blob == NULL || self->offsets == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    self->mask = cap - 1;
    self->nkeys = n;

    size_t at = 0;
    self->offsets[0] = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        const unsigned char *k;
        size_t len;
        key_at(keys, i, &k, &len);
        memcpy(self->blob + at, k, len);
        self->offsets[i] = at;
        at += len;
        self->offsets[i + 1] = at;
        if (len == 0)
            continue;   /* the empty key is an ignored line's: never looked up */
        uint64_t high;
        uint64_t h = hash_span(k, len, 0, &high);
        size_t j = (size_t)h & self->mask;
        for (;;) {
            Slot *s = &self->slots[j];
            if (s->id == 0) {
                s->tag = tag_of(h);
                s->id = (uint32_t)(i + 1);
                break;
            }
            size_t o = self->offsets[s->id - 1];
            if (s->tag == tag_of(h) && self->offsets[s->id] - o == len
                && memcmp(self->blob + o, k, len) == 0) {
                s->id = (uint32_t)(i + 1);   /* a repeated key: the last id wins, as in a dict */
                break;
            }
            j = (j + 1) & self->mask;
        }
    }
    return 0;
}

static void key_of_item(void *keys, Py_ssize_t i, const unsigned char **k, size_t *len)
{
    PyObject *item = ((PyObject **)keys)[i];
    *k = (const unsigned char *)PyBytes_AS_STRING(item);
    *len = (size_t)PyBytes_GET_SIZE(item);
}

/* Keys joined by a separator: where each starts (n + 1 entries, the last one past the
   end plus one, as if a separator followed). */
typedef struct {
    const unsigned char *data;
    const Py_ssize_t *starts;
} Joined;

static void key_of_joined(void *keys, Py_ssize_t i, const unsigned char **k, size_t *len)
{
    const Joined *j = (const Joined *)keys;
    *k = j->data + j->starts[i];
    *len = (size_t)(j->starts[i + 1] - j->starts[i] - 1);
}

static int Table_init(Table *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"keys", "sep", NULL};
    PyObject *keys_arg, *sep_arg = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|O:Table", kwlist, &keys_arg, &sep_arg))
        return -1;
    if (self->slots != NULL) {   /* a lookup may be running without the GIL */
        PyErr_SetString(PyExc_RuntimeError, "Table is already initialized");
        return -1;
    }
    if (sep_arg != Py_None) {   /* keys: one bytes-like object, the keys joined by sep (one byte) */
        Py_buffer buf;
        if (!PyBytes_Check(sep_arg) || PyBytes_GET_SIZE(sep_arg) != 1) {
            PyErr_SetString(PyExc_TypeError, "sep must be one byte");
            return -1;
        }
        if (PyObject_GetBuffer(keys_arg, &buf, PyBUF_SIMPLE) < 0)
            return -1;
        const unsigned char *data = (const unsigned char *)buf.buf, sep = (unsigned char)PyBytes_AS_STRING(sep_arg)[0];
        Py_ssize_t n = buf.len ? 1 : 0;   /* b"" holds no key (b"".split(sep) would give one empty key) */
        for (Py_ssize_t i = 0; i < buf.len; i++)
            n += data[i] == sep;
        Py_ssize_t *starts = PyMem_Malloc(((size_t)n + 1) * sizeof(Py_ssize_t));
        if (starts == NULL) {
            PyBuffer_Release(&buf);
            PyErr_NoMemory();
            return -1;
        }
        Py_ssize_t m = 0;
        if (n) {
            starts[m++] = 0;
            for (Py_ssize_t i = 0; i < buf.len; i++)
                if (data[i] == sep)
                    starts[m++] = i + 1;
        }
        starts[m] = buf.len + 1;
        Joined joined = {data, starts};
        const int rc = table_fill(self, n, (size_t)buf.len, key_of_joined, &joined);
        PyMem_Free(starts);
        PyBuffer_Release(&buf);
        if (rc < 0)
            Table_free(self);
        return rc;
    }
    PyObject *seq = PySequence_Fast(keys_arg, "keys must be a sequence of bytes");
    if (seq == NULL)
        return -1;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    PyObject **items = PySequence_Fast_ITEMS(seq);
    size_t total = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (!PyBytes_Check(items[i])) {
            PyErr_Format(PyExc_TypeError, "keys[%zd] is not bytes", i);
            Py_DECREF(seq);
            return -1;
        }
        total += (size_t)PyBytes_GET_SIZE(items[i]);
    }
    const int rc = table_fill(self, n, total, key_of_item, items);
    if (rc < 0)
        Table_free(self);
    Py_DECREF(seq);
    return rc;
}

typedef struct {
    Py_ssize_t *v;   /* (line, start, end) triples */
    size_t n, cap;   /* in triples */
} Spans;

static int spans_push(Spans *sp, Py_ssize_t line, Py_ssize_t start, Py_ssize_t end)
{
    if (sp->n == sp->cap) {
        size_t cap = sp->cap ? 2 * sp->cap : 64;
        Py_ssize_t *v = PyMem_RawRealloc(sp->v, cap * 3 * sizeof(Py_ssize_t));
        if (v == NULL)
            return -1;
        sp->v = v;
        sp->cap = cap;
    }
    sp->v[3 * sp->n] = line;
    sp->v[3 * sp->n + 1] = start;
    sp->v[3 * sp->n + 2] = end;
    sp->n++;
    return 0;
}

/* Number of '\n' in s[0:n]. */
static size_t count_newlines(const unsigned char *s, size_t n)
{
    size_t count = 0, i = 0;
#if defined(__SSE2__)
    const __m128i nl = _mm_set1_epi8('\n'), zero = _mm_setzero_si128();
    while (n - i >= 16) {
        size_t blocks = (n - i) / 16;
        if (blocks > 255)
            blocks = 255;   /* each byte counter stays below 256 */
        __m128i acc = zero;
        for (size_t b = 0; b < blocks; b++, i += 16)
            acc = _mm_sub_epi8(acc, _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(s + i)), nl));
        __m128i sums = _mm_sad_epu8(acc, zero);
        count += (size_t)_mm_cvtsi128_si64(sums) + (size_t)_mm_cvtsi128_si64(_mm_unpackhi_epi64(sums, sums));
    }
#endif
    for (; i < n; i++)
        count += s[i] == '\n';
    return count;
}

enum { WALK_OK = 0, WALK_INVALID = 1, WALK_NOMEM = 2, WALK_CHANGED = 3 };

#define BATCH 16

typedef struct {
    size_t line;
    const unsigned char *s;
    size_t len;
    uint64_t h;
} Pending;

#if defined(__GNUC__) || defined(__clang__)
#define PREFETCH(p) __builtin_prefetch(p)
#else
#define PREFETCH(p) ((void)0)
#endif

#if defined(__GNUC__) || defined(__clang__)
#define ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define ALWAYS_INLINE inline
#endif

/* The walk itself (no GIL); out has room for nout lines (one per line of data, unless a
   bytearray changed under us). Lines are hashed a batch at a time, their table slots
   prefetched, then probed: the probes' cache misses overlap. */
static ALWAYS_INLINE int walk_mode(const Table *t, const unsigned char *data, size_t n, int64_t *out,
                                   size_t nout, const int fold, Spans *sp)
{
    const unsigned char *p = data, *end = data + n;
    const Slot *slots = t->slots;
    const size_t mask = t->mask;
    const unsigned char *blob = t->blob;
    const size_t *offsets = t->offsets;
    Pending pending[BATCH];
    size_t i = 0;
    int last = 0;
    while (!last) {
        int np = 0;
        while (np < BATCH) {
            const unsigned char *nl = memchr(p, '\n', (size_t)(end - p));
            const unsigned char *s = p, *e = nl ? nl : end;
            if (i == nout)
                return WALK_CHANGED;
            while (e - s >= 8 && load64(s) == ONES * ' ')   /* indentation, 8 at a time */
                s += 8;
            while (s < e && is_space[*s]) s++;
            while (e > s && is_space[e[-1]]) e--;
            size_t len = (size_t)(e - s);
            if (len == 0 || (len == 1 && (*s == '{' || *s == '}'))) {
                out[i] = -1;
            } else {
                uint64_t high;
                uint64_t h = hash_span(s, len, fold, &high);
                if (high && !valid_utf8(s, len))
                    return WALK_INVALID;
                if (high && fold) {
                    if (spans_push(sp, (Py_ssize_t)i, (Py_ssize_t)(s - data), (Py_ssize_t)(e - data)) < 0)
                        return WALK_NOMEM;
                    out[i] = HANDED_BACK;
                } else {
                    PREFETCH(&slots[(size_t)h & mask]);
                    pending[np].line = i;
                    pending[np].s = s;
                    pending[np].len = len;
                    pending[np].h = h;
                    np++;
                }
            }
            i++;
            if (nl == NULL) {
                last = 1;
                break;
            }
            p = nl + 1;
        }
        for (int k = 0; k < np; k++) {
            const Pending *q = &pending[k];
            const uint32_t tag = tag_of(q->h);
            int64_t id = 0;
            size_t j = (size_t)q->h & mask;
            for (;;) {
                const Slot slot = slots[j];
                if (slot.id == 0)
                    break;
                if (slot.tag == tag) {
                    size_t o = offsets[slot.id - 1];
                    if (offsets[slot.id] - o == q->len && equal_span(q->s, blob + o, q->len, fold)) {
                        id = slot.id;
                        break;
                    }
                }
                j = (j + 1) & mask;
            }
            out[q->line] = id;
        }
    }
    return i == nout ? WALK_OK : WALK_CHANGED;
}

/* One instance per mode, so that the mode costs no branch in the loops. */
static int walk(const Table *t, const unsigned char *data, size_t n, int64_t *out, size_t nout,
                int fold, Spans *sp)
{
    return fold ? walk_mode(t, data, n, out, nout, 1, sp) : walk_mode(t, data, n, out, nout, 0, sp);
}

/* The handed-back lines of a walk: *back gets their indices (int64) and *text their spans
   of buf joined with '\n', both new references to None when there are none. -1 on error. */
static int hand_back(const Spans *sp, const char *buf, PyObject **back, PyObject **text)
{
    if (sp->n == 0) {
        Py_INCREF(Py_None);
        Py_INCREF(Py_None);
        *back = *text = Py_None;
        return 0;
    }
    size_t total = sp->n - 1;
    for (size_t k = 0; k < sp->n; k++)
        total += (size_t)(sp->v[3 * k + 2] - sp->v[3 * k + 1]);
    *back = PyByteArray_FromStringAndSize(NULL, (Py_ssize_t)(sp->n * 8));
    *text = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)total);
    if (*back == NULL || *text == NULL)
        return -1;
    int64_t *index = (int64_t *)PyByteArray_AS_STRING(*back);
    char *w = PyBytes_AS_STRING(*text);
    for (size_t k = 0; k < sp->n; k++) {
        size_t len = (size_t)(sp->v[3 * k + 2] - sp->v[3 * k + 1]);
        index[k] = (int64_t)sp->v[3 * k];
        if (k > 0)
            *w++ = '\n';
        memcpy(w, buf + sp->v[3 * k + 1], len);
        w += len;
    }
    return 0;
}

/* After a walk: 1 when the lookup ends here (*result None if data was not UTF-8, else an
   exception is set), 0 with the handed-back lines in *back and *text. */
static int after_walk(int rc, const Spans *sp, const char *buf, PyObject **back, PyObject **text,
                      PyObject **result)
{
    if (rc == WALK_INVALID) {
        Py_INCREF(Py_None);
        *result = Py_None;
        return 1;
    }
    if (rc == WALK_NOMEM) {
        PyErr_NoMemory();
        return 1;
    }
    if (rc == WALK_CHANGED) {
        PyErr_SetString(PyExc_RuntimeError, "data changed during lookup");
        return 1;
    }
    return hand_back(sp, buf, back, text) < 0;
}

static PyObject *Table_lookup(Table *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"data", "case_sensitive", NULL};
    Py_buffer data;
    int case_sensitive;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "y*p:lookup", kwlist, &data, &case_sensitive))
        return NULL;
    PyObject *result = NULL, *ids = NULL, *back = NULL, *text = NULL;
    Spans sp = {NULL, 0, 0};
    size_t lines;
    int rc;
    if (self->slots == NULL) {
        PyErr_SetString(PyExc_ValueError, "Table is not initialized");
        goto done;
    }
    Py_BEGIN_ALLOW_THREADS
    lines = count_newlines((const unsigned char *)data.buf, (size_t)data.len) + 1;
    Py_END_ALLOW_THREADS
    if (lines > (size_t)PY_SSIZE_T_MAX / 8) {
        PyErr_NoMemory();
        goto done;
    }
    ids = PyByteArray_FromStringAndSize(NULL, (Py_ssize_t)(lines * 8));
    if (ids == NULL)
        goto done;
    Py_BEGIN_ALLOW_THREADS
    rc = walk(self, (const unsigned char *)data.buf, (size_t)data.len,
              (int64_t *)PyByteArray_AS_STRING(ids), lines, !case_sensitive, &sp);
    Py_END_ALLOW_THREADS
    if (after_walk(rc, &sp, (const char *)data.buf, &back, &text, &result))
        goto done;
    result = PyTuple_Pack(3, ids, back, text);
done:
    Py_XDECREF(ids);
    Py_XDECREF(back);
    Py_XDECREF(text);
    PyMem_RawFree(sp.v);
    PyBuffer_Release(&data);
    return result;
}

/* Probes the table for the key k[0:len] (not folded: Simian keys are lower-cased when made). */
static inline int64_t probe(const Table *t, const unsigned char *k, size_t len, uint64_t h)
{
    const uint32_t tag = tag_of(h);
    size_t j = (size_t)h & t->mask;
    for (;;) {
        const Slot slot = t->slots[j];
        if (slot.id == 0)
            return 0;
        if (slot.tag == tag) {
            size_t o = t->offsets[slot.id - 1];
            if (t->offsets[slot.id] - o == len && memcmp(k, t->blob + o, len) == 0)
                return slot.id;
        }
        j = (j + 1) & t->mask;
    }
}

/* The code point of the valid UTF-8 sequence at s (lead byte >= 0x80), and its width. */
static inline size_t decode_utf8(const unsigned char *s, uint32_t *cp)
{
    if (s[0] < 0xE0) {
        *cp = ((uint32_t)(s[0] & 0x1F) << 6) | (s[1] & 0x3F);
        return 2;
    }
    if (s[0] < 0xF0) {
        *cp = ((uint32_t)(s[0] & 0x0F) << 12) | ((uint32_t)(s[1] & 0x3F) << 6) | (s[2] & 0x3F);
        return 3;
    }
    *cp = ((uint32_t)(s[0] & 0x07) << 18) | ((uint32_t)(s[1] & 0x3F) << 12) | ((uint32_t)(s[2] & 0x3F) << 6)
          | (s[3] & 0x3F);
    return 4;
}

/* Code points from U+0100 up that no version of Unicode gives a case mapping, in the
   blocks non-English source text uses most (punctuation, arrows, maths, box drawing,
   dingbats, CJK, kana, Hangul, emoji): Java's toLowerCase leaves them and the words they
   are in as they are, so the kernel makes their keys itself. Every other character from
   U+0100 up sends its line to Python (engine.clones.rules.simian.line_key). */
static inline int caseless(uint32_t cp)
{
    return (cp >= 0x2000 && cp <= 0x206F) || (cp >= 0x2190 && cp <= 0x245F) || (cp >= 0x2500 && cp <= 0x27BF)
           || (cp >= 0x3000 && cp <= 0x30FF) || (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0xAC00 && cp <= 0xD7A3)
           || (cp >= 0x1F300 && cp <= 0x1FAFF);
}

enum { KEY_OK = 0, KEY_BACK = -1 };  /* and WALK_INVALID */

/* The Simian key of the line that starts at p, into scratch (room for 1.5 times the line
   plus 8 bytes: a character U+0080..U+00FF, two bytes, becomes three with its mark):
   *len its length (0: no token), *e the line's end. KEY_OK, KEY_BACK (the line holds a
   character only Python lower-cases exactly) or WALK_INVALID (not UTF-8). */
static int simian_key(const unsigned char *p, const unsigned char *end, unsigned char *scratch, size_t *len_out,
                      const unsigned char **e_out)
{
    size_t len = 0;
    unsigned after_word = 0;  /* the last token was a word: separators then leave a space */
    unsigned gap = 0;         /* separators since that word */
    const unsigned char *c = p, *e = NULL;  /* e: the line's end, once a byte >= 0x80 is met */
    while (end - c >= 8 && load64(c) == ONES * ' ')  /* indentation, 8 at a time */
        c += 8;
    for (;;) {
        /* ASCII, a byte a step without a branch on its class */
        for (; c < end; c++) {
            const unsigned f = simian_flags[*c];
            if (f & F_STOP)
                break;
            const unsigned word = f & F_WORD, sep = (f >> 2) & 1;
            scratch[len] = ' ';
            len += word & gap;
            scratch[len] = ascii_lower[*c];
            len += (f & (F_WORD | F_SYMBOL)) != 0;
            gap = sep & (gap | after_word);
            after_word = word | (sep & after_word);
        }
        if (c == end || simian_class[*c] != C_HIGH)
            break;  /* the end of the line */
        if (e == NULL) {
            for (e = c; e < end && *e != '\n' && *e != '\r'; e++)
                ;
            if (!valid_utf8(p, (size_t)(e - p)))
                return WALK_INVALID;
        }
        uint32_t cp;
        const size_t width = decode_utf8(c, &cp);
        if (cp < 0x100) {  /* a symbol of its own, not lower-cased, marked in the key */
            scratch[len++] = 0x01;
            scratch[len++] = c[0];
            scratch[len++] = c[1];
            after_word = gap = 0;
        } else if (caseless(cp)) {  /* a word character that lower-casing leaves alone */
            if (gap)
                scratch[len++] = ' ';
            memcpy(scratch + len, c, width);
            len += width;
            after_word = 1;
            gap = 0;
        } else {
            *e_out = e;
            return KEY_BACK;
        }
        c += width;
    }
    *len_out = len;
    *e_out = e == NULL ? c : e;
    return KEY_OK;
}

/* The id of a key, or its unknown symbol; -1 for no token. */
static inline int64_t simian_id(const Table *t, const unsigned char *key, size_t len)
{
    if (len == 0)
        return -1;
    uint64_t ignored, h = hash_span(key, len, 0, &ignored);
    int64_t id = probe(t, key, len, h);
    return id != 0 ? id : UNKNOWN_SYMBOL(h);
}

/* The prefilter of the Simian walk: a bit for every slot a bag hash of the table's ASCII keys
   falls in (a key's bytes are its tokens' bytes and its ' ' tokens, which count 0), 16
   slots a key so that it stays in the cache and few unknown lines pass it; made on first
   use. -1 without memory. */
static inline size_t bag_slot(const Table *t, uint64_t bag);

static int make_bags(Table *t)
{
    size_t slots = 1024;
    while (slots < 16 * (size_t)t->nkeys)
        slots *= 2;
    t->bags = PyMem_Calloc(slots / 64, sizeof(uint64_t));
    if (t->bags == NULL)
        return -1;
    t->bag_mask = slots - 1;
    for (Py_ssize_t k = 0; k < t->nkeys; k++) {
        uint64_t bag = 0;
        int ascii = 1;
        for (size_t o = t->offsets[k]; o < t->offsets[k + 1]; o++) {
            const unsigned char b = t->blob[o];
            ascii &= b >= 0x02 && b < 0x80;
            bag += bag_of[b];
        }
        if (ascii) {  /* an ASCII line never has another key */
            const size_t j = bag_slot(t, bag | 1);
            t->bags[j / 64] |= 1ULL << (j % 64);
        }
    }
    return 0;
}

static inline size_t bag_slot(const Table *t, uint64_t bag)
{
    return (size_t)(bag * 0x9E3779B97F4A7C15ULL >> 20) & t->bag_mask;
}

static inline int has_bag(const Table *t, uint64_t bag)
{
    const size_t j = bag_slot(t, bag);
    return (int)((t->bags[j / 64] >> (j % 64)) & 1);
}

#define DEFERRED 1  /* state[i]: an ASCII line whose bag hash is in out[i] for now */
#define CANDIDATE 2 /* its bag hash is some key's: it must be keyed */

/* The Simian walk (no GIL). out/lines/starts have room for nout entries, state for nout
   bytes, scratch for 1.5 n + 8 bytes. Returns WALK_* as walk_mode.

   1. Every line once, cheaply: an ASCII line gets its bag hash (a sum of table entries,
      no key made); a line without a token -1; a non-ASCII line is keyed at once.
   2. The bag hashes are looked up in the prefilter (prefetched a few lines ahead): a
      line whose bag hash falls in no key's slot is unknown, and keeps 0 unless step 4
      needs it; the others are candidates (a few unknown lines among them).
   3. The other ASCII lines are keyed: their id, or their unknown symbol.
   4. The lines just before and after each run of min_run or more known (or handed-back)
      lines, skipping lines without a token, are keyed too: their unknown symbol. A region
      of the filter lies in such a run (min_run = K), and these are the neighbours its
      Simian blocks need; every other unknown line keeps 0. */
static int walk_simian(const Table *t, const unsigned char *data, size_t n, int64_t *out, int64_t *lines,
                       int64_t *starts, unsigned char *state, size_t nout, unsigned char *scratch, Spans *sp,
                       size_t min_run)
{
    const unsigned char *p = data, *end = data + n;
    size_t i = 0, len;
    int64_t line = 1;
    const unsigned char *e;
    for (;;) {
        if (i == nout)
            return WALK_CHANGED;
        lines[i] = line;
        starts[i] = (int64_t)(p - data);
        uint64_t bag = 0, any = 0;
        const unsigned char *c = p;
        while (end - c >= 8 && load64(c) == ONES * ' ')  /* indentation, 8 at a time */
            c += 8;
        while (end - c >= 8) {  /* 8 bytes at a time while none ends the line or is >= 0x80 */
            const uint64_t w = load64(c), nl = w ^ (ONES * '\n'), cr = w ^ (ONES * '\r');
            if (((w | ((nl - ONES) & ~nl) | ((cr - ONES) & ~cr)) & HIGHS) != 0)
                break;
            const uint64_t v0 = bag_of[c[0]], v1 = bag_of[c[1]], v2 = bag_of[c[2]], v3 = bag_of[c[3]],
                           v4 = bag_of[c[4]], v5 = bag_of[c[5]], v6 = bag_of[c[6]], v7 = bag_of[c[7]];
            bag += (v0 + v1) + (v2 + v3) + ((v4 + v5) + (v6 + v7));
            any |= (v0 | v1) | (v2 | v3) | ((v4 | v5) | (v6 | v7));
            c += 8;
        }
        if (end - c >= 8) {  /* the word that ends the line: its bytes before the first stop
                                byte, the others zeroed (NUL is a separator: it counts 0) */
            const uint64_t w = load64(c), nl = w ^ (ONES * '\n'), cr = w ^ (ONES * '\r');
            const uint64_t stop = (w | ((nl - ONES) & ~nl) | ((cr - ONES) & ~cr)) & HIGHS;
            const unsigned before = lowest_byte(stop);  /* the lowest flag is exact */
            const uint64_t x = before == 0 ? 0 : w & (~0ULL >> (64 - 8 * before));
            const uint64_t v0 = bag_of[x & 0xFF], v1 = bag_of[(x >> 8) & 0xFF], v2 = bag_of[(x >> 16) & 0xFF],
                           v3 = bag_of[(x >> 24) & 0xFF], v4 = bag_of[(x >> 32) & 0xFF],
                           v5 = bag_of[(x >> 40) & 0xFF], v6 = bag_of[(x >> 48) & 0xFF], v7 = bag_of[x >> 56];
            bag += (v0 + v1) + (v2 + v3) + ((v4 + v5) + (v6 + v7));
            any |= (v0 | v1) | (v2 | v3) | ((v4 | v5) | (v6 | v7));
            c += before;
        } else {
            for (; c < end; c++) {
                if (simian_flags[*c] & F_STOP)
                    break;
                bag += bag_of[*c];
                any |= bag_of[*c];
            }
        }
        state[i] = 0;
        if (c < end && simian_class[*c] == C_HIGH) {
            int rc = simian_key(p, end, scratch, &len, &e);
            if (rc == WALK_INVALID)
                return WALK_INVALID;
            if (rc == KEY_BACK) {
                if (spans_push(sp, (Py_ssize_t)i, (Py_ssize_t)(p - data), (Py_ssize_t)(e - data)) < 0)
                    return WALK_NOMEM;
                out[i] = HANDED_BACK;
            } else {
                out[i] = simian_id(t, scratch, len);
            }
        } else {
            e = c;
            if (any == 0) {
                out[i] = -1;
            } else {
                out[i] = (int64_t)(bag | 1);
                state[i] = DEFERRED;
            }
        }
        i++;
        if (e == end)
            break;
        if (*e == '\r') {
            if (e + 1 < end && e[1] == '\n') {
                e++;
                line++;
            }
        } else {
            line++;
        }
        p = e + 1;
    }
    if (i != nout)
        return WALK_CHANGED;
    const size_t ahead = 32;
    for (size_t k = 0; k < nout; k++) {
        if (k + ahead < nout && state[k + ahead] == DEFERRED)
            PREFETCH(&t->bags[bag_slot(t, (uint64_t)out[k + ahead]) / 64]);
        if (state[k] == DEFERRED) {
            if (has_bag(t, (uint64_t)out[k])) {
                state[k] = CANDIDATE;
            } else {
                out[k] = 0;
            }
        }
    }
    /* the candidates, a batch at a time: keys side by side in scratch, slots prefetched */
    Pending pending[BATCH];
    int np = 0;
    size_t used = 0;
    for (size_t k = 0; k <= nout; k++) {
        if (k < nout && state[k] == CANDIDATE) {
            simian_key(data + starts[k], end, scratch + used, &len, &e);  /* ASCII: KEY_OK, len > 0 */
            uint64_t ignored, h = hash_span(scratch + used, len, 0, &ignored);
            PREFETCH(&t->slots[(size_t)h & t->mask]);
            pending[np++] = (Pending){k, scratch + used, len, h};
            used += len;
            state[k] = 0;
        }
        if (np == BATCH || (k == nout && np > 0)) {
            for (int q = 0; q < np; q++) {
                int64_t id = probe(t, pending[q].s, pending[q].len, pending[q].h);
                out[pending[q].line] = id != 0 ? id : UNKNOWN_SYMBOL(pending[q].h);
            }
            np = 0;
            used = 0;
        }
    }
    /* the neighbours of every run of min_run known (or handed-back) lines: a region is
       made of such runs, and its neighbours are known lines or lie at a run's edge */
    size_t run = 0, first = 0;
    for (size_t k = 0; k < nout; k++) {
        if (out[k] == -1)
            continue;
        if (out[k] > 0 || out[k] == HANDED_BACK) {
            if (run++ == 0)
                first = k;
            if (run == min_run) {  /* the line before the run */
                size_t j = first;
                while (j > 0 && out[--j] == -1)
                    ;
                if (j != first && state[j] == DEFERRED) {
                    simian_key(data + starts[j], end, scratch, &len, &e);
                    out[j] = simian_id(t, scratch, len);
                }
            }
        } else {
            if (run >= min_run && state[k] == DEFERRED) {  /* the line after it */
                simian_key(data + starts[k], end, scratch, &len, &e);
                out[k] = simian_id(t, scratch, len);
            }
            run = 0;
        }
    }
    return WALK_OK;
}

/* Lines of data under Simian's terminators ('\n', "\r\n", lone '\r'), and whether a lone
   '\r' is among them. */
static size_t count_simian_lines(const unsigned char *s, size_t n, int *lone_cr)
{
    size_t count = count_newlines(s, n) + 1;
    *lone_cr = 0;
    const unsigned char *p = s, *end = s + n;
    while ((p = memchr(p, '\r', (size_t)(end - p))) != NULL) {
        if (p + 1 == end || p[1] != '\n') {
            count++;
            *lone_cr = 1;
        }
        p++;
    }
    return count;
}

static PyObject *Table_lookup_simian(Table *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"data", "min_run", NULL};
    Py_buffer data;
    Py_ssize_t min_run = 1;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "y*|n:lookup_simian", kwlist, &data, &min_run))
        return NULL;
    if (min_run < 1) {
        PyBuffer_Release(&data);
        PyErr_SetString(PyExc_ValueError, "min_run must be at least 1");
        return NULL;
    }
    PyObject *result = NULL, *ids = NULL, *numbers = NULL, *starts = NULL, *back = NULL, *text = NULL;
    Spans sp = {NULL, 0, 0};
    unsigned char *scratch = NULL, *state = NULL;
    size_t count;
    int lone_cr, rc;
    if (self->slots == NULL) {
        PyErr_SetString(PyExc_ValueError, "Table is not initialized");
        goto done;
    }
    Py_BEGIN_ALLOW_THREADS
    count = count_simian_lines((const unsigned char *)data.buf, (size_t)data.len, &lone_cr);
    Py_END_ALLOW_THREADS
    if (count > (size_t)PY_SSIZE_T_MAX / 8) {
        PyErr_NoMemory();
        goto done;
    }
    if (self->bags == NULL && make_bags(self) < 0) {
        PyErr_NoMemory();
        goto done;
    }
    ids = PyByteArray_FromStringAndSize(NULL, (Py_ssize_t)(count * 8));
    numbers = PyByteArray_FromStringAndSize(NULL, (Py_ssize_t)(count * 8));
    starts = PyByteArray_FromStringAndSize(NULL, (Py_ssize_t)(count * 8));
    scratch = PyMem_RawMalloc((size_t)data.len + (size_t)data.len / 2 + 8);
    state = PyMem_RawMalloc(count);
    if (ids == NULL || numbers == NULL || starts == NULL || scratch == NULL || state == NULL) {
        if (ids != NULL && numbers != NULL && starts != NULL)
            PyErr_NoMemory();
        goto done;
    }
    Py_BEGIN_ALLOW_THREADS
    rc = walk_simian(self, (const unsigned char *)data.buf, (size_t)data.len,
                     (int64_t *)PyByteArray_AS_STRING(ids), (int64_t *)PyByteArray_AS_STRING(numbers),
                     (int64_t *)PyByteArray_AS_STRING(starts), state, count, scratch, &sp, (size_t)min_run);
    Py_END_ALLOW_THREADS
    if (after_walk(rc, &sp, (const char *)data.buf, &back, &text, &result))
        goto done;
    PyObject *shown = lone_cr ? numbers : Py_None;
    result = PyTuple_Pack(5, ids, shown, starts, back, text);
done:
    Py_XDECREF(ids);
    Py_XDECREF(numbers);
    Py_XDECREF(starts);
    Py_XDECREF(back);
    Py_XDECREF(text);
    PyMem_RawFree(scratch);
    PyMem_RawFree(state);
    PyMem_RawFree(sp.v);
    PyBuffer_Release(&data);
    return result;
}

/* find(keys): the id of each key (bytes, as stored), 0 if it is not in the table. */
static PyObject *Table_find(Table *self, PyObject *arg)
{
    if (self->slots == NULL) {
        PyErr_SetString(PyExc_ValueError, "Table is not initialized");
        return NULL;
    }
    PyObject *seq = PySequence_Fast(arg, "keys must be a sequence of bytes");
    if (seq == NULL)
        return NULL;
    const Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    PyObject **items = PySequence_Fast_ITEMS(seq);
    PyObject *ids = PyByteArray_FromStringAndSize(NULL, n * 8);
    if (ids == NULL) {
        Py_DECREF(seq);
        return NULL;
    }
    int64_t *out = (int64_t *)PyByteArray_AS_STRING(ids);
    for (Py_ssize_t i = 0; i < n; i++) {
        if (!PyBytes_Check(items[i])) {
            PyErr_Format(PyExc_TypeError, "keys[%zd] is not bytes", i);
            Py_DECREF(seq);
            Py_DECREF(ids);
            return NULL;
        }
        const unsigned char *k = (const unsigned char *)PyBytes_AS_STRING(items[i]);
        const size_t len = (size_t)PyBytes_GET_SIZE(items[i]);
        uint64_t ignored;
        out[i] = len == 0 ? 0 : probe(self, k, len, hash_span(k, len, 0, &ignored));
    }
    Py_DECREF(seq);
    return ids;
}

static PyObject *unknown_symbol(PyObject *Py_UNUSED(module), PyObject *arg)
{
    Py_buffer key;
    if (PyObject_GetBuffer(arg, &key, PyBUF_SIMPLE) < 0)
        return NULL;
    if (key.len == 0) {
        PyBuffer_Release(&key);
        PyErr_SetString(PyExc_ValueError, "an empty key has no symbol");
        return NULL;
    }
    uint64_t ignored, h = hash_span((const unsigned char *)key.buf, (size_t)key.len, 0, &ignored);
    PyBuffer_Release(&key);
    return PyLong_FromLongLong((long long)UNKNOWN_SYMBOL(h));
}

/* The end of the line starting at p: the next '\n' or '\r', or end. */
static const unsigned char *line_end(const unsigned char *p, const unsigned char *end)
{
    while (p < end && *p != '\n' && *p != '\r')
        p++;
    return p;
}

/* simian_key of the line starting at p, into scratch (*len bytes); *e its end. */
static int line_key_at(const unsigned char *p, const unsigned char *end, unsigned char *scratch, size_t *len,
                       const unsigned char **e)
{
    const unsigned char *ignored;
    *e = line_end(p, end);
    *len = 0;
    return simian_key(p, *e, scratch, len, &ignored);
}

/* The start of the line after one ended at e (< end) by "\r\n", "\n" or a lone '\r';
   *number counts the '\n's, the 1-based '\n'-line of the next line. */
static const unsigned char *line_after(const unsigned char *e, const unsigned char *end, long *number)
{
    if (*e == '\r' && e + 1 < end && e[1] == '\n')
        e++;
    if (*e == '\n')
        (*number)++;
    return e + 1;
}

/* simian_keys(data): the Simian key of every line of a text (lines ended by '\n', '\r\n'
   or a lone '\r'), for the outputs' side of a scan. Returns (keys, numbers): keys[i] is
   the key (bytes), None for a line without a token, or a 1-tuple of the line's bytes when
   Python must key it (a character only Python lower-cases exactly); numbers[i] is the
   1-based '\n'-line the line starts in. None if data is not UTF-8. */
static PyObject *simian_keys(PyObject *Py_UNUSED(module), PyObject *arg)
{
    Py_buffer buf;
    if (PyObject_GetBuffer(arg, &buf, PyBUF_SIMPLE) < 0)
        return NULL;
    const unsigned char *s = (const unsigned char *)buf.buf, *end = s + buf.len;
    PyObject *keys = PyList_New(0), *numbers = PyList_New(0), *result = NULL;
    unsigned char *scratch = PyMem_Malloc((size_t)buf.len + (size_t)buf.len / 2 + 16);
    if (keys == NULL || numbers == NULL || scratch == NULL) {
        if (scratch == NULL)
            PyErr_NoMemory();
        goto done;
    }
    long number = 1;
    for (const unsigned char *p = s;;) {
        const unsigned char *e;
        size_t len;
        const int rc = line_key_at(p, end, scratch, &len, &e);
        PyObject *key;
        if (rc == WALK_INVALID) {
            Py_INCREF(Py_None);
            result = Py_None;
            goto done;
        } else if (rc == KEY_BACK) {
            key = Py_BuildValue("(y#)", (const char *)p, (Py_ssize_t)(e - p));
        } else if (len == 0) {
            Py_INCREF(Py_None);
            key = Py_None;
        } else {
            key = PyBytes_FromStringAndSize((const char *)scratch, (Py_ssize_t)len);
        }
        PyObject *at = PyLong_FromLong(number);
        const int failed = key == NULL || at == NULL || PyList_Append(keys, key) < 0 || PyList_Append(numbers, at) < 0;
        Py_XDECREF(key);
        Py_XDECREF(at);
        if (failed)
            goto done;
        if (e == end)
            break;
        p = line_after(e, end, &number);
    }
    result = PyTuple_Pack(2, keys, numbers);
done:
    PyMem_Free(scratch);
    Py_XDECREF(keys);
    Py_XDECREF(numbers);
    PyBuffer_Release(&buf);
    return result;
}


/* A kept line's key (a new bytes object appended to found) and its '\n'-line number
   (appended to *numbers, n of cap); 0, or -1 with an exception. */
static int keep_key(PyObject *found, const unsigned char *key, size_t len, long number, int64_t **numbers,
                    size_t *n, size_t *cap)
{
    PyObject *k = PyBytes_FromStringAndSize((const char *)key, (Py_ssize_t)len);
    const int failed = k == NULL || PyList_Append(found, k) < 0;
    Py_XDECREF(k);
    if (failed)
        return -1;
    if (*n == *cap) {
        int64_t *grown = PyMem_Realloc(*numbers, 2 * *cap * sizeof(int64_t));
        if (grown == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        *numbers = grown;
        *cap *= 2;
    }
    (*numbers)[(*n)++] = number;
    return 0;
}

/* The ids of the keys found (the n kept lines of a text, in order), from vocab (dict:
   key -> id), a new key taking the next id, len(keys), in vocab and appended to keys;
   (ids, numbers) as bytes of int64. */
static PyObject *intern_found(PyObject *found, const int64_t *numbers, size_t n, PyObject *vocab, PyObject *keys)
{
    PyObject *result = NULL;
    int64_t *ids = PyMem_Malloc((n ? n : 1) * sizeof(int64_t));
    if (ids == NULL)
        return PyErr_NoMemory();
    for (size_t i = 0; i < n; i++) {
        PyObject *key = PyList_GET_ITEM(found, (Py_ssize_t)i);
        PyObject *id = PyDict_GetItemWithError(vocab, key);  /* borrowed */
        if (id == NULL) {
            if (PyErr_Occurred())
                goto done;
            id = PyLong_FromSsize_t(PyList_GET_SIZE(keys));
            const int failed = id == NULL || PyDict_SetItem(vocab, key, id) < 0 || PyList_Append(keys, key) < 0;
            Py_XDECREF(id);  /* vocab holds it */
            if (failed)
                goto done;
            id = PyDict_GetItemWithError(vocab, key);
            if (id == NULL)
                goto done;
        }
        const long long v = PyLong_AsLongLong(id);
        if (v == -1 && PyErr_Occurred())
            goto done;
        ids[i] = (int64_t)v;
    }
    result = Py_BuildValue("(y#y#)", (const char *)ids, (Py_ssize_t)(n * sizeof(int64_t)),
                           (const char *)numbers, (Py_ssize_t)(n * sizeof(int64_t)));
done:
    PyMem_Free(ids);
    return result;
}

/* simian_intern(data, vocab, keys): the outputs' index's keying of a text: simian_keys,
   each key given its id on the way, the ids of a known key from vocab (dict: key -> id),
   a new key the next id, len(keys), in vocab and appended to keys. Returns (ids, numbers),
   bytes of int64 for the lines with a token only: each line's id and its 1-based '\n'-line.
   None, with vocab and keys untouched, if data is not UTF-8 or a line must be keyed by
   Python (simian_keys then).

   lines_intern(data, case_sensitive, vocab, keys): the same under the lines rules
   (engine/clones/rules/lines.py): lines cut at '\n', a key the line without ASCII white
   space at either end, A-Z folded unless case_sensitive, the keys b"", b"{" and b"}"
   ignored. None, with vocab and keys untouched, if a case-insensitive text holds a byte
   >= 0x80 (Python folds it, as str.lower). */
static PyObject *intern_lines(PyObject *args, int simian)
{
    PyObject *data, *vocab, *keys;
    int case_sensitive = 0;
    if (simian ? !PyArg_ParseTuple(args, "OO!O!", &data, &PyDict_Type, &vocab, &PyList_Type, &keys)
               : !PyArg_ParseTuple(args, "OpO!O!", &data, &case_sensitive, &PyDict_Type, &vocab, &PyList_Type, &keys))
        return NULL;
    Py_buffer buf;
    if (PyObject_GetBuffer(data, &buf, PyBUF_SIMPLE) < 0)
        return NULL;
    const unsigned char *s = (const unsigned char *)buf.buf, *end = s + buf.len;
    PyObject *found = PyList_New(0), *result = NULL;  /* the keys first: nothing interned before all are known */
    unsigned char *scratch = PyMem_Malloc((size_t)buf.len + (size_t)buf.len / 2 + 16);
    size_t n = 0, cap = 64;
    int64_t *numbers = PyMem_Malloc(cap * sizeof(int64_t));
    if (found == NULL || scratch == NULL || numbers == NULL) {
        if (found != NULL)
            PyErr_NoMemory();
        goto done;
    }
    long number = 1;
    for (const unsigned char *p = s;;) {
        const unsigned char *e;
        size_t len = 0;
        const unsigned char *key = scratch;
        if (simian) {
            const int rc = line_key_at(p, end, scratch, &len, &e);
            if (rc == WALK_INVALID || rc == KEY_BACK) {
                result = Py_NewRef(Py_None);
                goto done;
            }
        } else {
            e = memchr(p, '\n', (size_t)(end - p));
            if (e == NULL)
                e = end;
            const unsigned char *a = p, *b = e;
            while (a < b && is_space[*a])
                a++;
            while (b > a && is_space[b[-1]])
                b--;
            len = (size_t)(b - a);
            key = a;
            if (!case_sensitive) {
                for (size_t i = 0; i < len; i++) {
                    if (a[i] >= 0x80) {
                        result = Py_NewRef(Py_None);
                        goto done;
                    }
                    scratch[i] = ascii_lower[a[i]];
                }
                key = scratch;
            }
            if (len == 1 && (key[0] == '{' || key[0] == '}'))
                len = 0;  /* ignored, as an empty key */
        }
        if (len > 0 && keep_key(found, key, len, number, &numbers, &n, &cap) < 0)
            goto done;
        if (e == end)
            break;
        if (simian) {
            p = line_after(e, end, &number);
        } else {
            p = e + 1;
            number++;
        }
    }
    result = intern_found(found, numbers, n, vocab, keys);
done:
    PyMem_Free(scratch);
    PyMem_Free(numbers);
    Py_XDECREF(found);
    PyBuffer_Release(&buf);
    return result;
}

static PyObject *simian_intern(PyObject *Py_UNUSED(module), PyObject *args)
{
    return intern_lines(args, 1);
}

static PyObject *lines_intern(PyObject *Py_UNUSED(module), PyObject *args)
{
    return intern_lines(args, 0);
}

/* ascii_line_hashes(keys): Simian's line hash (engine.clones.rules.simian.line_hash,
   fingerprint step 3) of every key made of ASCII bytes: its tokens (a run of letters and
   digits, or one other character) hashed as Java's String.hashCode, L = 31*L + hash, in
   wrapping 64-bit arithmetic. Returns (hashes, others): a bytearray of int64 (0 for a key
   with a byte >= 0x80 or a mark, which Python hashes) and the indices of those keys. */
static PyObject *ascii_line_hashes(PyObject *Py_UNUSED(module), PyObject *arg)
{
    PyObject *seq = PySequence_Fast(arg, "keys must be a sequence of bytes");
    if (seq == NULL)
        return NULL;
    const Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    PyObject *out = PyByteArray_FromStringAndSize(NULL, n * 8), *others = PyList_New(0), *result = NULL;
    if (out == NULL || others == NULL)
        goto done;
    int64_t *hashes = (int64_t *)PyByteArray_AS_STRING(out);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = PySequence_Fast_GET_ITEM(seq, i);
        if (!PyBytes_Check(item)) {
            PyErr_SetString(PyExc_TypeError, "keys must be bytes");
            goto done;
        }
        const unsigned char *k = (const unsigned char *)PyBytes_AS_STRING(item);
        const size_t len = (size_t)PyBytes_GET_SIZE(item);
        uint64_t line = 0;
        size_t j = 0;
        while (j < len) {
            const unsigned char c = k[j];
            if (c >= 0x80 || c == 0x01)
                break;
            uint32_t token = 0;
            if (simian_class[c] == C_WORD) {
                for (; j < len && k[j] < 0x80 && simian_class[k[j]] == C_WORD; j++)
                    token = 31 * token + k[j];
            } else {
                token = c;
                j++;
            }
            line = 31 * line + (uint64_t)(int64_t)(int32_t)token;
        }
        if (j < len) {  /* not ASCII: Python's */
            PyObject *at = PyLong_FromSsize_t(i);
            const int failed = at == NULL || PyList_Append(others, at) < 0;
            Py_XDECREF(at);
            if (failed)
                goto done;
            line = 0;
        }
        hashes[i] = (int64_t)line;
    }
    result = PyTuple_Pack(2, out, others);
done:
    Py_DECREF(seq);
    Py_XDECREF(out);
    Py_XDECREF(others);
    return result;
}

/* window_hits(ids, k, windows, sieve): see the top of this file. */
static PyObject *window_hits(PyObject *Py_UNUSED(module), PyObject *args)
{
    Py_buffer ids, windows, sieve, directory;
    Py_ssize_t k;
    int positions = 0;
    if (!PyArg_ParseTuple(args, "y*ny*y*y*|p:window_hits", &ids, &k, &windows, &sieve, &directory, &positions))
        return NULL;
    const size_t per_hit = positions ? 2 : 1;
    PyObject *out = NULL;
    const size_t n = (size_t)ids.len / 8, nw = (size_t)windows.len / 8, nbits = (size_t)sieve.len * 8;
    const size_t nd = (size_t)directory.len / 8 - 1;  /* 2**b */
    int b = 0;
    while (b < 63 && ((size_t)1 << b) < nd)
        b++;
    const int64_t *dir = (const int64_t *)directory.buf;
    if (k < 1 || (nbits & (nbits - 1)) != 0 || nbits < 64 || ((size_t)1 << b) != nd || b < 1
        || dir[0] != 0 || dir[nd] != (int64_t)nw) {
        PyErr_SetString(PyExc_ValueError, "k must be at least 1, the sieve a power of two of 64-bit words and "
                                          "the directory 2**b + 1 bounds over the windows");
        goto done;
    }
    out = PyByteArray_FromStringAndSize(NULL, 0);
    if (out == NULL)
        goto done;
    size_t cap = 0, m = 0;
    int64_t *hits = NULL;
    const int64_t *v = (const int64_t *)ids.buf;
    const uint64_t *w = (const uint64_t *)windows.buf, *bits = (const uint64_t *)sieve.buf;
    const uint64_t mask = (uint64_t)nbits - 1, mult = 0x9E3779B97F4A7C15ULL;
    /* The polynomial hash sum(v[a+t] * mult**(k-1-t)) rolls: the oldest id's term leaves,
       the rest shift by a multiplication. A window's sieve word is prefetched when its
       hash is made and tested RING windows later, when it is in the cache. */
    uint64_t top_power = 1;  /* mult**(k-1) */
    for (Py_ssize_t t = 1; t < k; t++)
        top_power *= mult;
    enum { RING = 16 };
    size_t ring_a[RING];
    uint64_t ring_h[RING];
    size_t queued = 0, tested = 0;
    size_t known = 0;  /* known ids ending at p */
    uint64_t rolling = 0;
    for (size_t p = 0; p <= n + RING; p++) {
        if (p < n) {
            if (v[p] > 0) {
                if (known >= (size_t)k)
                    rolling -= (uint64_t)v[p - (size_t)k] * top_power;
                rolling = rolling * mult + (uint64_t)v[p];
                known++;
            } else {
                known = 0;
                rolling = 0;
            }
            if (known >= (size_t)k) {
                uint64_t h = rolling ^ (rolling >> 31);
                PREFETCH(&bits[(h & mask) >> 6]);
                ring_a[queued % RING] = p + 1 - (size_t)k;
                ring_h[queued % RING] = h;
                queued++;
            }
        }
        /* test the oldest queued window once RING are waiting, or all of them at the end */
        while (tested < queued && (queued - tested >= RING || p >= n)) {
            const size_t a = ring_a[tested % RING];
            const uint64_t h = ring_h[tested % RING];
            tested++;
            const uint64_t slot = h & mask;
            if (!((bits[slot >> 6] >> (slot & 63)) & 1))
                continue;
            const size_t top = (size_t)(h >> (64 - b));
            size_t lo = (size_t)dir[top], hi = (size_t)dir[top + 1];  /* the first window >= h there */
            while (lo < hi) {
                const size_t mid = lo + (hi - lo) / 2;
                if (w[mid] < h)
                    lo = mid + 1;
                else
                    hi = mid;
            }
            if (lo == (size_t)dir[top + 1] || w[lo] != h)
                continue;
            if (m + per_hit > cap) {
                cap = cap ? 2 * cap : 1024;
                if (PyByteArray_Resize(out, (Py_ssize_t)(cap * 8)) < 0) {
                    Py_CLEAR(out);
                    goto done;
                }
                hits = (int64_t *)PyByteArray_AS_STRING(out);
            }
            hits[m++] = (int64_t)a;
            if (positions)
                hits[m++] = (int64_t)lo;
        }
        if (p >= n)
            break;
    }
    if (PyByteArray_Resize(out, (Py_ssize_t)(m * 8)) < 0)
        Py_CLEAR(out);
done:
    PyBuffer_Release(&ids);
    PyBuffer_Release(&windows);
    PyBuffer_Release(&sieve);
    PyBuffer_Release(&directory);
    return out;
}

/* sieve_bits(windows, sieve): sets, in the writable buffer sieve (a power of two of 64-bit
   words), the bit of each window hash's slot h & (64 * len(sieve) - 1). */
static PyObject *sieve_bits(PyObject *Py_UNUSED(module), PyObject *args)
{
    Py_buffer windows, sieve;
    if (!PyArg_ParseTuple(args, "y*w*:sieve_bits", &windows, &sieve))
        return NULL;
    const size_t nw = (size_t)windows.len / 8, nbits = (size_t)sieve.len * 8;
    if ((nbits & (nbits - 1)) != 0 || nbits < 64) {
        PyBuffer_Release(&windows);
        PyBuffer_Release(&sieve);
        PyErr_SetString(PyExc_ValueError, "the sieve must be a power of two of 64-bit words");
        return NULL;
    }
    const uint64_t *w = (const uint64_t *)windows.buf, mask = (uint64_t)nbits - 1;
    uint64_t *bits = (uint64_t *)sieve.buf;
    Py_BEGIN_ALLOW_THREADS
    for (size_t i = 0; i < nw; i++) {
        const uint64_t slot = w[i] & mask;
        bits[slot >> 6] |= 1ULL << (slot & 63);
    }
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&windows);
    PyBuffer_Release(&sieve);
    Py_RETURN_NONE;
}

/* lcp_intervals(lcp, k): the lcp-intervals (length, lb, rb) of length >= k of an lcp array
   (int64s, lcp[n] = 0 last), as int64 triples, in the order of engine.clones.blocks.intervals:
   run by run of positions with lcp >= k, each interval when its right end is passed. */
static PyObject *lcp_intervals(PyObject *Py_UNUSED(module), PyObject *args)
{
    Py_buffer buf;
    Py_ssize_t k;
    if (!PyArg_ParseTuple(args, "y*n:lcp_intervals", &buf, &k))
        return NULL;
    PyObject *out = NULL;
    int64_t *st_len = NULL, *st_lb = NULL, *rows = NULL;
    const int64_t *lcp = (const int64_t *)buf.buf;
    const Py_ssize_t n = buf.len / 8 - 1;
    if (n < 0 || k < 1) {
        PyErr_SetString(PyExc_ValueError, "lcp needs its closing 0 and k must be at least 1");
        goto done;
    }
    out = PyByteArray_FromStringAndSize(NULL, 0);
    if (out == NULL)
        goto done;
    st_len = (int64_t *)PyMem_Malloc(sizeof(int64_t) * (size_t)(n + 2));
    st_lb = (int64_t *)PyMem_Malloc(sizeof(int64_t) * (size_t)(n + 2));
    if (st_len == NULL || st_lb == NULL) {
        PyErr_NoMemory();
        Py_CLEAR(out);
        goto done;
    }
    size_t cap = 0, m = 0;
    Py_ssize_t i = 0;
    while (i < n) {
        if (lcp[i] < k) {
            i++;
            continue;
        }
        const Py_ssize_t s = i;
        while (i < n && lcp[i] >= k)
            i++;
        const Py_ssize_t e = i - 1;
        Py_ssize_t top = 0;
        st_len[0] = k - 1;
        st_lb[0] = s - 1;
        for (Py_ssize_t p = s; p <= e + 1; p++) {
            const int64_t value = p == e + 1 ? k - 1 : lcp[p];
            int64_t lb = p - 1;
            while (value < st_len[top]) {
                if (m == cap) {
                    cap = cap ? 2 * cap : 1024;
                    if (PyByteArray_Resize(out, (Py_ssize_t)(cap * 24)) < 0) {
                        Py_CLEAR(out);
                        goto done;
                    }
                    rows = (int64_t *)PyByteArray_AS_STRING(out);
                }
                lb = st_lb[top];
                rows[3 * m] = st_len[top];
                rows[3 * m + 1] = lb;
                rows[3 * m + 2] = p - 1;
                m++;
                top--;
            }
            if (value > st_len[top]) {
                top++;
                st_len[top] = value;
                st_lb[top] = lb;
            }
        }
    }
    if (PyByteArray_Resize(out, (Py_ssize_t)(m * 24)) < 0)
        Py_CLEAR(out);
done:
    PyMem_Free(st_len);
    PyMem_Free(st_lb);
    PyBuffer_Release(&buf);
    return out;
}

/* suffix_array(text, alphabet): the suffix array of text (int64s in [0, alphabet), its last
   symbol 0 and no other 0) by induced sorting (SA-IS: Nong, Zhang and Chan, 2009), and the
   lcp array of Kasai et al. (2001): lcp[i] the longest common prefix of the suffixes at
   sa[i-1] and sa[i], lcp[0] = lcp[n] = 0. Both as int64s. */
static void sais_buckets(const int64_t *s, Py_ssize_t n, Py_ssize_t k, int64_t *bkt, int end)
{
    memset(bkt, 0, sizeof(int64_t) * (size_t)k);
    for (Py_ssize_t i = 0; i < n; i++)
        bkt[s[i]]++;
    int64_t sum = 0;
    for (Py_ssize_t c = 0; c < k; c++) {
        sum += bkt[c];
        bkt[c] = end ? sum : sum - bkt[c];
    }
}

#define SAIS_LMS(t, i) ((i) > 0 && (t)[i] && !(t)[(i) - 1])

static void sais_induce(const int64_t *s, int64_t *sa, Py_ssize_t n, Py_ssize_t k, const uint8_t *t, int64_t *bkt)
{
    sais_buckets(s, n, k, bkt, 0);
    for (Py_ssize_t i = 0; i < n; i++) {
        const int64_t j = sa[i] - 1;
        if (sa[i] > 0 && !t[j])
            sa[bkt[s[j]]++] = j;
    }
    sais_buckets(s, n, k, bkt, 1);
    for (Py_ssize_t i = n - 1; i >= 0; i--) {
        const int64_t j = sa[i] - 1;
        if (sa[i] > 0 && t[j])
            sa[--bkt[s[j]]] = j;
    }
}

/* 0, or -1 out of memory */
static int sais(const int64_t *s, int64_t *sa, Py_ssize_t n, Py_ssize_t k)
{
    if (n == 1) {  /* the sentinel alone: no LMS suffix places it */
        sa[0] = 0;
        return 0;
    }
    uint8_t *t = (uint8_t *)PyMem_RawMalloc((size_t)n);
    int64_t *bkt = (int64_t *)PyMem_RawMalloc(sizeof(int64_t) * (size_t)k);
    if (t == NULL || bkt == NULL) {
        PyMem_RawFree(t);
        PyMem_RawFree(bkt);
        return -1;
    }
    /* S-type (1) or L-type (0) */
    t[n - 1] = 1;
    for (Py_ssize_t i = n - 2; i >= 0; i--)
        t[i] = s[i] < s[i + 1] || (s[i] == s[i + 1] && t[i + 1]);
    /* the LMS suffixes at the ends of their buckets, then sorted as LMS substrings */
    sais_buckets(s, n, k, bkt, 1);
    for (Py_ssize_t i = 0; i < n; i++)
        sa[i] = -1;
    for (Py_ssize_t i = 1; i < n; i++)
        if (SAIS_LMS(t, i))
            sa[--bkt[s[i]]] = i;
    sais_induce(s, sa, n, k, t, bkt);
    Py_ssize_t n1 = 0;
    for (Py_ssize_t i = 0; i < n; i++)
        if (SAIS_LMS(t, sa[i]))
            sa[n1++] = sa[i];
    /* names of the LMS substrings, kept at n1 + pos / 2 (LMS positions are 2 apart at least) */
    for (Py_ssize_t i = n1; i < n; i++)
        sa[i] = -1;
    int64_t name = 0, prev = -1;
    for (Py_ssize_t i = 0; i < n1; i++) {
        const int64_t pos = sa[i];
        int diff = 0;
        for (Py_ssize_t d = 0; d < n; d++) {
            if (prev == -1 || s[pos + d] != s[prev + d] || t[pos + d] != t[prev + d]) {
                diff = 1;
                break;
            }
            if (d > 0 && (SAIS_LMS(t, pos + d) || SAIS_LMS(t, prev + d)))
                break;
        }
        if (diff) {
            name++;
            prev = pos;
        }
        sa[n1 + pos / 2] = name - 1;
    }
    for (Py_ssize_t i = n - 1, j = n - 1; i >= n1; i--)
        if (sa[i] >= 0)
            sa[j--] = sa[i];
    /* the reduced text (names in text order) sorted, recursively while names repeat */
    int64_t *s1 = sa + n - n1, *sa1 = sa;
    if (name < n1) {
        if (sais(s1, sa1, n1, (Py_ssize_t)name) < 0) {
            PyMem_RawFree(t);
            PyMem_RawFree(bkt);
            return -1;
        }
    } else {
        for (Py_ssize_t i = 0; i < n1; i++)
            sa1[s1[i]] = i;
    }
    /* the sorted LMS suffixes at the ends of their buckets, then every suffix induced */
    sais_buckets(s, n, k, bkt, 1);
    for (Py_ssize_t i = 1, j = 0; i < n; i++)
        if (SAIS_LMS(t, i))
            s1[j++] = i;
    for (Py_ssize_t i = 0; i < n1; i++)
        sa1[i] = s1[sa1[i]];
    for (Py_ssize_t i = n1; i < n; i++)
        sa[i] = -1;
    for (Py_ssize_t i = n1 - 1; i >= 0; i--) {
        const int64_t j = sa[i];
        sa[i] = -1;
        sa[--bkt[s[j]]] = j;
    }
    sais_induce(s, sa, n, k, t, bkt);
    PyMem_RawFree(t);
    PyMem_RawFree(bkt);
    return 0;
}

static PyObject *suffix_array(PyObject *Py_UNUSED(module), PyObject *args)
{
    Py_buffer buf;
    Py_ssize_t k;
    if (!PyArg_ParseTuple(args, "y*n:suffix_array", &buf, &k))
        return NULL;
    PyObject *sa_out = NULL, *lcp_out = NULL, *result = NULL;
    int64_t *s = NULL;  /* the text, copied: the caller's buffer could change while the GIL is released */
    const Py_ssize_t n = buf.len / 8;
    if (k >= 1 && (size_t)k > PY_SSIZE_T_MAX / sizeof(int64_t)) {  /* its buckets would not fit in memory */
        PyErr_NoMemory();
        goto done;
    }
    s = (int64_t *)PyMem_RawMalloc(sizeof(int64_t) * (size_t)(n ? n : 1));
    if (s == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    memcpy(s, buf.buf, sizeof(int64_t) * (size_t)n);
    int bad = n < 1 || k < 1 || s[n - 1] != 0;
    for (Py_ssize_t i = 0; i < n && !bad; i++)
        bad = s[i] < 0 || s[i] >= k || (s[i] == 0 && i != n - 1);
    if (bad) {
        PyErr_SetString(PyExc_ValueError, "the text must hold symbols in [0, alphabet) and end with its only 0");
        goto done;
    }
    sa_out = PyByteArray_FromStringAndSize(NULL, n * 8);
    lcp_out = PyByteArray_FromStringAndSize(NULL, (n + 1) * 8);
    if (sa_out == NULL || lcp_out == NULL)
        goto done;
    int64_t *sa = (int64_t *)PyByteArray_AS_STRING(sa_out), *lcp = (int64_t *)PyByteArray_AS_STRING(lcp_out);
    int failed = 0;
    Py_BEGIN_ALLOW_THREADS
    failed = sais(s, sa, n, k) < 0;
    if (!failed) {
        /* Kasai: the lcp of each suffix with the one before it in sa, in text order */
        int64_t *rank = (int64_t *)PyMem_RawMalloc(sizeof(int64_t) * (size_t)n);
        if (rank == NULL) {
            failed = 1;
        } else {
            for (Py_ssize_t i = 0; i < n; i++)
                rank[sa[i]] = i;
            int64_t h = 0;
            lcp[0] = 0;
            lcp[n] = 0;
            for (Py_ssize_t i = 0; i < n; i++) {
                if (rank[i] > 0) {
                    const int64_t j = sa[rank[i] - 1];
                    while (i + h < n && j + h < n && s[i + h] == s[j + h])
                        h++;
                    lcp[rank[i]] = h;
                    if (h > 0)
                        h--;
                } else {
                    h = 0;
                }
            }
            PyMem_RawFree(rank);
        }
    }
    Py_END_ALLOW_THREADS
    if (failed) {
        PyErr_NoMemory();
        goto done;
    }
    result = PyTuple_Pack(2, sa_out, lcp_out);
done:
    PyMem_RawFree(s);
    Py_XDECREF(sa_out);
    Py_XDECREF(lcp_out);
    PyBuffer_Release(&buf);
    return result;
}

/* simian_fingerprints(hashes, lengths, threshold): the fingerprint of each block
   (engine.clones.rules.simian.fingerprint_of_hashes, steps 4-5): ``hashes`` holds the line
   hashes of the blocks end to end (int64), ``lengths`` each block's number of lines. The
   windows W(j) = sum_k 31**(threshold-1-k) * L(j+k) slide along the block, and the total
   sum_j C(m, j) * 31**(m-j) * W(j), m = n - threshold, wraps modulo 2**64; C(m, j) is
   carried exactly modulo 2**64 as its odd part and its power of two. The fingerprint is
   the MD5 (RFC 1321), in hex, of the total as a signed decimal number. Returns a list of
   str. */
static const uint32_t md5_k[64] = {
    0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501,
    0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821,
    0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
    0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a,
    0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70,
    0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
    0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
    0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391,
};
static const unsigned char md5_shift[16] = {7, 12, 17, 22, 5, 9, 14, 20, 4, 11, 16, 23, 6, 10, 15, 21};

/* the MD5 of ``len`` (< 56) bytes, one padded block, as 32 lowercase hex digits in ``hex`` */
static void md5_short(const unsigned char *msg, size_t len, char *hex)
{
    unsigned char block[64] = {0};
    memcpy(block, msg, len);
    block[len] = 0x80;
    const uint64_t bits = (uint64_t)len * 8;
    for (int i = 0; i < 8; i++)
        block[56 + i] = (unsigned char)(bits >> (8 * i));
    uint32_t w[16];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)block[4 * i] | (uint32_t)block[4 * i + 1] << 8 | (uint32_t)block[4 * i + 2] << 16
               | (uint32_t)block[4 * i + 3] << 24;
    const uint32_t init[4] = {0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476};
    uint32_t a = init[0], b = init[1], c = init[2], d = init[3];
    for (int i = 0; i < 64; i++) {
        uint32_t f;
        int g;
        if (i < 16) {
            f = (b & c) | (~b & d);
            g = i;
        } else if (i < 32) {
            f = (d & b) | (~d & c);
            g = (5 * i + 1) % 16;
        } else if (i < 48) {
            f = b ^ c ^ d;
            g = (3 * i + 5) % 16;
        } else {
            f = c ^ (b | ~d);
            g = (7 * i) % 16;
        }
        f += a + md5_k[i] + w[g];
        const int r = md5_shift[(i / 16) * 4 + i % 4];
        a = d;
        d = c;
        c = b;
        b += (f << r) | (f >> (32 - r));
    }
    const uint32_t out[4] = {a + init[0], b + init[1], c + init[2], d + init[3]};
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < 16; i++) {
        const unsigned char byte = (unsigned char)(out[i / 4] >> (8 * (i % 4)));
        hex[2 * i] = digits[byte >> 4];
        hex[2 * i + 1] = digits[byte & 15];
    }
}

/* the inverse of an odd number modulo 2**64 (Newton's iteration: 3, 6, 12, 24, 48, 96 bits) */
static uint64_t odd_inverse(uint64_t x)
{
    uint64_t y = x;
    for (int i = 0; i < 5; i++)
        y *= 2 - x * y;
    return y;
}

static int trailing_zeros(uint64_t x)
{
    int n = 0;
    for (; !(x & 1); x >>= 1)
        n++;
    return n;
}

static PyObject *simian_fingerprints(PyObject *Py_UNUSED(module), PyObject *args)
{
    Py_buffer hb, lb;
    Py_ssize_t threshold;
    if (!PyArg_ParseTuple(args, "y*y*n:simian_fingerprints", &hb, &lb, &threshold))
        return NULL;
    PyObject *out = NULL;
    const uint64_t *hashes = (const uint64_t *)hb.buf;
    const int64_t *lengths = (const int64_t *)lb.buf;
    const Py_ssize_t n_hashes = hb.len / 8, blocks = lb.len / 8;
    Py_ssize_t total_lines = 0;
    if (threshold < 1) {
        PyErr_Format(PyExc_ValueError, "a threshold of %zd lines", threshold);
        goto done;
    }
    for (Py_ssize_t i = 0; i < blocks; i++) {
        if (lengths[i] < threshold || lengths[i] > n_hashes) {
            PyErr_Format(PyExc_ValueError, "a block needs at least %zd lines, and the hashes given, got %lld",
                         threshold, (long long)lengths[i]);
            goto done;
        }
        total_lines += (Py_ssize_t)lengths[i];
        if (total_lines > n_hashes)
            break;
    }
    if (total_lines != n_hashes) {
        PyErr_SetString(PyExc_ValueError, "the lengths do not add up to the hashes given");
        goto done;
    }
    out = PyList_New(blocks);
    if (out == NULL || blocks == 0)  /* with a block, the threshold is at most its lines */
        goto done;
    uint64_t top = 1;  /* 31 ** (threshold - 1) */
    for (Py_ssize_t k = 1; k < threshold; k++)
        top *= 31;
    const uint64_t inverse31 = odd_inverse(31);
    const uint64_t *line = hashes;
    for (Py_ssize_t i = 0; i < blocks; i++) {
        const uint64_t m = (uint64_t)(lengths[i] - threshold);
        uint64_t w = 0, power = 1, base = 31, total = 0, odd = 1;
        for (uint64_t e = m; e; e >>= 1, base *= base)  /* 31 ** m */
            if (e & 1)
                power *= base;
        for (Py_ssize_t k = 0; k < threshold; k++)
            w = 31 * w + line[k];
        int twos = 0;  /* C(m, j) = odd * 2 ** twos, odd modulo 2 ** 64 */
        for (uint64_t j = 0;; j++) {
            const uint64_t comb = twos >= 64 ? 0 : odd << twos;
            total += comb * power * w;
            if (j == m)
                break;
            w = 31 * (w - top * line[j]) + line[j + threshold];  /* W(j + 1) */
            power *= inverse31;
            const uint64_t up = m - j, down = j + 1;
            const int up_twos = trailing_zeros(up), down_twos = trailing_zeros(down);
            odd *= (up >> up_twos) * odd_inverse(down >> down_twos);
            twos += up_twos - down_twos;
        }
        line += lengths[i];
        char text[24], hex[32];
        const int len = snprintf(text, sizeof text, "%lld", (long long)(int64_t)total);
        md5_short((const unsigned char *)text, (size_t)len, hex);
        PyObject *fp = PyUnicode_FromStringAndSize(hex, 32);
        if (fp == NULL) {
            Py_CLEAR(out);
            goto done;
        }
        PyList_SET_ITEM(out, i, fp);
    }
done:
    PyBuffer_Release(&hb);
    PyBuffer_Release(&lb);
    return out;
}

/* witnessed(rows, sa, lcp, dense, piece_of, whole_of, starts, sizes, weight_of): for each
   lcp-interval (length, lb, rb) of ``rows`` (int64 triples), 1 if one of its places
   sa[lb..rb] is a witness (engine.clones.blocks._reported): lcp at its row and the next
   at most ``length``, its left neighbour's symbol (dense[p - 1]; none at p = 0) held by no
   other place of the interval, and its piece standing for one place (weight_of) or being
   a whole document starting there with ``length`` symbols. Returns a bytearray of 0/1;
   every index is checked. The GIL is released meanwhile. An interval's symbols are
   compared pairwise up to 16 places, else sorted and searched. */
static int int64_order(const void *a, const void *b)
{
    const int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

typedef struct {
    Py_buffer b;
    Py_ssize_t n;
} Column;

static int column(PyObject *obj, Column *c, Py_ssize_t item)
{
    if (PyObject_GetBuffer(obj, &c->b, PyBUF_SIMPLE) < 0)
        return -1;
    if (c->b.len % item) {
        PyBuffer_Release(&c->b);
        PyErr_SetString(PyExc_ValueError, "a column's size is not a whole number of items");
        return -1;
    }
    c->n = c->b.len / item;
    return 0;
}

static PyObject *witnessed(PyObject *Py_UNUSED(module), PyObject *args)
{
    PyObject *objs[9];
    if (!PyArg_ParseTuple(args, "OOOOOOOOO:witnessed", &objs[0], &objs[1], &objs[2], &objs[3], &objs[4], &objs[5],
                          &objs[6], &objs[7], &objs[8]))
        return NULL;
    static const Py_ssize_t items[9] = {24, 8, 8, 8, 8, 1, 8, 8, 8};
    Column cols[9];
    int got = 0;
    PyObject *out = NULL;
    int64_t *scratch = NULL;
    for (; got < 9; got++)
        if (column(objs[got], &cols[got], items[got]) < 0)
            goto done;
    const int64_t *rows = cols[0].b.buf, *sa = cols[1].b.buf, *lcp = cols[2].b.buf, *dense = cols[3].b.buf,
                  *piece_of = cols[4].b.buf, *starts = cols[6].b.buf, *sizes = cols[7].b.buf,
                  *weight_of = cols[8].b.buf;
    const unsigned char *whole_of = cols[5].b.buf;
    const Py_ssize_t n_rows = cols[0].n, n = cols[1].n, n_pieces = cols[6].n;
    if (cols[2].n != n + 1 || cols[3].n != cols[4].n || cols[5].n != n_pieces || cols[7].n != n_pieces
        || cols[8].n != n_pieces) {
        PyErr_SetString(PyExc_ValueError, "the columns' sizes do not agree");
        goto done;
    }
    int64_t widest = 0;
    for (Py_ssize_t r = 0; r < n_rows; r++) {
        const int64_t lb = rows[3 * r + 1], rb = rows[3 * r + 2];
        if (lb < 0 || rb < lb || rb >= n) {
            PyErr_SetString(PyExc_ValueError, "an interval lies outside the suffix array");
            goto done;
        }
        if (rb - lb + 1 > widest)
            widest = rb - lb + 1;
    }
    const Py_ssize_t n_text = cols[3].n;
    out = PyByteArray_FromStringAndSize(NULL, n_rows);
    scratch = PyMem_RawMalloc(sizeof(int64_t) * (size_t)(widest ? widest : 1));
    if (out == NULL || scratch == NULL) {
        if (scratch == NULL)
            PyErr_NoMemory();
        Py_CLEAR(out);
        goto done;
    }
    unsigned char *kept = (unsigned char *)PyByteArray_AS_STRING(out);
    int bad = 0;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t r = 0; r < n_rows && !bad; r++) {
        /* every index is checked where it is used: the columns are the caller's, and could
           change while the GIL is released */
        const int64_t length = rows[3 * r], lb = rows[3 * r + 1], rb = rows[3 * r + 2], w = rb - lb + 1;
        if (lb < 0 || rb < lb || rb >= n || w > widest) {
            bad = 2;
            break;
        }
        /* each place's left symbol (dense symbols are not negative); none (a unique
           negative) at the text's start */
        for (int64_t i = lb; i <= rb; i++) {
            const int64_t p = sa[i];
            if (p < 0 || p >= n_text || piece_of[p] >= n_pieces || (p > 0 && dense[p - 1] < 0)) {
                bad = 2;
                break;
            }
            scratch[i - lb] = p > 0 ? dense[p - 1] : -1 - i;
        }
        if (bad)
            break;
        const int sorted = w > 16;
        if (sorted)  /* in place: each candidate's symbol is read again from dense */
            qsort(scratch, (size_t)w, sizeof(int64_t), int64_order);
        kept[r] = 0;
        for (int64_t i = lb; i <= rb && !kept[r]; i++) {
            if (lcp[i] > length || lcp[i + 1] > length)
                continue;
            const int64_t p = sa[i];
            if (p < 0 || p >= n_text || piece_of[p] >= n_pieces) {
                bad = 2;
                break;
            }
            const int64_t piece = piece_of[p];
            if (piece < 0) {
                bad = 1;
                break;
            }
            const int whole = whole_of[piece] && p == starts[piece] && sizes[piece] == length;
            if (weight_of[piece] != 1 && !whole)
                continue;
            const int64_t mine = p > 0 ? dense[p - 1] : -1 - i;
            if (mine < 0 && p > 0) {
                bad = 2;
                break;
            }
            Py_ssize_t holders = 0;
            if (sorted) {  /* the run of ``mine`` in the sorted symbols */
                Py_ssize_t lo = 0, hi = (Py_ssize_t)w;
                while (lo < hi) {
                    const Py_ssize_t mid = lo + (hi - lo) / 2;
                    if (scratch[mid] < mine)
                        lo = mid + 1;
                    else
                        hi = mid;
                }
                for (Py_ssize_t j = lo; j < (Py_ssize_t)w && scratch[j] == mine && holders < 2; j++)
                    holders++;
            } else {
                for (int64_t j = 0; j < w && holders < 2; j++)
                    holders += scratch[j] == mine;
            }
            kept[r] = holders == 1;
        }
    }
    Py_END_ALLOW_THREADS
    if (bad) {
        PyErr_SetString(PyExc_ValueError, bad == 1 ? "a place starts on a neighbour or a separator"
                                                   : "a place lies outside the text or its pieces, or a symbol is negative");
        Py_CLEAR(out);
    }
done:
    PyMem_RawFree(scratch);
    for (int i = 0; i < got; i++)
        PyBuffer_Release(&cols[i].b);
    return out;
}

static PyMethodDef module_methods[] = {
    {"unknown_symbol", unknown_symbol, METH_O,
     "unknown_symbol(key) -> int\n\nThe number lookup_simian gives a line whose key is not in the table."},
    {"simian_keys", simian_keys, METH_O,
     "simian_keys(data) -> (keys, numbers) | None\n\nThe Simian key of every line of a text (None: no token;\n"
     "a 1-tuple of the line's bytes: Python keys it) and the '\\n'-line each starts in; None if not UTF-8."},
    {"simian_intern", simian_intern, METH_VARARGS,
     "simian_intern(data, vocab, keys) -> (ids, numbers) | None\n\nsimian_keys with each key's id from vocab, a new key\n"
     "taking the next id (len(keys)) and appended to keys; int64s for the lines with a token only."},
    {"lines_intern", lines_intern, METH_VARARGS,
     "lines_intern(data, case_sensitive, vocab, keys) -> (ids, numbers) | None\n\nsimian_intern under the lines rules;\n"
     "None if a case-insensitive text holds a byte >= 0x80."},
    {"ascii_line_hashes", ascii_line_hashes, METH_O,
     "ascii_line_hashes(keys) -> (hashes, others)\n\nSimian's line hash of every ASCII key (int64s); others: the\n"
     "indices of the keys Python must hash."},
    {"simian_fingerprints", simian_fingerprints, METH_VARARGS,
     "simian_fingerprints(hashes, lengths, threshold) -> list[str]\n\nSimian's fingerprint of each block from its lines'\n"
     "hashes (int64s, the blocks end to end) and the blocks' lengths (int64s)."},
    {"witnessed", witnessed, METH_VARARGS,
     "witnessed(rows, sa, lcp, dense, piece_of, whole_of, starts, sizes, weight_of) -> bytearray\n\n"
     "1 for each lcp-interval (length, lb, rb) with a witness place (Simian's rule 10), else 0."},
    {"sieve_bits", sieve_bits, METH_VARARGS,
     "sieve_bits(windows, sieve) -> None\n\nSets the bit of each window hash's slot in sieve."},
    {"suffix_array", suffix_array, METH_VARARGS,
     "suffix_array(text, alphabet) -> (sa, lcp)\n\nThe suffix array (SA-IS) and lcp array (Kasai) of int64 symbols\n"
     "in [0, alphabet) ending with their only 0, as int64s."},
    {"lcp_intervals", lcp_intervals, METH_VARARGS,
     "lcp_intervals(lcp, k) -> rows\n\nThe lcp-intervals (length, lb, rb) of length >= k, as int64 triples."},
    {"window_hits", window_hits, METH_VARARGS,
     "window_hits(ids, k, windows, sieve, directory, positions=False) -> starts\n\nThe starts of the windows of k known ids "
     "whose hash is in windows (with positions, each followed by its place in windows)."},
    {NULL, NULL, 0, NULL},
};

static PyObject *Table_len(Table *self, PyObject *Py_UNUSED(ignored))
{
    return PyLong_FromSsize_t(self->nkeys);
}

static PyMethodDef Table_methods[] = {
    {"lookup", (PyCFunction)(void (*)(void))Table_lookup, METH_VARARGS | METH_KEYWORDS,
     "lookup(data, case_sensitive) -> (ids, back, text) | None\n\n"
     "ids: a bytearray of int64, one per line: the key's id, 0 if unknown, -1 if ignored,\n"
     "-2 if handed back (a non-ASCII line, case-insensitive); back: a bytearray of int64,\n"
     "the handed-back lines' indices, text: their stripped bytes joined with b'\\n' (both\n"
     "None if none). None if data is not valid UTF-8."},
    {"lookup_simian", (PyCFunction)(void (*)(void))Table_lookup_simian, METH_VARARGS | METH_KEYWORDS,
     "lookup_simian(data, min_run=1) -> (ids, lines, starts, back, text) | None\n\n"
     "Under Simian's plain-text rules: ids as lookup's (-1: a line with no token; an unknown\n"
     "line next to a run of min_run known lines: its unknown symbol, any other: 0), one per\n"
     "line ended by '\\n', '\\r\\n' or a lone '\\r'; lines: their 1-based '\\n'-line numbers\n"
     "(None if no lone '\\r'); starts: each line's first byte; back/text: the lines Python must key,\n"
     "unstripped."},
    {"find", (PyCFunction)Table_find, METH_O,
     "find(keys) -> ids\n\nA bytearray of int64: each key's id, 0 if it is not in the table."},
    {"size", (PyCFunction)Table_len, METH_NOARGS, "Number of keys given."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject TableType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "engine.clones._linekeys.Table",
    .tp_basicsize = sizeof(Table),
    .tp_itemsize = 0,
    .tp_dealloc = (destructor)Table_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Table(keys): exact lookup of line keys (bytes) -> ids 1, 2, ...",
    .tp_methods = Table_methods,
    .tp_init = (initproc)Table_init,
    .tp_new = PyType_GenericNew,
};

static struct PyModuleDef linekeys_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "engine.clones._linekeys",
    .m_doc = "C kernel of engine.clones.linekeys: line keys -> vocabulary ids.",
    .m_size = -1,
    .m_methods = module_methods,
};

PyMODINIT_FUNC PyInit__linekeys(void)
{
    static const char spaces[] = " \t\n\r\x0b\x0c";
    for (const char *c = spaces; *c; c++)
        is_space[(unsigned char)*c] = 1;
    for (int c = 0; c < 256; c++) {
        ascii_lower[c] = (unsigned char)((c >= 'A' && c <= 'Z') ? c + 32 : c);
        if (c >= 0x80)
            simian_class[c] = C_HIGH;
        else if (c == '\n' || c == '\r')
            simian_class[c] = C_EOL;
        else if ((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'))
            simian_class[c] = C_WORD;
        else if (c <= ' ' || strchr("!\"',.:;?", c) != NULL)
            simian_class[c] = C_SEP;
        else
            simian_class[c] = C_SYMBOL;
        static const unsigned char flag_of[] = {F_SEP, F_WORD, F_SYMBOL, F_STOP, F_STOP};
        simian_flags[c] = flag_of[simian_class[c]];
    }
    uint64_t x = 0x2545F4914F6CDD1DULL;  /* splitmix64: fixed numbers, the same in every process */
    for (int c = 0; c < 256; c++) {
        x += 0x9E3779B97F4A7C15ULL;
        uint64_t z = x;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
        z ^= z >> 31;
        if (simian_class[c] == C_WORD || simian_class[c] == C_SYMBOL)
            bag_of[c] = z | 1;
    }
    for (int c = 'A'; c <= 'Z'; c++)
        bag_of[c] = bag_of[c + 32];
    if (PyType_Ready(&TableType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&linekeys_module);
    if (m == NULL)
        return NULL;
    Py_INCREF(&TableType);
    if (PyModule_AddObject(m, "Table", (PyObject *)&TableType) < 0) {
        Py_DECREF(&TableType);
        Py_DECREF(m);
        return NULL;
    }
    if (PyModule_AddIntConstant(m, "HANDED_BACK", HANDED_BACK) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
