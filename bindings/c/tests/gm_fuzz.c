/* The reply and notice decoder under malformed frames (run under ASan/UBSan by tests/test_c_binding.py).
 *
 *   gm_fuzz loop COUNT SEED      COUNT frames through the command socket's frame handler and the
 *                                telemetry decoder: random bytes, valid replies, notices and telemetry
 *                                frames truncated, bit-flipped, spliced, with huge counts and deep
 *                                nesting; every decoded tree is walked (JSON, paths, readers) and
 *                                the notices drained.  Prints counts as JSON.
 *   gm_fuzz classify FILE        each frame of FILE (u32 little-endian length, then the bytes) as
 *                                the decoder classifies it: ok, bad_frame, not_map, bad_version,
 *                                too_large (the test compares with gamemix.protocol.wire.decode_map)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gamemix_client.h"
#include "gm_internal.h"
#include "gm_wire.h"

static uint64_t rng_state;

static uint64_t next_random(void)
{
    /* splitmix64 */
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static size_t below(size_t n)
{
    return n == 0 ? 0 : (size_t)(next_random() % n);
}

/* ------------------------------------------------------------ seeds: valid frames */

#define MAX_SEED 4096

typedef struct seed {
    uint8_t bytes[MAX_SEED];
    size_t len;
} seed;

static seed seeds[32];
static size_t nseeds;

static void k_str(gm__enc *e, const char *s) { gm__enc_cstr(e, s); }

static void add_notice(const char *event, int with_code)
{
    gm__enc e;
    seed *s = &seeds[nseeds++];
    gm__enc_init(&e, s->bytes, MAX_SEED);
    gm__enc_map(&e, (uint32_t)(with_code ? 7 : 5));
    k_str(&e, "v"); gm__enc_uint(&e, 1);
    k_str(&e, "type"); k_str(&e, "notify");
    k_str(&e, "id"); gm__enc_uint(&e, ((uint64_t)1 << 40) + 1);
    k_str(&e, "event"); k_str(&e, event);
    k_str(&e, "block"); gm__enc_uint(&e, 1234);
    if (with_code) {
        k_str(&e, "code"); k_str(&e, "unknown_sound");
        k_str(&e, "message"); k_str(&e, "unknown sound 'nope' (sounds: click, tone, \xc3\xa9t\xc3\xa9, \xe6\x97\xa5)");
    }
    s->len = e.len;
}

static void add_reply(uint64_t rid, int ok)
{
    gm__enc e;
    seed *s = &seeds[nseeds++];
    gm__enc_init(&e, s->bytes, MAX_SEED);
    gm__enc_map(&e, 4);
    k_str(&e, "v"); gm__enc_uint(&e, 1);
    k_str(&e, "rid"); gm__enc_uint(&e, rid);
    k_str(&e, "ok"); gm__enc_bool(&e, ok);
    if (ok) {
        k_str(&e, "data");
        gm__enc_map(&e, 6);
        k_str(&e, "session"); gm__enc_uint(&e, 1);
        k_str(&e, "ids"); gm__enc_array(&e, 2); gm__enc_uint(&e, (uint64_t)1 << 40); gm__enc_uint(&e, (uint64_t)2 << 40);
        k_str(&e, "clock"); gm__enc_map(&e, 4);
        k_str(&e, "sample"); gm__enc_uint(&e, 480000);
        k_str(&e, "time"); gm__enc_f64(&e, 1767225600.25);
        k_str(&e, "sample_rate"); gm__enc_uint(&e, 48000);
        k_str(&e, "latency_s"); gm__enc_f64(&e, 0.0053);
        k_str(&e, "warnings"); gm__enc_array(&e, 1); k_str(&e, "position given for a 2D sound");
        k_str(&e, "pcm"); gm__enc_bin(&e, "\x00\x00\x80\x3f", 4);
        k_str(&e, "neg"); gm__enc_int(&e, -123456789);
    } else {
        k_str(&e, "error");
        gm__enc_map(&e, 3);
        k_str(&e, "code"); k_str(&e, rid % 2 ? "unknown_instance" : "a_code_from_the_future");
        k_str(&e, "message"); k_str(&e, "no playing instance with id 5");
        k_str(&e, "field"); gm__enc_nil(&e);
    }
    s->len = e.len;
}

static void add_telemetry(void)
{
    gm__enc e;
    seed *s = &seeds[nseeds++];
    int b;
    gm__enc_init(&e, s->bytes, MAX_SEED);
    gm__enc_map(&e, 6);
    k_str(&e, "v"); gm__enc_uint(&e, 1);
    k_str(&e, "type"); k_str(&e, "telemetry");
    k_str(&e, "block"); gm__enc_uint(&e, 600);
    k_str(&e, "buses");
    gm__enc_map(&e, 3);
    for (b = 0; b < 3; b++) {
        k_str(&e, b == 0 ? "master" : b == 1 ? "music" : "sfx");
        gm__enc_map(&e, 4);
        k_str(&e, "peak_dbfs"); if (b == 2) gm__enc_nil(&e); else gm__enc_f64(&e, -9.03 - b);
        k_str(&e, "rms_dbfs"); gm__enc_f64(&e, -12.5);
        k_str(&e, "unmask_cut_db"); gm__enc_map(&e, 2);
        k_str(&e, "250"); gm__enc_f64(&e, -1.5);
        k_str(&e, "8000"); gm__enc_f64(&e, 0.0);
        k_str(&e, "lra_lu"); gm__enc_f64(&e, 3.25);
    }
    k_str(&e, "voices"); gm__enc_map(&e, 2);
    k_str(&e, "real"); gm__enc_uint(&e, 2);
    k_str(&e, "virtual"); gm__enc_uint(&e, 0);
    k_str(&e, "xruns"); gm__enc_uint(&e, 0);
    s->len = e.len;
}

static void make_seeds(void)
{
    static const char *const events[] = {"started", "virtual", "real", "stolen", "paused", "resumed", "ended", "later"};
    size_t k;
    for (k = 0; k < sizeof events / sizeof events[0]; k++)
        add_notice(events[k], 0);
    add_notice("refused", 1);
    add_reply(1, 1);
    add_reply(2, 0);
    add_reply(3, 0);
    add_reply(7, 1);
    add_telemetry();
}

/* ------------------------------------------------------------ mutations */

static uint8_t buf[1 << 16];

static size_t mutate(size_t *kind_out)
{
    size_t kind = below(9), len, k;
    const seed *s = &seeds[below(nseeds)];
    *kind_out = kind;
    switch (kind) {
    case 0:            /* random bytes */
        len = below(300);
        for (k = 0; k < len; k++)
            buf[k] = (uint8_t)next_random();
        return len;
    case 1:            /* a valid frame, truncated */
        len = below(s->len);
        memcpy(buf, s->bytes, len);
        return len;
    case 2: {          /* bit flips */
        size_t flips = 1 + below(8);
        memcpy(buf, s->bytes, s->len);
        for (k = 0; k < flips; k++)
            buf[below(s->len)] ^= (uint8_t)(1u << below(8));
        return s->len;
    }
    case 3: {          /* bytes replaced with msgpack headers that claim a lot */
        static const uint8_t heads[] = {0xdc, 0xdd, 0xde, 0xdf, 0xc6, 0xdb, 0xc9, 0xc1, 0xd8, 0xc7, 0xff, 0x00};
        memcpy(buf, s->bytes, s->len);
        k = below(s->len);
        buf[k] = heads[below(sizeof heads)];
        if (k + 4 < s->len && below(2))
            memset(buf + k + 1, 0xff, 4);
        return s->len;
    }
    case 4: {          /* spliced: the head of one frame, the tail of another */
        const seed *t = &seeds[below(nseeds)];
        size_t a = below(s->len), b = below(t->len);
        memcpy(buf, s->bytes, a);
        memcpy(buf + a, t->bytes + b, t->len - b);
        return a + (t->len - b);
    }
    case 5: {          /* deep nesting, around the decoder's limit of 1024 open containers */
        size_t depth = 1000 + below(40);
        len = 0;
        buf[len++] = 0x82; buf[len++] = 0xa1; buf[len++] = 'v'; buf[len++] = 0x01;
        buf[len++] = 0xa1; buf[len++] = 'x';
        for (k = 0; k < depth; k++) {
            if (below(2)) {
                buf[len++] = 0x91;
            } else {
                buf[len++] = 0x81;
                buf[len++] = 0xa0;    /* an empty key */
            }
        }
        buf[len++] = below(2) ? 0x01 : 0x90;
        return len;
    }
    case 6: {          /* inserted random bytes */
        size_t at = below(s->len), n = 1 + below(6);
        memcpy(buf, s->bytes, at);
        for (k = 0; k < n; k++)
            buf[at + k] = (uint8_t)next_random();
        memcpy(buf + at + n, s->bytes + at, s->len - at);
        return s->len + n;
    }
    case 7:            /* a valid frame with trailing bytes */
        memcpy(buf, s->bytes, s->len);
        buf[s->len] = (uint8_t)next_random();
        return s->len + 1;
    default:           /* the valid frame as it is */
        memcpy(buf, s->bytes, s->len);
        return s->len;
    }
}

/* ------------------------------------------------------------ walking what decoded */

static char json[1 << 17];

static size_t walk(const gm_value *v)
{
    size_t need, n, k, total = 0;
    int64_t i;
    uint64_t u;
    double d;
    int b;
    size_t len;
    need = gm_value_to_json(v, json, sizeof json);
    if (need <= sizeof json && strlen(json) + 1 != need) {
        fprintf(stderr, "FAIL json length %zu != %zu\n", strlen(json) + 1, need);
        exit(1);
    }
    (void)gm_value_to_json(v, json, 7);           /* cut short: still NUL-terminated */
    if (strlen(json) > 6) {
        fprintf(stderr, "FAIL json cut\n");
        exit(1);
    }
    n = gm_value_count(v);
    for (k = 0; k < n && k < 64; k++) {
        const gm_value *c = gm_value_type_of(v) == GM_VALUE_MAP ? gm_value_value_at(v, k) : gm_value_at(v, k);
        const gm_value *key = gm_value_key_at(v, k);
        total += (size_t)gm_value_type_of(c) + (size_t)gm_value_type_of(key);
        gm_value_int64(c, &i);
        gm_value_uint64(c, &u);
        gm_value_double(c, &d);
        gm_value_bool(c, &b);
        if (gm_value_str(c, &len) != NULL && len > 0)
            total += (size_t)(unsigned char)gm_value_str(c, NULL)[len - 1];
        gm_value_bin(c, &len);
    }
    total += (size_t)gm_value_type_of(gm_value_path(v, "data.clock.sample"));
    total += (size_t)gm_value_type_of(gm_value_path(v, "buses.music.unmask_cut_db.250"));
    total += (size_t)gm_value_type_of(gm_value_path(v, "data.ids.1"));
    total += (size_t)gm_value_type_of(gm_value_path(v, "data.ids.99999999999"));
    return total;
}

static void check_notice(const gm_notice *n)
{
    if (strlen(n->event_name) >= sizeof n->event_name || strlen(n->kind) >= sizeof n->kind ||
        strlen(n->code_name) >= sizeof n->code_name || strlen(n->message) >= sizeof n->message) {
        fprintf(stderr, "FAIL a notice's text is not terminated\n");
        exit(1);
    }
    if (!gm__utf8_valid((const uint8_t *)n->message, strlen(n->message), NULL)) {
        fprintf(stderr, "FAIL a notice's message was cut inside a character\n");
        exit(1);
    }
}

static int loop(size_t count, uint64_t seed_value)
{
    gm_options o;
    gm_client *c = NULL;
    gm_notice notices[64];
    size_t k, got = 0, readable = 0, decoded = 0, notices_out = 0, by_kind[9] = {0}, checksum = 0;
    rng_state = seed_value;
    make_seeds();
    gm_options_init(&o);
    o.commands = "tcp://127.0.0.1:9";        /* nothing listens: frames are fed, not received */
    o.streams = "tcp://127.0.0.1:9";
    o.telemetry = "tcp://127.0.0.1:9";
    o.notice_capacity = 256;
    o.posted_capacity = 64;
    if (gm_client_create(&o, &c) != GM_OK) {
        fprintf(stderr, "FAIL create\n");
        return 1;
    }
    for (k = 0; k < nseeds; k++) {           /* the seeds themselves decode */
        const gm_value *root = NULL;
        if (gm__feed_telemetry_frame(c, seeds[k].bytes, seeds[k].len, &root) != 0) {
            fprintf(stderr, "FAIL seed %zu does not decode\n", k);
            return 1;
        }
    }
    for (k = 0; k < count; k++) {
        size_t kind, len = mutate(&kind);
        const gm_value *root = NULL;
        by_kind[kind]++;
        if (k % 16 == 0) {                    /* replies to "posted" commands take the refusal path */
            gm__remember_posted(c, 2, "seek", (gm_handle)5);
            gm__remember_posted(c, 3, "play", GM_INVALID_HANDLE);
        }
        readable += (size_t)gm__feed_command_frame(c, buf, len);
        if (gm__feed_telemetry_frame(c, buf, len, &root) == 0) {
            decoded++;
            checksum += walk(root);
        }
        if (k % 50 == 0) {
            do {
                if (gm_poll(c, notices, 64, &got) != GM_OK)
                    return 1;
                notices_out += got;
                while (got > 0)
                    check_notice(&notices[--got]);
            } while (got == 64);
        }
    }
    printf("{\"inputs\": %zu, \"readable\": %zu, \"decoded\": %zu, \"notices\": %zu, \"bad_frames\": %llu, "
           "\"dropped\": %llu, \"checksum\": %zu, \"by_kind\": [", count, readable, decoded, notices_out,
           (unsigned long long)gm__bad_frames(c), (unsigned long long)gm_notices_dropped(c), checksum);
    for (k = 0; k < 9; k++)
        printf("%s%zu", k ? ", " : "", by_kind[k]);
    printf("]}\n");
    gm_client_free(c);
    return 0;
}

static int classify(const char *path)
{
    static const char *const names[] = {"ok", "bad_frame", "not_map", "bad_version", "too_large", "no_memory"};
    FILE *f = fopen(path, "rb");
    gm__alloc a = {NULL, NULL, NULL};
    gm__doc d;
    uint8_t head[4];
    uint8_t *frame = NULL;
    size_t cap = 0;
    if (f == NULL || !gm__doc_init(&d, &a))
        return 1;
    while (fread(head, 1, 4, f) == 4) {
        size_t len = (size_t)head[0] | (size_t)head[1] << 8 | (size_t)head[2] << 16 | (size_t)head[3] << 24;
        if (len > cap) {
            free(frame);
            cap = len;
            frame = (uint8_t *)malloc(cap);
            if (frame == NULL)
                return 1;
        }
        if (fread(frame, 1, len, f) != len)
            return 1;
        printf("%s\n", names[gm__doc_decode_frame(&d, frame, len)]);
    }
    free(frame);
    gm__doc_free(&d);
    fclose(f);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "loop") == 0)
        return loop((size_t)strtoull(argv[2], NULL, 10), strtoull(argv[3], NULL, 10));
    if (argc == 3 && strcmp(argv[1], "classify") == 0)
        return classify(argv[2]);
    fprintf(stderr, "usage: %s loop COUNT SEED | classify FILE\n", argv[0]);
    return 2;
}
