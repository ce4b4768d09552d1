/* The msgpack encoder and decoder of the C client, and the gm_value readers (see gm_wire.h). */
#include "gm_wire.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ allocation */

void *gm__malloc(const gm__alloc *a, size_t size)
{
    if (size == 0)
        size = 1;
    if (a != NULL && a->alloc != NULL)
        return a->alloc(a->user, size);
    return malloc(size);
}

void gm__free(const gm__alloc *a, void *ptr)
{
    if (ptr == NULL)
        return;
    if (a != NULL && a->free != NULL)
        a->free(a->user, ptr);
    else
        free(ptr);
}

/* ------------------------------------------------------------ encoder */

void gm__enc_init(gm__enc *e, uint8_t *buf, size_t cap)
{
    e->buf = buf;
    e->cap = cap;
    e->len = 0;
    e->overflow = 0;
}

static uint8_t *room(gm__enc *e, size_t n)
{
    uint8_t *p;
    if (e->overflow || n > e->cap - e->len) {
        e->overflow = 1;
        return NULL;
    }
    p = e->buf + e->len;
    e->len += n;
    return p;
}

static void put_be(uint8_t *p, uint64_t v, int bytes)
{
    int k;
    for (k = bytes - 1; k >= 0; k--) {
        p[k] = (uint8_t)(v & 0xff);
        v >>= 8;
    }
}

static void head(gm__enc *e, uint8_t tag, uint64_t v, int bytes)
{
    uint8_t *p = room(e, 1 + (size_t)bytes);
    if (p == NULL)
        return;
    p[0] = tag;
    put_be(p + 1, v, bytes);
}

void gm__enc_nil(gm__enc *e)
{
    head(e, 0xc0, 0, 0);
}

void gm__enc_bool(gm__enc *e, int v)
{
    head(e, v ? 0xc3 : 0xc2, 0, 0);
}

void gm__enc_uint(gm__enc *e, uint64_t v)
{
    if (v <= 0x7f)
        head(e, (uint8_t)v, 0, 0);
    else if (v <= 0xff)
        head(e, 0xcc, v, 1);
    else if (v <= 0xffff)
        head(e, 0xcd, v, 2);
    else if (v <= 0xffffffffu)
        head(e, 0xce, v, 4);
    else
        head(e, 0xcf, v, 8);
}

void gm__enc_int(gm__enc *e, int64_t v)
{
    if (v >= 0) {
        gm__enc_uint(e, (uint64_t)v);
    } else if (v >= -32) {
        head(e, (uint8_t)(int8_t)v, 0, 0);
    } else if (v >= INT8_MIN) {
        head(e, 0xd0, (uint64_t)v & 0xff, 1);
    } else if (v >= INT16_MIN) {
        head(e, 0xd1, (uint64_t)v & 0xffff, 2);
    } else if (v >= INT32_MIN) {
        head(e, 0xd2, (uint64_t)v & 0xffffffffu, 4);
    } else {
        head(e, 0xd3, (uint64_t)v, 8);
    }
}

void gm__enc_f64(gm__enc *e, double v)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    head(e, 0xcb, bits, 8);
}

void gm__enc_str(gm__enc *e, const char *s, size_t n)
{
    uint8_t *p;
    if (n <= 31)
        head(e, (uint8_t)(0xa0 | n), 0, 0);
    else if (n <= 0xff)
        head(e, 0xd9, n, 1);
    else if (n <= 0xffff)
        head(e, 0xda, n, 2);
    else if ((uint64_t)n <= 0xffffffffu)
        head(e, 0xdb, n, 4);
    else {
        e->overflow = 1;
        return;
    }
    p = room(e, n);
    if (p != NULL && n > 0)
        memcpy(p, s, n);
}

void gm__enc_cstr(gm__enc *e, const char *s)
{
    gm__enc_str(e, s, strlen(s));
}

void gm__enc_bin(gm__enc *e, const void *data, size_t n)
{
    uint8_t *p;
    if (n <= 0xff)
        head(e, 0xc4, n, 1);
    else if (n <= 0xffff)
        head(e, 0xc5, n, 2);
    else if ((uint64_t)n <= 0xffffffffu)
        head(e, 0xc6, n, 4);
    else {
        e->overflow = 1;
        return;
    }
    p = room(e, n);
    if (p != NULL && n > 0)
        memcpy(p, data, n);
}

void gm__enc_array(gm__enc *e, uint32_t n)
{
    if (n <= 15)
        head(e, (uint8_t)(0x90 | n), 0, 0);
    else if (n <= 0xffff)
        head(e, 0xdc, n, 2);
    else
        head(e, 0xdd, n, 4);
}

void gm__enc_map(gm__enc *e, uint32_t n)
{
    if (n <= 15)
        head(e, (uint8_t)(0x80 | n), 0, 0);
    else if (n <= 0xffff)
        head(e, 0xde, n, 2);
    else
        head(e, 0xdf, n, 4);
}

void gm__enc_vec3(gm__enc *e, const double v[3])
{
    gm__enc_array(e, 3);
    gm__enc_f64(e, v[0]);
    gm__enc_f64(e, v[1]);
    gm__enc_f64(e, v[2]);
}

/* ------------------------------------------------------------ UTF-8 */

int gm__utf8_valid(const uint8_t *s, size_t n, size_t *chars)
{
    size_t i = 0, count = 0;
    while (i < n) {
        uint8_t c = s[i];
        size_t need;
        uint8_t lo = 0x80, hi = 0xbf;
        if (c < 0x80) {
            i++;
            count++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf) {
            need = 1;
        } else if (c >= 0xe0 && c <= 0xef) {
            need = 2;
            if (c == 0xe0)
                lo = 0xa0;          /* overlong */
            else if (c == 0xed)
                hi = 0x9f;          /* surrogates */
        } else if (c >= 0xf0 && c <= 0xf4) {
            need = 3;
            if (c == 0xf0)
                lo = 0x90;          /* overlong */
            else if (c == 0xf4)
                hi = 0x8f;          /* beyond U+10FFFF */
        } else {
            return 0;
        }
        if (n - i - 1 < need)
            return 0;
        if (s[i + 1] < lo || s[i + 1] > hi)
            return 0;
        {
            size_t k;
            for (k = 2; k <= need; k++)
                if (s[i + k] < 0x80 || s[i + k] > 0xbf)
                    return 0;
        }
        i += need + 1;
        count++;
    }
    if (chars != NULL)
        *chars = count;
    return 1;
}

/* ------------------------------------------------------------ decoder */

int gm__doc_init(gm__doc *d, const gm__alloc *alloc)
{
    memset(d, 0, sizeof *d);
    d->alloc = alloc;
    d->stack = (gm__stack_entry *)gm__malloc(alloc, sizeof(gm__stack_entry) * GM__MAX_DEPTH);
    return d->stack != NULL;
}

void gm__doc_free(gm__doc *d)
{
    gm__free(d->alloc, d->nodes);
    gm__free(d->alloc, d->bytes);
    gm__free(d->alloc, d->stack);
    memset(d, 0, sizeof *d);
}

void gm__doc_swap(gm__doc *a, gm__doc *b)
{
    gm__doc t = *a;
    *a = *b;
    *b = t;
}

const gm_value *gm__doc_root(const gm__doc *d)
{
    return d->node_count > 0 ? d->nodes : NULL;
}

static uint64_t get_be(const uint8_t *p, int bytes)
{
    uint64_t v = 0;
    int k;
    for (k = 0; k < bytes; k++)
        v = (v << 8) | p[k];
    return v;
}

/* One pass over the frame: validates, counts (`fill` 0) or fills the nodes (`fill` 1). */
static gm__dec_status walk(gm__doc *d, const uint8_t *data, size_t len, int fill, size_t *nodes_out,
                           size_t *bytes_out)
{
    size_t pos = 0, nodes = 0, bytes = 0, depth = 0;
    gm__stack_entry *stack = d->stack;

    for (;;) {
        uint8_t b, type;
        uint64_t n = 0;              /* count of a container, or bytes of str/bin/ext */
        const uint8_t *payload = NULL;
        int8_t ext_type = 0;
        gm_value *node = NULL;
        size_t rest;
        if (pos >= len)
            return GM__DEC_BAD_FRAME;
        b = data[pos++];
        rest = len - pos;
#define NEED(k) do { if (rest < (size_t)(k)) return GM__DEC_BAD_FRAME; } while (0)
        if (b <= 0x7f || b >= 0xe0) {
            type = GM_VALUE_INT;
            if (fill) {
                node = &d->nodes[nodes];
                node->as.i = b <= 0x7f ? (int64_t)b : (int64_t)(int8_t)b;
            }
        } else if (b <= 0x8f) {
            type = GM_VALUE_MAP;
            n = b & 0x0f;
        } else if (b <= 0x9f) {
            type = GM_VALUE_ARRAY;
            n = b & 0x0f;
        } else if (b <= 0xbf) {
            type = GM_VALUE_STR;
            n = b & 0x1f;
        } else {
            switch (b) {
            case 0xc0: type = GM_VALUE_NIL; break;
            case 0xc2: case 0xc3:
                type = GM_VALUE_BOOL;
                if (fill) {
                    node = &d->nodes[nodes];
                    node->as.i = b == 0xc3;
                }
                break;
            case 0xc4: case 0xc5: case 0xc6: {
                int w = b == 0xc4 ? 1 : b == 0xc5 ? 2 : 4;
                NEED(w);
                n = get_be(data + pos, w);
                pos += (size_t)w;
                type = GM_VALUE_BIN;
                break;
            }
            case 0xc7: case 0xc8: case 0xc9: {
                int w = b == 0xc7 ? 1 : b == 0xc8 ? 2 : 4;
                NEED(w + 1);
                n = get_be(data + pos, w);
                ext_type = (int8_t)data[pos + (size_t)w];
                pos += (size_t)w + 1;
                type = GM_VALUE_EXT;
                break;
            }
            case 0xca: {
                uint32_t bits;
                float f;
                NEED(4);
                bits = (uint32_t)get_be(data + pos, 4);
                pos += 4;
                type = GM_VALUE_FLOAT;
                if (fill) {
                    memcpy(&f, &bits, sizeof f);
                    node = &d->nodes[nodes];
                    node->as.f = (double)f;
                }
                break;
            }
            case 0xcb: {
                uint64_t bits;
                NEED(8);
                bits = get_be(data + pos, 8);
                pos += 8;
                type = GM_VALUE_FLOAT;
                if (fill) {
                    node = &d->nodes[nodes];
                    memcpy(&node->as.f, &bits, sizeof bits);
                }
                break;
            }
            case 0xcc: case 0xcd: case 0xce: case 0xcf: {
                int w = 1 << (b - 0xcc);
                uint64_t v;
                NEED(w);
                v = get_be(data + pos, w);
                pos += (size_t)w;
                type = v > (uint64_t)INT64_MAX ? GM_VALUE_UINT : GM_VALUE_INT;
                if (fill) {
                    node = &d->nodes[nodes];
                    node->as.u = v;
                }
                break;
            }
            case 0xd0: case 0xd1: case 0xd2: case 0xd3: {
                int w = 1 << (b - 0xd0);
                uint64_t v;
                int64_t s;
                NEED(w);
                v = get_be(data + pos, w);
                pos += (size_t)w;
                if (w < 8 && (v >> (8 * w - 1)) & 1)
                    v |= ~(uint64_t)0 << (8 * w);       /* sign-extend */
                memcpy(&s, &v, sizeof s);
                type = GM_VALUE_INT;
                if (fill) {
                    node = &d->nodes[nodes];
                    node->as.i = s;
                }
                break;
            }
            case 0xd4: case 0xd5: case 0xd6: case 0xd7: case 0xd8:
                NEED(1);
                n = (uint64_t)1 << (b - 0xd4);
                ext_type = (int8_t)data[pos];
                pos += 1;
                type = GM_VALUE_EXT;
                break;
            case 0xd9: case 0xda: case 0xdb: {
                int w = b == 0xd9 ? 1 : b == 0xda ? 2 : 4;
                NEED(w);
                n = get_be(data + pos, w);
                pos += (size_t)w;
                type = GM_VALUE_STR;
                break;
            }
            case 0xdc: case 0xdd: {
                int w = b == 0xdc ? 2 : 4;
                NEED(w);
                n = get_be(data + pos, w);
                pos += (size_t)w;
                type = GM_VALUE_ARRAY;
                break;
            }
            case 0xde: case 0xdf: {
                int w = b == 0xde ? 2 : 4;
                NEED(w);
                n = get_be(data + pos, w);
                pos += (size_t)w;
                type = GM_VALUE_MAP;
                break;
            }
            default:           /* 0xc1: never used */
                return GM__DEC_BAD_FRAME;
            }
        }
#undef NEED
        rest = len - pos;
        /* a map's key must be a str or a bin (strict_map_key) */
        if (depth > 0 && stack[depth - 1].is_map && stack[depth - 1].remaining % 2 == 0 &&
            type != GM_VALUE_STR && type != GM_VALUE_BIN)
            return GM__DEC_BAD_FRAME;
        if (type == GM_VALUE_STR || type == GM_VALUE_BIN || type == GM_VALUE_EXT) {
            if (n > rest)
                return GM__DEC_BAD_FRAME;
            payload = data + pos;
            pos += (size_t)n;
            if (type == GM_VALUE_STR && !fill && !gm__utf8_valid(payload, (size_t)n, NULL))
                return GM__DEC_BAD_FRAME;
            if (type == GM_VALUE_EXT && ext_type < -1)
                return GM__DEC_BAD_FRAME;       /* reserved by msgpack (Python's ExtType refuses them) */
            if (type == GM_VALUE_EXT && ext_type == -1 && !fill) {   /* msgpack's timestamp */
                if (n == 8) {
                    if ((get_be(payload, 8) >> 34) >= 1000000000u)
                        return GM__DEC_BAD_FRAME;
                } else if (n == 12) {
                    if (get_be(payload, 4) >= 1000000000u)
                        return GM__DEC_BAD_FRAME;
                } else if (n != 4) {
                    return GM__DEC_BAD_FRAME;
                }
            }
            if (fill) {
                node = &d->nodes[nodes];
                memcpy(d->bytes + bytes, payload, (size_t)n);
                d->bytes[bytes + (size_t)n] = '\0';
                node->as.s = d->bytes + bytes;
            }
            bytes += (size_t)n + 1;
        } else if (type == GM_VALUE_ARRAY || type == GM_VALUE_MAP) {
            /* every element takes at least one byte: a count the frame cannot hold is refused here */
            if (type == GM_VALUE_ARRAY ? n > rest : n > rest / 2)
                return GM__DEC_BAD_FRAME;
            if (depth >= GM__MAX_DEPTH)
                return GM__DEC_BAD_FRAME;
        }
        if (fill) {
            node = &d->nodes[nodes];
            node->type = type;
            node->ext_type = ext_type;
            node->count = (uint32_t)n;
            node->skip = 1;
            if (type == GM_VALUE_NIL || type == GM_VALUE_ARRAY || type == GM_VALUE_MAP)
                node->as.u = 0;
        }
        nodes++;
        if ((type == GM_VALUE_ARRAY || type == GM_VALUE_MAP) && n > 0) {
            stack[depth].remaining = type == GM_VALUE_MAP ? 2 * n : n;
            stack[depth].node = (uint32_t)(nodes - 1);
            stack[depth].is_map = type == GM_VALUE_MAP;
            depth++;
            continue;
        }
        /* an item is complete: close the containers it completes */
        while (depth > 0) {
            gm__stack_entry *top = &stack[depth - 1];
            top->remaining--;
            if (top->remaining > 0)
                break;
            if (fill)
                d->nodes[top->node].skip = (uint32_t)(nodes - top->node);
            depth--;
        }
        if (depth == 0)
            break;
    }
    if (pos != len)
        return GM__DEC_BAD_FRAME;     /* trailing bytes */
    *nodes_out = nodes;
    *bytes_out = bytes;
    return GM__DEC_OK;
}

gm__dec_status gm__doc_decode(gm__doc *d, const uint8_t *data, size_t len)
{
    size_t nodes = 0, bytes = 0, n2 = 0, b2 = 0;
    gm__dec_status st;
    d->node_count = 0;
    if (data == NULL && len > 0)
        return GM__DEC_BAD_FRAME;
    if (len > GM_MAX_FRAME_BYTES)
        return GM__DEC_TOO_LARGE;
    st = walk(d, data, len, 0, &nodes, &bytes);
    if (st != GM__DEC_OK)
        return st;
    if (nodes > d->node_cap) {
        size_t cap = d->node_cap ? d->node_cap : 64;
        gm_value *grown;
        while (cap < nodes)
            cap *= 2;
        grown = (gm_value *)gm__malloc(d->alloc, cap * sizeof(gm_value));
        if (grown == NULL)
            return GM__DEC_NO_MEMORY;
        gm__free(d->alloc, d->nodes);
        d->nodes = grown;
        d->node_cap = cap;
    }
    if (bytes > d->byte_cap) {
        size_t cap = d->byte_cap ? d->byte_cap : 256;
        char *grown;
        while (cap < bytes)
            cap *= 2;
        grown = (char *)gm__malloc(d->alloc, cap);
        if (grown == NULL)
            return GM__DEC_NO_MEMORY;
        gm__free(d->alloc, d->bytes);
        d->bytes = grown;
        d->byte_cap = cap;
    }
    st = walk(d, data, len, 1, &n2, &b2);
    if (st != GM__DEC_OK || n2 != nodes || b2 != bytes)
        return GM__DEC_BAD_FRAME;      /* cannot happen: the first pass read the same bytes */
    d->node_count = nodes;
    return GM__DEC_OK;
}

gm__dec_status gm__doc_decode_frame(gm__doc *d, const uint8_t *data, size_t len)
{
    const gm_value *v;
    int64_t version;
    gm__dec_status st = gm__doc_decode(d, data, len);
    if (st != GM__DEC_OK)
        return st;
    if (d->nodes[0].type != GM_VALUE_MAP)
        return GM__DEC_NOT_MAP;
    v = gm_value_get(d->nodes, "v");
    if (v == NULL || v->type != GM_VALUE_INT || gm_value_int64(v, &version) != GM_OK || version != GM_PROTOCOL_VERSION)
        return GM__DEC_BAD_VERSION;
    return GM__DEC_OK;
}

/* ------------------------------------------------------------ readers */

gm_value_type gm_value_type_of(const gm_value *value)
{
    return value == NULL ? GM_VALUE_NONE : (gm_value_type)value->type;
}

size_t gm_value_count(const gm_value *value)
{
    if (value == NULL)
        return 0;
    switch (value->type) {
    case GM_VALUE_ARRAY: case GM_VALUE_MAP: case GM_VALUE_STR: case GM_VALUE_BIN: case GM_VALUE_EXT:
        return value->count;
    default:
        return 0;
    }
}

static const gm_value *child(const gm_value *v, size_t i)
{
    const gm_value *c = v + 1;
    while (i-- > 0)
        c += c->skip;
    return c;
}

const gm_value *gm_value_at(const gm_value *array, size_t i)
{
    if (array == NULL || array->type != GM_VALUE_ARRAY || i >= array->count)
        return NULL;
    return child(array, i);
}

const gm_value *gm_value_key_at(const gm_value *map, size_t i)
{
    if (map == NULL || map->type != GM_VALUE_MAP || i >= map->count)
        return NULL;
    return child(map, 2 * i);
}

const gm_value *gm_value_value_at(const gm_value *map, size_t i)
{
    if (map == NULL || map->type != GM_VALUE_MAP || i >= map->count)
        return NULL;
    return child(map, 2 * i + 1);
}

static const gm_value *get_n(const gm_value *map, const char *key, size_t klen)
{
    const gm_value *c, *found = NULL;
    uint32_t i;
    if (map == NULL || key == NULL || map->type != GM_VALUE_MAP)
        return NULL;
    c = map + 1;
    for (i = 0; i < map->count; i++) {
        const gm_value *val = c + c->skip;
        if (c->type == GM_VALUE_STR && c->count == klen && memcmp(c->as.s, key, klen) == 0)
            found = val;              /* the last one wins, as in a Python dict */
        c = val + val->skip;
    }
    return found;
}

const gm_value *gm_value_get(const gm_value *map, const char *key)
{
    return key == NULL ? NULL : get_n(map, key, strlen(key));
}

const gm_value *gm_value_path(const gm_value *value, const char *path)
{
    const char *p = path;
    if (path == NULL)
        return NULL;
    while (value != NULL && *p != '\0') {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        if (value->type == GM_VALUE_MAP) {
            value = get_n(value, p, n);
        } else if (value->type == GM_VALUE_ARRAY) {
            size_t i = 0, k;
            if (n == 0 || n > 10)
                return NULL;
            for (k = 0; k < n; k++) {
                if (p[k] < '0' || p[k] > '9')
                    return NULL;
                i = i * 10 + (size_t)(p[k] - '0');
            }
            value = gm_value_at(value, i);
        } else {
            return NULL;
        }
        p += n;
        if (*p == '.')
            p++;
    }
    return value;
}

gm_result gm_value_int64(const gm_value *value, int64_t *out)
{
    if (value == NULL || out == NULL || value->type != GM_VALUE_INT)
        return GM_ERR_NOT_FOUND;
    *out = value->as.i;
    return GM_OK;
}

gm_result gm_value_uint64(const gm_value *value, uint64_t *out)
{
    if (value == NULL || out == NULL)
        return GM_ERR_NOT_FOUND;
    if (value->type == GM_VALUE_UINT || (value->type == GM_VALUE_INT && value->as.i >= 0)) {
        *out = value->as.u;
        return GM_OK;
    }
    return GM_ERR_NOT_FOUND;
}

gm_result gm_value_double(const gm_value *value, double *out)
{
    if (value == NULL || out == NULL)
        return GM_ERR_NOT_FOUND;
    switch (value->type) {
    case GM_VALUE_FLOAT: *out = value->as.f; return GM_OK;
    case GM_VALUE_INT: *out = (double)value->as.i; return GM_OK;
    case GM_VALUE_UINT: *out = (double)value->as.u; return GM_OK;
    default: return GM_ERR_NOT_FOUND;
    }
}

gm_result gm_value_bool(const gm_value *value, int *out)
{
    if (value == NULL || out == NULL || value->type != GM_VALUE_BOOL)
        return GM_ERR_NOT_FOUND;
    *out = value->as.i != 0;
    return GM_OK;
}

const char *gm_value_str(const gm_value *value, size_t *len)
{
    if (value == NULL || value->type != GM_VALUE_STR)
        return NULL;
    if (len != NULL)
        *len = value->count;
    return value->as.s;
}

const void *gm_value_bin(const gm_value *value, size_t *len)
{
    if (value == NULL || (value->type != GM_VALUE_BIN && value->type != GM_VALUE_EXT))
        return NULL;
    if (len != NULL)
        *len = value->count;
    return value->as.s;
}

/* ------------------------------------------------------------ JSON */

typedef struct json_out {
    char *buf;
    size_t size;
    size_t len;
} json_out;

static void jput(json_out *o, const char *s, size_t n)
{
    if (o->len < o->size) {
        size_t room_left = o->size - o->len;
        memcpy(o->buf + o->len, s, n < room_left ? n : room_left);
    }
    o->len += n;
}

static void jputs(json_out *o, const char *s)
{
    jput(o, s, strlen(s));
}

static void jstr(json_out *o, const char *s, size_t n)
{
    size_t i;
    jput(o, "\"", 1);
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[8];
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            jput(o, esc, 2);
        } else if (c < 0x20) {
            snprintf(esc, sizeof esc, "\\u%04x", c);
            jput(o, esc, 6);
        } else {
            jput(o, (const char *)&s[i], 1);
        }
    }
    jput(o, "\"", 1);
}

static void jhex(json_out *o, const char *s, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    size_t i;
    jput(o, "\"", 1);
    for (i = 0; i < n; i++) {
        char h[2];
        h[0] = digits[((unsigned char)s[i]) >> 4];
        h[1] = digits[((unsigned char)s[i]) & 15];
        jput(o, h, 2);
    }
    jput(o, "\"", 1);
}

static void jscalar(json_out *o, const gm_value *v)
{
    char num[40];
    switch (v->type) {
    case GM_VALUE_NIL: jputs(o, "null"); break;
    case GM_VALUE_BOOL: jputs(o, v->as.i ? "true" : "false"); break;
    case GM_VALUE_INT: snprintf(num, sizeof num, "%lld", (long long)v->as.i); jputs(o, num); break;
    case GM_VALUE_UINT: snprintf(num, sizeof num, "%llu", (unsigned long long)v->as.u); jputs(o, num); break;
    case GM_VALUE_FLOAT:
        if (isnan(v->as.f))
            jputs(o, "NaN");
        else if (isinf(v->as.f))
            jputs(o, v->as.f > 0 ? "Infinity" : "-Infinity");
        else {
            snprintf(num, sizeof num, "%.17g", v->as.f);
            jputs(o, num);
            if (strpbrk(num, ".eE") == NULL)
                jputs(o, ".0");        /* a float stays a float */
        }
        break;
    case GM_VALUE_STR: jstr(o, v->as.s, v->count); break;
    default: jhex(o, v->as.s, v->count); break;     /* BIN, EXT */
    }
}

size_t gm_value_to_json(const gm_value *value, char *buf, size_t size)
{
    json_out o;
    struct { uint64_t remaining; uint8_t is_map; uint8_t first; } stack[GM__MAX_DEPTH + 1];
    size_t depth = 0;
    const gm_value *v = value;
    o.buf = buf;
    o.size = (buf == NULL) ? 0 : size;
    o.len = 0;
    if (value == NULL) {
        jputs(&o, "null");
    } else {
        for (;;) {
            /* separator before this item */
            if (depth > 0) {
                int is_key = stack[depth - 1].is_map && stack[depth - 1].remaining % 2 == 0;
                if (!stack[depth - 1].first)
                    jputs(&o, is_key || !stack[depth - 1].is_map ? "," : ":");
                stack[depth - 1].first = 0;
                if (stack[depth - 1].is_map && is_key && v->type != GM_VALUE_STR) {
                    jhex(&o, v->as.s, v->count);    /* a bin key */
                    goto done_item;
                }
            }
            if (v->type == GM_VALUE_ARRAY || v->type == GM_VALUE_MAP) {
                jputs(&o, v->type == GM_VALUE_MAP ? "{" : "[");
                if (v->count > 0) {
                    stack[depth].remaining = v->type == GM_VALUE_MAP ? 2 * (uint64_t)v->count : v->count;
                    stack[depth].is_map = v->type == GM_VALUE_MAP;
                    stack[depth].first = 1;
                    depth++;
                    v++;
                    continue;
                }
                jputs(&o, v->type == GM_VALUE_MAP ? "}" : "]");
            } else {
                jscalar(&o, v);
            }
done_item:
            v++;
            while (depth > 0) {
                if (--stack[depth - 1].remaining > 0)
                    break;
                jputs(&o, stack[depth - 1].is_map ? "}" : "]");
                depth--;
            }
            if (depth == 0)
                break;
        }
    }
    if (o.size > 0)
        o.buf[o.len < o.size ? o.len : o.size - 1] = '\0';
    return o.len + 1;
}
