/*
 * ingest._speedups -- optional C versions of hot loops: ingest.text's ``fold``, ``token_stream`` (the
 * tagger's haystack) and ``normalise_space``, ingest.tag's loop over automaton matches, ingest.html's
 * block sentinels, ingest.stories' SimHash and index.writer's compound chains.
 *
 * The character tables come from Python (``ingest.text._fold_table``: every code point's fold as
 * computed by casefold/NFKD/mark dropping in Python, and which folded characters are word
 * characters), so this file holds no Unicode data and cannot disagree with the pure-Python
 * definitions; tests/ingest/test_text.py compares both on random text. Any text these loops do not
 * handle (a code point beyond the tables, a character whose fold keeps a non-starter) makes them
 * return None and the caller takes the Python path.
 *
 * Built by setup.py as an optional extension: without a C compiler newswatch runs on the Python
 * path (about 2x slower tagging), nothing else changes.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#define SLOTS 2        /* 0: fold (case folded), 1: fold with case kept */
#define SPECIAL 255    /* length mark: take the Python path */

typedef struct {
    Py_ssize_t size;     /* number of code points covered */
    uint8_t *lengths;    /* len(fold(chr(c))) or SPECIAL */
    uint32_t *offsets;   /* where fold(chr(c)) starts in chars */
    uint32_t *chars;
    Py_ssize_t nchars;
    uint32_t *single;    /* fold(chr(c)) when it is one character, else 0xFFFFFFFF */
    uint32_t *tok;       /* for token_stream: single if a word character, ' ' if another character,
                            '.' for a dot, 0xFFFFFFFF if not one character (built from single + word) */
} FoldTable;

static FoldTable tables[SLOTS];
static uint8_t *word = NULL; /* per code point: 1 word character, 2 dot, 0 other */
static Py_ssize_t word_size = 0;

static int
copy_buffer(PyObject *obj, Py_ssize_t itemsize, void **out, Py_ssize_t *count)
{
    Py_buffer view;
    if (PyObject_GetBuffer(obj, &view, PyBUF_C_CONTIGUOUS) < 0)
        return -1;
    if (view.len % itemsize != 0) {
        PyBuffer_Release(&view);
        PyErr_SetString(PyExc_ValueError, "buffer size is not a multiple of the item size");
        return -1;
    }
    void *mem = PyMem_Malloc(view.len ? view.len : 1);
    if (mem == NULL) {
        PyBuffer_Release(&view);
        PyErr_NoMemory();
        return -1;
    }
    memcpy(mem, view.buf, view.len);
    *out = mem;
    *count = view.len / itemsize;
    PyBuffer_Release(&view);
    return 0;
}

/* ``tok`` of a slot, once both its fold table and the word table are set. */
static int
build_tok(FoldTable *t)
{
    if (t->single == NULL || word == NULL)
        return 0;
    uint32_t *tok = PyMem_Malloc(t->size * sizeof(uint32_t));
    if (tok == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t c = 0; c < t->size; c++) {
        uint32_t f = t->single[c];
        if (f == 0xFFFFFFFFu || (Py_ssize_t)f >= word_size)
            tok[c] = 0xFFFFFFFFu;
        else if (word[f] == 1)
            tok[c] = f;
        else
            tok[c] = word[f] == 2 ? '.' : ' ';
    }
    PyMem_Free(t->tok);
    t->tok = tok;
    return 0;
}

static PyObject *
set_fold_table(PyObject *self, PyObject *args)
{
    int slot;
    PyObject *objs[4];
    if (!PyArg_ParseTuple(args, "iOOOO", &slot, &objs[0], &objs[1], &objs[2], &objs[3]))
        return NULL;
    if (slot < 0 || slot >= SLOTS) {
        PyErr_SetString(PyExc_ValueError, "slot out of range");
        return NULL;
    }
    /* lengths (uint8), offsets (uint32), chars (uint32), single (uint32) */
    static const Py_ssize_t sizes[4] = {1, 4, 4, 4};
    void *mem[4] = {NULL, NULL, NULL, NULL};
    Py_ssize_t count[4];
    const char *error = NULL;
    for (int i = 0; i < 4; i++) {
        if (copy_buffer(objs[i], sizes[i], &mem[i], &count[i]) < 0)
            goto fail;
    }
    if (count[0] != count[1] || count[0] != count[3])
        error = "lengths, offsets and single differ in size";
    for (Py_ssize_t c = 0; error == NULL && c < count[0]; c++) {
        uint8_t n = ((uint8_t *)mem[0])[c];
        uint32_t single = ((uint32_t *)mem[3])[c];
        if (n != SPECIAL && (Py_ssize_t)((uint32_t *)mem[1])[c] + n > count[2])
            error = "a fold lies outside the table";
        else if (single != 0xFFFFFFFFu && n != 1)
            error = "single set for a fold that is not one character";
    }
    if (error != NULL) {
        PyErr_SetString(PyExc_ValueError, error);
        goto fail;
    }
    FoldTable *t = &tables[slot];
    PyMem_Free(t->lengths);
    PyMem_Free(t->offsets);
    PyMem_Free(t->chars);
    PyMem_Free(t->single);
    t->size = count[0];
    t->lengths = mem[0];
    t->offsets = mem[1];
    t->chars = mem[2];
    t->nchars = count[2];
    t->single = mem[3];
    if (build_tok(t) < 0)
        return NULL;
    Py_RETURN_NONE;
fail:
    for (int i = 0; i < 4; i++)
        PyMem_Free(mem[i]);
    return NULL;
}

static PyObject *
set_word_table(PyObject *self, PyObject *arg)
{
    void *mem;
    Py_ssize_t n;
    if (copy_buffer(arg, 1, &mem, &n) < 0)
        return NULL;
    PyMem_Free(word);
    word = mem;
    word_size = n;
    for (int s = 0; s < SLOTS; s++) {
        if (build_tok(&tables[s]) < 0)
            return NULL;
    }
    Py_RETURN_NONE;
}

/* Output buffer of UCS4 characters that grows when a character folds to several. */
typedef struct {
    Py_UCS4 *buf;
    Py_ssize_t len, cap;
    Py_UCS4 maxchar; /* an OR of the characters written: below 128, 256 or 65536 as their maximum is */
} Out;

static int
out_init(Out *o, Py_ssize_t cap)
{
    o->len = 0;
    o->cap = cap < 16 ? 16 : cap;
    o->maxchar = 0;
    o->buf = PyMem_Malloc(o->cap * sizeof(Py_UCS4));
    if (o->buf == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    return 0;
}

static int
out_reserve(Out *o, Py_ssize_t more)
{
    if (o->len + more <= o->cap)
        return 0;
    Py_ssize_t cap = o->cap * 2 > o->len + more ? o->cap * 2 : o->len + more;
    Py_UCS4 *buf = PyMem_Realloc(o->buf, cap * sizeof(Py_UCS4));
    if (buf == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    o->buf = buf;
    o->cap = cap;
    return 0;
}

/* The str of the buffer (its smallest kind), and the buffer freed. */
static PyObject *
out_finish(Out *o)
{
    Py_UCS4 bound = o->maxchar < 0x80 ? 0x7f : o->maxchar < 0x100 ? 0xff : o->maxchar < 0x10000 ? 0xffff : 0x10ffff;
    PyObject *result = PyUnicode_New(o->len, bound);
    if (result != NULL) {
        int kind = PyUnicode_KIND(result);
        void *data = PyUnicode_DATA(result);
        Py_ssize_t i;
        if (kind == PyUnicode_1BYTE_KIND) {
            Py_UCS1 *d = data;
            for (i = 0; i < o->len; i++)
                d[i] = (Py_UCS1)o->buf[i];
        }
        else if (kind == PyUnicode_2BYTE_KIND) {
            Py_UCS2 *d = data;
            for (i = 0; i < o->len; i++)
                d[i] = (Py_UCS2)o->buf[i];
        }
        else {
            memcpy(data, o->buf, o->len * sizeof(Py_UCS4));
        }
    }
    PyMem_Free(o->buf);
    o->buf = NULL;
    return result;
}

#define NOT_SINGLE 0xFFFFFFFFu

/* fold(chr(c)) of a character that does not fold to exactly one character (``*len`` of them, maybe
 * none), or NULL when the text must take the Python path (beyond the table, or SPECIAL). */
static const uint32_t *
fold_of(const FoldTable *t, Py_UCS4 c, uint8_t *len)
{
    if ((Py_ssize_t)c >= t->size || t->lengths[c] == SPECIAL)
        return NULL;
    *len = t->lengths[c];
    return t->chars + t->offsets[c];
}

/* The loops read the text's own representation (1, 2 or 4 bytes a character). */
#define BY_KIND(LOOP)                          \
    do {                                       \
        if (kind == PyUnicode_1BYTE_KIND)      \
            LOOP(Py_UCS1);                     \
        else if (kind == PyUnicode_2BYTE_KIND) \
            LOOP(Py_UCS2);                     \
        else                                   \
            LOOP(Py_UCS4);                     \
    } while (0)

/* A loop's helper returned ``r`` (1: the Python path, -1: an error set): the buffer freed, the answer. */
#define GIVE_UP(r)               \
    do {                         \
        PyMem_Free(o.buf);       \
        if ((r) < 0)             \
            return NULL;         \
        Py_RETURN_NONE;          \
    } while (0)

/* Append fold(chr(c)) for a character that does not fold to exactly one character; 1 when the text
 * must take the Python path, -1 on error, 0 otherwise. ``rest``: characters left after this one,
 * which may each write one (the loop writes single folds without a check). */
static int
fold_several(const FoldTable *t, Py_UCS4 c, Out *o, Py_ssize_t rest)
{
    uint8_t len;
    const uint32_t *src = fold_of(t, c, &len);
    if (src == NULL)
        return 1;
    if (out_reserve(o, len + rest + 2) < 0)
        return -1;
    for (uint8_t j = 0; j < len; j++) {
        Py_UCS4 f = src[j];
        o->maxchar |= f;
        o->buf[o->len++] = f;
    }
    return 0;
}

#define FOLD_LOOP(TYPE)                                                       \
    do {                                                                      \
        const TYPE *src = (const TYPE *)data;                                 \
        for (Py_ssize_t i = 0; i < n; i++) {                                  \
            Py_UCS4 c = src[i];                                               \
            uint32_t f = (Py_ssize_t)c < t->size ? t->single[c] : NOT_SINGLE; \
            if (f != NOT_SINGLE) {                                            \
                o.maxchar |= f;                                               \
                o.buf[o.len++] = f;                                           \
                continue;                                                     \
            }                                                                 \
            int r = fold_several(t, c, &o, n - i);                            \
            if (r != 0)                                                       \
                GIVE_UP(r);                                                   \
        }                                                                     \
    } while (0)

static int
parse_args(PyObject *args, PyObject **text, const FoldTable **table)
{
    int slot;
    if (!PyArg_ParseTuple(args, "Ui", text, &slot))
        return -1;
    if (slot < 0 || slot >= SLOTS || tables[slot].lengths == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "fold table not set");
        return -1;
    }
    *table = &tables[slot];
    return 0;
}

static PyObject *
fold(PyObject *self, PyObject *args)
{
    PyObject *text;
    const FoldTable *t;
    if (parse_args(args, &text, &t) < 0)
        return NULL;
    int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    Py_ssize_t n = PyUnicode_GET_LENGTH(text);
    Out o;
    if (out_init(&o, n + 2) < 0)
        return NULL;
    /* (capacity: one character per character; fold_several reserves for the others) */
    BY_KIND(FOLD_LOOP);
    return out_finish(&o);
}

/* The token-stream state machine over folded characters: a word character is written (after a
 * pending dot), a dot after a word character waits for the next character, anything else ends the
 * token (one space). */
typedef struct {
    int last_word;   /* the last character written is a word character */
    int pending_dot; /* a dot after a word character, written only if a word character follows */
    int any;         /* a token was written */
} Stream;

static inline void
stream_char(Stream *s, Out *o, Py_UCS4 f, uint8_t w)
{
    if (w == 1) {
        if (s->pending_dot) {
            o->buf[o->len++] = '.';
            s->pending_dot = 0;
        }
        o->maxchar |= f;
        o->buf[o->len++] = f;
        s->last_word = 1;
        s->any = 1;
    }
    else if (w == 2 && s->last_word && !s->pending_dot) {
        s->pending_dot = 1;
    }
    else {
        /* a separator, or a dot that is not between two word characters */
        s->pending_dot = 0;
        if (s->last_word) {
            o->buf[o->len++] = ' ';
            s->last_word = 0;
        }
    }
}

/* Append the stream of a character that does not fold to exactly one character. */
static int
stream_several(const FoldTable *t, Py_UCS4 c, Out *o, Stream *s, Py_ssize_t rest)
{
    uint8_t len;
    const uint32_t *src = fold_of(t, c, &len);
    if (src == NULL)
        return 1;
    /* each folded character writes at most two (a pending dot and itself), and so may each of the
     * ``rest`` characters after this one (the loop writes single folds without a check) */
    if (out_reserve(o, 2 * ((Py_ssize_t)len + rest) + 2) < 0)
        return -1;
    for (uint8_t j = 0; j < len; j++) {
        Py_UCS4 f = src[j];
        if ((Py_ssize_t)f >= word_size)
            return 1;
        stream_char(s, o, f, word[f]);
    }
    return 0;
}

#define STREAM_LOOP(TYPE)                                                     \
    do {                                                                      \
        const TYPE *src = (const TYPE *)data;                                 \
        const uint32_t *tok = t->tok;                                         \
        for (Py_ssize_t i = 0; i < n; i++) {                                  \
            Py_UCS4 c = src[i];                                               \
            uint32_t f = (Py_ssize_t)c < t->size ? tok[c] : NOT_SINGLE;       \
            if (f == ' ') {                                                   \
                s.pending_dot = 0;                                            \
                o.buf[o.len] = ' ';                                           \
                o.len += s.last_word;                                         \
                s.last_word = 0;                                              \
            }                                                                 \
            else if (f == NOT_SINGLE) {                                       \
                int r = stream_several(t, c, &o, &s, n - i);                  \
                if (r != 0)                                                   \
                    GIVE_UP(r);                                               \
            }                                                                 \
            else {                                                            \
                stream_char(&s, &o, f, f == '.' ? 2 : 1);                     \
            }                                                                 \
        }                                                                     \
    } while (0)

/* " " + " ".join(tokens) + " " where tokens are the matches of \w+(?:[.]\w+)* in the fold of
 * ``text``: runs of word characters, with a single dot kept only between two word characters. */
static PyObject *
token_stream(PyObject *self, PyObject *args)
{
    PyObject *text;
    const FoldTable *t;
    if (parse_args(args, &text, &t) < 0)
        return NULL;
    if (t->tok == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "word table not set");
        return NULL;
    }
    int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    Py_ssize_t n = PyUnicode_GET_LENGTH(text);
    Out o;
    /* (capacity: two characters per character, a pending dot and itself; stream_several reserves
     * for characters that fold to several) */
    if (out_init(&o, 2 * n + 4) < 0)
        return NULL;
    Stream s = {0, 0, 0};
    o.buf[o.len++] = ' ';
    BY_KIND(STREAM_LOOP);
    if (out_reserve(&o, 1) < 0)
        GIVE_UP(-1);
    if (!s.any || s.last_word)
        o.buf[o.len++] = ' ';  /* the closing space; no token at all: "  ", as " " + "" + " " */
    return out_finish(&o);
}

/* ---------------------------------------------------------------------------------------------
 * normalise_space(text): " ".join(text.split()) -- white space as str.split sees it (Py_UNICODE_ISSPACE).
 */
#define SPACE_LOOP(TYPE)                                                      \
    do {                                                                      \
        const TYPE *src = (const TYPE *)data;                                 \
        TYPE *dst = (TYPE *)buf;                                              \
        for (Py_ssize_t i = 0; i < n; i++) {                                  \
            Py_UCS4 c = src[i];                                               \
            if (c < 128 ? (c == ' ' || (c >= 9 && c <= 13) || (c >= 28 && c <= 31)) \
                        : Py_UNICODE_ISSPACE(c)) {                            \
                pending = 1;                                                  \
                other |= c != ' ';                                            \
                continue;                                                     \
            }                                                                 \
            if (pending && k > 0)                                             \
                dst[k++] = ' ';                                               \
            pending = 0;                                                      \
            dst[k++] = (TYPE)c;                                               \
        }                                                                     \
    } while (0)

static PyObject *
normalise_space(PyObject *self, PyObject *arg)
{
    if (!PyUnicode_Check(arg)) {
        PyErr_SetString(PyExc_TypeError, "normalise_space() needs a str");
        return NULL;
    }
    int kind = PyUnicode_KIND(arg);
    const void *data = PyUnicode_DATA(arg);
    Py_ssize_t n = PyUnicode_GET_LENGTH(arg);
    void *buf = PyMem_Malloc((n ? n : 1) * kind);
    if (buf == NULL)
        return PyErr_NoMemory();
    Py_ssize_t k = 0;
    int pending = 0, other = 0; /* other: a white-space character that is not " " */
    BY_KIND(SPACE_LOOP);
    PyObject *result;
    if (k == n && !other) {
        result = arg; /* nothing changed */
        Py_INCREF(result);
    }
    else {
        result = PyUnicode_FromKindAndData(kind, buf, k);
    }
    PyMem_Free(buf);
    return result;
}

/* ---------------------------------------------------------------------------------------------
 * mark_blocks(markup, line, block_tags, cell_tags): before every tag (opening or closing) named in
 * block_tags, ``line`` is inserted; before every one named in cell_tags, a space -- what
 * ``re.sub(r"<(?=/?(?:NAMES)[\s/>])", LINE + "<", markup, flags=re.I)`` does for each set. Tag names
 * are compared in ASCII lower case; a name going on with one of the four non-ASCII characters that
 * re.IGNORECASE matches to an ASCII letter (U+0130, U+0131, U+017F, U+212A) returns None, and the
 * caller takes the regex.
 */
#define MAX_TAG 16

typedef struct {
    Py_ssize_t at; /* index of the "<" */
    Py_UCS4 ch;    /* what goes before it */
} Insert;

static PyObject *
mark_blocks(PyObject *self, PyObject *args)
{
    PyObject *text, *line, *block, *cell;
    if (!PyArg_ParseTuple(args, "UUO!O!", &text, &line, &PyFrozenSet_Type, &block, &PyFrozenSet_Type, &cell))
        return NULL;
    if (PyUnicode_GET_LENGTH(line) != 1) {
        PyErr_SetString(PyExc_ValueError, "line must be one character");
        return NULL;
    }
    Py_UCS4 mark = PyUnicode_READ_CHAR(line, 0);
    int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    Py_ssize_t n = PyUnicode_GET_LENGTH(text);
    PyObject *result = NULL;
    /* First pass: where to insert what. */
    Py_ssize_t cap = 16, count = 0;
    Insert *ins = PyMem_Malloc(cap * sizeof(Insert));
    if (ins == NULL)
        return PyErr_NoMemory();
    for (Py_ssize_t i = 0; (i = PyUnicode_FindChar(text, '<', i, n, 1)) >= 0; i++) {
        Py_ssize_t j = i + 1;
        if (j < n && PyUnicode_READ(kind, data, j) == '/')
            j++;
        char name[MAX_TAG + 1];
        int len = 0;
        while (j < n && len <= MAX_TAG) {
            Py_UCS4 d = PyUnicode_READ(kind, data, j);
            if (d >= 128) {
                /* the four characters re.IGNORECASE matches to an ASCII letter (İ ı ſ K, checked
                 * over all of Unicode in the tests) may go on a name: the regex decides */
                if (d == 0x130 || d == 0x131 || d == 0x17f || d == 0x212a) {
                    result = Py_None;
                    Py_INCREF(result);
                    goto done;
                }
                break;
            }
            if (!((d >= 'a' && d <= 'z') || (d >= 'A' && d <= 'Z') || (d >= '0' && d <= '9')))
                break;
            name[len++] = (char)(d >= 'A' && d <= 'Z' ? d + 32 : d);
            j++;
        }
        Py_UCS4 after = j < n ? PyUnicode_READ(kind, data, j) : 0;
        if (len == 0 || len > MAX_TAG || j >= n || !(after == '/' || after == '>' || Py_UNICODE_ISSPACE(after)))
            continue;
        PyObject *key = PyUnicode_FromStringAndSize(name, len);
        if (key == NULL)
            goto done;
        int in_block = PySet_Contains(block, key);
        int in_cell = in_block ? 0 : PySet_Contains(cell, key);
        Py_DECREF(key);
        if (in_block < 0 || in_cell < 0)
            goto done;
        if (!in_block && !in_cell)
            continue;
        if (count == cap) {
            Insert *grown = PyMem_Realloc(ins, 2 * cap * sizeof(Insert));
            if (grown == NULL) {
                PyErr_NoMemory();
                goto done;
            }
            ins = grown;
            cap *= 2;
        }
        ins[count].at = i;
        ins[count].ch = in_block ? mark : ' ';
        count++;
    }
    if (count == 0) {
        result = text;
        Py_INCREF(result);
        goto done;
    }
    /* Second pass: the text copied in spans, the inserted characters between them. */
    Py_UCS4 maxchar = PyUnicode_MAX_CHAR_VALUE(text);
    result = PyUnicode_New(n + count, mark > maxchar ? mark : maxchar);
    if (result != NULL) {
        Py_ssize_t from = 0, to = 0;
        for (Py_ssize_t k = 0; k < count; k++) {
            Py_ssize_t span = ins[k].at - from;
            if (span > 0)
                PyUnicode_CopyCharacters(result, to, text, from, span);
            to += span;
            PyUnicode_WRITE(PyUnicode_KIND(result), PyUnicode_DATA(result), to, ins[k].ch);
            to++;
            from = ins[k].at;
        }
        if (n > from)
            PyUnicode_CopyCharacters(result, to, text, from, n - from);
    }
done:
    PyMem_Free(ins);
    return result;
}

/* ---------------------------------------------------------------------------------------------
 * simhash_words(hashes, three): ingest.stories.fingerprint's SimHash from its words' 64-bit hashes:
 * the words and their 3-shingles (``three``) or 2-shingles, each shingle hashed by the splitmix64
 * finaliser of ``_mix``; bit i set when a strict majority of the features have it.
 */
static inline uint64_t
rotl64(uint64_t x, int r)
{
    return (x << r) | (x >> (64 - r));
}

static inline uint64_t
mix64(uint64_t a, uint64_t b, uint64_t c, int with_c)
{
    uint64_t x = a ^ rotl64(b, 21) ^ 0x9E3779B97F4A7C15ull;
    if (with_c)
        x ^= rotl64(c, 42);
    x ^= x >> 30;
    x *= 0xBF58476D1CE4E5B9ull;
    x ^= x >> 27;
    x *= 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

static inline void
count_bits(uint32_t *counts, uint64_t h)
{
    for (int b = 0; b < 64; b++)
        counts[b] += (uint32_t)((h >> b) & 1u);
}

static PyObject *
simhash_words(PyObject *self, PyObject *args)
{
    PyObject *list;
    int three;
    if (!PyArg_ParseTuple(args, "O!p", &PyList_Type, &list, &three))
        return NULL;
    Py_ssize_t n = PyList_GET_SIZE(list);
    uint64_t *h = PyMem_Malloc((n ? n : 1) * sizeof(uint64_t));
    if (h == NULL)
        return PyErr_NoMemory();
    for (Py_ssize_t i = 0; i < n; i++) {
        h[i] = PyLong_AsUnsignedLongLong(PyList_GET_ITEM(list, i));
        if (h[i] == (uint64_t)-1 && PyErr_Occurred()) {
            PyMem_Free(h);
            return NULL;
        }
    }
    uint32_t counts[64] = {0};
    Py_ssize_t total = n;
    for (Py_ssize_t i = 0; i < n; i++)
        count_bits(counts, h[i]);
    Py_ssize_t width = three ? 3 : 2;
    for (Py_ssize_t i = 0; i + width <= n; i++) {
        count_bits(counts, mix64(h[i], h[i + 1], three ? h[i + 2] : 0, three));
        total++;
    }
    PyMem_Free(h);
    uint64_t out = 0;
    if (total > 0) {
        for (int b = 0; b < 64; b++) {
            if ((Py_ssize_t)counts[b] >= total / 2 + 1)
                out |= 1ull << b;
        }
    }
    return PyLong_FromUnsignedLongLong(out);
}

static inline int
is_joiner(const Py_UCS4 *join, Py_ssize_t nj, Py_UCS4 c)
{
    for (Py_ssize_t k = 0; k < nj; k++) {
        if (join[k] == c)
            return 1;
    }
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * compound_chains(text, joiners): the matches of \w+(?:[JOINERS]\w+)+ that start where a word starts
 * (index.writer._COMPOUND_RE), in order -- None when the text has a joiner that is also a word
 * character (U+02BC: the regex may then backtrack into a word), for the caller's regex.
 */
static inline int
is_word(Py_UCS4 c)
{
    return c < 128 ? ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_')
                   : Py_UNICODE_ISALNUM(c);
}

static PyObject *
compound_chains(PyObject *self, PyObject *args)
{
    PyObject *text, *joiners;
    if (!PyArg_ParseTuple(args, "UU", &text, &joiners))
        return NULL;
    Py_ssize_t nj = PyUnicode_GET_LENGTH(joiners);
    Py_UCS4 join[16];
    if (nj > 16) {
        PyErr_SetString(PyExc_ValueError, "at most 16 joiners");
        return NULL;
    }
    for (Py_ssize_t k = 0; k < nj; k++) {
        join[k] = PyUnicode_READ_CHAR(joiners, k);
        if (is_word(join[k]) && PyUnicode_FindChar(text, join[k], 0, PyUnicode_GET_LENGTH(text), 1) >= 0)
            Py_RETURN_NONE;
    }
    int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    Py_ssize_t n = PyUnicode_GET_LENGTH(text);
    uint8_t ascii_joiner[128] = {0};
    for (Py_ssize_t k = 0; k < nj; k++) {
        if (join[k] < 128)
            ascii_joiner[join[k]] = 1;
    }
    PyObject *out = PyList_New(0);
    if (out == NULL)
        return NULL;
#define IS_JOINER(c) ((c) < 128 ? ascii_joiner[(c)] : is_joiner(join, nj, (c)))
    Py_ssize_t pos = 0;
    for (Py_ssize_t i = 1; i + 1 < n; i++) {
        Py_UCS4 c = PyUnicode_READ(kind, data, i);
        if (!IS_JOINER(c) || !is_word(PyUnicode_READ(kind, data, i - 1)) ||
            !is_word(PyUnicode_READ(kind, data, i + 1)))
            continue;
        /* the start of the word before the joint, no further back than the last chain's end */
        Py_ssize_t s = i - 1;
        while (s > pos && is_word(PyUnicode_READ(kind, data, s - 1)))
            s--;
        /* the chain: a word, then (joiner, word) as long as they go on */
        Py_ssize_t j = s;
        while (j < n && is_word(PyUnicode_READ(kind, data, j)))
            j++;
        while (j + 1 < n && IS_JOINER(PyUnicode_READ(kind, data, j)) && is_word(PyUnicode_READ(kind, data, j + 1))) {
            j++;
            while (j < n && is_word(PyUnicode_READ(kind, data, j)))
                j++;
        }
        PyObject *chain = PyUnicode_Substring(text, s, j);
        if (chain == NULL || PyList_Append(out, chain) < 0) {
            Py_XDECREF(chain);
            Py_DECREF(out);
            return NULL;
        }
        Py_DECREF(chain);
        pos = j;
        i = j - 1; /* the loop's i++ looks at j next: joints inside the chain are passed */
    }
#undef IS_JOINER
    return out;
}

/* ---------------------------------------------------------------------------------------------
 * collect_hits(matches, entries, hay, fidx, found, check): ingest.tag's scan loop over one field's
 * automaton matches. ``matches``: [(pattern index, start, end)]; ``entries[pattern]``: [(term index,
 * prefix_end, tail, cased)], ``tail`` the words to verify after the anchor ((word, prefix) pairs),
 * ``cased`` the case-kept words, verified by calling ``check(fidx, start, cased)`` (rare: acronyms).
 * Every verified (term, start) is appended to ``found[term]`` as (fidx, start), in match order: the
 * same dict the Python loop (``Tagger._scan``) builds.
 */
static int
token_is(int kind, const void *data, Py_ssize_t from, Py_ssize_t to, PyObject *word, int prefix)
{
    Py_ssize_t wl = PyUnicode_GET_LENGTH(word);
    if (prefix ? wl > to - from : wl != to - from)
        return 0;
    int wkind = PyUnicode_KIND(word);
    const void *wdata = PyUnicode_DATA(word);
    for (Py_ssize_t k = 0; k < wl; k++) {
        if (PyUnicode_READ(kind, data, from + k) != PyUnicode_READ(wkind, wdata, k))
            return 0;
    }
    return 1;
}

static Py_ssize_t
find_space(int kind, const void *data, Py_ssize_t n, Py_ssize_t from)
{
    for (Py_ssize_t i = from < 0 ? 0 : from; i < n; i++) {
        if (PyUnicode_READ(kind, data, i) == ' ')
            return i;
    }
    return -1;
}

static int
tail_ok(int kind, const void *data, Py_ssize_t n, Py_ssize_t end, int prefix_end, PyObject *tail)
{
    Py_ssize_t pos = prefix_end ? find_space(kind, data, n, end) : end - 1;
    Py_ssize_t nt = PyTuple_GET_SIZE(tail);
    for (Py_ssize_t k = 0; k < nt; k++) {
        PyObject *pair = PyTuple_GET_ITEM(tail, k);
        if (pos < 0)
            return 0;
        Py_ssize_t nxt = find_space(kind, data, n, pos + 1);
        if (nxt < 0)
            return 0;
        PyObject *word = PyTuple_GET_ITEM(pair, 0);
        int prefix = PyTuple_GET_ITEM(pair, 1) == Py_True;
        if (!token_is(kind, data, pos + 1, nxt, word, prefix))
            return 0;
        pos = nxt;
    }
    return 1;
}

/* 1 if ``obj`` is a tuple of ``size`` items, else 0 with a TypeError saying ``what`` */
static int
tuple_of(PyObject *obj, Py_ssize_t size, const char *what)
{
    if (PyTuple_Check(obj) && PyTuple_GET_SIZE(obj) == size)
        return 1;
    PyErr_Format(PyExc_TypeError, "%s is a tuple of %zd items", what, size);
    return 0;
}

static PyObject *
collect_hits(PyObject *self, PyObject *args)
{
    PyObject *matches, *entries, *hay, *fidx, *found, *check;
    if (!PyArg_ParseTuple(args, "O!O!UOO!O", &PyList_Type, &matches, &PyList_Type, &entries, &hay, &fidx,
                          &PyDict_Type, &found, &check))
        return NULL;
    int kind = PyUnicode_KIND(hay);
    const void *data = PyUnicode_DATA(hay);
    Py_ssize_t n = PyUnicode_GET_LENGTH(hay);
    Py_ssize_t nm = PyList_GET_SIZE(matches);
    Py_ssize_t npat = PyList_GET_SIZE(entries);
    for (Py_ssize_t i = 0; i < nm; i++) {
        PyObject *m = PyList_GET_ITEM(matches, i);
        if (!tuple_of(m, 3, "a match (pattern, start, end)"))
            return NULL;
        Py_ssize_t pidx = PyLong_AsSsize_t(PyTuple_GET_ITEM(m, 0));
        PyObject *start = PyTuple_GET_ITEM(m, 1);
        Py_ssize_t end = PyLong_AsSsize_t(PyTuple_GET_ITEM(m, 2));
        if ((pidx == -1 || end == -1) && PyErr_Occurred())
            return NULL;
        if (pidx < 0 || pidx >= npat) {
            PyErr_SetString(PyExc_IndexError, "pattern index out of range");
            return NULL;
        }
        PyObject *elist = PyList_GET_ITEM(entries, pidx);
        if (!PyList_Check(elist)) {
            PyErr_SetString(PyExc_TypeError, "entries[pattern] is a list");
            return NULL;
        }
        Py_ssize_t ne = PyList_GET_SIZE(elist);
        for (Py_ssize_t e = 0; e < ne; e++) {
            PyObject *entry = PyList_GET_ITEM(elist, e);
            if (!tuple_of(entry, 4, "an entry (term, prefix_end, tail, cased)"))
                return NULL;
            PyObject *tid = PyTuple_GET_ITEM(entry, 0);
            PyObject *tail = PyTuple_GET_ITEM(entry, 2);
            PyObject *cased = PyTuple_GET_ITEM(entry, 3);
            if (PyTuple_GET_SIZE(tail) &&
                !tail_ok(kind, data, n, end, PyTuple_GET_ITEM(entry, 1) == Py_True, tail))
                continue;
            if (PyTuple_GET_SIZE(cased)) {
                PyObject *ok = PyObject_CallFunctionObjArgs(check, fidx, start, cased, NULL);
                if (ok == NULL)
                    return NULL;
                int truth = PyObject_IsTrue(ok);
                Py_DECREF(ok);
                if (truth < 0)
                    return NULL;
                if (!truth)
                    continue;
            }
            PyObject *place = PyTuple_Pack(2, fidx, start);
            if (place == NULL)
                return NULL;
            PyObject *occ = PyDict_GetItemWithError(found, tid);
            int rc;
            if (occ != NULL) {
                rc = PyList_Append(occ, place);
            } else if (PyErr_Occurred()) {
                rc = -1;
            } else {
                PyObject *fresh = PyList_New(1);
                if (fresh == NULL) {
                    rc = -1;
                } else {
                    Py_INCREF(place);
                    PyList_SET_ITEM(fresh, 0, place);
                    rc = PyDict_SetItem(found, tid, fresh);
                    Py_DECREF(fresh);
                }
            }
            Py_DECREF(place);
            if (rc < 0)
                return NULL;
        }
    }
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"set_fold_table", set_fold_table, METH_VARARGS,
     "set_fold_table(slot, lengths, offsets, chars, single): install a fold table (uint8, uint32 buffers)"},
    {"set_word_table", set_word_table, METH_O,
     "set_word_table(table): per code point 1 word character, 2 dot, 0 other (buffer of uint8)"},
    {"fold", fold, METH_VARARGS, "fold(text, slot) -> str, or None for the Python path"},
    {"token_stream", token_stream, METH_VARARGS,
     "token_stream(text, slot) -> str, or None for the Python path"},
    {"normalise_space", normalise_space, METH_O, "normalise_space(text) -> \" \".join(text.split())"},
    {"mark_blocks", mark_blocks, METH_VARARGS,
     "mark_blocks(markup, line, block_tags, cell_tags) -> str, or None for the regex path"},
    {"collect_hits", collect_hits, METH_VARARGS,
     "collect_hits(matches, entries, hay, fidx, found, check): ingest.tag's scan loop over one field"},
    {"simhash_words", simhash_words, METH_VARARGS,
     "simhash_words(hashes, three) -> int: SimHash of the words and their 3- (or 2-) shingles"},
    {"compound_chains", compound_chains, METH_VARARGS,
     "compound_chains(text, joiners) -> list of hyphen/apostrophe chains, or None for the regex path"},
    {NULL, NULL, 0, NULL},
};

static void
free_tables(void *module)
{
    for (int s = 0; s < SLOTS; s++) {
        PyMem_Free(tables[s].lengths);
        PyMem_Free(tables[s].offsets);
        PyMem_Free(tables[s].chars);
        PyMem_Free(tables[s].single);
        PyMem_Free(tables[s].tok);
        memset(&tables[s], 0, sizeof(FoldTable));
    }
    PyMem_Free(word);
    word = NULL;
    word_size = 0;
}

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_speedups", "C versions of ingest.text's fold and token_stream loops.",
    -1, methods, NULL, NULL, NULL, free_tables,
};

PyMODINIT_FUNC
PyInit__speedups(void)
{
    return PyModule_Create(&module);
}
