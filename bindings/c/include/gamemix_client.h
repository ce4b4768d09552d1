/*
 * gamemix_client.h: the C client of `gamemix serve` (protocol version 1).
 *
 * A C99 library over libzmq that mirrors the Python client
 * (gamemix/live/client.py): one function per message kind of the protocol
 * (gamemix/protocol/messages.py), each named `gm_<kind>`, plus the session,
 * notices, pose batching and telemetry around them.  The wire protocol is
 * docs/protocol.md; how to use it in an engine is docs/integrating.md.
 *
 * Model (as the Python client):
 *   - gm_client_create() connects (it does not wait); gm_wait_ready() waits
 *     until the server is ready and opens a session (`hello`): the server
 *     grants the client a range of 2^40 instance ids, and gm_play() /
 *     gm_event() take the next one as the handle, at once, before the server
 *     has seen the message.
 *   - Commands are POSTED by default: sent on the command socket, the call
 *     returns at once.  Their refusals, and what happens to each instance
 *     (started, virtual, real, stolen, paused, resumed, refused, ended),
 *     arrive as notices that gm_poll() returns; call it once per game frame.
 *     With GM_WAIT a command waits for its reply (at most the timeout) and
 *     returns the server's refusal as its result.
 *   - Poses, the listener and per-frame parameters go on the stream socket
 *     (no reply), and so may occlusion and aux sends (GM_STREAM).
 *     gm_pose_add() + gm_pose_flush() batch a frame's poses into one
 *     `emitters` message, without allocating.
 *   - Telemetry frames are read from the telemetry socket by gm_telemetry().
 *
 * Errors: every function that can fail returns a gm_result.  Problems found
 * before anything is sent (a NULL pointer, NaN, a value out of the protocol's
 * range, a frame over the 4 MiB limit, no session, a closed client) are
 * returned at once and nothing is sent.  The server's refusals carry the
 * protocol's stable codes, each a gm_result (GM_ERR_UNKNOWN_SOUND, ...).
 * gm_error_string() describes a result; gm_last_error() gives the message of
 * the last failure on a client.
 *
 * Threads: a gm_client is NOT thread-safe: use one per thread that sends
 * (as the Python client).  The one exception is gm_telemetry() (and
 * gm_telemetry_subscribe()), which another thread (a HUD, a logger) may
 * call while the game thread uses the client: it has its own socket, its
 * own decoded frame and a lock.  gm_client_close() and gm_client_free()
 * must not race with any other call on the client.  The library starts no
 * thread of its own besides libzmq's I/O thread, and calls no callback:
 * everything the server says comes out of gm_poll() on the caller's thread.
 * Functions that take no gm_client (gm_error_string, the gm_value_* readers
 * on a value the caller owns, ...) are thread-safe.  There is no global
 * state: each client has its own ZeroMQ context.
 *
 * Memory: everything a client needs (the 4 MiB frame buffer, the pose batch,
 * the notice ring, the table of posted commands and of instance states) is
 * allocated by gm_client_create(), through the allocator in gm_options if
 * one is given.  Sending allocates nothing in this library (libzmq copies
 * each frame it queues); decoding a reply grows a reusable buffer only when a
 * reply is larger than any before it.
 */
#ifndef GAMEMIX_CLIENT_H
#define GAMEMIX_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32) && defined(GAMEMIX_CLIENT_SHARED)
#  ifdef GAMEMIX_CLIENT_BUILDING
#    define GM_API __declspec(dllexport)
#  else
#    define GM_API __declspec(dllimport)
#  endif
#elif defined(__GNUC__) && __GNUC__ >= 4
#  define GM_API __attribute__((visibility("default")))
#else
#  define GM_API
#endif

/* ------------------------------------------------------------------ constants */

#define GM_PROTOCOL_VERSION 1             /* the `v` of every frame */
#define GM_MAX_FRAME_BYTES 4194304        /* 4 MiB: the server's ZeroMQ MAXMSGSIZE (gamemix.protocol.wire) */
#define GM_MAX_BATCH 1024                 /* ids in one `emitters` message (gamemix.protocol.messages);
                                           * gm_emitters and gm_pose_flush send more as several */
#define GM_MAX_POSES 65536                /* pose_capacity's upper bound */
#define GM_MAX_NAME_CHARS 128             /* names (`sound`, `name`, `bus`, `vca`, `zone`, `file`): 1-128 characters */
#define GM_MAX_COORDINATE 1e7             /* coordinates, velocities and directions: finite, within +-1e7 */
#define GM_MAX_AUX_SENDS 8                /* buses one `aux_sends` names (gamemix.protocol.messages.MAX_AUX_SENDS) */
#define GM_NAMESPACE_BITS 40              /* a session owns the ids [k * 2^40, (k + 1) * 2^40) */

#define GM_DEFAULT_COMMANDS "tcp://127.0.0.1:5560"
#define GM_DEFAULT_STREAMS "tcp://127.0.0.1:5561"
#define GM_DEFAULT_TELEMETRY "tcp://127.0.0.1:5562"

/* ------------------------------------------------------------------ results */

/* The result of a call.  GM_OK is 0; local problems are 1-99; the server's
 * stable codes (docs/protocol.md, Error codes) are 100 and up, one each. */
typedef enum gm_result {
    GM_OK = 0,
    /* found by this library; nothing was sent */
    GM_ERR_INVALID_ARGUMENT = 1,  /* a NULL pointer where one is needed, a bad option */
    GM_ERR_BAD_VALUE = 2,         /* NaN, Inf, out of the protocol's range, a bad name (also the server's `bad_value`) */
    GM_ERR_TOO_LARGE = 3,         /* the frame would exceed GM_MAX_FRAME_BYTES (the server's `too_large`) */
    GM_ERR_INVALID_HANDLE = 4,    /* GM_INVALID_HANDLE, or an id >= 2^63 (2^62 for an id the game chooses) */
    GM_ERR_CLOSED = 5,            /* the client was closed with gm_client_close() */
    GM_ERR_NO_SESSION = 6,        /* a play without a session: call gm_wait_ready() first */
    GM_ERR_QUEUE_FULL = 7,        /* ZeroMQ's queue to the server is full (is it running?) */
    GM_ERR_TIMEOUT = 8,           /* no reply within the timeout (the command socket was rebuilt) */
    GM_ERR_BATCH_FULL = 9,        /* the pose batch holds pose_capacity poses: flush it */
    GM_ERR_NO_MEMORY = 10,        /* the allocator failed */
    GM_ERR_TRANSPORT = 11,        /* ZeroMQ failed (gm_last_error() says how) */
    GM_ERR_BAD_REPLY = 12,        /* the server sent a frame this library cannot read */
    GM_ERR_NOT_FOUND = 13,        /* gm_value_*: no such key or index, or not of that type */
    GM_ERR_NO_SESSION_YET = 14,   /* gm_session_get() before a session was opened */
    /* refused by the server: the protocol's codes */
    GM_ERR_BAD_FRAME = 100,
    GM_ERR_BAD_VERSION = 101,
    GM_ERR_UNKNOWN_TYPE = 102,
    GM_ERR_UNKNOWN_FIELD = 103,
    GM_ERR_NOT_READY = 104,
    GM_ERR_BUSY = 105,
    GM_ERR_EXPIRED = 106,
    GM_ERR_BAD_PATH = 107,
    GM_ERR_BAD_SCENE = 108,
    GM_ERR_UNKNOWN_SOUND = 109,
    GM_ERR_DUPLICATE_ID = 110,
    GM_ERR_VOICE_LIMIT = 111,
    GM_ERR_UNKNOWN_EVENT = 112,
    GM_ERR_UNKNOWN_PARAMETER = 113,
    GM_ERR_OUT_OF_RANGE = 114,
    GM_ERR_UNKNOWN_SNAPSHOT = 115,
    GM_ERR_UNKNOWN_INSTANCE = 116,
    GM_ERR_UNKNOWN_BUS = 117,
    GM_ERR_UNKNOWN_VCA = 118,
    GM_ERR_UNKNOWN_OBJECT = 119,
    GM_ERR_OBJECT_LIMIT = 120,
    GM_ERR_NOT_UPLOADABLE = 121,
    GM_ERR_BAD_UPLOAD = 122,
    GM_ERR_SOUND_BUSY = 123,
    GM_ERR_PENDING_LIMIT = 124,
    GM_ERR_INTERNAL_ERROR = 125,
    GM_ERR_UNKNOWN_MESSAGE = 126,
    GM_ERR_UNKNOWN_ZONE = 127,    /* `occlusion` names a zone the scene lacks */
    GM_ERR_SERVER_OTHER = 199     /* a code this library does not know (a newer server): gm_last_error_code() */
} gm_result;

/* A short description of a result ("unknown sound: play named a sound the scene lacks").
 * Never NULL; thread-safe. */
GM_API const char *gm_error_string(gm_result result);

/* The protocol's code of a result ("unknown_sound", "bad_value"), or this library's name for a
 * local one ("no_session", "queue_full", "closed", ...); "ok" for GM_OK.  Never NULL; thread-safe. */
GM_API const char *gm_result_code(gm_result result);

/* The result of a protocol code string; GM_ERR_SERVER_OTHER for a code it does not know, or NULL.
 * Thread-safe. */
GM_API gm_result gm_result_from_code(const char *code);

/* ------------------------------------------------------------------ types */

typedef struct gm_client gm_client;   /* opaque: a connection to one server */
typedef uint64_t gm_handle;           /* an instance: a play or an event */

#define GM_INVALID_HANDLE UINT64_MAX  /* no instance (returned on failure; never valid) */
#define GM_AUTO_ID UINT64_MAX         /* in gm_play_args / gm_event_args: take the session's next handle */
#define GM_NOW (-1)                   /* at_sample arguments: now (the next block) */
#define GM_DEFAULT (-1.0)             /* optional seconds / percent arguments: the scene's own value */
#define GM_UNCHANGED (-1.0)           /* gm_occlusion's factors: left out of the message (the value stays) */
#define GM_NO_OBJECT UINT64_MAX       /* gm_occlusion / gm_aux_sends: no game object (the target is another) */

/* Flags of posted commands. */
#define GM_WAIT 1u                    /* wait for the reply; a refusal is the result (default: posted) */
#define GM_STREAM 2u                  /* gm_occlusion, gm_aux_sends only: send on the stream socket (no reply,
                                       * never blocks), for a value the game updates every frame */

typedef struct gm_vec3 { double x, y, z; } gm_vec3;

/* A custom allocator (as FMOD_Memory_Initialize): all memory the library allocates goes through it. */
typedef struct gm_allocator {
    void *(*alloc)(void *user, size_t size);   /* NULL: malloc */
    void (*free)(void *user, void *ptr);       /* NULL: free; called with what alloc returned */
    void *user;
} gm_allocator;

typedef struct gm_options {
    const char *commands;         /* DEALER endpoint; NULL: GM_DEFAULT_COMMANDS */
    const char *streams;          /* PUSH endpoint; NULL: GM_DEFAULT_STREAMS */
    const char *telemetry;        /* SUB endpoint; NULL: GM_DEFAULT_TELEMETRY */
    double timeout_s;             /* how long a waited call waits, and every command's ttl; default 2 */
    const char *name;             /* the session's name in the server's logs; NULL: none */
    uint32_t pose_capacity;       /* poses one gm_pose_flush() holds, 1..65536; default 4096 */
    uint32_t notice_capacity;     /* notices kept for gm_poll(); beyond, the oldest are dropped; default 4096 */
    uint32_t posted_capacity;     /* posted commands whose reply is awaited; beyond, the oldest are forgotten; 16384 */
    uint32_t instance_capacity;   /* instances whose state gm_instance_state() tracks; default 16384 */
    uint32_t stream_hwm;          /* stream frames ZeroMQ queues before GM_ERR_QUEUE_FULL; default 100000 */
    /* CURVE (docs/protocol.md, Remote use): Z85 keys of 40 characters, all three or none */
    const char *curve_server_public;
    const char *curve_public;
    const char *curve_secret;
    gm_allocator allocator;
} gm_options;

/* The options' defaults (every field).  Thread-safe. */
GM_API void gm_options_init(gm_options *options);

/* ------------------------------------------------------------------ lifecycle
 * Thread-safety: gm_options_init and gm_client_create are thread-safe; the others act on one client,
 * from one thread at a time, and gm_client_close / gm_client_free must not race with any call on it. */

/* Make a client and connect its sockets (connecting does not wait for a server).  `options` may be
 * NULL for the defaults.  On success *out is the client; on failure *out is NULL.
 * Thread-safe (each client is independent). */
GM_API gm_result gm_client_create(const gm_options *options, gm_client **out);

/* Close the client's sockets.  Every later call on it returns GM_ERR_CLOSED (gm_poll() still hands
 * out the notices already received).  Idempotent; NULL is GM_ERR_INVALID_ARGUMENT. */
GM_API gm_result gm_client_close(gm_client *client);

/* Close (if not closed) and free the client.  NULL is allowed.  The client must not be used after. */
GM_API void gm_client_free(gm_client *client);

/* Wait until the server is ready and open a session (`hello` retried every 0.25 s while the server
 * answers `not_ready` or does not answer), at most `timeout_s` seconds.  GM_ERR_TIMEOUT if it is not
 * ready by then.  Blocks.  Call it during the loading screen, and again after a server restart. */
GM_API gm_result gm_wait_ready(gm_client *client, double timeout_s);

typedef struct gm_session {
    int64_t session;              /* the session number k >= 1 */
    gm_handle first, end;         /* the ids granted: [first, end) */
    int32_t sample_rate, block_size;
} gm_session;

/* The session opened by the last successful hello.  GM_ERR_NO_SESSION_YET before. */
GM_API gm_result gm_session_get(const gm_client *client, gm_session *out);

/* ------------------------------------------------------------------ notices
 * Thread-safety: the game thread's (the client's sending thread); not with other calls on the client. */

typedef enum gm_event_kind {
    GM_EVENT_STARTED = 1,   /* its first voice started; `sample` is the sample it started on */
    GM_EVENT_VIRTUAL,       /* a voice went virtual */
    GM_EVENT_REAL,          /* a voice became real again */
    GM_EVENT_STOLEN,        /* a voice was stolen for a more important play */
    GM_EVENT_PAUSED,
    GM_EVENT_RESUMED,
    GM_EVENT_REFUSED,       /* refused: `code`, `message`; `kind` for a refused posted command */
    GM_EVENT_ENDED,         /* its last voice ended: always its last notice */
    GM_EVENT_OTHER          /* an event this library does not know (a newer server): see `event_name` */
} gm_event_kind;

#define GM_NOTICE_MESSAGE_MAX 256

/* One notice: about an instance of this client's session, or the refusal of a posted command. */
typedef struct gm_notice {
    gm_handle id;                 /* the instance; GM_INVALID_HANDLE for a refusal that concerns none */
    gm_event_kind event;
    int64_t block;                /* the block it happened in; -1 for a refused posted command */
    int64_t sample;               /* GM_EVENT_STARTED: the sample of the mixer's clock; else -1 */
    gm_result code;               /* GM_EVENT_REFUSED: why; else GM_OK */
    char event_name[16];          /* "started", ...: the protocol's word */
    char kind[24];                /* a refused posted command: its message kind ("play"); else "" */
    char code_name[32];           /* the protocol's code ("unknown_sound"); else "" */
    char message[GM_NOTICE_MESSAGE_MAX];   /* the server's message (cut to fit, at a character boundary) */
} gm_notice;

/* Read what arrived on the command socket and hand out up to `capacity` notices, oldest first:
 * lifecycle notices of this session's instances, and refusals of posted commands.  What does not
 * fit stays for the next call.  Never blocks.  *count is how many were written.  Call it once per
 * frame (like FMOD's update).  Works on a closed client too (the notices already received). */
GM_API gm_result gm_poll(gm_client *client, gm_notice *notices, size_t capacity, size_t *count);

/* Notices dropped because the ring was full (notice_capacity), since the client was made. */
GM_API uint64_t gm_notices_dropped(const gm_client *client);

typedef enum gm_state {
    GM_STATE_NONE = 0,      /* not an instance this client tracks, or it ended or was refused */
    GM_STATE_POSTED,        /* sent; no notice yet */
    GM_STATE_STARTED,       /* playing (after started, resumed or real) */
    GM_STATE_VIRTUAL,
    GM_STATE_PAUSED,
    GM_STATE_STOLEN
} gm_state;

/* The last known state of an instance this client played or posted (as of the last gm_poll()),
 * as the Python client's state(). */
GM_API gm_state gm_instance_state(const gm_client *client, gm_handle id);

/* The last failure on this client: its message (the server's, or this library's), its protocol
 * code and the offending field (the server's `error.field`, "" if none).  Never NULL; "" after a
 * success.  Valid until the next call on the client. */
GM_API const char *gm_last_error(const gm_client *client);
GM_API const char *gm_last_error_code(const gm_client *client);
GM_API const char *gm_last_error_field(const gm_client *client);

/* ------------------------------------------------------------------ decoded values
 * Thread-safety: the readers are pure functions of the value; a value lives in its client's buffer,
 * so read it on the thread that received it (the game thread, or the telemetry thread for frames). */

/* A read-only node of a decoded reply or telemetry frame (msgpack).  Owned by the client: valid
 * until the next call that receives on the same socket (a waited call or gm_poll() for replies,
 * gm_telemetry() for telemetry).  Every reader accepts NULL and says GM_ERR_NOT_FOUND / 0 / NULL. */
typedef struct gm_value gm_value;

typedef enum gm_value_type {
    GM_VALUE_NONE = 0,      /* NULL: absent */
    GM_VALUE_NIL, GM_VALUE_BOOL, GM_VALUE_INT, GM_VALUE_UINT /* > INT64_MAX */, GM_VALUE_FLOAT,
    GM_VALUE_STR, GM_VALUE_BIN, GM_VALUE_ARRAY, GM_VALUE_MAP, GM_VALUE_EXT
} gm_value_type;

GM_API gm_value_type gm_value_type_of(const gm_value *value);
/* Elements of an array, pairs of a map, bytes of a string, bin or ext. */
GM_API size_t gm_value_count(const gm_value *value);
/* Element i of an array; NULL if out of range or not an array. */
GM_API const gm_value *gm_value_at(const gm_value *array, size_t i);
/* Key and value of pair i of a map. */
GM_API const gm_value *gm_value_key_at(const gm_value *map, size_t i);
GM_API const gm_value *gm_value_value_at(const gm_value *map, size_t i);
/* The value of a string key of a map (the last one, if a key repeats); NULL if absent. */
GM_API const gm_value *gm_value_get(const gm_value *map, const char *key);
/* A dotted path of keys and array indexes: "buses.master.peak_dbfs", "ids.0". */
GM_API const gm_value *gm_value_path(const gm_value *value, const char *path);
GM_API gm_result gm_value_int64(const gm_value *value, int64_t *out);     /* INT, or UINT that fits */
GM_API gm_result gm_value_uint64(const gm_value *value, uint64_t *out);   /* non-negative INT, or UINT */
GM_API gm_result gm_value_double(const gm_value *value, double *out);     /* FLOAT, INT or UINT */
GM_API gm_result gm_value_bool(const gm_value *value, int *out);
/* A string's UTF-8 bytes, NUL-terminated (*len, if not NULL, without the NUL); NULL if not a string. */
GM_API const char *gm_value_str(const gm_value *value, size_t *len);
/* A bin's (or ext's) bytes; NULL if neither. */
GM_API const void *gm_value_bin(const gm_value *value, size_t *len);
/* The value as JSON (NaN and infinities as Python's json writes them; bin and ext as hex strings),
 * snprintf-style: writes at most `size` bytes, NUL included, and returns the length it needs. */
GM_API size_t gm_value_to_json(const gm_value *value, char *buf, size_t size);

/* The `data` of the last successful waited reply on the command socket (NULL if none). */
GM_API const gm_value *gm_last_reply(const gm_client *client);

/* ------------------------------------------------------------------ commands (posted, or GM_WAIT)
 *
 * Every command below is sent on the command socket with a fresh request id, the send time `t` and a
 * time to live `ttl` equal to the timeout (a command the server gets later is answered `expired`,
 * never carried out late).  Posted (flags 0): returns GM_OK once ZeroMQ queued it (GM_ERR_QUEUE_FULL
 * if it cannot); a refusal arrives through gm_poll().  With GM_WAIT: blocks until the reply (at most
 * the timeout) and returns the server's code on a refusal; the reply's data is gm_last_reply().
 * Thread-safety: the game thread's (the client's sending thread); not with other calls on the client.
 */

typedef struct gm_play_args {
    gm_handle id;                 /* GM_AUTO_ID (default): the session's next handle; else an id < 2^62 */
    int has_position; gm_vec3 position;   /* [0,0,0] if absent; 3D sounds only */
    int has_velocity; gm_vec3 velocity;   /* m/s, for Doppler */
    double volume_db;             /* -144..24, added to the sound's (0) */
    double pitch_semitones;       /* -48..48 (0) */
    double fade_in;               /* 0..3600 s (0) */
    int has_pan; double pan;      /* -1..1, a 2D sound's pan */
    int has_loops; int32_t loops; /* -1 for ever, 0 once, N more times */
    int has_at_sample; uint64_t at_sample;  /* start on this sample of the mixer's clock */
    int has_object; uint64_t object;        /* play on this game object (< 2^62) */
    int has_direction; gm_vec3 direction;   /* where a 3D sound faces (its `spatial.cone`); any length, 0: none */
} gm_play_args;

#define GM_PLAY_ARGS_INIT {GM_AUTO_ID, 0, {0, 0, 0}, 0, {0, 0, 0}, 0.0, 0.0, 0.0, 0, 0.0, 0, 0, 0, 0, 0, 0, \
                           0, {0, 0, 0}}
GM_API void gm_play_args_init(gm_play_args *args);

/* `play`: start a sound.  `args` may be NULL (defaults).  *out_id is the handle: at once when posted
 * (from the session: GM_ERR_NO_SESSION without one, unless args->id is given), or the id of the
 * reply with GM_WAIT (the mixer assigns one if args->id is GM_AUTO_ID). */
GM_API gm_result gm_play(gm_client *client, const char *sound, const gm_play_args *args, unsigned flags,
                         gm_handle *out_id);

typedef struct gm_event_args {
    gm_handle id;                 /* GM_AUTO_ID: the session's next handle (the mixer's without a session) */
    int has_position; gm_vec3 position;
    int has_velocity; gm_vec3 velocity;
    int has_at_sample; uint64_t at_sample;
    int has_object; uint64_t object;
    int has_direction; gm_vec3 direction;   /* where its emitter faces (cones); any length, 0: none */
} gm_event_args;

#define GM_EVENT_ARGS_INIT {GM_AUTO_ID, 0, {0, 0, 0}, 0, {0, 0, 0}, 0, 0, 0, 0, 0, {0, 0, 0}}
GM_API void gm_event_args_init(gm_event_args *args);

/* `event`: post a scene event.  *out_id (may be NULL) is its handle (GM_INVALID_HANDLE when posted
 * without a session: the mixer names it); with GM_WAIT the reply ({"id", "refused": [...]}) is
 * gm_last_reply(). */
GM_API gm_result gm_event(gm_client *client, const char *name, const gm_event_args *args, unsigned flags,
                          gm_handle *out_id);

/* `stop`: stop an instance, fading out over `fade` s (0..3600), at `at_sample` or GM_NOW.
 * A handle that ended is refused by the server (`unknown_instance`, through gm_poll()). */
GM_API gm_result gm_stop(gm_client *client, gm_handle id, double fade, int64_t at_sample, unsigned flags);

typedef struct gm_instance_args {
    int has_volume_db; double volume_db;              /* replaces the play's offset; glides over fade */
    int has_pitch_semitones; double pitch_semitones;
    int has_pan; double pan;
    int has_position; gm_vec3 position;
    int has_velocity; gm_vec3 velocity;
    double fade;                                      /* seconds the volume glides (0) */
    int has_direction; gm_vec3 direction;             /* where a 3D instance faces; any length, 0: none */
} gm_instance_args;

#define GM_INSTANCE_ARGS_INIT {0, 0.0, 0, 0.0, 0, 0.0, 0, {0, 0, 0}, 0, {0, 0, 0}, 0.0, 0, {0, 0, 0}}
GM_API void gm_instance_args_init(gm_instance_args *args);

/* `set_instance`: change a playing instance (what `args` has; the rest stays): volume and pitch
 * offsets, a 2D one's pan, a 3D one's position, velocity and direction. */
GM_API gm_result gm_set_instance(gm_client *client, gm_handle id, const gm_instance_args *args, unsigned flags);

/* `pause`: pause (paused != 0) or resume an instance, fading over `fade` s. */
GM_API gm_result gm_pause(gm_client *client, gm_handle id, int paused, double fade, unsigned flags);
/* `pause` with paused false. */
GM_API gm_result gm_resume(gm_client *client, gm_handle id, double fade, unsigned flags);

/* `seek`: move an instance's voices to `seconds` (0..86400) into their files. */
GM_API gm_result gm_seek(gm_client *client, gm_handle id, double seconds, unsigned flags);

/* `set_parameter`: set a global game parameter (it glides at its seek speed). */
GM_API gm_result gm_set_parameter(gm_client *client, const char *name, double value, unsigned flags);
/* `set_parameter` with `id`: an instance's own value of a parameter declared `scope: instance`. */
GM_API gm_result gm_set_instance_parameter(gm_client *client, gm_handle id, const char *name, double value,
                                           unsigned flags);
/* `set_parameter` with `object`: a game object's value, which the instances on it take. */
GM_API gm_result gm_set_object_parameter(gm_client *client, uint64_t object, const char *name, double value,
                                         unsigned flags);

/* `snapshot_start`: start a snapshot at `intensity` % (0..100, or GM_DEFAULT) over `fade` s (or GM_DEFAULT). */
GM_API gm_result gm_snapshot_start(gm_client *client, const char *name, double intensity, double fade,
                                   unsigned flags);
/* `snapshot_stop`: fade a snapshot out over `fade` s (or GM_DEFAULT). */
GM_API gm_result gm_snapshot_stop(gm_client *client, const char *name, double fade, unsigned flags);
/* `snapshot_intensity`: set an active snapshot's intensity (0..100 %). */
GM_API gm_result gm_snapshot_intensity(gm_client *client, const char *name, double intensity, unsigned flags);

/* `bus_volume`: move a bus fader to `volume_db` (-144..24) over `fade` s. */
GM_API gm_result gm_bus_volume(gm_client *client, const char *bus, double volume_db, double fade, unsigned flags);
/* `bus_mute`: mute (mute != 0) or unmute a bus over `fade` s. */
GM_API gm_result gm_bus_mute(gm_client *client, const char *bus, int mute, double fade, unsigned flags);
/* `vca_volume`: move a VCA to `volume_db` (-144..24) over `fade` s. */
GM_API gm_result gm_vca_volume(gm_client *client, const char *vca, double volume_db, double fade, unsigned flags);

/* `reset_meters`: restart the loudness meters of `bus`, or of every bus if NULL. */
GM_API gm_result gm_reset_meters(gm_client *client, const char *bus, unsigned flags);

/* `object`: place (and turn) a game object (< 2^62; created the first time), moving what plays on it:
 * a stream message (`velocity` and `direction` may be NULL: unchanged; `position` NULL: [0,0,0]).
 * With remove != 0, remove it and stop what plays on it over `fade` s: a posted command (GM_WAIT waits). */
GM_API gm_result gm_object(gm_client *client, uint64_t object, const gm_vec3 *position, const gm_vec3 *velocity,
                           const gm_vec3 *direction, int remove, double fade, unsigned flags);

/* `occlusion`: how muffled an instance `id`, the instances on game object `object`, or the emitters
 * in zone `zone` are: `occlusion` (a wall between: the direct sound and its sends) and `obstruction`
 * (something in the way: the direct sound only), each 0..1, or GM_UNCHANGED (left out: it stays);
 * what 1 does is the sound's (`spatial.occlusion`, `spatial.obstruction`).  Name exactly one target:
 * `id` (GM_INVALID_HANDLE: none), `object` (GM_NO_OBJECT: none) or `zone` (NULL: none); a zone takes
 * `occlusion` only (its walls, for a listener outside it).  Else GM_ERR_BAD_VALUE, nothing sent (as
 * the server's `bad_value`).  Posted (GM_WAIT waits; an unknown zone is GM_ERR_UNKNOWN_ZONE), or with
 * GM_STREAM a stream message, for a value updated every frame (GM_STREAM | GM_WAIT is
 * GM_ERR_INVALID_ARGUMENT). */
GM_API gm_result gm_occlusion(gm_client *client, gm_handle id, uint64_t object, const char *zone, double occlusion,
                              double obstruction, unsigned flags);

/* One entry of an `aux_sends` message. */
typedef struct gm_aux_send {
    const char *bus;              /* an auxiliary bus (`auxiliary: true`, or a zone's send target) */
    double volume_db;             /* the send level, -144..24 dB */
} gm_aux_send;

/* `aux_sends`: the levels instance `id` (GM_INVALID_HANDLE: none), or the instances on game object
 * `object` (GM_NO_OBJECT: none), feed auxiliary buses at: `count` entries (0..GM_MAX_AUX_SENDS; `sends`
 * may be NULL when 0), sent as a map in their order.  It replaces the last set (count 0: no sends);
 * zones add their own sends on top.  Exactly one of `id` and `object`; more than GM_MAX_AUX_SENDS
 * entries, a bus named twice, a bad name or level: GM_ERR_BAD_VALUE, nothing sent.  Posted (GM_WAIT
 * waits; a bus that is not auxiliary is GM_ERR_UNKNOWN_BUS), or GM_STREAM as for gm_occlusion. */
GM_API gm_result gm_aux_sends(gm_client *client, gm_handle id, uint64_t object, const gm_aux_send *sends,
                              size_t count, unsigned flags);

/* `upload_sound`: send `frames` frames of float32 audio (`channels` 1 or 2 interleaved, at
 * `sample_rate` 8000..384000) to a sound declared with `upload`.  Posted unless GM_WAIT (the Python
 * client waits by default); with GM_WAIT the reply ({"sound", "frames", "seconds"}) is gm_last_reply().
 * At most 4 MiB of samples, and the frame must fit GM_MAX_FRAME_BYTES (else GM_ERR_TOO_LARGE). */
GM_API gm_result gm_upload_sound(gm_client *client, const char *sound, const float *pcm, size_t frames,
                                 int channels, int sample_rate, unsigned flags);

/* ------------------------------------------------------------------ waited queries (block, at most the timeout)
 * Each returns the reply's data in *reply (may be NULL), valid until the next call that receives.
 * Thread-safety: the game thread's (the client's sending thread); not with other calls on the client. */

/* `hello`: open (or reopen) this client's session; gm_wait_ready() retries it. */
GM_API gm_result gm_hello(gm_client *client, const gm_value **reply);
/* `ping`: {"version", "block", "clock"}. */
GM_API gm_result gm_ping(gm_client *client, const gm_value **reply);
/* `query`: the mixer's state (docs/protocol.md, query). */
GM_API gm_result gm_query(gm_client *client, const gm_value **reply);
/* `instance_info`: an instance's state, position in its file, loops left. */
GM_API gm_result gm_instance_info(gm_client *client, gm_handle id, const gm_value **reply);
/* `sound_info`: a sound's files, looping, 3D, bus, voices. */
GM_API gm_result gm_sound_info(gm_client *client, const char *sound, const gm_value **reply);
/* `load_scene`: reload the scene, or load `file` (relative, inside its folder; NULL: the current one). */
GM_API gm_result gm_load_scene(gm_client *client, const char *file, const gm_value **reply);

typedef struct gm_clock {
    uint64_t sample;              /* first sample of the last block rendered */
    double time;                  /* when its rendering began, seconds since the Unix epoch */
    int32_t sample_rate;
    double latency_s;             /* render-ahead plus the device's latency */
} gm_clock;

/* The mixer's sample clock now (a `ping`), for at_sample: to be heard at wall time T, use
 * sample + (T - time + latency_s) * sample_rate. */
GM_API gm_result gm_clock_get(gm_client *client, gm_clock *out);

/* ------------------------------------------------------------------ streams (no reply, never block)
 * Stamped with the send time `t` (the server drops a frame older than its --max-stream-age).
 * GM_ERR_QUEUE_FULL when stream_hwm frames wait in ZeroMQ: nothing was sent.
 * Thread-safety: the game thread's (the client's sending thread); not with other calls on the client. */

/* `emitter`: move (and turn) an instance (`velocity`, `direction` may be NULL: unchanged; a direction
 * of any length, [0,0,0] for none, turns its cone). */
GM_API gm_result gm_emitter(gm_client *client, gm_handle id, const gm_vec3 *position, const gm_vec3 *velocity,
                            const gm_vec3 *direction);

/* `emitters`: move `count` instances in one message: ids[k] to positions[k] (with velocities[k],
 * facing directions[k]; velocities and directions may each be NULL: unchanged).  Any count (0 sends
 * nothing): sent as messages of at most GM_MAX_BATCH poses. */
GM_API gm_result gm_emitters(gm_client *client, size_t count, const gm_handle *ids, const gm_vec3 *positions,
                             const gm_vec3 *velocities, const gm_vec3 *directions);

/* Add one pose to this frame's batch (checked here: GM_ERR_BAD_VALUE for NaN; GM_ERR_BATCH_FULL once
 * it holds pose_capacity).  `velocity` and `direction` may be NULL (unchanged).  Allocates nothing. */
GM_API gm_result gm_pose_add(gm_client *client, gm_handle id, const gm_vec3 *position, const gm_vec3 *velocity,
                             const gm_vec3 *direction);
/* Send the batch as `emitters` messages and empty it: one message when every pose has the same fields;
 * else one set per kind of pose, in this order: position only, with a velocity, with a direction, with
 * both (`velocities` and `directions` are all or nothing in a message); more if a set exceeds
 * GM_MAX_BATCH poses.  Send one pose per instance per frame.  GM_OK for an empty batch.  The batch is
 * emptied even if sending failed.  Allocates nothing. */
GM_API gm_result gm_pose_flush(gm_client *client);
/* Poses in the batch now. */
GM_API size_t gm_pose_count(const gm_client *client);
/* Empty the batch without sending it. */
GM_API void gm_pose_clear(gm_client *client);

/* `listener`: set a listener's pose (every vector; NULL takes its default: position [0,0,0],
 * forward [0,0,-1], up [0,1,0], velocity [0,0,0]); `index` 0..3 (split screen); remove != 0 stops
 * using listener 1-3. */
GM_API gm_result gm_listener(gm_client *client, const gm_vec3 *position, const gm_vec3 *forward, const gm_vec3 *up,
                             const gm_vec3 *velocity, int index, int remove);

/* `set_parameter` as a stream message (a value that follows gameplay every frame); `id`
 * GM_INVALID_HANDLE for the global value, else an instance's own. */
GM_API gm_result gm_stream_parameter(gm_client *client, const char *name, double value, gm_handle id);

/* ------------------------------------------------------------------ telemetry (its own thread may call these) */

/* Subscribe now (gm_telemetry() does it on first use): frames are published only to subscribers
 * connected before them.  Thread-safe against the game thread's calls. */
GM_API gm_result gm_telemetry_subscribe(gm_client *client);

/* The next published frame (`telemetry`, `ready`, `fault` or `reload`: dispatch on its "type"),
 * waiting at most `timeout_s`; GM_ERR_TIMEOUT if none came.  *frame is valid until the next
 * gm_telemetry() call on this client.  Thread-safe against the game thread's calls (its own socket
 * and lock); two threads calling it at once are serialised. */
GM_API gm_result gm_telemetry(gm_client *client, double timeout_s, const gm_value **frame);

/* ------------------------------------------------------------------ about the library
 * Thread-safety: all thread-safe (constants). */

/* GM_MAX_FRAME_BYTES, GM_MAX_BATCH, GM_PROTOCOL_VERSION as compiled in (for bindings that cannot read
 * macros, and for tests). */
GM_API uint32_t gm_max_frame_bytes(void);
GM_API uint32_t gm_max_batch(void);
GM_API uint32_t gm_protocol_version(void);
/* The library's version, "MAJOR.MINOR.PATCH". */
GM_API const char *gm_version(void);

#ifdef __cplusplus
}
#endif

#endif /* GAMEMIX_CLIENT_H */
