/* An engine's frame loop driving `gamemix serve` (the showcase scene) at 60 Hz:
 *
 *   gamemix serve gamemix/showcase/scene.yaml &
 *   ./frame_loop [COMMANDS STREAMS TELEMETRY [FRAMES]]
 *
 * Each frame, as an engine does it:
 *   1. game logic: what happened this frame becomes posted commands (a footstep every 20 frames,
 *      a shot now and then); nothing waits for the server;
 *   2. poses, batched: every moving emitter goes into the frame's batch (gm_pose_add, no allocation)
 *      with its velocity and the direction it faces (what a sound's `spatial.cone` turns with), and
 *      the batch goes out as one `emitters` message (gm_pose_flush), with one listener pose;
 *      occlusion, as a game ray-casts it at 10 Hz, goes on the stream socket too (GM_STREAM);
 *   3. what the mixer says back: gm_poll() once per frame; an `ended` notice frees the game's slot.
 * A second thread reads telemetry (the one call another thread may make on the client) as a HUD
 * would, and the loop prints its last reading at the end.  Exits 1 if a call fails.
 */
#define _POSIX_C_SOURCE 200809L

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "gamemix_client.h"

#define EMITTERS 16
#define OCCLUSION_EVERY 6         /* frames between occlusion updates (10 Hz: ray casts are costly) */
#define WALL_X 4.0                /* a wall along x = 4: crickets beyond it are occluded */

typedef struct hud {
    pthread_mutex_t lock;
    int running;
    long frames;                  /* telemetry frames read */
    double xruns, real_voices, master_peak_dbfs;
} hud;

static gm_client *mix;
static hud meters = {PTHREAD_MUTEX_INITIALIZER, 1, 0, 0, 0, -200};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_until(double t)
{
    double left = t - now_s();
    struct timespec ts;
    if (left <= 0)
        return;
    ts.tv_sec = (time_t)left;
    ts.tv_nsec = (long)((left - (double)ts.tv_sec) * 1e9);
    nanosleep(&ts, NULL);
}

/* The HUD thread: telemetry has its own socket and lock, so this runs beside the game thread. */
static void *hud_thread(void *arg)
{
    (void)arg;
    for (;;) {
        const gm_value *frame = NULL;
        int running;
        pthread_mutex_lock(&meters.lock);
        running = meters.running;
        pthread_mutex_unlock(&meters.lock);
        if (!running)
            break;
        if (gm_telemetry(mix, 0.1, &frame) == GM_OK) {
            const char *type = gm_value_str(gm_value_get(frame, "type"), NULL);
            double xruns = 0, real = 0, peak = -200;
            if (type == NULL || strcmp(type, "telemetry") != 0)
                continue;
            gm_value_double(gm_value_get(frame, "xruns"), &xruns);
            gm_value_double(gm_value_path(frame, "voices.real"), &real);
            gm_value_double(gm_value_path(frame, "buses.master.peak_dbfs"), &peak);   /* null: silence */
            pthread_mutex_lock(&meters.lock);
            meters.frames++;
            meters.xruns = xruns;
            meters.real_voices = real;
            meters.master_peak_dbfs = peak;
            pthread_mutex_unlock(&meters.lock);
        }
    }
    return NULL;
}

int main(int argc, char **argv)
{
    gm_options options;
    gm_handle handles[EMITTERS];
    pthread_t reader;
    long frames = 600, frame, late = 0, ended = 0, refused = 0;
    double start, next;
    int k, failed = 0;

    gm_options_init(&options);
    if (argc >= 4) {
        options.commands = argv[1];
        options.streams = argv[2];
        options.telemetry = argv[3];
    }
    if (argc >= 5)
        sscanf(argv[4], "%ld", &frames);
    options.pose_capacity = 256;                  /* allocated once, here */
    if (gm_client_create(&options, &mix) != GM_OK || gm_wait_ready(mix, 60.0) != GM_OK) {
        fprintf(stderr, "no server: %s\n", mix ? gm_last_error(mix) : "");
        gm_client_free(mix);
        return 1;
    }
    gm_telemetry_subscribe(mix);
    pthread_create(&reader, NULL, hud_thread, NULL);

    /* the level loads: crickets on a ring (looping 3D sounds) */
    for (k = 0; k < EMITTERS; k++) {
        gm_play_args args = GM_PLAY_ARGS_INIT;
        args.has_position = 1;
        args.position.x = 10.0 * cos(k * 0.39);
        args.position.z = 10.0 * sin(k * 0.39);
        if (gm_play(mix, "cricket", &args, 0, &handles[k]) != GM_OK)
            handles[k] = GM_INVALID_HANDLE;
    }

    start = now_s();
    next = start;
    for (frame = 0; frame < frames; frame++) {
        double t = (double)frame / 60.0;
        gm_vec3 player = {2.0 * sin(t * 0.5), 1.8, -t * 0.8};
        gm_vec3 forward = {0.0, 0.0, -1.0};
        gm_notice notices[32];
        size_t n = 0, j;

        /* 1. game logic: posted commands */
        if (frame % 20 == 0) {
            gm_play_args step = GM_PLAY_ARGS_INIT;
            step.has_position = 1;
            step.position = player;
            step.position.y = 0.0;
            failed |= gm_play(mix, "footstep", &step, 0, NULL) != GM_OK;
        }
        if (frame % 45 == 30) {
            gm_event_args shot = GM_EVENT_ARGS_INIT;
            shot.has_position = 1;
            shot.position.x = 15.0;
            shot.position.z = player.z - 25.0;
            failed |= gm_event(mix, "enemy_fired", &shot, 0, NULL) != GM_OK;
        }
        failed |= gm_stream_parameter(mix, "rain", 0.5 + 0.5 * sin(t * 0.3), GM_INVALID_HANDLE) != GM_OK;

        /* 2. poses, batched: one `emitters` message and one listener pose per frame; each cricket
         *    faces where it flies (a direction of any length; [0,0,0] for none) */
        for (k = 0; k < EMITTERS; k++) {
            double a = k * 0.39 + t * 0.2;
            gm_vec3 p = {10.0 * cos(a), 0.5 * sin(t + k), player.z + 10.0 * sin(a)};
            gm_vec3 v = {-2.0 * sin(a), 0.5 * cos(t + k), 2.0 * cos(a) - 0.8};
            if (handles[k] == GM_INVALID_HANDLE)
                continue;
            failed |= gm_pose_add(mix, handles[k], &p, &v, &v) != GM_OK;
            /* occlusion (a wall between: muffles the direct sound and its sends), 0..1 as the wall
             * hides it, obstruction left as it is; streamed, since it follows the game every few frames */
            if (frame % OCCLUSION_EVERY == k % OCCLUSION_EVERY) {
                double hidden = fmin(1.0, fmax(0.0, (p.x - WALL_X) / 2.0));
                failed |= gm_occlusion(mix, handles[k], GM_NO_OBJECT, NULL, hidden, GM_UNCHANGED, GM_STREAM) != GM_OK;
            }
        }
        failed |= gm_listener(mix, &player, &forward, NULL, NULL, 0, 0) != GM_OK;
        failed |= gm_pose_flush(mix) != GM_OK;

        /* 3. what the mixer says back */
        failed |= gm_poll(mix, notices, 32, &n) != GM_OK;
        for (j = 0; j < n; j++) {
            if (notices[j].event == GM_EVENT_ENDED) {
                ended++;
                for (k = 0; k < EMITTERS; k++)
                    if (handles[k] == notices[j].id)
                        handles[k] = GM_INVALID_HANDLE;
            } else if (notices[j].event == GM_EVENT_REFUSED) {
                refused++;
                if (notices[j].code != GM_ERR_VOICE_LIMIT)
                    fprintf(stderr, "refused %s: %s\n", notices[j].kind, notices[j].message);
            }
        }

        /* 4. the frame's end: tick at 60 Hz */
        next += 1.0 / 60.0;
        if (now_s() > next)
            late++;
        sleep_until(next);
    }

    for (k = 0; k < EMITTERS; k++)
        if (handles[k] != GM_INVALID_HANDLE)
            gm_stop(mix, handles[k], 0.2, GM_NOW, 0);
    gm_ping(mix, NULL);
    pthread_mutex_lock(&meters.lock);
    meters.running = 0;
    pthread_mutex_unlock(&meters.lock);
    pthread_join(reader, NULL);
    printf("{\"frames\": %ld, \"seconds\": %.2f, \"late_frames\": %ld, \"ended\": %ld, \"refused\": %ld, "
           "\"telemetry_frames\": %ld, \"xruns\": %.0f, \"real_voices\": %.0f, \"master_peak_dbfs\": %.1f, "
           "\"failed\": %d}\n", frames, now_s() - start, late, ended, refused, meters.frames, meters.xruns,
           meters.real_voices, meters.master_peak_dbfs, failed);
    gm_client_free(mix);
    return failed ? 1 : 0;
}
