/* Internal entry points of the C client, for its own tests (not installed): the fuzz loop feeds
 * frames to the same function the command socket's receiver calls. */
#ifndef GM_INTERNAL_H
#define GM_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "gamemix_client.h"

/* Handle one frame as if it had arrived on the command socket (a notice, a reply to a posted
 * command, or garbage, which is counted and skipped).  Returns 1 if it was a readable frame. */
int gm__feed_command_frame(gm_client *client, const void *frame, size_t len);

/* Decode a frame as a telemetry frame is decoded; *root its root (NULL if refused).  Returns the
 * decoder's status: 0 ok, 1 bad_frame, 2 not a map, 3 bad_version, 4 too_large, 5 no memory. */
int gm__feed_telemetry_frame(gm_client *client, const void *frame, size_t len, const gm_value **root);

/* Frames from the command socket that could not be read, since the client was made. */
uint64_t gm__bad_frames(const gm_client *client);

/* Record a posted command as if it had been sent with request id `rid` (for the fuzz loop). */
void gm__remember_posted(gm_client *client, uint64_t rid, const char *kind, gm_handle instance);

#endif
