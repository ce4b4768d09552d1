/* A scripted scene played from C against `gamemix serve` (the showcase scene):
 *
 *   gamemix serve gamemix/showcase/scene.yaml &
 *   ./scripted_scene [COMMANDS STREAMS TELEMETRY]
 *
 * A walk in the rain that turns into a firefight, in about four seconds: the explore music and the
 * rain, crickets around the listener, footsteps, the storm rising, combat with gunshots, a line of
 * dialogue, then back to exploring.  Every call is posted (it returns at once); what the mixer says
 * back is read with gm_poll() between the steps.  Exits 1 if a call fails or the server refuses
 * something other than a voice limit.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "gamemix_client.h"

static gm_client *mix;
static int problems;

static void sleep_ms(int ms)
{
    struct timespec ts;
    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (long)(ms % 1000) * 1000000L;
    nanosleep(&ts, NULL);
}

static void check(gm_result r, const char *what)
{
    if (r != GM_OK) {
        fprintf(stderr, "%s: %s (%s)\n", what, gm_error_string(r), gm_last_error(mix));
        problems++;
    }
}

/* What the mixer said since the last call: lifecycle notices and refusals. */
static void read_notices(void)
{
    gm_notice notices[32];
    size_t n = 0, k;
    do {
        check(gm_poll(mix, notices, 32, &n), "poll");
        for (k = 0; k < n; k++) {
            const gm_notice *note = &notices[k];
            if (note->event == GM_EVENT_REFUSED) {
                printf("refused %s: %s %s\n", note->kind[0] ? note->kind : "play", note->code_name, note->message);
                if (note->code != GM_ERR_VOICE_LIMIT)
                    problems++;
            } else {
                printf("instance %llu %s\n", (unsigned long long)note->id, note->event_name);
            }
        }
    } while (n == 32);
}

static gm_handle play_at(const char *sound, double x, double y, double z)
{
    gm_play_args args = GM_PLAY_ARGS_INIT;
    gm_handle h = GM_INVALID_HANDLE;
    args.has_position = 1;
    args.position.x = x;
    args.position.y = y;
    args.position.z = z;
    check(gm_play(mix, sound, &args, 0, &h), sound);
    return h;
}

int main(int argc, char **argv)
{
    gm_options options;
    gm_handle rain, crickets[4], steps;
    gm_event_args fired = GM_EVENT_ARGS_INIT;
    gm_vec3 head = {0.0, 1.8, 0.0};
    int k;

    gm_options_init(&options);
    if (argc == 4) {
        options.commands = argv[1];
        options.streams = argv[2];
        options.telemetry = argv[3];
    }
    if (gm_client_create(&options, &mix) != GM_OK) {
        fprintf(stderr, "cannot create the client\n");
        return 1;
    }
    if (gm_wait_ready(mix, 60.0) != GM_OK) {              /* the loading screen */
        fprintf(stderr, "the server is not ready: %s\n", gm_last_error(mix));
        gm_client_free(mix);
        return 1;
    }
    check(gm_listener(mix, &head, NULL, NULL, NULL, 0, 0), "listener");

    /* exploring: music, rain, crickets around the listener */
    check(gm_event(mix, "explore_start", NULL, 0, NULL), "explore_start");
    check(gm_play(mix, "rain", NULL, 0, &rain), "rain");
    for (k = 0; k < 4; k++)
        crickets[k] = play_at("cricket", k % 2 ? 8.0 : -8.0, 0.0, k < 2 ? -3.0 : 5.0);
    for (k = 0; k < 6; k++) {                             /* six footsteps, 0.3 s apart */
        steps = play_at("footstep", 0.0, 0.0, -0.5);
        sleep_ms(300);
        read_notices();
    }
    (void)steps;

    /* the storm rises and a fight starts */
    check(gm_event(mix, "storm_rises", NULL, 0, NULL), "storm_rises");
    check(gm_set_parameter(mix, "rain", 0.9, 0), "set_parameter");
    check(gm_event(mix, "enter_combat", NULL, 0, NULL), "enter_combat");
    fired.has_position = 1;
    for (k = 0; k < 8; k++) {
        fired.position.x = 12.0 - 3.0 * k;
        fired.position.z = -20.0;
        check(gm_event(mix, k % 2 ? "enemy_fired" : "player_fired", &fired, 0, NULL), "fired");
        sleep_ms(120);
        read_notices();
    }
    play_at("line_contact", 1.0, 0.0, -2.0);
    sleep_ms(700);
    read_notices();

    /* the fight is over: back to exploring, the crickets fade out */
    check(gm_event(mix, "exit_combat", NULL, 0, NULL), "exit_combat");
    check(gm_event(mix, "storm_eases", NULL, 0, NULL), "storm_eases");
    for (k = 0; k < 4; k++)
        check(gm_stop(mix, crickets[k], 0.5, GM_NOW, 0), "stop");
    check(gm_stop(mix, rain, 1.0, GM_NOW, 0), "stop");
    sleep_ms(600);
    check(gm_ping(mix, NULL), "ping");                    /* every posted command was carried out */
    read_notices();
    gm_client_free(mix);
    printf("%s\n", problems ? "problems" : "ok");
    return problems ? 1 : 0;
}
