/* The C side of tests/test_c_binding.py: drives the library against a server and prints what it
 * saw as JSON lines, which the Python test compares with what the Python client does and sees.
 *
 *   gm_test MODE COMMANDS STREAMS TELEMETRY
 *
 * Modes (the Python test holds the oracle for each; this program only reports):
 *   frames   every message kind once or more, against the test's fake server (which records and
 *            decodes each frame); the same calls as the Python client's sequence in the test
 *   parity   a scripted scene against a real `gamemix serve` (its recording is compared)
 *   errors   malformed calls: NULL pointers, NaN, out of range, unknown names, an ended handle,
 *            a closed client; each prints its result code
 *   gone     the server is killed and restarted while the client runs (the test drives it over stdin)
 *   alloc    streamed poses with a counting allocator: the library must allocate nothing per pose
 *
 * Exit status 0 unless the program itself could not go on ("FAIL ..." on stderr).
 */
#define _POSIX_C_SOURCE 200809L

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gamemix_client.h"

static gm_client *client;
static const char *ends[3];
static char json[1 << 16];

static void die(const char *what, gm_result r)
{
    fprintf(stderr, "FAIL %s: %s (%s) %s\n", what, gm_result_code(r), gm_error_string(r),
            client ? gm_last_error(client) : "");
    exit(1);
}

#define CHECK(call) do { gm_result r_ = (call); if (r_ != GM_OK) die(#call, r_); } while (0)

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_ms(int ms)
{
    struct timespec ts;
    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (long)(ms % 1000) * 1000000L;
    nanosleep(&ts, NULL);
}

static void print_json_string(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            printf("\\%c", *s);
        else if ((unsigned char)*s < 0x20)
            printf("\\u%04x", (unsigned char)*s);
        else
            putchar(*s);
    }
    putchar('"');
}

static void print_notice(const gm_notice *n)
{
    printf("{\"notice\": {\"id\": ");
    if (n->id == GM_INVALID_HANDLE)
        printf("null");
    else
        printf("%llu", (unsigned long long)n->id);
    printf(", \"event\": ");
    print_json_string(n->event_name);
    if (n->block >= 0)
        printf(", \"block\": %lld", (long long)n->block);
    if (n->sample >= 0)
        printf(", \"sample\": %lld", (long long)n->sample);
    if (n->kind[0]) {
        printf(", \"kind\": ");
        print_json_string(n->kind);
    }
    if (n->code_name[0]) {
        printf(", \"code\": ");
        print_json_string(n->code_name);
        printf(", \"result\": ");
        print_json_string(gm_result_code(n->code));
    }
    if (n->message[0]) {
        printf(", \"message\": ");
        print_json_string(n->message);
    }
    printf("}}\n");
}

static void print_value(const char *label, const gm_value *v)
{
    size_t need = gm_value_to_json(v, json, sizeof json);
    if (need > sizeof json)
        die("a reply too large to print", GM_ERR_TOO_LARGE);
    printf("{\"%s\": %s}\n", label, json);
}

static void print_result(const char *name, gm_result r)
{
    printf("{\"case\": \"%s\", \"result\": \"%s\"}\n", name, gm_result_code(r));
    fflush(stdout);
}

static void print_handle(const char *name, gm_handle h)
{
    printf("{\"handle\": \"%s\", \"id\": %llu}\n", name, (unsigned long long)h);
}

/* Poll as a game does each frame, printing every notice, until `done` says so or `timeout_s`. */
static gm_notice seen[8192];
static size_t nseen;

static void poll_print(void)
{
    gm_notice batch[64];
    size_t n = 0, k;
    do {
        CHECK(gm_poll(client, batch, 64, &n));
        for (k = 0; k < n; k++) {
            print_notice(&batch[k]);
            if (nseen < sizeof seen / sizeof seen[0])
                seen[nseen++] = batch[k];
        }
    } while (n == 64);
}

static int saw(gm_handle id, const char *event)
{
    size_t k;
    for (k = 0; k < nseen; k++)
        if ((id == GM_INVALID_HANDLE || seen[k].id == id) && strcmp(seen[k].event_name, event) == 0)
            return 1;
    return 0;
}

static int saw_kind(const char *kind, const char *code)
{
    size_t k;
    for (k = 0; k < nseen; k++)
        if (strcmp(seen[k].kind, kind) == 0 && strcmp(seen[k].code_name, code) == 0)
            return 1;
    return 0;
}

static void poll_until_event(gm_handle id, const char *event, double timeout_s)
{
    double end = now_s() + timeout_s;
    while (!saw(id, event)) {
        if (now_s() > end) {
            fprintf(stderr, "FAIL no '%s' notice for %llu within %g s\n", event, (unsigned long long)id, timeout_s);
            exit(1);
        }
        poll_print();
        sleep_ms(5);
    }
}

static void connect_client(double timeout_s)
{
    gm_options o;
    gm_options_init(&o);
    o.commands = ends[0];
    o.streams = ends[1];
    o.telemetry = ends[2];
    o.timeout_s = timeout_s;
    CHECK(gm_client_create(&o, &client));
}

static gm_vec3 v3(double x, double y, double z)
{
    gm_vec3 v;
    v.x = x;
    v.y = y;
    v.z = z;
    return v;
}

/* ------------------------------------------------------------ frames: every kind (fake server) */

static void mode_frames(void)
{
    const gm_value *reply = NULL;
    gm_play_args play;
    gm_event_args ev;
    gm_instance_args inst;
    gm_handle h = 0, ids[3];
    gm_vec3 pos[3], vel[3], dir[3];
    float pcm[480], stereo[2 * 240];
    int k;
    connect_client(2.0);
    CHECK(gm_wait_ready(client, 10.0));                             /* hello */
    CHECK(gm_ping(client, &reply));
    CHECK(gm_query(client, &reply));
    CHECK(gm_load_scene(client, "other.yaml", &reply));
    CHECK(gm_load_scene(client, NULL, &reply));
    gm_play_args_init(&play);
    play.has_position = 1;
    play.position = v3(3, 0, -2);
    play.fade_in = 0.5;
    CHECK(gm_play(client, "tone", &play, GM_WAIT, &h));
    print_handle("waited", h);
    CHECK(gm_play(client, "tone", NULL, 0, &h));
    print_handle("posted", h);
    gm_play_args_init(&play);
    play.id = 77;
    play.has_position = 1;
    play.position = v3(1, 2, 3);
    play.has_velocity = 1;
    play.velocity = v3(-1, 0, 0.5);
    play.volume_db = -6;
    play.pitch_semitones = 2;
    play.fade_in = 0.1;
    play.has_pan = 1;
    play.pan = 0.5;
    play.has_loops = 1;
    play.loops = -1;
    play.has_at_sample = 1;
    play.at_sample = 48000;
    play.has_object = 1;
    play.object = 3;
    play.has_direction = 1;
    play.direction = v3(0, 0, -1);
    CHECK(gm_play(client, "tone", &play, 0, &h));
    print_handle("full", h);
    CHECK(gm_event(client, "hum", NULL, 0, &h));
    print_handle("event", h);
    gm_event_args_init(&ev);
    ev.id = 9;
    ev.has_position = 1;
    ev.position = v3(1, 2, 3);
    ev.has_velocity = 1;
    ev.velocity = v3(0, 0, 1);
    ev.has_at_sample = 1;
    ev.at_sample = 96000;
    ev.has_object = 1;
    ev.object = 4;
    ev.has_direction = 1;
    ev.direction = v3(1, 0, 0);
    CHECK(gm_event(client, "hum", &ev, GM_WAIT, &h));
    print_value("event_reply", gm_last_reply(client));
    CHECK(gm_stop(client, 5, 0.25, GM_NOW, 0));
    CHECK(gm_stop(client, 5, 0.0, 96000, GM_WAIT));
    gm_instance_args_init(&inst);
    inst.has_volume_db = 1;
    inst.volume_db = -6;
    inst.has_pitch_semitones = 1;
    inst.pitch_semitones = 1;
    inst.has_pan = 1;
    inst.pan = 0.5;
    inst.has_position = 1;
    inst.position = v3(1, 0, 0);
    inst.has_velocity = 1;
    inst.velocity = v3(0, 1, 0);
    inst.fade = 0.1;
    inst.has_direction = 1;
    inst.direction = v3(0, 0, 2.5);
    CHECK(gm_set_instance(client, 5, &inst, 0));
    CHECK(gm_set_instance(client, 5, NULL, 0));
    CHECK(gm_pause(client, 5, 1, 0.0, 0));
    CHECK(gm_resume(client, 5, 0.2, 0));
    CHECK(gm_seek(client, 5, 1.5, 0));                            /* the fake server refuses it */
    CHECK(gm_set_parameter(client, "rain", 0.8, 0));
    CHECK(gm_set_instance_parameter(client, 5, "rpm", 1200, 0));
    CHECK(gm_set_object_parameter(client, 3, "rpm", 1500, 0));
    CHECK(gm_snapshot_start(client, "combat", GM_DEFAULT, GM_DEFAULT, 0));
    CHECK(gm_snapshot_start(client, "combat", 50, 1.0, 0));
    CHECK(gm_snapshot_stop(client, "combat", GM_DEFAULT, 0));
    CHECK(gm_snapshot_stop(client, "combat", 2.0, 0));
    CHECK(gm_snapshot_intensity(client, "combat", 75, 0));
    CHECK(gm_bus_volume(client, "music", -6, 0.1, 0));
    CHECK(gm_bus_mute(client, "music", 1, 0.0, 0));
    CHECK(gm_bus_mute(client, "music", 0, 0.3, 0));
    CHECK(gm_vca_volume(client, "effects", -6, 0.5, 0));
    CHECK(gm_reset_meters(client, NULL, 0));
    CHECK(gm_reset_meters(client, "music", 0));
    CHECK(gm_instance_info(client, 5, &reply));
    print_value("instance_info", reply);
    CHECK(gm_sound_info(client, "tone", &reply));
    for (k = 0; k < 480; k++)
        pcm[k] = (float)(k % 13) / 16.0f - 0.375f;      /* exact in float32 */
    for (k = 0; k < 480; k++)
        stereo[k] = (float)(k % 7) / 8.0f - 0.25f;
    CHECK(gm_upload_sound(client, "chat", pcm, 480, 1, 16000, GM_WAIT));
    CHECK(gm_upload_sound(client, "chat", stereo, 240, 2, 48000, 0));
    {
        gm_vec3 p = v3(1, 0, -2), v = v3(0, 0, 1), d = v3(1, 0, 0), zero = v3(0, 0, 0), q = v3(-4, 0.5, 2);
        gm_aux_send sends[2] = {{"reverb", -6}, {"hall", 0}};
        CHECK(gm_object(client, 3, &p, &v, &d, 0, 0.0, 0));
        CHECK(gm_object(client, 4, NULL, NULL, NULL, 0, 0.0, 0));
        CHECK(gm_object(client, 6, NULL, NULL, &zero, 0, 0.0, 0));        /* a direction of length 0: none */
        CHECK(gm_object(client, 3, NULL, NULL, NULL, 1, 0.2, 0));
        CHECK(gm_occlusion(client, 5, GM_NO_OBJECT, NULL, 0.5, 0.25, 0));
        CHECK(gm_occlusion(client, GM_INVALID_HANDLE, 3, NULL, GM_UNCHANGED, 1.0, 0));
        CHECK(gm_occlusion(client, GM_INVALID_HANDLE, GM_NO_OBJECT, "cave", 0.75, GM_UNCHANGED, GM_WAIT));
        CHECK(gm_occlusion(client, 5, GM_NO_OBJECT, NULL, GM_UNCHANGED, GM_UNCHANGED, 0));
        CHECK(gm_occlusion(client, 5, GM_NO_OBJECT, NULL, 0.125, GM_UNCHANGED, GM_STREAM));
        CHECK(gm_aux_sends(client, 5, GM_NO_OBJECT, sends, 2, 0));
        CHECK(gm_aux_sends(client, GM_INVALID_HANDLE, 3, NULL, 0, GM_WAIT));
        sends[0].volume_db = -12;
        CHECK(gm_aux_sends(client, 5, GM_NO_OBJECT, sends, 1, GM_STREAM));
        CHECK(gm_emitter(client, 5, &(gm_vec3){2.5, 0, -2}, &(gm_vec3){-1, 0, 0}, &(gm_vec3){0, 0, -1}));
        CHECK(gm_emitter(client, 5, &q, NULL, NULL));
        CHECK(gm_emitter(client, 5, &(gm_vec3){1, 1, 1}, NULL, &d));
    }
    ids[0] = 5;
    ids[1] = 6;
    pos[0] = v3(0, 0, 1);
    pos[1] = v3(1, 0, 0);
    vel[0] = v3(0, 0, 0);
    vel[1] = v3(1, 1, 1);
    dir[0] = v3(0, 0, -1);
    dir[1] = v3(1, 0, 0);
    CHECK(gm_emitters(client, 2, ids, pos, vel, dir));
    CHECK(gm_emitters(client, 1, ids, pos, NULL, NULL));
    dir[0] = v3(0, 1, 0);
    dir[1] = v3(0, 0, 0);
    CHECK(gm_emitters(client, 2, ids, pos, NULL, dir));
    /* a frame's batch without velocities: one message */
    CHECK(gm_pose_add(client, 5, &(gm_vec3){1, 2, 3}, NULL, NULL));
    CHECK(gm_pose_add(client, 6, &(gm_vec3){4, 5, 6}, NULL, NULL));
    CHECK(gm_pose_add(client, 7, &(gm_vec3){7, 8, 9}, NULL, NULL));
    CHECK(gm_pose_flush(client));
    /* a mixed batch: the poses without velocity, then those with */
    CHECK(gm_pose_add(client, 5, &(gm_vec3){1, 0, 0}, &(gm_vec3){0.5, 0, 0}, NULL));
    CHECK(gm_pose_add(client, 6, &(gm_vec3){2, 0, 0}, NULL, NULL));
    CHECK(gm_pose_add(client, 7, &(gm_vec3){3, 0, 0}, &(gm_vec3){0, 0, -0.5}, NULL));
    CHECK(gm_pose_flush(client));
    /* a batch of every kind of pose: position only, with a velocity, with a direction, with both */
    CHECK(gm_pose_add(client, 5, &(gm_vec3){1, 0, 0}, NULL, &(gm_vec3){0, 0, 1}));
    CHECK(gm_pose_add(client, 6, &(gm_vec3){2, 0, 0}, NULL, NULL));
    CHECK(gm_pose_add(client, 7, &(gm_vec3){3, 0, 0}, &(gm_vec3){0, 0, -0.5}, &(gm_vec3){0, 1, 0}));
    CHECK(gm_pose_add(client, 8, &(gm_vec3){4, 0, 0}, &(gm_vec3){0, 1, 0}, NULL));
    CHECK(gm_pose_add(client, 9, &(gm_vec3){5, 0, 0}, NULL, &(gm_vec3){-1, 0, 0}));
    CHECK(gm_pose_flush(client));
    CHECK(gm_pose_flush(client));                                  /* empty: nothing is sent */
    CHECK(gm_listener(client, &(gm_vec3){0, 1.8, 0}, NULL, NULL, NULL, 0, 0));
    CHECK(gm_listener(client, &(gm_vec3){1, 2, 3}, &(gm_vec3){1, 0, 0}, &(gm_vec3){0, 1, 0},
                      &(gm_vec3){0.5, 0, 0}, 1, 0));
    CHECK(gm_listener(client, NULL, NULL, NULL, NULL, 2, 1));
    CHECK(gm_stream_parameter(client, "rain", 0.2, GM_INVALID_HANDLE));
    CHECK(gm_stream_parameter(client, "rpm", 900, 5));
    CHECK(gm_ping(client, &reply));                                /* every posted reply is in by now */
    poll_print();
    {
        gm_handle first = 0;
        gm_session s;
        CHECK(gm_session_get(client, &s));
        first = s.first;
        printf("{\"states\": {\"%llu\": %d, \"77\": %d, \"5\": %d}}\n", (unsigned long long)(first + 1),
               (int)gm_instance_state(client, first + 1), (int)gm_instance_state(client, 77),
               (int)gm_instance_state(client, 5));
    }
}

/* ------------------------------------------------------------ parity: a scripted scene (real server) */

static uint64_t streams_sent;

/* Wait until the server has read every stream frame sent so far (its `server.streams` counter), so
 * the next command lands after them: a stream frame can overtake a command, not one sent later. */
static void sync_streams(void)
{
    double end = now_s() + 10.0;
    for (;;) {
        const gm_value *q = NULL;
        uint64_t got = 0;
        CHECK(gm_query(client, &q));
        if (gm_value_uint64(gm_value_path(q, "server.streams"), &got) != GM_OK)
            die("query has no server.streams", GM_ERR_BAD_REPLY);
        if (got >= streams_sent)
            return;
        if (now_s() > end)
            die("the server did not read the stream frames", GM_ERR_TIMEOUT);
        sleep_ms(2);
    }
}

/* Wait until every command sent so far was carried out (one client's commands keep their order). */
static void sync_commands(void)
{
    CHECK(gm_ping(client, NULL));
}

static void mode_parity(void)
{
    gm_clock clock;
    gm_play_args play;
    gm_instance_args inst;
    gm_handle click, tone, hum, car_tone, h;
    const gm_value *reply = NULL, *frame = NULL;
    float pcm[4800];
    int k;
    uint64_t at;
    connect_client(3.0);
    CHECK(gm_telemetry_subscribe(client));
    CHECK(gm_wait_ready(client, 60.0));
    print_value("hello", gm_last_reply(client));
    /* 1. a click on a sample of the mixer's clock, alone in the output */
    CHECK(gm_clock_get(client, &clock));
    at = clock.sample + 14400 + 37;
    printf("{\"at_base\": %llu, \"at\": %llu}\n", (unsigned long long)clock.sample, (unsigned long long)at);
    gm_play_args_init(&play);
    play.has_at_sample = 1;
    play.at_sample = at;
    CHECK(gm_play(client, "click", &play, 0, &click));
    print_handle("click", click);
    poll_until_event(click, "ended", 5.0);
    /* 2. sounds, an event, parameters, a snapshot, faders, instance control */
    gm_play_args_init(&play);
    play.has_position = 1;
    play.position = v3(3, 0, -1);
    play.fade_in = 0.05;
    play.has_direction = 1;
    play.direction = v3(0, 0, 1);
    CHECK(gm_play(client, "tone", &play, 0, &tone));
    print_handle("tone", tone);
    {
        gm_event_args ev = GM_EVENT_ARGS_INIT;
        ev.has_direction = 1;
        ev.direction = v3(0, 0, -1);
        CHECK(gm_event(client, "hum", &ev, 0, &hum));
    }
    print_handle("hum", hum);
    /* telemetry read from C while the hum plays at 0 dB on the music bus */
    {
        double end = now_s() + 5.0, peak = 0;
        for (;;) {
            gm_result r = gm_telemetry(client, 1.0, &frame);
            const char *type = gm_value_str(gm_value_get(frame, "type"), NULL);
            if (r == GM_OK && type != NULL && strcmp(type, "telemetry") == 0 &&
                gm_value_double(gm_value_path(frame, "buses.music.peak_dbfs"), &peak) == GM_OK) {
                int64_t real = 0;
                gm_value_int64(gm_value_path(frame, "voices.real"), &real);
                if (real >= 2)
                    break;
            }
            if (now_s() > end)
                die("no telemetry with the music bus sounding", GM_ERR_TIMEOUT);
        }
        print_value("telemetry", frame);
    }
    CHECK(gm_set_parameter(client, "p", 0.5, 0));
    CHECK(gm_set_instance_parameter(client, tone, "rpm", 1200, 0));
    CHECK(gm_snapshot_start(client, "quiet", 50, 0.1, 0));
    CHECK(gm_snapshot_intensity(client, "quiet", 75, 0));
    CHECK(gm_bus_volume(client, "music", -3, 0.05, 0));
    CHECK(gm_bus_mute(client, "music", 0, 0.0, 0));
    CHECK(gm_vca_volume(client, "effects", -2, 0.05, 0));
    gm_instance_args_init(&inst);
    inst.has_volume_db = 1;
    inst.volume_db = -6;
    inst.fade = 0.05;
    inst.has_direction = 1;
    inst.direction = v3(-1, 0, 0);
    CHECK(gm_set_instance(client, tone, &inst, 0));
    CHECK(gm_pause(client, tone, 1, 0.02, 0));
    sync_commands();
    sleep_ms(100);           /* the pause's fade is over: the voice holds still (then resuming notifies `real`) */
    CHECK(gm_resume(client, tone, 0.0, 0));
    CHECK(gm_seek(client, tone, 0.25, 0));
    /* 3. a game object: placed (a stream), then a play on it */
    sync_commands();
    CHECK(gm_object(client, 3, &(gm_vec3){1, 0, -2}, NULL, &(gm_vec3){0, 0, 1}, 0, 0.0, 0));
    streams_sent++;
    sync_streams();
    gm_play_args_init(&play);
    play.has_object = 1;
    play.object = 3;
    CHECK(gm_play(client, "tone", &play, 0, &car_tone));
    print_handle("car_tone", car_tone);
    CHECK(gm_set_object_parameter(client, 3, "rpm", 1500, 0));
    /* propagation: occlusion of an instance, an object and a zone; aux sends of an instance and an object */
    CHECK(gm_occlusion(client, tone, GM_NO_OBJECT, NULL, 0.5, 0.25, 0));
    CHECK(gm_occlusion(client, GM_INVALID_HANDLE, 3, NULL, GM_UNCHANGED, 0.5, 0));
    CHECK(gm_occlusion(client, GM_INVALID_HANDLE, GM_NO_OBJECT, "cave", 0.75, GM_UNCHANGED, 0));
    {
        gm_aux_send room = {"room", -6};
        CHECK(gm_aux_sends(client, tone, GM_NO_OBJECT, &room, 1, 0));
        room.volume_db = -3;
        CHECK(gm_aux_sends(client, GM_INVALID_HANDLE, 3, &room, 1, 0));
    }
    for (k = 0; k < 4800; k++)
        pcm[k] = (float)(0.25 * sin(2 * 3.14159265358979323846 * 500.0 * k / 48000.0));
    CHECK(gm_upload_sound(client, "chat", pcm, 4800, 1, 48000, GM_WAIT));
    print_value("upload", gm_last_reply(client));
    CHECK(gm_sound_info(client, "tone", &reply));
    print_value("sound_info", reply);
    /* 4. poses: one emitter, a frame's batch (mixed: two messages), emitters, the listener */
    CHECK(gm_emitter(client, tone, &(gm_vec3){2, 0, -1}, NULL, &(gm_vec3){0, 0, 1}));
    streams_sent++;
    sync_streams();
    CHECK(gm_pose_add(client, tone, &(gm_vec3){1, 0, -1}, &(gm_vec3){-1, 0, 0}, NULL));
    CHECK(gm_pose_add(client, car_tone, &(gm_vec3){0, 0, -3}, NULL, NULL));
    CHECK(gm_pose_flush(client));
    streams_sent += 2;
    sync_streams();
    CHECK(gm_pose_add(client, tone, &(gm_vec3){1, 0, -1.5}, NULL, &(gm_vec3){1, 0, 0}));
    CHECK(gm_pose_add(client, car_tone, &(gm_vec3){0, 0, -3.5}, &(gm_vec3){0, 0, -1}, &(gm_vec3){0, 0, -1}));
    CHECK(gm_pose_flush(client));                 /* two messages: with a direction, with both */
    streams_sent += 2;
    sync_streams();
    CHECK(gm_occlusion(client, tone, GM_NO_OBJECT, NULL, 0.25, GM_UNCHANGED, GM_STREAM));
    streams_sent++;
    sync_streams();
    {
        gm_aux_send room = {"room", -9};
        CHECK(gm_aux_sends(client, tone, GM_NO_OBJECT, &room, 1, GM_STREAM));
        streams_sent++;
        sync_streams();
    }
    {
        gm_handle ids[2];
        gm_vec3 pos[2], dir[2];
        ids[0] = tone;
        ids[1] = car_tone;
        pos[0] = v3(0.5, 0, -1);
        pos[1] = v3(-0.5, 0, -3);
        dir[0] = v3(0, 0, 1);
        dir[1] = v3(0, 0, 0);
        CHECK(gm_emitters(client, 2, ids, pos, NULL, dir));
        streams_sent++;
        sync_streams();
    }
    CHECK(gm_listener(client, &(gm_vec3){0, 1.8, 0}, &(gm_vec3){0, 0, -1}, NULL, NULL, 0, 0));
    streams_sent++;
    sync_streams();
    CHECK(gm_stream_parameter(client, "p", 0.25, GM_INVALID_HANDLE));
    streams_sent++;
    sync_streams();
    CHECK(gm_stream_parameter(client, "rpm", 1000, tone));
    streams_sent++;
    sync_streams();
    /* 5. endings, and two refusals */
    CHECK(gm_reset_meters(client, "music", 0));
    CHECK(gm_stop(client, tone, 0.05, GM_NOW, 0));
    CHECK(gm_object(client, 3, NULL, NULL, NULL, 1, 0.1, 0));
    CHECK(gm_snapshot_stop(client, "quiet", 0.1, 0));
    CHECK(gm_play(client, "nope", NULL, 0, &h));
    print_handle("nope", h);
    CHECK(gm_event(client, "nothing", NULL, 0, &h));
    print_handle("nothing", h);
    poll_until_event(tone, "ended", 5.0);
    poll_until_event(car_tone, "ended", 5.0);
    {
        double end = now_s() + 5.0;
        while (!saw_kind("event", "unknown_event") && now_s() < end) {
            poll_print();
            sleep_ms(5);
        }
    }
    CHECK(gm_stop(client, hum, 0.0, GM_NOW, 0));
    poll_until_event(hum, "ended", 5.0);
    sync_commands();
    poll_print();
}

/* ------------------------------------------------------------ errors: malformed calls */

static void mode_errors(void)
{
    gm_play_args play;
    gm_handle h = 0, ids[2];
    gm_vec3 nan3 = {NAN, 0, 0}, inf3 = {0, INFINITY, 0}, far3 = {2e7, 0, 0}, ok3 = {1, 0, -1};
    gm_vec3 pos[2];
    gm_notice n[4];
    size_t count = 0;
    char long_name[200];
    const gm_value *reply = NULL;
    gm_client *other = NULL;
    gm_options o;
    connect_client(3.0);
    CHECK(gm_wait_ready(client, 60.0));

    /* NULL pointers */
    print_result("null_client_play", gm_play(NULL, "tone", NULL, 0, &h));
    print_result("null_client_poll", gm_poll(NULL, n, 4, &count));
    print_result("null_sound", gm_play(client, NULL, NULL, 0, &h));
    print_result("null_name_event", gm_event(client, NULL, NULL, 0, &h));
    print_result("null_notices", gm_poll(client, NULL, 4, &count));
    print_result("null_count", gm_poll(client, n, 4, NULL));
    print_result("null_position", gm_emitter(client, 1, NULL, NULL, NULL));
    print_result("null_pose", gm_pose_add(client, 1, NULL, NULL, NULL));
    print_result("null_ids", gm_emitters(client, 1, NULL, &ok3, NULL, NULL));
    print_result("null_create_out", gm_client_create(NULL, NULL));
    print_result("null_parameter_name", gm_set_parameter(client, NULL, 1.0, 0));
    print_result("null_bus", gm_bus_volume(client, NULL, 0.0, 0.0, 0));
    print_result("null_upload_pcm", gm_upload_sound(client, "chat", NULL, 10, 1, 48000, 0));
    print_result("null_telemetry_out", gm_telemetry(client, 0.0, NULL));
    print_result("null_session_out", gm_session_get(client, NULL));
    print_result("null_clock_out", gm_clock_get(client, NULL));
    print_result("null_value_reads", gm_value_double(NULL, NULL));
    printf("{\"case\": \"null_value_path\", \"result\": \"%s\"}\n",
           gm_value_path(NULL, "a.b") == NULL ? "not_found" : "found");
    gm_options_init(&o);
    o.timeout_s = NAN;
    print_result("nan_timeout_option", gm_client_create(&o, &other));
    gm_options_init(&o);
    o.pose_capacity = 0;
    print_result("zero_pose_capacity", gm_client_create(&o, &other));

    /* NaN, infinities and values out of the protocol's range (the server's oracle in the test) */
    gm_play_args_init(&play);
    play.has_position = 1;
    play.position = nan3;
    print_result("play_nan_position", gm_play(client, "tone", &play, 0, &h));
    gm_play_args_init(&play);
    play.has_velocity = 1;
    play.velocity = inf3;
    print_result("play_inf_velocity", gm_play(client, "tone", &play, 0, &h));
    gm_play_args_init(&play);
    play.has_position = 1;
    play.position = far3;
    print_result("play_far_position", gm_play(client, "tone", &play, 0, &h));
    gm_play_args_init(&play);
    play.volume_db = 30;
    print_result("play_volume_out", gm_play(client, "tone", &play, 0, &h));
    gm_play_args_init(&play);
    play.pitch_semitones = NAN;
    print_result("play_pitch_nan", gm_play(client, "tone", &play, 0, &h));
    gm_play_args_init(&play);
    play.fade_in = -1;
    print_result("play_fade_negative", gm_play(client, "tone", &play, 0, &h));
    gm_play_args_init(&play);
    play.has_pan = 1;
    play.pan = 2;
    print_result("play_pan_out", gm_play(client, "tone", &play, 0, &h));
    gm_play_args_init(&play);
    play.has_loops = 1;
    play.loops = -2;
    print_result("play_loops_out", gm_play(client, "tone", &play, 0, &h));
    gm_play_args_init(&play);
    play.id = (gm_handle)1 << 62;
    print_result("play_id_too_big", gm_play(client, "tone", &play, 0, &h));
    print_result("emitter_nan", gm_emitter(client, 1, &nan3, NULL, NULL));
    print_result("emitter_inf_velocity", gm_emitter(client, 1, &ok3, &inf3, NULL));
    print_result("pose_nan", gm_pose_add(client, 1, &nan3, NULL, NULL));
    ids[0] = 1;
    ids[1] = 2;
    pos[0] = ok3;
    pos[1] = nan3;
    print_result("emitters_nan", gm_emitters(client, 2, ids, pos, NULL, NULL));
    print_result("emitters_empty", gm_emitters(client, 0, NULL, NULL, NULL, NULL));
    print_result("listener_nan", gm_listener(client, &nan3, NULL, NULL, NULL, 0, 0));
    print_result("listener_index_out", gm_listener(client, NULL, NULL, NULL, NULL, 4, 0));
    print_result("parameter_nan", gm_set_parameter(client, "p", NAN, 0));
    print_result("parameter_inf", gm_set_parameter(client, "p", INFINITY, 0));
    print_result("snapshot_intensity_out", gm_snapshot_start(client, "quiet", 101, GM_DEFAULT, 0));
    print_result("stop_fade_out", gm_stop(client, 1, 4000, GM_NOW, 0));
    print_result("seek_negative", gm_seek(client, 1, -1, 0));
    print_result("bus_volume_out", gm_bus_volume(client, "music", -200, 0, 0));
    memset(long_name, 'x', 129);
    long_name[129] = '\0';
    print_result("name_too_long", gm_play(client, long_name, NULL, 0, &h));
    print_result("name_empty", gm_play(client, "", NULL, 0, &h));
    print_result("name_not_utf8", gm_play(client, "\xff\xfe", NULL, 0, &h));
    print_result("upload_channels_out", gm_upload_sound(client, "chat", (const float *)(const void *)&ok3, 1, 3,
                                                        48000, GM_WAIT));
    print_result("upload_rate_out", gm_upload_sound(client, "chat", (const float *)(const void *)&ok3, 1, 1,
                                                    1000, GM_WAIT));
    print_result("invalid_handle_stop", gm_stop(client, GM_INVALID_HANDLE, 0, GM_NOW, 0));
    print_result("handle_too_big_emitter", gm_emitter(client, (gm_handle)1 << 63, &ok3, NULL, NULL));
    /* directions: any length (0: none), three finite numbers within +-1e7 */
    gm_play_args_init(&play);
    play.has_direction = 1;
    play.direction = nan3;
    print_result("play_nan_direction", gm_play(client, "tone", &play, 0, &h));
    {
        gm_event_args ev = GM_EVENT_ARGS_INIT;
        gm_instance_args inst = GM_INSTANCE_ARGS_INIT;
        ev.has_direction = 1;
        ev.direction = inf3;
        print_result("event_inf_direction", gm_event(client, "hum", &ev, 0, &h));
        inst.has_direction = 1;
        inst.direction = far3;
        print_result("set_instance_far_direction", gm_set_instance(client, 1, &inst, 0));
    }
    print_result("emitter_nan_direction", gm_emitter(client, 1, &ok3, NULL, &nan3));
    print_result("pose_nan_direction", gm_pose_add(client, 1, &ok3, NULL, &nan3));
    {
        gm_vec3 dirs[2] = {{0, 0, 1}, {0, NAN, 0}};
        ids[0] = 1;
        ids[1] = 2;
        pos[0] = ok3;
        pos[1] = ok3;
        print_result("emitters_nan_direction", gm_emitters(client, 2, ids, pos, NULL, dirs));
    }
    print_result("object_nan_direction", gm_object(client, 5, NULL, NULL, &nan3, 0, 0, GM_WAIT));
    gm_play_args_init(&play);
    play.id = 78;
    play.has_direction = 1;
    play.direction = v3(0, 0, 0);
    print_result("play_zero_direction", gm_play(client, "tone", &play, GM_WAIT, &h));
    print_result("zero_direction_cleanup", gm_stop(client, 78, 0, GM_NOW, GM_WAIT));
    /* occlusion: factors in [0, 1], exactly one target, a zone takes occlusion only */
    print_result("occlusion_factor_out", gm_occlusion(client, 1, GM_NO_OBJECT, NULL, 1.5, GM_UNCHANGED, 0));
    print_result("obstruction_factor_negative", gm_occlusion(client, 1, GM_NO_OBJECT, NULL, GM_UNCHANGED, -0.5, 0));
    print_result("occlusion_nan", gm_occlusion(client, 1, GM_NO_OBJECT, NULL, NAN, GM_UNCHANGED, 0));
    print_result("occlusion_two_targets", gm_occlusion(client, 1, 2, NULL, 0.5, GM_UNCHANGED, 0));
    print_result("occlusion_three_targets", gm_occlusion(client, 1, 2, "cave", 0.5, GM_UNCHANGED, 0));
    print_result("occlusion_no_target", gm_occlusion(client, GM_INVALID_HANDLE, GM_NO_OBJECT, NULL, 0.5,
                                                     GM_UNCHANGED, 0));
    print_result("occlusion_zone_obstruction", gm_occlusion(client, GM_INVALID_HANDLE, GM_NO_OBJECT, "cave",
                                                            GM_UNCHANGED, 0.5, 0));
    print_result("occlusion_zone_name_too_long", gm_occlusion(client, GM_INVALID_HANDLE, GM_NO_OBJECT, long_name,
                                                              0.5, GM_UNCHANGED, 0));
    print_result("occlusion_object_too_big", gm_occlusion(client, GM_INVALID_HANDLE, (uint64_t)1 << 62, NULL, 0.5,
                                                          GM_UNCHANGED, 0));
    print_result("occlusion_stream_and_wait", gm_occlusion(client, 1, GM_NO_OBJECT, NULL, 0.5, GM_UNCHANGED,
                                                           GM_WAIT | GM_STREAM));
    print_result("occlusion_streamed", gm_occlusion(client, 1, GM_NO_OBJECT, NULL, 0.5, GM_UNCHANGED, GM_STREAM));
    /* aux_sends: at most 8, levels in [-144, 24] dB, names, exactly one target */
    {
        gm_aux_send nine[9] = {{"room", -6}, {"b0", -6}, {"b1", -6}, {"b2", -6}, {"b3", -6}, {"b4", -6},
                               {"b5", -6}, {"b6", -6}, {"b7", -6}};
        gm_aux_send one = {"room", -6};
        print_result("aux_sends_too_many", gm_aux_sends(client, 1, GM_NO_OBJECT, nine, 9, 0));
        print_result("aux_sends_two_targets", gm_aux_sends(client, 1, 2, &one, 1, 0));
        print_result("aux_sends_no_target", gm_aux_sends(client, GM_INVALID_HANDLE, GM_NO_OBJECT, &one, 1, 0));
        print_result("aux_sends_stream_and_wait", gm_aux_sends(client, 1, GM_NO_OBJECT, &one, 1, GM_WAIT | GM_STREAM));
        print_result("aux_sends_streamed", gm_aux_sends(client, 1, GM_NO_OBJECT, &one, 1, GM_STREAM));
        print_result("null_sends", gm_aux_sends(client, 1, GM_NO_OBJECT, NULL, 1, 0));
        one.volume_db = 30;
        print_result("aux_sends_level_out", gm_aux_sends(client, 1, GM_NO_OBJECT, &one, 1, 0));
        one.volume_db = NAN;
        print_result("aux_sends_level_nan", gm_aux_sends(client, 1, GM_NO_OBJECT, &one, 1, 0));
        one.volume_db = -6;
        one.bus = "";
        print_result("aux_sends_bus_empty", gm_aux_sends(client, 1, GM_NO_OBJECT, &one, 1, 0));
        one.bus = NULL;
        print_result("null_send_bus", gm_aux_sends(client, 1, GM_NO_OBJECT, &one, 1, 0));
        nine[1].bus = "room";                       /* a bus named twice: refused here (the server keeps the last) */
        print_result("aux_sends_duplicate_bus", gm_aux_sends(client, 1, GM_NO_OBJECT, nine, 2, 0));
    }
    /* sizes checked before sending */
    {
        size_t count_big = GM_MAX_BATCH, k;
        gm_handle *many = (gm_handle *)malloc(sizeof(gm_handle) * (count_big + 1));
        gm_vec3 *mpos = (gm_vec3 *)malloc(sizeof(gm_vec3) * (count_big + 1));
        float *huge = (float *)calloc((size_t)GM_MAX_FRAME_BYTES / 4 + 16, sizeof(float));
        for (k = 0; k <= count_big; k++) {
            many[k] = ((gm_handle)1 << 40) + k;
            mpos[k] = v3(1e6 + (double)k, -1e6, 123456.789);
        }
        print_result("emitters_full_batch", gm_emitters(client, count_big, many, mpos, mpos, NULL));
        print_result("emitters_beyond_a_batch", gm_emitters(client, count_big + 1, many, mpos, NULL, NULL));  /* two messages */
        print_result("upload_too_large", gm_upload_sound(client, "chat", huge, (size_t)GM_MAX_FRAME_BYTES / 4, 1,
                                                         48000, GM_WAIT));
        print_result("upload_a_bit_too_large", gm_upload_sound(client, "chat", huge,
                                                               (size_t)GM_MAX_FRAME_BYTES / 4 - 8, 1, 48000, 0));
        free(many);
        free(mpos);
        free(huge);
    }
    print_result("ping_still_answers", gm_ping(client, &reply));     /* nothing oversized was sent */

    /* unknown names: waited (the result) and posted (the notice) */
    print_result("unknown_sound_waited", gm_play(client, "nope", NULL, GM_WAIT, &h));
    printf("{\"case\": \"unknown_sound_waited_message\", \"message\": ");
    print_json_string(gm_last_error(client));
    printf("}\n");
    print_result("unknown_event_waited", gm_event(client, "nothing", NULL, GM_WAIT, &h));
    print_result("unknown_parameter_waited", gm_set_parameter(client, "nothing", 1.0, GM_WAIT));
    print_result("parameter_out_of_range_waited", gm_set_parameter(client, "p", 3.0, GM_WAIT));
    print_result("unknown_snapshot_waited", gm_snapshot_start(client, "nothing", GM_DEFAULT, GM_DEFAULT, GM_WAIT));
    print_result("unknown_bus_waited", gm_bus_volume(client, "nothing", -3, 0, GM_WAIT));
    print_result("unknown_vca_waited", gm_vca_volume(client, "nothing", -3, 0, GM_WAIT));
    print_result("unknown_instance_info", gm_instance_info(client, 12345, &reply));
    print_result("unknown_sound_info", gm_sound_info(client, "nothing", &reply));
    print_result("bad_path_load", gm_load_scene(client, "../elsewhere.yaml", &reply));
    print_result("not_uploadable", gm_upload_sound(client, "tone", (const float *)(const void *)&ok3, 1, 1, 48000,
                                                   GM_WAIT));
    print_result("unknown_object_remove", gm_object(client, 999, NULL, NULL, NULL, 1, 0, GM_WAIT));
    print_result("occlusion_zone", gm_occlusion(client, GM_INVALID_HANDLE, GM_NO_OBJECT, "cave", 0.5, GM_UNCHANGED,
                                                GM_WAIT));
    print_result("unknown_zone_waited", gm_occlusion(client, GM_INVALID_HANDLE, GM_NO_OBJECT, "nowhere", 0.5,
                                                     GM_UNCHANGED, GM_WAIT));
    print_result("occlusion_unknown_instance", gm_occlusion(client, 12345, GM_NO_OBJECT, NULL, 0.5, GM_UNCHANGED,
                                                            GM_WAIT));
    print_result("occlusion_unknown_object", gm_occlusion(client, GM_INVALID_HANDLE, 999, NULL, GM_UNCHANGED, 0.5,
                                                          GM_WAIT));
    {
        gm_aux_send music = {"music", -6}, room = {"room", -6};
        print_result("aux_sends_not_auxiliary", gm_aux_sends(client, 12345, GM_NO_OBJECT, &music, 1, GM_WAIT));
        print_result("aux_sends_unknown_object", gm_aux_sends(client, GM_INVALID_HANDLE, 999, &room, 1, GM_WAIT));
        print_result("aux_sends_unknown_instance", gm_aux_sends(client, 12345, GM_NO_OBJECT, NULL, 0, GM_WAIT));
    }
    gm_play_args_init(&play);
    play.id = 77;
    print_result("duplicate_first", gm_play(client, "tone", &play, GM_WAIT, &h));
    print_result("duplicate_id", gm_play(client, "tone", &play, GM_WAIT, &h));
    print_result("duplicate_cleanup", gm_stop(client, 77, 0, GM_NOW, GM_WAIT));
    print_result("unknown_sound_posted", gm_play(client, "nope", NULL, 0, &h));
    print_handle("unknown_sound_posted", h);
    print_result("unknown_parameter_posted", gm_set_parameter(client, "nothing", 1.0, 0));
    print_result("unknown_bus_posted", gm_bus_mute(client, "nothing", 1, 0, 0));
    print_result("unknown_zone_posted", gm_occlusion(client, GM_INVALID_HANDLE, GM_NO_OBJECT, "nowhere", 0.5,
                                                     GM_UNCHANGED, 0));
    print_result("not_auxiliary_posted", gm_aux_sends(client, 12345, GM_NO_OBJECT, &(gm_aux_send){"music", -6}, 1, 0));
    /* an ended handle: posted stop refused as a notice; waited stop refused */
    print_result("click_play", gm_play(client, "click", NULL, 0, &h));
    print_handle("click", h);
    poll_until_event(h, "ended", 5.0);
    printf("{\"case\": \"ended_state\", \"state\": %d}\n", (int)gm_instance_state(client, h));
    print_result("ended_stop_posted", gm_stop(client, h, 0, GM_NOW, 0));
    print_result("ended_pause_posted", gm_pause(client, h, 1, 0, 0));
    print_result("ended_stop_waited", gm_stop(client, h, 0, GM_NOW, GM_WAIT));
    print_result("ended_set_instance_waited", gm_set_instance(client, h, NULL, GM_WAIT));
    sync_commands();
    poll_print();
    /* the batch holds pose_capacity poses */
    {
        gm_options small;
        gm_client *tiny = NULL;
        gm_options_init(&small);
        small.commands = ends[0];
        small.streams = ends[1];
        small.telemetry = ends[2];
        small.pose_capacity = 2;
        CHECK(gm_client_create(&small, &tiny));
        print_result("pose_1", gm_pose_add(tiny, 1, &ok3, NULL, NULL));
        print_result("pose_2", gm_pose_add(tiny, 2, &ok3, NULL, NULL));
        print_result("pose_batch_full", gm_pose_add(tiny, 3, &ok3, NULL, NULL));
        print_result("pose_flush", gm_pose_flush(tiny));
        print_result("pose_after_flush", gm_pose_add(tiny, 3, &ok3, NULL, NULL));
        print_result("play_without_session", gm_play(tiny, "tone", NULL, 0, &h));
        printf("{\"case\": \"play_without_session_handle\", \"null\": %s}\n", h == GM_INVALID_HANDLE ? "true" : "false");
        print_result("session_without_hello", gm_session_get(tiny, &(gm_session){0, 0, 0, 0, 0}));
        gm_client_free(tiny);
    }
    /* a closed client */
    print_result("close", gm_client_close(client));
    print_result("close_again", gm_client_close(client));
    print_result("closed_play", gm_play(client, "tone", NULL, 0, &h));
    print_result("closed_ping", gm_ping(client, &reply));
    print_result("closed_emitter", gm_emitter(client, 1, &ok3, NULL, NULL));
    print_result("closed_pose_flush", gm_pose_flush(client));
    print_result("closed_telemetry", gm_telemetry(client, 0.0, &reply));
    print_result("closed_wait_ready", gm_wait_ready(client, 0.1));
    print_result("closed_poll", gm_poll(client, n, 4, &count));
    printf("{\"case\": \"closed_error_strings\", \"text\": ");
    print_json_string(gm_error_string(GM_ERR_CLOSED));
    printf("}\n");
    gm_client_free(client);
    client = NULL;
    gm_client_free(NULL);
}

/* ------------------------------------------------------------ gone: a server that dies and comes back */

static void wait_line(const char *prompt)
{
    char line[64];
    printf("{\"prompt\": \"%s\"}\n", prompt);
    fflush(stdout);
    if (fgets(line, sizeof line, stdin) == NULL)
        die("stdin closed", GM_ERR_INVALID_ARGUMENT);
}

static void mode_gone(void)
{
    gm_handle h = 0, queued = 0, fresh = 0;
    gm_session s;
    double t0;
    gm_result r;
    connect_client(1.0);
    CHECK(gm_wait_ready(client, 60.0));
    CHECK(gm_session_get(client, &s));
    printf("{\"session\": %lld, \"first\": %llu}\n", (long long)s.session, (unsigned long long)s.first);
    CHECK(gm_play(client, "tone", NULL, 0, &h));
    print_handle("before", h);
    poll_until_event(h, "started", 5.0);
    wait_line("kill");
    t0 = now_s();
    r = gm_ping(client, NULL);
    printf("{\"case\": \"ping_gone\", \"result\": \"%s\", \"seconds\": %.3f}\n", gm_result_code(r), now_s() - t0);
    t0 = now_s();
    r = gm_play(client, "tone", NULL, 0, &queued);
    printf("{\"case\": \"play_gone\", \"result\": \"%s\", \"seconds\": %.6f}\n", gm_result_code(r), now_s() - t0);
    print_handle("queued", queued);
    print_result("emitter_gone", gm_emitter(client, h, &(gm_vec3){1, 0, 0}, NULL, NULL));
    print_result("poll_gone", gm_poll(client, seen, 1, &(size_t){0}));
    r = gm_wait_ready(client, 0.5);
    print_result("wait_ready_gone", r);
    /* posted while no server runs: it waits in ZeroMQ's queue; its ttl runs out before the restart */
    CHECK(gm_play(client, "tone", NULL, 0, &queued));
    print_handle("queued", queued);
    wait_line("restart");
    t0 = now_s();
    CHECK(gm_wait_ready(client, 60.0));
    printf("{\"case\": \"ready_again\", \"seconds\": %.3f}\n", now_s() - t0);
    CHECK(gm_session_get(client, &s));
    printf("{\"session\": %lld, \"first\": %llu}\n", (long long)s.session, (unsigned long long)s.first);
    print_result("old_handle_stop", gm_stop(client, h, 0, GM_NOW, GM_WAIT));
    CHECK(gm_play(client, "tone", NULL, 0, &fresh));
    print_handle("fresh", fresh);
    poll_until_event(fresh, "started", 5.0);
    CHECK(gm_stop(client, fresh, 0, GM_NOW, 0));
    poll_until_event(fresh, "ended", 5.0);
    {
        double end = now_s() + 3.0;
        while (!saw(queued, "refused") && now_s() < end) {
            poll_print();
            sleep_ms(5);
        }
    }
    sync_commands();
    poll_print();
}

/* ------------------------------------------------------------ alloc: nothing allocated per pose */

static size_t allocations;

static void *count_alloc(void *user, size_t size)
{
    (void)user;
    allocations++;
    return malloc(size);
}

static void count_free(void *user, void *ptr)
{
    (void)user;
    free(ptr);
}

static void mode_alloc(void)
{
    gm_options o;
    size_t at_create, before, frames = 2000, k, j;
    gm_handle ids[256];
    gm_notice n[16];
    size_t count = 0;
    const gm_value *q = NULL;
    uint64_t streams = 0;
    gm_options_init(&o);
    o.commands = ends[0];
    o.streams = ends[1];
    o.telemetry = ends[2];
    o.pose_capacity = 256;
    o.timeout_s = 3.0;
    o.allocator.alloc = count_alloc;
    o.allocator.free = count_free;
    CHECK(gm_client_create(&o, &client));
    at_create = allocations;
    CHECK(gm_wait_ready(client, 60.0));
    for (k = 0; k < 256; k++) {
        gm_play_args play;
        gm_play_args_init(&play);
        play.has_position = 1;
        play.position = v3((double)k, 0, -5);
        CHECK(gm_play(client, "tone", &play, 0, &ids[k]));
    }
    CHECK(gm_ping(client, NULL));
    CHECK(gm_poll(client, n, 16, &count));
    before = allocations;
    for (j = 0; j < frames; j++) {
        for (k = 0; k < 256; k++) {
            gm_vec3 p = v3((double)k + 0.001 * (double)j, 0.5, -5);
            gm_vec3 v = v3(1, 0, 0), d = v3(0, 0, 1);
            /* every kind of pose: four `emitters` messages a frame */
            CHECK(gm_pose_add(client, ids[k], &p, (k % 2) ? &v : NULL, (k % 4 >= 2) ? &d : NULL));
        }
        CHECK(gm_pose_flush(client));
        CHECK(gm_listener(client, &(gm_vec3){0, 1.8, 0}, NULL, NULL, NULL, 0, 0));
        CHECK(gm_occlusion(client, ids[j % 256], GM_NO_OBJECT, NULL, 0.001 * (double)(j % 1000), GM_UNCHANGED,
                           GM_STREAM));
        CHECK(gm_poll(client, n, 16, &count));
        if (j % 200 == 0)
            sleep_ms(1);
    }
    printf("{\"allocations_at_create\": %zu, \"allocations_during_poses\": %zu, \"poses\": %zu, "
           "\"stream_frames\": %zu}\n", at_create, allocations - before, frames * 256, frames * 6);
    {
        double end = now_s() + 20.0;
        do {
            CHECK(gm_query(client, &q));
            gm_value_uint64(gm_value_path(q, "server.streams"), &streams);
            if (streams >= frames * 6)
                break;
            sleep_ms(20);
        } while (now_s() < end);
        printf("{\"server_streams\": %llu}\n", (unsigned long long)streams);
    }
    gm_client_free(client);
    client = NULL;
    printf("{\"allocations_total\": %zu}\n", allocations);
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: %s frames|parity|errors|gone|alloc COMMANDS STREAMS TELEMETRY\n", argv[0]);
        return 2;
    }
    ends[0] = argv[2];
    ends[1] = argv[3];
    ends[2] = argv[4];
    if (strcmp(argv[1], "frames") == 0)
        mode_frames();
    else if (strcmp(argv[1], "parity") == 0)
        mode_parity();
    else if (strcmp(argv[1], "errors") == 0)
        mode_errors();
    else if (strcmp(argv[1], "gone") == 0)
        mode_gone();
    else if (strcmp(argv[1], "alloc") == 0)
        mode_alloc();
    else {
        fprintf(stderr, "unknown mode %s\n", argv[1]);
        return 2;
    }
    gm_client_free(client);
    printf("{\"done\": true}\n");
    return 0;
}
