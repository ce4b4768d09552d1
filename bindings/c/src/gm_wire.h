/* Internal: the msgpack encoder and decoder of the C client (not installed).
 *
 * The encoder writes into a buffer the caller owns (the client's frame buffer, GM_MAX_FRAME_BYTES
 * plus a header's room) and never allocates: a write past the end sets `overflow`, so the caller
 * refuses the frame as too large before anything is sent.
 *
 * The decoder reads one frame into a document of nodes (gm_value) in two passes over the bytes:
 * the first validates it and counts its nodes and string bytes without allocating; the second
 * fills them, after the document's buffers have grown to fit (they are kept for the next frame).
 * What it accepts is what the Python client's decoder (gamemix.protocol.wire.decode_map: msgpack's
 * unpackb with raw=False, strict_map_key=True) accepts: one msgpack object and no trailing bytes;
 * map keys str or bin at every level; str valid UTF-8 (strict: no surrogates, no overlongs); at
 * most 1024 containers open at once; extension types 0-127, and the timestamp (-1) only with a
 * valid body (the other negative types are reserved: Python's ExtType refuses them); and a
 * count of elements the frame cannot hold is refused at its header (so a short frame never makes
 * a large allocation).
 */
#ifndef GM_WIRE_H
#define GM_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "gamemix_client.h"

#define GM__MAX_DEPTH 1024

struct gm_value {
    uint8_t type;        /* gm_value_type */
    int8_t ext_type;
    uint32_t count;      /* elements, pairs, or bytes */
    uint32_t skip;       /* nodes in this subtree, itself included: the next sibling is this + skip */
    union {
        int64_t i;
        uint64_t u;
        double f;
        const char *s;   /* STR (NUL-terminated), BIN and EXT bytes, in the document's byte buffer */
    } as;
};

typedef struct gm__alloc {
    void *(*alloc)(void *user, size_t size);
    void (*free)(void *user, void *ptr);
    void *user;
} gm__alloc;

void *gm__malloc(const gm__alloc *a, size_t size);
void gm__free(const gm__alloc *a, void *ptr);

/* ------------------------------------------------------------ encoder */

typedef struct gm__enc {
    uint8_t *buf;
    size_t cap;
    size_t len;
    int overflow;
} gm__enc;

void gm__enc_init(gm__enc *e, uint8_t *buf, size_t cap);
void gm__enc_nil(gm__enc *e);
void gm__enc_bool(gm__enc *e, int v);
void gm__enc_uint(gm__enc *e, uint64_t v);
void gm__enc_int(gm__enc *e, int64_t v);
void gm__enc_f64(gm__enc *e, double v);
void gm__enc_str(gm__enc *e, const char *s, size_t n);
void gm__enc_cstr(gm__enc *e, const char *s);
void gm__enc_bin(gm__enc *e, const void *p, size_t n);
void gm__enc_array(gm__enc *e, uint32_t n);
void gm__enc_map(gm__enc *e, uint32_t n);
void gm__enc_vec3(gm__enc *e, const double v[3]);

/* ------------------------------------------------------------ decoder */

typedef enum gm__dec_status {
    GM__DEC_OK = 0,
    GM__DEC_BAD_FRAME,     /* not one msgpack object (or breaks a rule above) */
    GM__DEC_NOT_MAP,       /* a valid object that is not a map */
    GM__DEC_BAD_VERSION,   /* a map whose "v" is not the integer 1 */
    GM__DEC_TOO_LARGE,     /* over GM_MAX_FRAME_BYTES */
    GM__DEC_NO_MEMORY
} gm__dec_status;

typedef struct gm__stack_entry {
    uint64_t remaining;    /* items still to read (a map counts keys and values) */
    uint32_t node;
    uint8_t is_map;
} gm__stack_entry;

typedef struct gm__doc {
    const gm__alloc *alloc;
    gm_value *nodes;
    size_t node_cap;
    size_t node_count;
    char *bytes;
    size_t byte_cap;
    gm__stack_entry *stack;   /* GM__MAX_DEPTH entries, allocated at init */
} gm__doc;

int gm__doc_init(gm__doc *d, const gm__alloc *alloc);
void gm__doc_free(gm__doc *d);
void gm__doc_swap(gm__doc *a, gm__doc *b);
/* Decode one msgpack object (any type) into the document; the root is d->nodes (if OK). */
gm__dec_status gm__doc_decode(gm__doc *d, const uint8_t *data, size_t len);
/* Decode a frame as the Python client's wire.decode_map does: a map whose "v" is the integer 1
 * (strict: true and 1.0 are bad_version here; see bindings/c/README.md). */
gm__dec_status gm__doc_decode_frame(gm__doc *d, const uint8_t *data, size_t len);
const gm_value *gm__doc_root(const gm__doc *d);

/* Is s[0..n) valid UTF-8 (strict, as Python decodes)?  *chars: its code points. */
int gm__utf8_valid(const uint8_t *s, size_t n, size_t *chars);

#endif
