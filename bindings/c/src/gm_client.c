/* The C client of `gamemix serve`: sockets, sessions, posted and waited commands, notices, pose
 * batches, telemetry.  It mirrors gamemix/live/client.py; see include/gamemix_client.h. */
#if !defined(_WIN32) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L
#endif

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <zmq.h>

#include "gamemix_client.h"
#include "gm_internal.h"
#include "gm_wire.h"

#ifdef _WIN32
#include <windows.h>
typedef CRITICAL_SECTION gm_mutex;
static void mutex_init(gm_mutex *m) { InitializeCriticalSection(m); }
static void mutex_lock(gm_mutex *m) { EnterCriticalSection(m); }
static void mutex_unlock(gm_mutex *m) { LeaveCriticalSection(m); }
static void mutex_destroy(gm_mutex *m) { DeleteCriticalSection(m); }
#else
#include <pthread.h>
typedef pthread_mutex_t gm_mutex;
static void mutex_init(gm_mutex *m) { pthread_mutex_init(m, NULL); }
static void mutex_lock(gm_mutex *m) { pthread_mutex_lock(m); }
static void mutex_unlock(gm_mutex *m) { pthread_mutex_unlock(m); }
static void mutex_destroy(gm_mutex *m) { pthread_mutex_destroy(m); }
#endif

#define GM_VERSION_STRING "0.2.0"
#define GAME_ID_END ((uint64_t)1 << 62)       /* ids the game chooses are below 2^62 */
#define INSTANCE_ID_END ((uint64_t)1 << 63)
#define SAMPLE_MAX ((uint64_t)1 << 62)
#define READY_POLL_S 0.25
#define FRAME_ROOM 8                          /* room before the body for the map header */
#define POSE_VELOCITY 1u                      /* a batched pose's flags: it has a velocity, */
#define POSE_DIRECTION 2u                     /* a direction */

/* The protocol's message kinds (gamemix/protocol/messages.py, KINDS), for notices' `kind`. */
enum kind {
    K_PLAY, K_STOP, K_SET_INSTANCE, K_PAUSE, K_SEEK, K_EMITTER, K_EMITTERS, K_LISTENER, K_BUS_VOLUME,
    K_BUS_MUTE, K_VCA_VOLUME, K_EVENT, K_OBJECT, K_OCCLUSION, K_AUX_SENDS, K_SET_PARAMETER, K_SNAPSHOT_START,
    K_SNAPSHOT_STOP, K_SNAPSHOT_INTENSITY, K_RESET_METERS, K_INSTANCE_INFO, K_SOUND_INFO, K_UPLOAD_SOUND, K_HELLO,
    K_PING, K_QUERY, K_LOAD_SCENE, K_COUNT
};

static const char *const KIND_NAMES[K_COUNT] = {
    "play", "stop", "set_instance", "pause", "seek", "emitter", "emitters", "listener", "bus_volume",
    "bus_mute", "vca_volume", "event", "object", "occlusion", "aux_sends", "set_parameter", "snapshot_start",
    "snapshot_stop", "snapshot_intensity", "reset_meters", "instance_info", "sound_info", "upload_sound", "hello",
    "ping", "query", "load_scene",
};

typedef struct posted_entry {
    uint64_t rid;           /* 0: free */
    gm_handle instance;     /* GM_INVALID_HANDLE: none */
    uint8_t kind;
} posted_entry;

typedef struct state_slot {
    gm_handle id;
    uint8_t state;          /* gm_state; 0: free */
} state_slot;

struct gm_client {
    gm__alloc alloc;
    void *ctx, *dealer, *push, *sub;
    char *endpoints[3];
    int curve;
    char curve_keys[3][41];
    char *name;
    int closed;
    int timeout_ms;
    double ttl;
    uint32_t stream_hwm;
    uint64_t next_rid;
    /* session */
    int has_session;
    gm_session session;
    uint64_t next_id;
    /* the frame being built: FRAME_ROOM bytes of room, then the body */
    uint8_t *frame;
    size_t frame_cap;
    /* this frame's poses: each with POSE_VELOCITY and POSE_DIRECTION flags, counted by kind */
    uint32_t pose_cap, pose_count, pose_kinds[4];
    gm_handle *pose_ids;
    double *pose_pos, *pose_vel, *pose_dir;
    uint8_t *pose_flags;
    /* notices for gm_poll, a ring */
    gm_notice *notices;
    size_t notice_cap, notice_head, notice_count;
    uint64_t notices_dropped;
    /* posted commands awaiting their reply: rid -> entry at rid % posted_cap */
    posted_entry *posted;
    size_t posted_cap;
    /* instance states: open addressing, linear probing */
    state_slot *states;
    size_t state_mask, state_count, state_limit;
    /* decoded frames */
    gm__doc scratch, reply;
    int has_reply;
    uint64_t bad_frames;
    /* telemetry: its own socket, document and lock */
    gm_mutex tele_lock;
    gm__doc tele;
    /* the last failure */
    char err_message[512];
    char err_code[40];
    char err_field[64];
};

/* ------------------------------------------------------------ small helpers */

static double wall_now(void)
{
#ifdef _WIN32
    FILETIME ft;
    ULARGE_INTEGER u;
    GetSystemTimeAsFileTime(&ft);
    u.LowPart = ft.dwLowDateTime;
    u.HighPart = ft.dwHighDateTime;
    return (double)(u.QuadPart - 116444736000000000ULL) / 1e7;
#else
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
#endif
}

static double mono_now(void)
{
#ifdef _WIN32
    LARGE_INTEGER f, c;
    QueryPerformanceFrequency(&f);
    QueryPerformanceCounter(&c);
    return (double)c.QuadPart / (double)f.QuadPart;
#else
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
#endif
}

static void sleep_s(double s)
{
    if (s <= 0)
        return;
#ifdef _WIN32
    Sleep((DWORD)(s * 1000));
#else
    {
        struct timespec ts;
        ts.tv_sec = (time_t)s;
        ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
        }
    }
#endif
}

static void copy_text(char *dst, size_t size, const char *src, size_t n)
{
    /* cut at a character boundary */
    if (n >= size) {
        n = size - 1;
        while (n > 0 && ((unsigned char)src[n] & 0xc0) == 0x80)
            n--;
    }
    memcpy(dst, src, n);
    dst[n] = '\0';
}

static void clear_error(gm_client *c)
{
    c->err_message[0] = c->err_code[0] = c->err_field[0] = '\0';
}

static gm_result fail(gm_client *c, gm_result r, const char *message)
{
    if (c != NULL) {
        const char *code = gm_result_code(r);
        copy_text(c->err_message, sizeof c->err_message, message, strlen(message));
        copy_text(c->err_code, sizeof c->err_code, code, strlen(code));
        c->err_field[0] = '\0';
    }
    return r;
}

static gm_result failf(gm_client *c, gm_result r, const char *what, const char *detail)
{
    char text[512];
    snprintf(text, sizeof text, "%s: %s", what, detail);
    return fail(c, r, text);
}

static char *dup_str(const gm__alloc *a, const char *s)
{
    size_t n = strlen(s);
    char *p = (char *)gm__malloc(a, n + 1);
    if (p != NULL)
        memcpy(p, s, n + 1);
    return p;
}

/* ------------------------------------------------------------ checks (docs/protocol.md, Limits) */

static gm_result check_name(gm_client *c, const char *name, const char *field)
{
    size_t chars = 0, n;
    if (name == NULL)
        return failf(c, GM_ERR_INVALID_ARGUMENT, field, "NULL");
    n = strlen(name);
    if (!gm__utf8_valid((const uint8_t *)name, n, &chars))
        return failf(c, GM_ERR_BAD_VALUE, field, "not UTF-8");
    if (chars < 1 || chars > GM_MAX_NAME_CHARS)
        return failf(c, GM_ERR_BAD_VALUE, field, "a name is 1-128 characters");
    return GM_OK;
}

static int finite_in(double x, double lo, double hi)
{
    return isfinite(x) && x >= lo && x <= hi;
}

static gm_result check_range(gm_client *c, double x, double lo, double hi, const char *field)
{
    char text[160];
    if (finite_in(x, lo, hi))
        return GM_OK;
    snprintf(text, sizeof text, "%s: must be a finite number in [%g, %g]", field, lo, hi);
    return fail(c, GM_ERR_BAD_VALUE, text);
}

static gm_result check_vec(gm_client *c, const gm_vec3 *v, const char *field)
{
    char text[160];
    if (finite_in(v->x, -GM_MAX_COORDINATE, GM_MAX_COORDINATE) &&
        finite_in(v->y, -GM_MAX_COORDINATE, GM_MAX_COORDINATE) &&
        finite_in(v->z, -GM_MAX_COORDINATE, GM_MAX_COORDINATE))
        return GM_OK;
    snprintf(text, sizeof text, "%s: must be 3 finite numbers within +-1e7", field);
    return fail(c, GM_ERR_BAD_VALUE, text);
}

static gm_result check_instance(gm_client *c, gm_handle id)
{
    if (id == GM_INVALID_HANDLE || id >= INSTANCE_ID_END)
        return fail(c, GM_ERR_INVALID_HANDLE, "id: not an instance handle (0 <= id < 2^63)");
    return GM_OK;
}

static gm_result check_game_id(gm_client *c, uint64_t id, const char *field)
{
    if (id >= GAME_ID_END)
        return failf(c, GM_ERR_INVALID_HANDLE, field, "an id the game chooses is below 2^62");
    return GM_OK;
}

static gm_result check_sample(gm_client *c, uint64_t s)
{
    if (s > SAMPLE_MAX)
        return fail(c, GM_ERR_BAD_VALUE, "at_sample: at most 2^62");
    return GM_OK;
}

static gm_result usable(gm_client *c)
{
    if (c == NULL)
        return GM_ERR_INVALID_ARGUMENT;
    clear_error(c);
    if (c->closed)
        return fail(c, GM_ERR_CLOSED, "the client was closed");
    return GM_OK;
}

#define TRY(expr) do { gm_result r_ = (expr); if (r_ != GM_OK) return r_; } while (0)

/* ------------------------------------------------------------ building frames */

typedef struct msg {
    gm__enc e;
    uint32_t pairs;
    const uint8_t *data;   /* the finished frame */
    size_t len;
} msg;

static void msg_begin(gm_client *c, msg *m, enum kind kind)
{
    gm__enc_init(&m->e, c->frame + FRAME_ROOM, GM_MAX_FRAME_BYTES);
    m->pairs = 1;
    gm__enc_str(&m->e, "type", 4);
    gm__enc_cstr(&m->e, KIND_NAMES[kind]);
}

static void key(msg *m, const char *k)
{
    m->pairs++;
    gm__enc_cstr(&m->e, k);
}

static void kv_f64(msg *m, const char *k, double v) { key(m, k); gm__enc_f64(&m->e, v); }
static void kv_uint(msg *m, const char *k, uint64_t v) { key(m, k); gm__enc_uint(&m->e, v); }
static void kv_int(msg *m, const char *k, int64_t v) { key(m, k); gm__enc_int(&m->e, v); }
static void kv_bool(msg *m, const char *k, int v) { key(m, k); gm__enc_bool(&m->e, v); }
static void kv_str(msg *m, const char *k, const char *v) { key(m, k); gm__enc_cstr(&m->e, v); }

static void kv_vec(msg *m, const char *k, const gm_vec3 *v)
{
    double xyz[3];
    xyz[0] = v->x;
    xyz[1] = v->y;
    xyz[2] = v->z;
    key(m, k);
    gm__enc_vec3(&m->e, xyz);
}

/* Close the frame: the envelope, then the map's header written just before the body.  `rid` 0:
 * a stream frame (no rid, no ttl).  GM_ERR_TOO_LARGE if it exceeds the frame limit. */
static gm_result msg_end(gm_client *c, msg *m, uint64_t rid)
{
    uint8_t hdr[5];
    size_t hlen;
    kv_uint(m, "v", GM_PROTOCOL_VERSION);
    if (rid != 0)
        kv_uint(m, "rid", rid);
    kv_f64(m, "t", wall_now());
    if (rid != 0)
        kv_f64(m, "ttl", c->ttl);
    {
        gm__enc h;
        gm__enc_init(&h, hdr, sizeof hdr);
        gm__enc_map(&h, m->pairs);
        hlen = h.len;
    }
    if (m->e.overflow || m->e.len + hlen > GM_MAX_FRAME_BYTES) {
        char text[160];
        snprintf(text, sizeof text, "the frame exceeds the limit of %d bytes; nothing was sent", GM_MAX_FRAME_BYTES);
        return fail(c, GM_ERR_TOO_LARGE, text);
    }
    memcpy(c->frame + FRAME_ROOM - hlen, hdr, hlen);
    m->data = c->frame + FRAME_ROOM - hlen;
    m->len = m->e.len + hlen;
    return GM_OK;
}

/* ------------------------------------------------------------ sockets */

static gm_result zmq_fail(gm_client *c, const char *what)
{
    return failf(c, GM_ERR_TRANSPORT, what, zmq_strerror(zmq_errno()));
}

static void *make_socket(gm_client *c, int type, const char *endpoint)
{
    int zero = 0;
    void *s = zmq_socket(c->ctx, type);
    if (s == NULL)
        return NULL;
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    if (type == ZMQ_DEALER || type == ZMQ_SUB) {
        int64_t max = GM_MAX_FRAME_BYTES;
        zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &max, sizeof max);
    }
    if (type == ZMQ_PUSH) {
        int hwm = (int)c->stream_hwm;
        zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof hwm);
    }
    if (c->curve) {
        if (zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, c->curve_keys[0], 41) != 0 ||
            zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, c->curve_keys[1], 41) != 0 ||
            zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, c->curve_keys[2], 41) != 0) {
            zmq_close(s);
            return NULL;
        }
    }
    if (zmq_connect(s, endpoint) != 0) {
        zmq_close(s);
        return NULL;
    }
    return s;
}

static void clear_posted(gm_client *c)
{
    memset(c->posted, 0, sizeof(posted_entry) * c->posted_cap);
}

static void refused_notice(gm_client *c, gm_handle instance, enum kind kind, const char *code, size_t code_len,
                           const char *message, size_t message_len);

/* Posted commands whose replies can no longer come (the socket is rebuilt): a notice each, oldest
 * first, as the Python client gives (refused, `expired`: carried out only if the server got it in time). */
static void unanswered_notices(gm_client *c)
{
    static const char why[] = "no reply before the command socket was rebuilt after a timeout: carried out "
                              "only if the server got it within its time to live";
    uint64_t first = UINT64_MAX, last = 0, rid;
    size_t i;
    for (i = 0; i < c->posted_cap; i++) {
        if (c->posted[i].rid != 0) {
            first = c->posted[i].rid < first ? c->posted[i].rid : first;
            last = c->posted[i].rid > last ? c->posted[i].rid : last;
        }
    }
    for (rid = first; first != UINT64_MAX && rid <= last; rid++) {
        posted_entry *p = &c->posted[rid % c->posted_cap];
        if (p->rid == rid)
            refused_notice(c, p->instance, (enum kind)p->kind, "expired", 7, why, sizeof why - 1);
    }
}

/* After a timeout: a new command socket (the server may have restarted), as the Python client. */
static gm_result rebuild_dealer(gm_client *c)
{
    zmq_close(c->dealer);
    c->dealer = make_socket(c, ZMQ_DEALER, c->endpoints[0]);
    unanswered_notices(c);
    clear_posted(c);
    if (c->dealer == NULL)
        return zmq_fail(c, "rebuilding the command socket");
    return GM_OK;
}

/* ------------------------------------------------------------ instance states */

static size_t state_home(const gm_client *c, gm_handle id)
{
    return (size_t)((id * 0x9E3779B97F4A7C15ull) >> 17) & c->state_mask;
}

static state_slot *state_find(const gm_client *c, gm_handle id)
{
    size_t i = state_home(c, id);
    while (c->states[i].state != 0) {
        if (c->states[i].id == id)
            return &c->states[i];
        i = (i + 1) & c->state_mask;
    }
    return NULL;
}

static void state_set(gm_client *c, gm_handle id, gm_state state)
{
    size_t i;
    state_slot *s = state_find(c, id);
    if (s != NULL) {
        s->state = (uint8_t)state;
        return;
    }
    if (c->state_count >= c->state_limit)
        return;                    /* full: not tracked (gm_instance_state says NONE) */
    i = state_home(c, id);
    while (c->states[i].state != 0)
        i = (i + 1) & c->state_mask;
    c->states[i].id = id;
    c->states[i].state = (uint8_t)state;
    c->state_count++;
}

static void state_remove(gm_client *c, gm_handle id)
{
    size_t i, j;
    state_slot *s = state_find(c, id);
    if (s == NULL)
        return;
    i = (size_t)(s - c->states);
    c->states[i].state = 0;
    c->state_count--;
    /* backward-shift deletion keeps every probe chain unbroken */
    j = i;
    for (;;) {
        size_t home;
        j = (j + 1) & c->state_mask;
        if (c->states[j].state == 0)
            break;
        home = state_home(c, c->states[j].id);
        if (((j - home) & c->state_mask) >= ((j - i) & c->state_mask)) {
            c->states[i] = c->states[j];
            c->states[j].state = 0;
            i = j;
        }
    }
}

gm_state gm_instance_state(const gm_client *c, gm_handle id)
{
    const state_slot *s;
    if (c == NULL)
        return GM_STATE_NONE;
    s = state_find(c, id);
    return s == NULL ? GM_STATE_NONE : (gm_state)s->state;
}

/* ------------------------------------------------------------ notices */

static gm_event_kind event_of(const char *name)
{
    static const char *const names[] = {"started", "virtual", "real", "stolen", "paused", "resumed", "refused",
                                        "ended"};
    size_t i;
    for (i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(name, names[i]) == 0)
            return (gm_event_kind)(GM_EVENT_STARTED + (int)i);
    return GM_EVENT_OTHER;
}

static void push_notice(gm_client *c, const gm_notice *n)
{
    size_t at;
    if (c->notice_count == c->notice_cap) {             /* full: the oldest goes, as a bounded deque */
        c->notice_head = (c->notice_head + 1) % c->notice_cap;
        c->notice_count--;
        c->notices_dropped++;
    }
    at = (c->notice_head + c->notice_count) % c->notice_cap;
    c->notices[at] = *n;
    c->notice_count++;
    if (n->id != GM_INVALID_HANDLE) {                     /* the instance's state, as Client._notice */
        if (n->event == GM_EVENT_ENDED || n->event == GM_EVENT_REFUSED) {
            state_remove(c, n->id);
        } else if (state_find(c, n->id) != NULL) {
            gm_state s = GM_STATE_NONE;
            switch (n->event) {
            case GM_EVENT_STARTED: case GM_EVENT_RESUMED: case GM_EVENT_REAL: s = GM_STATE_STARTED; break;
            case GM_EVENT_VIRTUAL: s = GM_STATE_VIRTUAL; break;
            case GM_EVENT_PAUSED: s = GM_STATE_PAUSED; break;
            case GM_EVENT_STOLEN: s = GM_STATE_STOLEN; break;
            default: break;
            }
            if (s != GM_STATE_NONE)
                state_set(c, n->id, s);
        }
    }
}

static void notice_text(char *dst, size_t size, const gm_value *v)
{
    size_t n = 0;
    const char *s = gm_value_str(v, &n);
    if (s == NULL)
        dst[0] = '\0';
    else
        copy_text(dst, size, s, n);
}

static void init_notice(gm_notice *n)
{
    memset(n, 0, sizeof *n);
    n->id = GM_INVALID_HANDLE;
    n->block = -1;
    n->sample = -1;
}

/* A `notify` frame from the server. */
static void take_notify(gm_client *c, const gm_value *root)
{
    gm_notice n;
    uint64_t id;
    int64_t i64;
    init_notice(&n);
    if (gm_value_uint64(gm_value_get(root, "id"), &id) == GM_OK)
        n.id = id;
    notice_text(n.event_name, sizeof n.event_name, gm_value_get(root, "event"));
    n.event = event_of(n.event_name);
    if (gm_value_int64(gm_value_get(root, "block"), &i64) == GM_OK)
        n.block = i64;
    if (gm_value_int64(gm_value_get(root, "sample"), &i64) == GM_OK)
        n.sample = i64;
    notice_text(n.code_name, sizeof n.code_name, gm_value_get(root, "code"));
    notice_text(n.message, sizeof n.message, gm_value_get(root, "message"));
    if (n.code_name[0] != '\0')
        n.code = gm_result_from_code(n.code_name);
    push_notice(c, &n);
}

static void refused_notice(gm_client *c, gm_handle instance, enum kind kind, const char *code, size_t code_len,
                           const char *message, size_t message_len)
{
    gm_notice n;
    init_notice(&n);
    n.id = instance;
    n.event = GM_EVENT_REFUSED;
    strcpy(n.event_name, "refused");
    strcpy(n.kind, KIND_NAMES[kind]);
    copy_text(n.code_name, sizeof n.code_name, code, code_len);
    copy_text(n.message, sizeof n.message, message, message_len);
    n.code = gm_result_from_code(n.code_name);
    push_notice(c, &n);
}

static int reply_ok(const gm_value *root)
{
    int ok = 0;
    return gm_value_bool(gm_value_get(root, "ok"), &ok) == GM_OK && ok;
}

/* One frame from the command socket.  Returns 1 if it is the reply to `awaited` (left in c->reply). */
static int take_frame(gm_client *c, const uint8_t *data, size_t len, uint64_t awaited)
{
    const gm_value *root, *type, *rid_v;
    uint64_t rid;
    size_t tlen;
    const char *t;
    if (gm__doc_decode_frame(&c->scratch, data, len) != GM__DEC_OK) {
        c->bad_frames++;            /* as the Python client: an unreadable frame is skipped */
        return 0;
    }
    root = gm__doc_root(&c->scratch);
    type = gm_value_get(root, "type");
    t = gm_value_str(type, &tlen);
    if (t != NULL && tlen == 6 && memcmp(t, "notify", 6) == 0) {
        take_notify(c, root);
        return 0;
    }
    rid_v = gm_value_get(root, "rid");
    if (gm_value_uint64(rid_v, &rid) != GM_OK || gm_value_type_of(rid_v) != GM_VALUE_INT || rid == 0)
        return 0;
    if (awaited != 0 && rid == awaited) {
        gm__doc_swap(&c->scratch, &c->reply);
        return 1;
    }
    {
        posted_entry *p = &c->posted[rid % c->posted_cap];
        if (p->rid == rid) {
            p->rid = 0;
            if (!reply_ok(root)) {
                const gm_value *err = gm_value_get(root, "error");
                size_t cl = 0, ml = 0;
                const char *code = gm_value_str(gm_value_get(err, "code"), &cl);
                const char *message = gm_value_str(gm_value_get(err, "message"), &ml);
                refused_notice(c, p->instance, (enum kind)p->kind, code ? code : "", code ? cl : 0,
                               message ? message : "", message ? ml : 0);
            }
        }
    }
    return 0;
}

/* Read every frame waiting on the command socket. */
static void drain(gm_client *c)
{
    zmq_msg_t m;
    if (c->closed || c->dealer == NULL)
        return;
    zmq_msg_init(&m);
    while (zmq_msg_recv(&m, c->dealer, ZMQ_DONTWAIT) >= 0)
        take_frame(c, (const uint8_t *)zmq_msg_data(&m), zmq_msg_size(&m), 0);
    zmq_msg_close(&m);
}

gm_result gm_poll(gm_client *c, gm_notice *notices, size_t capacity, size_t *count)
{
    size_t k = 0;
    if (c == NULL || count == NULL || (notices == NULL && capacity > 0))
        return GM_ERR_INVALID_ARGUMENT;
    clear_error(c);
    drain(c);
    while (k < capacity && c->notice_count > 0) {
        notices[k++] = c->notices[c->notice_head];
        c->notice_head = (c->notice_head + 1) % c->notice_cap;
        c->notice_count--;
    }
    *count = k;
    return GM_OK;
}

uint64_t gm_notices_dropped(const gm_client *c)
{
    return c == NULL ? 0 : c->notices_dropped;
}

/* ------------------------------------------------------------ sending */

static uint64_t new_rid(gm_client *c)
{
    return c->next_rid++;
}

static gm_result post(gm_client *c, msg *m, enum kind kind, gm_handle instance)
{
    uint64_t rid = new_rid(c);
    posted_entry *p;
    TRY(msg_end(c, m, rid));
    if (zmq_send(c->dealer, m->data, m->len, ZMQ_DONTWAIT) < 0) {
        if (zmq_errno() == EAGAIN)
            return fail(c, GM_ERR_QUEUE_FULL, "the command socket's queue is full (is the server running?)");
        return zmq_fail(c, "sending a command");
    }
    p = &c->posted[rid % c->posted_cap];    /* the oldest in this slot is forgotten */
    p->rid = rid;
    p->instance = instance;
    p->kind = (uint8_t)kind;
    return GM_OK;
}

static gm_result server_refusal(gm_client *c)
{
    const gm_value *root = gm__doc_root(&c->reply);
    const gm_value *err = gm_value_get(root, "error");
    size_t cl = 0, ml = 0, fl = 0;
    const char *code = gm_value_str(gm_value_get(err, "code"), &cl);
    const char *message = gm_value_str(gm_value_get(err, "message"), &ml);
    const char *field = gm_value_str(gm_value_get(err, "field"), &fl);
    gm_result r = gm_result_from_code(code);
    copy_text(c->err_message, sizeof c->err_message, message ? message : "", message ? ml : 0);
    copy_text(c->err_code, sizeof c->err_code, code ? code : "", code ? cl : 0);
    copy_text(c->err_field, sizeof c->err_field, field ? field : "", field ? fl : 0);
    return r;
}

static int ms_until(double deadline)
{
    double left = deadline - mono_now();
    return left <= 0 ? 0 : (int)(left * 1000.0) + 1;
}

/* Send a command and wait for its reply (what arrives meanwhile is kept for gm_poll). */
static gm_result request(gm_client *c, msg *m)
{
    uint64_t rid = new_rid(c);
    double deadline = mono_now() + c->timeout_ms / 1000.0;
    zmq_pollitem_t item;
    zmq_msg_t z;
    TRY(msg_end(c, m, rid));
    c->has_reply = 0;
    while (zmq_send(c->dealer, m->data, m->len, ZMQ_DONTWAIT) < 0) {
        if (zmq_errno() != EAGAIN && zmq_errno() != EINTR)
            return zmq_fail(c, "sending a command");
        item.socket = c->dealer;
        item.fd = 0;
        item.events = ZMQ_POLLOUT;
        item.revents = 0;
        if (ms_until(deadline) == 0 || zmq_poll(&item, 1, ms_until(deadline)) == 0) {
            TRY(rebuild_dealer(c));
            return fail(c, GM_ERR_TIMEOUT, "the command could not be sent within the timeout");
        }
    }
    zmq_msg_init(&z);
    for (;;) {
        int n;
        item.socket = c->dealer;
        item.fd = 0;
        item.events = ZMQ_POLLIN;
        item.revents = 0;
        n = zmq_poll(&item, 1, ms_until(deadline));
        if (n < 0 && zmq_errno() == EINTR)
            continue;
        if (n <= 0) {
            char text[200];
            zmq_msg_close(&z);
            TRY(rebuild_dealer(c));
            snprintf(text, sizeof text, "no reply from %s within %d ms", c->endpoints[0], c->timeout_ms);
            return fail(c, GM_ERR_TIMEOUT, text);
        }
        while (zmq_msg_recv(&z, c->dealer, ZMQ_DONTWAIT) >= 0) {
            if (take_frame(c, (const uint8_t *)zmq_msg_data(&z), zmq_msg_size(&z), rid)) {
                zmq_msg_close(&z);
                if (reply_ok(gm__doc_root(&c->reply))) {
                    c->has_reply = 1;
                    return GM_OK;
                }
                return server_refusal(c);
            }
        }
    }
}

static gm_result send_command(gm_client *c, msg *m, enum kind kind, gm_handle instance, unsigned flags)
{
    if (flags & GM_WAIT)
        return request(c, m);
    return post(c, m, kind, instance);
}

static gm_result send_stream(gm_client *c, msg *m)
{
    TRY(msg_end(c, m, 0));
    if (zmq_send(c->push, m->data, m->len, ZMQ_DONTWAIT) < 0) {
        if (zmq_errno() == EAGAIN)
            return fail(c, GM_ERR_QUEUE_FULL, "the stream socket's queue is full (is the server running?)");
        return zmq_fail(c, "sending a stream message");
    }
    return GM_OK;
}

static const gm_value *reply_data(const gm_client *c)
{
    return c->has_reply ? gm_value_get(gm__doc_root(&c->reply), "data") : NULL;
}

const gm_value *gm_last_reply(const gm_client *c)
{
    return c == NULL ? NULL : reply_data(c);
}

static void give_reply(const gm_client *c, const gm_value **out)
{
    if (out != NULL)
        *out = reply_data(c);
}

/* ------------------------------------------------------------ lifecycle */

void gm_options_init(gm_options *o)
{
    if (o == NULL)
        return;
    memset(o, 0, sizeof *o);
    o->timeout_s = 2.0;
    o->pose_capacity = 4096;
    o->notice_capacity = 4096;
    o->posted_capacity = 16384;
    o->instance_capacity = 16384;
    o->stream_hwm = 100000;
}

static void destroy(gm_client *c)
{
    const gm__alloc *a = &c->alloc;
    int k;
    for (k = 0; k < 3; k++)
        gm__free(a, c->endpoints[k]);
    gm__free(a, c->name);
    gm__free(a, c->frame);
    gm__free(a, c->pose_ids);
    gm__free(a, c->pose_pos);
    gm__free(a, c->pose_vel);
    gm__free(a, c->pose_dir);
    gm__free(a, c->pose_flags);
    gm__free(a, c->notices);
    gm__free(a, c->posted);
    gm__free(a, c->states);
    gm__doc_free(&c->scratch);
    gm__doc_free(&c->reply);
    gm__doc_free(&c->tele);
    mutex_destroy(&c->tele_lock);
    {
        gm__alloc copy = c->alloc;
        gm__free(&copy, c);
    }
}

gm_result gm_client_create(const gm_options *options, gm_client **out)
{
    gm_options o;
    gm__alloc a;
    gm_client *c;
    size_t cap;
    int k;
    if (out == NULL)
        return GM_ERR_INVALID_ARGUMENT;
    *out = NULL;
    gm_options_init(&o);
    if (options != NULL)
        o = *options;
    if (!(isfinite(o.timeout_s) && o.timeout_s >= 0.001 && o.timeout_s <= 3600.0))
        return GM_ERR_BAD_VALUE;           /* it is every command's ttl: 0 < ttl <= 3600 */
    if (o.pose_capacity < 1 || o.pose_capacity > GM_MAX_POSES || o.notice_capacity < 1 || o.posted_capacity < 1 ||
        o.instance_capacity < 1 || o.instance_capacity > (1u << 30) || o.stream_hwm < 1 || o.stream_hwm > 0x7fffffff)
        return GM_ERR_INVALID_ARGUMENT;
    if ((o.allocator.alloc == NULL) != (o.allocator.free == NULL))
        return GM_ERR_INVALID_ARGUMENT;
    if (!((o.curve_server_public == NULL && o.curve_public == NULL && o.curve_secret == NULL) ||
          (o.curve_server_public != NULL && o.curve_public != NULL && o.curve_secret != NULL &&
           strlen(o.curve_server_public) == 40 && strlen(o.curve_public) == 40 && strlen(o.curve_secret) == 40)))
        return GM_ERR_INVALID_ARGUMENT;
    if (o.name != NULL && check_name(NULL, o.name, "name") != GM_OK)
        return GM_ERR_BAD_VALUE;
    a.alloc = o.allocator.alloc;
    a.free = o.allocator.free;
    a.user = o.allocator.user;
    c = (gm_client *)gm__malloc(&a, sizeof *c);
    if (c == NULL)
        return GM_ERR_NO_MEMORY;
    memset(c, 0, sizeof *c);
    c->alloc = a;
    mutex_init(&c->tele_lock);
    c->timeout_ms = (int)(o.timeout_s * 1000.0);
    c->ttl = c->timeout_ms / 1000.0;          /* as the Python client: ttl = timeout_ms / 1000 */
    c->stream_hwm = o.stream_hwm;
    c->next_rid = 1;
    c->endpoints[0] = dup_str(&c->alloc, o.commands ? o.commands : GM_DEFAULT_COMMANDS);
    c->endpoints[1] = dup_str(&c->alloc, o.streams ? o.streams : GM_DEFAULT_STREAMS);
    c->endpoints[2] = dup_str(&c->alloc, o.telemetry ? o.telemetry : GM_DEFAULT_TELEMETRY);
    if (o.name != NULL)
        c->name = dup_str(&c->alloc, o.name);
    c->frame_cap = FRAME_ROOM + GM_MAX_FRAME_BYTES;
    c->frame = (uint8_t *)gm__malloc(&c->alloc, c->frame_cap);
    c->pose_cap = o.pose_capacity;
    c->pose_ids = (gm_handle *)gm__malloc(&c->alloc, sizeof(gm_handle) * c->pose_cap);
    c->pose_pos = (double *)gm__malloc(&c->alloc, sizeof(double) * 3 * c->pose_cap);
    c->pose_vel = (double *)gm__malloc(&c->alloc, sizeof(double) * 3 * c->pose_cap);
    c->pose_dir = (double *)gm__malloc(&c->alloc, sizeof(double) * 3 * c->pose_cap);
    c->pose_flags = (uint8_t *)gm__malloc(&c->alloc, c->pose_cap);
    c->notice_cap = o.notice_capacity;
    c->notices = (gm_notice *)gm__malloc(&c->alloc, sizeof(gm_notice) * c->notice_cap);
    c->posted_cap = o.posted_capacity;
    c->posted = (posted_entry *)gm__malloc(&c->alloc, sizeof(posted_entry) * c->posted_cap);
    for (cap = 2; cap < 2 * (size_t)o.instance_capacity; cap *= 2) {
    }
    c->state_mask = cap - 1;
    c->state_limit = o.instance_capacity;
    c->states = (state_slot *)gm__malloc(&c->alloc, sizeof(state_slot) * cap);
    if (!gm__doc_init(&c->scratch, &c->alloc) || !gm__doc_init(&c->reply, &c->alloc) ||
        !gm__doc_init(&c->tele, &c->alloc) || c->endpoints[0] == NULL || c->endpoints[1] == NULL ||
        c->endpoints[2] == NULL || (o.name != NULL && c->name == NULL) || c->frame == NULL ||
        c->pose_ids == NULL || c->pose_pos == NULL || c->pose_vel == NULL || c->pose_dir == NULL ||
        c->pose_flags == NULL ||
        c->notices == NULL || c->posted == NULL || c->states == NULL) {
        destroy(c);
        return GM_ERR_NO_MEMORY;
    }
    memset(c->states, 0, sizeof(state_slot) * cap);
    clear_posted(c);
    if (o.curve_server_public != NULL) {
        c->curve = 1;
        memcpy(c->curve_keys[0], o.curve_server_public, 41);
        memcpy(c->curve_keys[1], o.curve_public, 41);
        memcpy(c->curve_keys[2], o.curve_secret, 41);
    }
    c->ctx = zmq_ctx_new();
    if (c->ctx == NULL) {
        destroy(c);
        return GM_ERR_TRANSPORT;
    }
    c->dealer = make_socket(c, ZMQ_DEALER, c->endpoints[0]);
    c->push = make_socket(c, ZMQ_PUSH, c->endpoints[1]);
    if (c->dealer == NULL || c->push == NULL) {
        if (c->dealer)
            zmq_close(c->dealer);
        if (c->push)
            zmq_close(c->push);
        zmq_ctx_term(c->ctx);
        destroy(c);
        return GM_ERR_TRANSPORT;            /* a malformed endpoint, or CURVE without libzmq support */
    }
    for (k = 0; k < 3; k++)
        c->curve_keys[k][40] = '\0';
    *out = c;
    return GM_OK;
}

gm_result gm_client_close(gm_client *c)
{
    if (c == NULL)
        return GM_ERR_INVALID_ARGUMENT;
    if (c->closed)
        return GM_OK;
    drain(c);                         /* keep what already arrived for gm_poll */
    c->closed = 1;
    zmq_close(c->dealer);
    zmq_close(c->push);
    mutex_lock(&c->tele_lock);
    if (c->sub != NULL)
        zmq_close(c->sub);
    c->sub = NULL;
    mutex_unlock(&c->tele_lock);
    c->dealer = c->push = NULL;
    zmq_ctx_term(c->ctx);
    c->ctx = NULL;
    c->has_reply = 0;
    return GM_OK;
}

void gm_client_free(gm_client *c)
{
    if (c == NULL)
        return;
    gm_client_close(c);
    destroy(c);
}

const char *gm_last_error(const gm_client *c) { return c == NULL ? "" : c->err_message; }
const char *gm_last_error_code(const gm_client *c) { return c == NULL ? "" : c->err_code; }
const char *gm_last_error_field(const gm_client *c) { return c == NULL ? "" : c->err_field; }

/* ------------------------------------------------------------ sessions */

static void open_session(gm_client *c)
{
    const gm_value *data = reply_data(c);
    gm_session s;
    uint64_t first = 0, end = 0;
    int64_t k = 0, rate = 0, block = 0;
    if (gm_value_uint64(gm_value_path(data, "ids.0"), &first) != GM_OK ||
        gm_value_uint64(gm_value_path(data, "ids.1"), &end) != GM_OK || end <= first)
        return;
    gm_value_int64(gm_value_get(data, "session"), &k);
    gm_value_int64(gm_value_get(data, "sample_rate"), &rate);
    gm_value_int64(gm_value_get(data, "block_size"), &block);
    s.session = k;
    s.first = first;
    s.end = end;
    s.sample_rate = (int32_t)rate;
    s.block_size = (int32_t)block;
    if (!c->has_session || c->session.first != first || c->session.end != end)
        c->next_id = first + 1;     /* a new range: handles from its first + 1, as the Python client */
    c->session = s;
    c->has_session = 1;
}

gm_result gm_hello(gm_client *c, const gm_value **reply)
{
    msg m;
    gm_result r;
    TRY(usable(c));
    msg_begin(c, &m, K_HELLO);
    if (c->name != NULL)
        kv_str(&m, "name", c->name);
    r = request(c, &m);
    if (r == GM_OK)
        open_session(c);
    give_reply(c, reply);
    return r;
}

gm_result gm_wait_ready(gm_client *c, double timeout_s)
{
    double deadline;
    TRY(usable(c));
    if (!isfinite(timeout_s) || timeout_s < 0)
        return fail(c, GM_ERR_BAD_VALUE, "timeout_s: a finite number >= 0");
    deadline = mono_now() + timeout_s;
    for (;;) {
        gm_result r = gm_hello(c, NULL);
        if (r == GM_OK)
            return GM_OK;
        if (r != GM_ERR_TIMEOUT && r != GM_ERR_NOT_READY)
            return r;
        if (mono_now() >= deadline) {
            char text[300];
            snprintf(text, sizeof text, "%s not ready within %g s (%s)", c->endpoints[0], timeout_s,
                     gm_result_code(r));
            return fail(c, GM_ERR_TIMEOUT, text);
        }
        sleep_s(fmin(READY_POLL_S, deadline - mono_now()));
    }
}

gm_result gm_session_get(const gm_client *c, gm_session *out)
{
    if (c == NULL || out == NULL)
        return GM_ERR_INVALID_ARGUMENT;
    if (!c->has_session)
        return GM_ERR_NO_SESSION_YET;
    *out = c->session;
    return GM_OK;
}

/* The session's next handle (0 and GM_ERR_NO_SESSION without one). */
static gm_result next_handle(gm_client *c, gm_handle *out)
{
    if (!c->has_session || c->next_id >= c->session.end)
        return fail(c, GM_ERR_NO_SESSION, "no session: call gm_wait_ready() first (the server may not run yet)");
    *out = c->next_id++;
    return GM_OK;
}

/* ------------------------------------------------------------ commands */

void gm_play_args_init(gm_play_args *a)
{
    static const gm_play_args defaults = GM_PLAY_ARGS_INIT;
    if (a != NULL)
        *a = defaults;
}

void gm_event_args_init(gm_event_args *a)
{
    static const gm_event_args defaults = GM_EVENT_ARGS_INIT;
    if (a != NULL)
        *a = defaults;
}

void gm_instance_args_init(gm_instance_args *a)
{
    static const gm_instance_args defaults = GM_INSTANCE_ARGS_INIT;
    if (a != NULL)
        *a = defaults;
}

/* Post a play or an event naming instance `id` (taken from the session's range when auto_id): if it
 * cannot be sent the handle is given back; once sent, the instance is 'posted' and *out_id is it. */
static gm_result post_instance(gm_client *c, msg *m, enum kind kind, gm_handle id, int auto_id, gm_handle *out_id)
{
    gm_result r = post(c, m, kind, id);
    if (r != GM_OK) {
        if (auto_id)
            c->next_id--;           /* nothing was sent: the handle is free again */
        return r;
    }
    if (id != GM_INVALID_HANDLE)
        state_set(c, id, GM_STATE_POSTED);
    if (out_id != NULL)
        *out_id = id;
    return GM_OK;
}

gm_result gm_play(gm_client *c, const char *sound, const gm_play_args *args, unsigned flags, gm_handle *out_id)
{
    static const gm_play_args defaults = GM_PLAY_ARGS_INIT;
    const gm_play_args *a = args != NULL ? args : &defaults;
    gm_handle id = GM_INVALID_HANDLE;
    int auto_id = a->id == GM_AUTO_ID && !(flags & GM_WAIT);
    msg m;
    gm_result r;
    if (out_id != NULL)
        *out_id = GM_INVALID_HANDLE;
    TRY(usable(c));
    TRY(check_name(c, sound, "sound"));
    if (a->id != GM_AUTO_ID)
        TRY(check_game_id(c, a->id, "id"));
    if (a->has_position)
        TRY(check_vec(c, &a->position, "position"));
    if (a->has_velocity)
        TRY(check_vec(c, &a->velocity, "velocity"));
    TRY(check_range(c, a->volume_db, -144, 24, "volume_db"));
    TRY(check_range(c, a->pitch_semitones, -48, 48, "pitch_semitones"));
    TRY(check_range(c, a->fade_in, 0, 3600, "fade_in"));
    if (a->has_pan)
        TRY(check_range(c, a->pan, -1, 1, "pan"));
    if (a->has_loops && (a->loops < -1 || a->loops > 1000000))
        return fail(c, GM_ERR_BAD_VALUE, "loops: -1 (for ever) to 1,000,000");
    if (a->has_at_sample)
        TRY(check_sample(c, a->at_sample));
    if (a->has_object)
        TRY(check_game_id(c, a->object, "object"));
    if (a->has_direction)
        TRY(check_vec(c, &a->direction, "direction"));
    if (auto_id)
        TRY(next_handle(c, &id));
    else if (a->id != GM_AUTO_ID)
        id = a->id;
    /* the fields the Python client sends: volume_db, pitch_semitones and fade_in always */
    msg_begin(c, &m, K_PLAY);
    kv_str(&m, "sound", sound);
    if (id != GM_INVALID_HANDLE)
        kv_uint(&m, "id", id);
    if (a->has_position)
        kv_vec(&m, "position", &a->position);
    if (a->has_velocity)
        kv_vec(&m, "velocity", &a->velocity);
    kv_f64(&m, "volume_db", a->volume_db);
    kv_f64(&m, "pitch_semitones", a->pitch_semitones);
    kv_f64(&m, "fade_in", a->fade_in);
    if (a->has_pan)
        kv_f64(&m, "pan", a->pan);
    if (a->has_loops)
        kv_int(&m, "loops", a->loops);
    if (a->has_at_sample)
        kv_uint(&m, "at_sample", a->at_sample);
    if (a->has_object)
        kv_uint(&m, "object", a->object);
    if (a->has_direction)
        kv_vec(&m, "direction", &a->direction);
    if (flags & GM_WAIT) {
        uint64_t got = 0;
        r = request(c, &m);
        if (r != GM_OK)
            return r;
        if (gm_value_uint64(gm_value_get(reply_data(c), "id"), &got) != GM_OK)
            return fail(c, GM_ERR_BAD_REPLY, "the play's reply has no id");
        if (out_id != NULL)
            *out_id = got;
        return GM_OK;
    }
    return post_instance(c, &m, K_PLAY, id, auto_id, out_id);
}

gm_result gm_event(gm_client *c, const char *name, const gm_event_args *args, unsigned flags, gm_handle *out_id)
{
    static const gm_event_args defaults = GM_EVENT_ARGS_INIT;
    const gm_event_args *a = args != NULL ? args : &defaults;
    gm_handle id = GM_INVALID_HANDLE;
    int auto_id = a->id == GM_AUTO_ID && !(flags & GM_WAIT) && c != NULL && c->has_session;
    msg m;
    gm_result r;
    if (out_id != NULL)
        *out_id = GM_INVALID_HANDLE;
    TRY(usable(c));
    TRY(check_name(c, name, "name"));
    if (a->id != GM_AUTO_ID)
        TRY(check_game_id(c, a->id, "id"));
    if (a->has_position)
        TRY(check_vec(c, &a->position, "position"));
    if (a->has_velocity)
        TRY(check_vec(c, &a->velocity, "velocity"));
    if (a->has_at_sample)
        TRY(check_sample(c, a->at_sample));
    if (a->has_object)
        TRY(check_game_id(c, a->object, "object"));
    if (a->has_direction)
        TRY(check_vec(c, &a->direction, "direction"));
    if (auto_id)
        TRY(next_handle(c, &id));
    else if (a->id != GM_AUTO_ID)
        id = a->id;
    msg_begin(c, &m, K_EVENT);
    kv_str(&m, "name", name);
    if (id != GM_INVALID_HANDLE)
        kv_uint(&m, "id", id);
    if (a->has_position)
        kv_vec(&m, "position", &a->position);
    if (a->has_velocity)
        kv_vec(&m, "velocity", &a->velocity);
    if (a->has_at_sample)
        kv_uint(&m, "at_sample", a->at_sample);
    if (a->has_object)
        kv_uint(&m, "object", a->object);
    if (a->has_direction)
        kv_vec(&m, "direction", &a->direction);
    if (flags & GM_WAIT) {
        uint64_t got = 0;
        r = request(c, &m);
        if (r == GM_OK && out_id != NULL && gm_value_uint64(gm_value_get(reply_data(c), "id"), &got) == GM_OK)
            *out_id = got;
        return r;
    }
    return post_instance(c, &m, K_EVENT, id, auto_id, out_id);
}

gm_result gm_stop(gm_client *c, gm_handle id, double fade, int64_t at_sample, unsigned flags)
{
    msg m;
    TRY(usable(c));
    TRY(check_instance(c, id));
    TRY(check_range(c, fade, 0, 3600, "fade"));
    if (at_sample != GM_NOW && (at_sample < 0 || (uint64_t)at_sample > SAMPLE_MAX))
        return fail(c, GM_ERR_BAD_VALUE, "at_sample: GM_NOW or 0 to 2^62");
    msg_begin(c, &m, K_STOP);
    kv_uint(&m, "id", id);
    kv_f64(&m, "fade", fade);
    if (at_sample != GM_NOW)
        kv_uint(&m, "at_sample", (uint64_t)at_sample);
    return send_command(c, &m, K_STOP, id, flags);
}

gm_result gm_set_instance(gm_client *c, gm_handle id, const gm_instance_args *args, unsigned flags)
{
    static const gm_instance_args defaults = GM_INSTANCE_ARGS_INIT;
    const gm_instance_args *a = args != NULL ? args : &defaults;
    msg m;
    TRY(usable(c));
    TRY(check_instance(c, id));
    if (a->has_volume_db)
        TRY(check_range(c, a->volume_db, -144, 24, "volume_db"));
    if (a->has_pitch_semitones)
        TRY(check_range(c, a->pitch_semitones, -48, 48, "pitch_semitones"));
    if (a->has_pan)
        TRY(check_range(c, a->pan, -1, 1, "pan"));
    if (a->has_position)
        TRY(check_vec(c, &a->position, "position"));
    if (a->has_velocity)
        TRY(check_vec(c, &a->velocity, "velocity"));
    if (a->has_direction)
        TRY(check_vec(c, &a->direction, "direction"));
    TRY(check_range(c, a->fade, 0, 3600, "fade"));
    msg_begin(c, &m, K_SET_INSTANCE);
    kv_uint(&m, "id", id);
    if (a->has_volume_db)
        kv_f64(&m, "volume_db", a->volume_db);
    if (a->has_pitch_semitones)
        kv_f64(&m, "pitch_semitones", a->pitch_semitones);
    if (a->has_pan)
        kv_f64(&m, "pan", a->pan);
    if (a->has_position)
        kv_vec(&m, "position", &a->position);
    if (a->has_velocity)
        kv_vec(&m, "velocity", &a->velocity);
    if (a->has_direction)
        kv_vec(&m, "direction", &a->direction);
    kv_f64(&m, "fade", a->fade);
    return send_command(c, &m, K_SET_INSTANCE, id, flags);
}

gm_result gm_pause(gm_client *c, gm_handle id, int paused, double fade, unsigned flags)
{
    msg m;
    TRY(usable(c));
    TRY(check_instance(c, id));
    TRY(check_range(c, fade, 0, 3600, "fade"));
    msg_begin(c, &m, K_PAUSE);
    kv_uint(&m, "id", id);
    kv_bool(&m, "paused", paused != 0);
    kv_f64(&m, "fade", fade);
    return send_command(c, &m, K_PAUSE, id, flags);
}

gm_result gm_resume(gm_client *c, gm_handle id, double fade, unsigned flags)
{
    return gm_pause(c, id, 0, fade, flags);
}

gm_result gm_seek(gm_client *c, gm_handle id, double seconds, unsigned flags)
{
    msg m;
    TRY(usable(c));
    TRY(check_instance(c, id));
    TRY(check_range(c, seconds, 0, 86400, "seconds"));
    msg_begin(c, &m, K_SEEK);
    kv_uint(&m, "id", id);
    kv_f64(&m, "seconds", seconds);
    return send_command(c, &m, K_SEEK, id, flags);
}

static gm_result set_parameter(gm_client *c, const char *name, double value, int has_id, gm_handle id,
                               int has_object, uint64_t object, unsigned flags, int stream)
{
    msg m;
    TRY(usable(c));
    TRY(check_name(c, name, "name"));
    if (!isfinite(value))
        return fail(c, GM_ERR_BAD_VALUE, "value: must be a finite number");
    if (has_id)
        TRY(check_instance(c, id));
    if (has_object)
        TRY(check_game_id(c, object, "object"));
    msg_begin(c, &m, K_SET_PARAMETER);
    kv_str(&m, "name", name);
    kv_f64(&m, "value", value);
    if (has_id)
        kv_uint(&m, "id", id);
    if (has_object)
        kv_uint(&m, "object", object);
    if (stream)
        return send_stream(c, &m);
    return send_command(c, &m, K_SET_PARAMETER, has_id ? id : GM_INVALID_HANDLE, flags);
}

gm_result gm_set_parameter(gm_client *c, const char *name, double value, unsigned flags)
{
    return set_parameter(c, name, value, 0, 0, 0, 0, flags, 0);
}

gm_result gm_set_instance_parameter(gm_client *c, gm_handle id, const char *name, double value, unsigned flags)
{
    return set_parameter(c, name, value, 1, id, 0, 0, flags, 0);
}

gm_result gm_set_object_parameter(gm_client *c, uint64_t object, const char *name, double value, unsigned flags)
{
    return set_parameter(c, name, value, 0, 0, 1, object, flags, 0);
}

gm_result gm_stream_parameter(gm_client *c, const char *name, double value, gm_handle id)
{
    return set_parameter(c, name, value, id != GM_INVALID_HANDLE, id, 0, 0, 0, 1);
}

/* An optional seconds or percent: GM_DEFAULT (absent), else within [lo, hi]. */
static gm_result check_optional(gm_client *c, double x, double hi, const char *field)
{
    if (x == GM_DEFAULT)
        return GM_OK;
    return check_range(c, x, 0, hi, field);
}

gm_result gm_snapshot_start(gm_client *c, const char *name, double intensity, double fade, unsigned flags)
{
    msg m;
    TRY(usable(c));
    TRY(check_name(c, name, "name"));
    TRY(check_optional(c, intensity, 100, "intensity"));
    TRY(check_optional(c, fade, 3600, "fade"));
    msg_begin(c, &m, K_SNAPSHOT_START);
    kv_str(&m, "name", name);
    if (intensity != GM_DEFAULT)
        kv_f64(&m, "intensity", intensity);
    if (fade != GM_DEFAULT)
        kv_f64(&m, "fade", fade);
    return send_command(c, &m, K_SNAPSHOT_START, GM_INVALID_HANDLE, flags);
}

gm_result gm_snapshot_stop(gm_client *c, const char *name, double fade, unsigned flags)
{
    msg m;
    TRY(usable(c));
    TRY(check_name(c, name, "name"));
    TRY(check_optional(c, fade, 3600, "fade"));
    msg_begin(c, &m, K_SNAPSHOT_STOP);
    kv_str(&m, "name", name);
    if (fade != GM_DEFAULT)
        kv_f64(&m, "fade", fade);
    return send_command(c, &m, K_SNAPSHOT_STOP, GM_INVALID_HANDLE, flags);
}

gm_result gm_snapshot_intensity(gm_client *c, const char *name, double intensity, unsigned flags)
{
    msg m;
    TRY(usable(c));
    TRY(check_name(c, name, "name"));
    TRY(check_range(c, intensity, 0, 100, "intensity"));
    msg_begin(c, &m, K_SNAPSHOT_INTENSITY);
    kv_str(&m, "name", name);
    kv_f64(&m, "intensity", intensity);
    return send_command(c, &m, K_SNAPSHOT_INTENSITY, GM_INVALID_HANDLE, flags);
}

static gm_result fader(gm_client *c, enum kind kind, const char *field, const char *name, double volume_db,
                       double fade, unsigned flags)
{
    msg m;
    TRY(usable(c));
    TRY(check_name(c, name, field));
    TRY(check_range(c, volume_db, -144, 24, "volume_db"));
    TRY(check_range(c, fade, 0, 3600, "fade"));
    msg_begin(c, &m, kind);
    kv_str(&m, field, name);
    kv_f64(&m, "volume_db", volume_db);
    kv_f64(&m, "fade", fade);
    return send_command(c, &m, kind, GM_INVALID_HANDLE, flags);
}

gm_result gm_bus_volume(gm_client *c, const char *bus, double volume_db, double fade, unsigned flags)
{
    return fader(c, K_BUS_VOLUME, "bus", bus, volume_db, fade, flags);
}

gm_result gm_vca_volume(gm_client *c, const char *vca, double volume_db, double fade, unsigned flags)
{
    return fader(c, K_VCA_VOLUME, "vca", vca, volume_db, fade, flags);
}

gm_result gm_bus_mute(gm_client *c, const char *bus, int mute, double fade, unsigned flags)
{
    msg m;
    TRY(usable(c));
    TRY(check_name(c, bus, "bus"));
    TRY(check_range(c, fade, 0, 3600, "fade"));
    msg_begin(c, &m, K_BUS_MUTE);
    kv_str(&m, "bus", bus);
    kv_bool(&m, "mute", mute != 0);
    kv_f64(&m, "fade", fade);
    return send_command(c, &m, K_BUS_MUTE, GM_INVALID_HANDLE, flags);
}

gm_result gm_reset_meters(gm_client *c, const char *bus, unsigned flags)
{
    msg m;
    TRY(usable(c));
    if (bus != NULL)
        TRY(check_name(c, bus, "bus"));
    msg_begin(c, &m, K_RESET_METERS);
    if (bus != NULL)
        kv_str(&m, "bus", bus);
    return send_command(c, &m, K_RESET_METERS, GM_INVALID_HANDLE, flags);
}

gm_result gm_object(gm_client *c, uint64_t object, const gm_vec3 *position, const gm_vec3 *velocity,
                    const gm_vec3 *direction, int remove, double fade, unsigned flags)
{
    static const gm_vec3 origin = {0.0, 0.0, 0.0};
    msg m;
    TRY(usable(c));
    TRY(check_game_id(c, object, "id"));
    if (position == NULL)
        position = &origin;
    TRY(check_vec(c, position, "position"));
    if (velocity != NULL)
        TRY(check_vec(c, velocity, "velocity"));
    if (direction != NULL)
        TRY(check_vec(c, direction, "direction"));
    TRY(check_range(c, fade, 0, 3600, "fade"));
    msg_begin(c, &m, K_OBJECT);
    kv_uint(&m, "id", object);
    kv_vec(&m, "position", position);
    if (velocity != NULL)
        kv_vec(&m, "velocity", velocity);
    if (direction != NULL)
        kv_vec(&m, "direction", direction);
    if (remove)
        kv_bool(&m, "remove", 1);
    kv_f64(&m, "fade", fade);
    if (remove || (flags & GM_WAIT))            /* a removal is a command, a move a stream (Client.object) */
        return send_command(c, &m, K_OBJECT, GM_INVALID_HANDLE, flags);
    return send_stream(c, &m);
}

/* The target of an `occlusion` or `aux_sends`: an instance (GM_INVALID_HANDLE: none) or a game object
 * (GM_NO_OBJECT: none), checked as ids; how many of them (and of `zone`) are named is the caller's. */
static gm_result check_target(gm_client *c, gm_handle id, uint64_t object)
{
    if (id != GM_INVALID_HANDLE)
        TRY(check_instance(c, id));
    if (object != GM_NO_OBJECT)
        TRY(check_game_id(c, object, "object"));
    return GM_OK;
}

/* GM_STREAM: a stream message; else posted or waited, about instance `id` (as Client._send). */
static gm_result send_either(gm_client *c, msg *m, enum kind kind, gm_handle id, unsigned flags)
{
    if (flags & GM_STREAM)
        return send_stream(c, m);
    return send_command(c, m, kind, id, flags);
}

/* An optional factor: GM_UNCHANGED (absent), else within [0, 1]. */
static gm_result check_factor(gm_client *c, double x, const char *field)
{
    if (x == GM_UNCHANGED)
        return GM_OK;
    return check_range(c, x, 0, 1, field);
}

gm_result gm_occlusion(gm_client *c, gm_handle id, uint64_t object, const char *zone, double occlusion,
                       double obstruction, unsigned flags)
{
    msg m;
    TRY(usable(c));
    if ((flags & GM_WAIT) && (flags & GM_STREAM))
        return fail(c, GM_ERR_INVALID_ARGUMENT, "flags: GM_WAIT or GM_STREAM, not both");
    TRY(check_target(c, id, object));
    if (zone != NULL)
        TRY(check_name(c, zone, "zone"));
    TRY(check_factor(c, occlusion, "occlusion"));
    TRY(check_factor(c, obstruction, "obstruction"));
    if ((id != GM_INVALID_HANDLE) + (object != GM_NO_OBJECT) + (zone != NULL) != 1)
        return fail(c, GM_ERR_BAD_VALUE, "name exactly one of id, object and zone");
    if (zone != NULL && obstruction != GM_UNCHANGED)
        return fail(c, GM_ERR_BAD_VALUE, "obstruction: a zone takes occlusion only (its walls)");
    msg_begin(c, &m, K_OCCLUSION);                 /* the fields in Occlusion's order */
    if (id != GM_INVALID_HANDLE)
        kv_uint(&m, "id", id);
    if (object != GM_NO_OBJECT)
        kv_uint(&m, "object", object);
    if (zone != NULL)
        kv_str(&m, "zone", zone);
    if (occlusion != GM_UNCHANGED)
        kv_f64(&m, "occlusion", occlusion);
    if (obstruction != GM_UNCHANGED)
        kv_f64(&m, "obstruction", obstruction);
    return send_either(c, &m, K_OCCLUSION, id, flags);
}

gm_result gm_aux_sends(gm_client *c, gm_handle id, uint64_t object, const gm_aux_send *sends, size_t count,
                       unsigned flags)
{
    msg m;
    size_t k, j;
    TRY(usable(c));
    if ((flags & GM_WAIT) && (flags & GM_STREAM))
        return fail(c, GM_ERR_INVALID_ARGUMENT, "flags: GM_WAIT or GM_STREAM, not both");
    if (sends == NULL && count > 0)
        return fail(c, GM_ERR_INVALID_ARGUMENT, "sends: NULL");
    TRY(check_target(c, id, object));
    if (count > GM_MAX_AUX_SENDS)
        return fail(c, GM_ERR_BAD_VALUE, "sends: at most 8 buses");
    for (k = 0; k < count; k++) {
        TRY(check_name(c, sends[k].bus, "sends"));
        TRY(check_range(c, sends[k].volume_db, -144, 24, "sends"));
        for (j = 0; j < k; j++)
            if (strcmp(sends[j].bus, sends[k].bus) == 0)
                return failf(c, GM_ERR_BAD_VALUE, "sends", "a bus named twice");
    }
    if ((id != GM_INVALID_HANDLE) == (object != GM_NO_OBJECT))
        return fail(c, GM_ERR_BAD_VALUE, "name exactly one of id and object");
    msg_begin(c, &m, K_AUX_SENDS);                 /* the fields in AuxSends' order */
    key(&m, "sends");
    gm__enc_map(&m.e, (uint32_t)count);
    for (k = 0; k < count; k++) {
        gm__enc_cstr(&m.e, sends[k].bus);
        gm__enc_f64(&m.e, sends[k].volume_db);
    }
    if (id != GM_INVALID_HANDLE)
        kv_uint(&m, "id", id);
    if (object != GM_NO_OBJECT)
        kv_uint(&m, "object", object);
    return send_either(c, &m, K_AUX_SENDS, id, flags);
}

gm_result gm_upload_sound(gm_client *c, const char *sound, const float *pcm, size_t frames, int channels,
                          int sample_rate, unsigned flags)
{
    msg m;
    size_t samples, bytes, k;
    uint8_t *p;
    TRY(usable(c));
    TRY(check_name(c, sound, "sound"));
    if (pcm == NULL && frames > 0)
        return fail(c, GM_ERR_INVALID_ARGUMENT, "pcm: NULL");
    if (channels < 1 || channels > 2)
        return fail(c, GM_ERR_BAD_VALUE, "channels: 1 or 2");
    if (sample_rate < 8000 || sample_rate > 384000)
        return fail(c, GM_ERR_BAD_VALUE, "sample_rate: 8000 to 384000");
    if (frames > (size_t)GM_MAX_FRAME_BYTES / 4 / (size_t)channels)
        return fail(c, GM_ERR_TOO_LARGE, "pcm: the frame would exceed the 4 MiB limit; nothing was sent");
    samples = frames * (size_t)channels;
    bytes = samples * 4;
    if (bytes < 4)
        return fail(c, GM_ERR_BAD_VALUE, "pcm: at least one sample");
    msg_begin(c, &m, K_UPLOAD_SOUND);
    kv_str(&m, "sound", sound);
    key(&m, "pcm");
    {
        /* a bin header, then the samples as float32 little-endian, written in place (no copy buffer) */
        uint8_t h[5];
        size_t hl;
        if (bytes <= 0xff) {
            h[0] = 0xc4; h[1] = (uint8_t)bytes; hl = 2;
        } else if (bytes <= 0xffff) {
            h[0] = 0xc5; h[1] = (uint8_t)(bytes >> 8); h[2] = (uint8_t)bytes; hl = 3;
        } else {
            h[0] = 0xc6; h[1] = (uint8_t)(bytes >> 24); h[2] = (uint8_t)(bytes >> 16);
            h[3] = (uint8_t)(bytes >> 8); h[4] = (uint8_t)bytes; hl = 5;
        }
        if (m.e.overflow || m.e.cap - m.e.len < hl + bytes)
            return fail(c, GM_ERR_TOO_LARGE, "the frame exceeds the 4 MiB limit; nothing was sent");
        memcpy(m.e.buf + m.e.len, h, hl);
        m.e.len += hl;
        p = m.e.buf + m.e.len;
        for (k = 0; k < samples; k++) {
            uint32_t bits;
            memcpy(&bits, &pcm[k], 4);
            p[4 * k] = (uint8_t)bits;
            p[4 * k + 1] = (uint8_t)(bits >> 8);
            p[4 * k + 2] = (uint8_t)(bits >> 16);
            p[4 * k + 3] = (uint8_t)(bits >> 24);
        }
        m.e.len += bytes;
    }
    if (channels != 1)
        kv_int(&m, "channels", channels);
    kv_int(&m, "sample_rate", sample_rate);     /* the Python client always sends it */
    return send_command(c, &m, K_UPLOAD_SOUND, GM_INVALID_HANDLE, flags);
}

/* ------------------------------------------------------------ waited queries */

static gm_result simple_request(gm_client *c, enum kind kind, const gm_value **reply)
{
    msg m;
    gm_result r;
    if (reply != NULL)
        *reply = NULL;
    TRY(usable(c));
    msg_begin(c, &m, kind);
    r = request(c, &m);
    give_reply(c, reply);
    return r;
}

gm_result gm_ping(gm_client *c, const gm_value **reply)
{
    return simple_request(c, K_PING, reply);
}

gm_result gm_query(gm_client *c, const gm_value **reply)
{
    return simple_request(c, K_QUERY, reply);
}

gm_result gm_instance_info(gm_client *c, gm_handle id, const gm_value **reply)
{
    msg m;
    gm_result r;
    if (reply != NULL)
        *reply = NULL;
    TRY(usable(c));
    TRY(check_instance(c, id));
    msg_begin(c, &m, K_INSTANCE_INFO);
    kv_uint(&m, "id", id);
    r = request(c, &m);
    give_reply(c, reply);
    return r;
}

gm_result gm_sound_info(gm_client *c, const char *sound, const gm_value **reply)
{
    msg m;
    gm_result r;
    if (reply != NULL)
        *reply = NULL;
    TRY(usable(c));
    TRY(check_name(c, sound, "sound"));
    msg_begin(c, &m, K_SOUND_INFO);
    kv_str(&m, "sound", sound);
    r = request(c, &m);
    give_reply(c, reply);
    return r;
}

gm_result gm_load_scene(gm_client *c, const char *file, const gm_value **reply)
{
    msg m;
    gm_result r;
    if (reply != NULL)
        *reply = NULL;
    TRY(usable(c));
    if (file != NULL)
        TRY(check_name(c, file, "file"));
    msg_begin(c, &m, K_LOAD_SCENE);
    if (file != NULL)
        kv_str(&m, "file", file);
    r = request(c, &m);
    give_reply(c, reply);
    return r;
}

gm_result gm_clock_get(gm_client *c, gm_clock *out)
{
    const gm_value *reply = NULL, *clock;
    int64_t rate = 0;
    if (out == NULL)
        return c == NULL ? GM_ERR_INVALID_ARGUMENT : fail(c, GM_ERR_INVALID_ARGUMENT, "out: NULL");
    TRY(gm_ping(c, &reply));
    clock = gm_value_get(reply, "clock");
    if (gm_value_uint64(gm_value_get(clock, "sample"), &out->sample) != GM_OK ||
        gm_value_double(gm_value_get(clock, "time"), &out->time) != GM_OK ||
        gm_value_int64(gm_value_get(clock, "sample_rate"), &rate) != GM_OK ||
        gm_value_double(gm_value_get(clock, "latency_s"), &out->latency_s) != GM_OK)
        return fail(c, GM_ERR_BAD_REPLY, "the ping's reply has no clock");
    out->sample_rate = (int32_t)rate;
    return GM_OK;
}

/* ------------------------------------------------------------ streams */

gm_result gm_emitter(gm_client *c, gm_handle id, const gm_vec3 *position, const gm_vec3 *velocity,
                     const gm_vec3 *direction)
{
    msg m;
    TRY(usable(c));
    TRY(check_instance(c, id));
    if (position == NULL)
        return fail(c, GM_ERR_INVALID_ARGUMENT, "position: NULL");
    TRY(check_vec(c, position, "position"));
    if (velocity != NULL)
        TRY(check_vec(c, velocity, "velocity"));
    if (direction != NULL)
        TRY(check_vec(c, direction, "direction"));
    msg_begin(c, &m, K_EMITTER);
    kv_uint(&m, "id", id);
    kv_vec(&m, "position", position);
    if (velocity != NULL)
        kv_vec(&m, "velocity", velocity);
    if (direction != NULL)
        kv_vec(&m, "direction", direction);
    return send_stream(c, &m);
}

/* A list of the triples k in [a, end) of `xyz` (x,y,z each) that `PICK` keeps, `count` of them. */
#define PICK(k) (flags == NULL || flags[k] == filter)

static void enc_triples(msg *m, const char *k_name, size_t a, size_t end, uint32_t count, const double *xyz,
                        const uint8_t *flags, uint8_t filter)
{
    size_t k;
    key(m, k_name);
    gm__enc_array(&m->e, count);
    for (k = a; k < end; k++)
        if (PICK(k))
            gm__enc_vec3(&m->e, xyz + 3 * k);
}

/* `emitters` messages of the poses k in [a, b) of parallel arrays (ids, positions, velocities and
 * directions as x,y,z triples; velocities, directions or both may be NULL), those whose flags[k]
 * equal `filter` (all if flags is NULL): one message of at most GM_MAX_BATCH poses after another
 * (the protocol's limit; a full one with velocities and directions is about 95 KiB, well within the
 * frame limit). */
static gm_result send_poses(gm_client *c, size_t a, size_t b, const gm_handle *ids, const double *pos,
                            const double *vel, const double *dir, const uint8_t *flags, uint8_t filter)
{
    msg m;
    size_t k, end;
    uint32_t count;
    gm_result r = GM_OK;
    while (a < b && r == GM_OK) {
        for (count = 0, end = a; end < b && count < GM_MAX_BATCH; end++)   /* [a, end): the next message */
            if (PICK(end))
                count++;
        if (count == 0)
            break;
        msg_begin(c, &m, K_EMITTERS);
        key(&m, "ids");
        gm__enc_array(&m.e, count);
        for (k = a; k < end; k++)
            if (PICK(k))
                gm__enc_uint(&m.e, ids[k]);
        enc_triples(&m, "positions", a, end, count, pos, flags, filter);
        if (vel != NULL)
            enc_triples(&m, "velocities", a, end, count, vel, flags, filter);
        if (dir != NULL)
            enc_triples(&m, "directions", a, end, count, dir, flags, filter);
        r = send_stream(c, &m);
        a = end;
    }
    return r;
}
#undef PICK

gm_result gm_emitters(gm_client *c, size_t count, const gm_handle *ids, const gm_vec3 *positions,
                      const gm_vec3 *velocities, const gm_vec3 *directions)
{
    size_t k;
    TRY(usable(c));
    if (count == 0)
        return GM_OK;                  /* nothing to move: nothing is sent (the server would accept it) */
    if (ids == NULL || positions == NULL)
        return fail(c, GM_ERR_INVALID_ARGUMENT, "ids, positions: NULL");
    for (k = 0; k < count; k++) {
        TRY(check_instance(c, ids[k]));
        TRY(check_vec(c, &positions[k], "positions"));
        if (velocities != NULL)
            TRY(check_vec(c, &velocities[k], "velocities"));
        if (directions != NULL)
            TRY(check_vec(c, &directions[k], "directions"));
    }
    /* gm_vec3 is three doubles (checked at compile time below): read as x, y, z triples */
    return send_poses(c, 0, count, ids, (const double *)(const void *)positions,
                      (const double *)(const void *)velocities, (const double *)(const void *)directions, NULL, 0);
}

typedef char gm_vec3_is_three_doubles[sizeof(gm_vec3) == 3 * sizeof(double) ? 1 : -1];

static void put_triple(double *dst, const gm_vec3 *v)
{
    dst[0] = v->x;
    dst[1] = v->y;
    dst[2] = v->z;
}

gm_result gm_pose_add(gm_client *c, gm_handle id, const gm_vec3 *position, const gm_vec3 *velocity,
                      const gm_vec3 *direction)
{
    uint32_t k;
    uint8_t flags = 0;
    TRY(usable(c));
    TRY(check_instance(c, id));
    if (position == NULL)
        return fail(c, GM_ERR_INVALID_ARGUMENT, "position: NULL");
    TRY(check_vec(c, position, "position"));
    if (velocity != NULL)
        TRY(check_vec(c, velocity, "velocity"));
    if (direction != NULL)
        TRY(check_vec(c, direction, "direction"));
    if (c->pose_count >= c->pose_cap)
        return fail(c, GM_ERR_BATCH_FULL, "the pose batch is full: gm_pose_flush() it");
    k = c->pose_count++;
    c->pose_ids[k] = id;
    put_triple(c->pose_pos + 3 * k, position);
    if (velocity != NULL) {
        put_triple(c->pose_vel + 3 * k, velocity);
        flags |= POSE_VELOCITY;
    }
    if (direction != NULL) {
        put_triple(c->pose_dir + 3 * k, direction);
        flags |= POSE_DIRECTION;
    }
    c->pose_flags[k] = flags;
    c->pose_kinds[flags]++;
    return GM_OK;
}

static void pose_empty(gm_client *c)
{
    c->pose_count = 0;
    memset(c->pose_kinds, 0, sizeof c->pose_kinds);
}

gm_result gm_pose_flush(gm_client *c)
{
    gm_result r = GM_OK;
    size_t n;
    uint8_t kind;
    TRY(usable(c));
    n = c->pose_count;
    /* one set of messages per kind of pose (position only, + velocity, + direction, + both): a
     * message's velocities and directions are all or nothing.  A batch of one kind goes unfiltered. */
    for (kind = 0; kind < 4 && r == GM_OK; kind++) {
        if (c->pose_kinds[kind] == 0)
            continue;
        r = send_poses(c, 0, n, c->pose_ids, c->pose_pos, (kind & POSE_VELOCITY) ? c->pose_vel : NULL,
                       (kind & POSE_DIRECTION) ? c->pose_dir : NULL,
                       c->pose_kinds[kind] == n ? NULL : c->pose_flags, kind);
    }
    pose_empty(c);
    return r;
}

size_t gm_pose_count(const gm_client *c)
{
    return c == NULL ? 0 : c->pose_count;
}

void gm_pose_clear(gm_client *c)
{
    if (c != NULL)
        pose_empty(c);
}

gm_result gm_listener(gm_client *c, const gm_vec3 *position, const gm_vec3 *forward, const gm_vec3 *up,
                      const gm_vec3 *velocity, int index, int remove)
{
    static const gm_vec3 origin = {0.0, 0.0, 0.0}, ahead = {0.0, 0.0, -1.0}, above = {0.0, 1.0, 0.0};
    msg m;
    TRY(usable(c));
    if (position == NULL)
        position = &origin;
    if (forward == NULL)
        forward = &ahead;
    if (up == NULL)
        up = &above;
    if (velocity == NULL)
        velocity = &origin;
    TRY(check_vec(c, position, "position"));
    TRY(check_vec(c, forward, "forward"));
    TRY(check_vec(c, up, "up"));
    TRY(check_vec(c, velocity, "velocity"));
    if (index < 0 || index > 3)
        return fail(c, GM_ERR_BAD_VALUE, "index: 0 to 3");
    msg_begin(c, &m, K_LISTENER);
    kv_vec(&m, "position", position);
    kv_vec(&m, "forward", forward);
    kv_vec(&m, "up", up);
    kv_vec(&m, "velocity", velocity);
    if (index != 0)
        kv_int(&m, "index", index);
    if (remove)
        kv_bool(&m, "remove", 1);
    return send_stream(c, &m);
}

/* ------------------------------------------------------------ telemetry */

static gm_result subscribe_locked(gm_client *c)
{
    if (c->sub != NULL)
        return GM_OK;
    c->sub = make_socket(c, ZMQ_SUB, c->endpoints[2]);
    if (c->sub == NULL)
        return GM_ERR_TRANSPORT;
    if (zmq_setsockopt(c->sub, ZMQ_SUBSCRIBE, "", 0) != 0) {
        zmq_close(c->sub);
        c->sub = NULL;
        return GM_ERR_TRANSPORT;
    }
    return GM_OK;
}

gm_result gm_telemetry_subscribe(gm_client *c)
{
    gm_result r;
    if (c == NULL)
        return GM_ERR_INVALID_ARGUMENT;
    if (c->closed)
        return GM_ERR_CLOSED;
    mutex_lock(&c->tele_lock);
    r = subscribe_locked(c);
    mutex_unlock(&c->tele_lock);
    return r;
}

gm_result gm_telemetry(gm_client *c, double timeout_s, const gm_value **frame)
{
    gm_result r;
    double deadline;
    if (frame != NULL)
        *frame = NULL;
    if (c == NULL || frame == NULL)
        return GM_ERR_INVALID_ARGUMENT;
    if (!isfinite(timeout_s) || timeout_s < 0)
        return GM_ERR_BAD_VALUE;
    if (c->closed)
        return GM_ERR_CLOSED;
    mutex_lock(&c->tele_lock);
    r = subscribe_locked(c);
    deadline = mono_now() + timeout_s;
    while (r == GM_OK) {
        zmq_pollitem_t item;
        zmq_msg_t z;
        int n;
        item.socket = c->sub;
        item.fd = 0;
        item.events = ZMQ_POLLIN;
        item.revents = 0;
        n = zmq_poll(&item, 1, ms_until(deadline));
        if (n < 0 && zmq_errno() == EINTR)
            continue;
        if (n <= 0) {
            r = GM_ERR_TIMEOUT;
            break;
        }
        zmq_msg_init(&z);
        if (zmq_msg_recv(&z, c->sub, ZMQ_DONTWAIT) >= 0) {
            gm__dec_status st = gm__doc_decode_frame(&c->tele, (const uint8_t *)zmq_msg_data(&z), zmq_msg_size(&z));
            zmq_msg_close(&z);
            if (st == GM__DEC_OK) {
                *frame = gm__doc_root(&c->tele);
                break;
            }
            r = st == GM__DEC_NO_MEMORY ? GM_ERR_NO_MEMORY : GM_ERR_BAD_REPLY;
            break;
        }
        zmq_msg_close(&z);
    }
    mutex_unlock(&c->tele_lock);
    return r;
}

/* ------------------------------------------------------------ about */

uint32_t gm_max_frame_bytes(void) { return GM_MAX_FRAME_BYTES; }
uint32_t gm_max_batch(void) { return GM_MAX_BATCH; }
uint32_t gm_protocol_version(void) { return GM_PROTOCOL_VERSION; }
const char *gm_version(void) { return GM_VERSION_STRING; }

/* ------------------------------------------------------------ internal, for the library's tests */

int gm__feed_command_frame(gm_client *c, const void *frame, size_t len)
{
    uint64_t before = c->bad_frames;
    take_frame(c, (const uint8_t *)frame, len, 0);
    return c->bad_frames == before;
}

int gm__feed_telemetry_frame(gm_client *c, const void *frame, size_t len, const gm_value **root)
{
    gm__dec_status st = gm__doc_decode_frame(&c->tele, (const uint8_t *)frame, len);
    *root = st == GM__DEC_OK ? gm__doc_root(&c->tele) : NULL;
    return (int)st;
}

uint64_t gm__bad_frames(const gm_client *c)
{
    return c->bad_frames;
}

void gm__remember_posted(gm_client *c, uint64_t rid, const char *kind, gm_handle instance)
{
    posted_entry *p = &c->posted[rid % c->posted_cap];
    int k;
    p->rid = rid;
    p->instance = instance;
    p->kind = K_PLAY;
    for (k = 0; k < K_COUNT; k++)
        if (strcmp(KIND_NAMES[k], kind) == 0)
            p->kind = (uint8_t)k;
}
