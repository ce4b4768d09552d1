/* Results: their codes (the protocol's, docs/protocol.md "Error codes") and descriptions. */
#include <string.h>

#include "gamemix_client.h"

typedef struct entry {
    gm_result result;
    const char *code;
    const char *text;
} entry;

static const entry ENTRIES[] = {
    {GM_OK, "ok", "success"},
    {GM_ERR_INVALID_ARGUMENT, "invalid_argument", "invalid argument: a NULL pointer where one is needed, or a bad option"},
    {GM_ERR_BAD_VALUE, "bad_value", "bad value: NaN or infinite, out of the protocol's range, or a name that is not 1-128 characters of UTF-8"},
    {GM_ERR_TOO_LARGE, "too_large", "too large: the frame would exceed the 4 MiB limit (nothing was sent)"},
    {GM_ERR_INVALID_HANDLE, "invalid_handle", "invalid handle: GM_INVALID_HANDLE or an id out of the protocol's range"},
    {GM_ERR_CLOSED, "closed", "the client was closed"},
    {GM_ERR_NO_SESSION, "no_session", "no session: call gm_wait_ready() first (the server may not run yet)"},
    {GM_ERR_QUEUE_FULL, "queue_full", "queue full: ZeroMQ's queue to the server is full (is the server running?)"},
    {GM_ERR_TIMEOUT, "timeout", "timeout: no reply within the client's timeout (is the server running?)"},
    {GM_ERR_BATCH_FULL, "batch_full", "the pose batch is full: flush it"},
    {GM_ERR_NO_MEMORY, "no_memory", "out of memory"},
    {GM_ERR_TRANSPORT, "transport", "ZeroMQ failed"},
    {GM_ERR_BAD_REPLY, "bad_reply", "the server sent a frame this library cannot read"},
    {GM_ERR_NOT_FOUND, "not_found", "no such key or index, or a value of another type"},
    {GM_ERR_NO_SESSION_YET, "no_session_yet", "no session has been opened yet"},
    {GM_ERR_BAD_FRAME, "bad_frame", "bad frame: the server could not read the frame"},
    {GM_ERR_BAD_VERSION, "bad_version", "bad version: the server speaks another protocol version"},
    {GM_ERR_UNKNOWN_TYPE, "unknown_type", "unknown type: the server does not know this message kind (or not on this socket)"},
    {GM_ERR_UNKNOWN_FIELD, "unknown_field", "unknown field: the message has a key its kind does not define"},
    {GM_ERR_NOT_READY, "not_ready", "not ready: the server is still loading; nothing was done"},
    {GM_ERR_BUSY, "busy", "busy: too many commands waiting; wait for replies"},
    {GM_ERR_EXPIRED, "expired", "expired: the command arrived after its time to live; nothing was done"},
    {GM_ERR_BAD_PATH, "bad_path", "bad path: the scene file is absolute or outside the scene's folder"},
    {GM_ERR_BAD_SCENE, "bad_scene", "bad scene: the scene file is missing or invalid"},
    {GM_ERR_UNKNOWN_SOUND, "unknown_sound", "unknown sound: the scene has no sound of that name"},
    {GM_ERR_DUPLICATE_ID, "duplicate_id", "duplicate id: an instance with that id still exists"},
    {GM_ERR_VOICE_LIMIT, "voice_limit", "voice limit: a voice limit refused the play"},
    {GM_ERR_UNKNOWN_EVENT, "unknown_event", "unknown event: the scene has no event of that name"},
    {GM_ERR_UNKNOWN_PARAMETER, "unknown_parameter", "unknown parameter: the scene has no parameter of that name"},
    {GM_ERR_OUT_OF_RANGE, "out_of_range", "out of range: a parameter value outside its [min, max]"},
    {GM_ERR_UNKNOWN_SNAPSHOT, "unknown_snapshot", "unknown snapshot: the scene has no snapshot of that name"},
    {GM_ERR_UNKNOWN_INSTANCE, "unknown_instance", "unknown instance: no such instance (never played, or ended)"},
    {GM_ERR_UNKNOWN_BUS, "unknown_bus", "unknown bus: the scene has no bus of that name"},
    {GM_ERR_UNKNOWN_VCA, "unknown_vca", "unknown VCA: the scene has no VCA of that name"},
    {GM_ERR_UNKNOWN_OBJECT, "unknown_object", "unknown object: no game object with that id"},
    {GM_ERR_OBJECT_LIMIT, "object_limit", "object limit: 65,536 game objects exist"},
    {GM_ERR_NOT_UPLOADABLE, "not_uploadable", "not uploadable: the sound is not declared with `upload`"},
    {GM_ERR_BAD_UPLOAD, "bad_upload", "bad upload: not whole frames, or longer than the sound's room"},
    {GM_ERR_SOUND_BUSY, "sound_busy", "sound busy: the sound has voices playing; stop them first"},
    {GM_ERR_PENDING_LIMIT, "pending_limit", "pending limit: too many delayed event actions waiting"},
    {GM_ERR_INTERNAL_ERROR, "internal_error", "internal error: the server failed carrying the command out (it was undone)"},
    {GM_ERR_UNKNOWN_MESSAGE, "unknown_message", "unknown message: the mixer does not know the message"},
    {GM_ERR_UNKNOWN_ZONE, "unknown_zone", "unknown zone: the scene has no zone of that name"},
    {GM_ERR_SERVER_OTHER, "server_other", "refused by the server with a code this library does not know"},
};

#define N_ENTRIES (sizeof ENTRIES / sizeof ENTRIES[0])

const char *gm_error_string(gm_result result)
{
    size_t i;
    for (i = 0; i < N_ENTRIES; i++)
        if (ENTRIES[i].result == result)
            return ENTRIES[i].text;
    return "unknown result";
}

const char *gm_result_code(gm_result result)
{
    size_t i;
    for (i = 0; i < N_ENTRIES; i++)
        if (ENTRIES[i].result == result)
            return ENTRIES[i].code;
    return "unknown";
}

gm_result gm_result_from_code(const char *code)
{
    size_t i;
    if (code == NULL)
        return GM_ERR_SERVER_OTHER;
    for (i = 0; i < N_ENTRIES; i++)
        if (strcmp(ENTRIES[i].code, code) == 0 &&
            (ENTRIES[i].result >= GM_ERR_BAD_FRAME || ENTRIES[i].result == GM_ERR_BAD_VALUE ||
             ENTRIES[i].result == GM_ERR_TOO_LARGE))
            return ENTRIES[i].result;
    return GM_ERR_SERVER_OTHER;
}
