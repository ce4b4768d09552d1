/* The C side of benchmarks/bench_c_client.py: what the C client costs and how much it gets through.
 *
 *   gm_bench poses COMMANDS STREAMS TELEMETRY SECONDS VOICES [RATE]
 *       push one `emitters` batch of VOICES poses per frame (gm_pose_add + gm_pose_flush) for SECONDS,
 *       as fast as possible (RATE 0) or at RATE poses/s, to instances 0..VOICES-1 (the harness played
 *       them); then wait until the server has read every frame.  Prints poses sent and applied per
 *       second (applied: in frames read and not dropped as stale), the C time per pose, and the server's
 *       xruns and stream drops over the run (from query).
 *   gm_bench play COMMANDS STREAMS TELEMETRY CALLS
 *       CALLS posted plays of "shot", two per 60 Hz frame, polling once per frame; the time in each
 *       call (median, p99, max), and the `started` notices that came back; then CALLS/4 waited plays.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gamemix_client.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_s(double s)
{
    struct timespec ts;
    if (s <= 0)
        return;
    ts.tv_sec = (time_t)s;
    ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
    nanosleep(&ts, NULL);
}

static void check(gm_client *c, gm_result r, const char *what)
{
    if (r != GM_OK) {
        fprintf(stderr, "FAIL %s: %s %s\n", what, gm_result_code(r), c ? gm_last_error(c) : "");
        exit(1);
    }
}

static gm_client *connect_to(char **argv, uint32_t poses)
{
    gm_options o;
    gm_client *c = NULL;
    gm_options_init(&o);
    o.commands = argv[2];
    o.streams = argv[3];
    o.telemetry = argv[4];
    o.timeout_s = 10.0;
    o.pose_capacity = poses;
    check(NULL, gm_client_create(&o, &c), "create");
    check(c, gm_wait_ready(c, 120.0), "wait_ready");
    return c;
}

static void counters(gm_client *c, uint64_t *streams, uint64_t *drops, uint64_t *xruns)
{
    const gm_value *q = NULL;
    check(c, gm_query(c, &q), "query");
    gm_value_uint64(gm_value_path(q, "server.streams"), streams);
    gm_value_uint64(gm_value_path(q, "server.stream_drops"), drops);
    gm_value_uint64(gm_value_path(q, "output.xruns"), xruns);
}

static int bench_poses(char **argv, double seconds, uint32_t voices, double rate)
{
    gm_client *c = connect_to(argv, voices);
    uint64_t s0 = 0, d0 = 0, x0 = 0, s1 = 0, d1 = 0, x1 = 0, frames = 0, poses = 0;
    double t0, sent_s, total_s, in_client = 0;
    uint32_t k;
    counters(c, &s0, &d0, &x0);
    t0 = now_s();
    while (now_s() - t0 < seconds) {
        double a = now_s(), phase = (double)frames * 0.001;
        for (k = 0; k < voices; k++) {
            gm_vec3 p;
            p.x = -50.0 + (double)(k % 100) + phase;
            p.y = 0.5;
            p.z = -50.0 + (double)(k / 100);
            check(c, gm_pose_add(c, k, &p, NULL, NULL), "pose_add");
        }
        {
            gm_result r = gm_pose_flush(c);
            while (r == GM_ERR_QUEUE_FULL) {       /* ZeroMQ's queue is full: the server is behind */
                sleep_s(0.0002);
                for (k = 0; k < voices; k++) {
                    gm_vec3 p;
                    p.x = (double)k; p.y = 0.5; p.z = -5.0;
                    check(c, gm_pose_add(c, k, &p, NULL, NULL), "pose_add");
                }
                r = gm_pose_flush(c);
            }
            check(c, r, "pose_flush");
        }
        in_client += now_s() - a;
        frames++;
        poses += voices;
        if (rate > 0)
            sleep_s(t0 + (double)poses / rate - now_s());
    }
    sent_s = now_s() - t0;
    for (;;) {
        counters(c, &s1, &d1, &x1);
        if (s1 - s0 >= frames)
            break;
        sleep_s(0.01);
    }
    total_s = now_s() - t0;
    /* every id is known, so each stream drop is a frame refused as stale (older than --max-stream-age when
     * the server read it): applied = the poses of the frames read and not dropped */
    printf("{\"mode\": \"poses\", \"voices\": %u, \"rate\": %.0f, \"frames\": %llu, \"poses\": %llu, "
           "\"sent_per_s\": %.0f, \"applied_per_s\": %.0f, \"drain_s\": %.3f, \"client_ns_per_pose\": %.1f, "
           "\"stream_drops\": %llu, \"xruns\": %llu}\n", voices, rate, (unsigned long long)frames,
           (unsigned long long)poses, (double)poses / sent_s,
           (double)(frames - (d1 - d0 < frames ? d1 - d0 : frames)) * voices / total_s, total_s - sent_s,
           in_client / (double)poses * 1e9, (unsigned long long)(d1 - d0), (unsigned long long)(x1 - x0));
    gm_client_free(c);
    return 0;
}

static int compare(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void stats(const char *name, double *t, size_t n)
{
    qsort(t, n, sizeof *t, compare);
    printf("\"%s\": {\"calls\": %zu, \"median_us\": %.2f, \"p99_us\": %.2f, \"max_us\": %.2f}", name, n,
           t[n / 2] * 1e6, t[(size_t)(0.99 * (double)(n - 1))] * 1e6, t[n - 1] * 1e6);
}

static int bench_play(char **argv, size_t calls)
{
    gm_client *c = connect_to(argv, 16);
    double *posted = (double *)malloc(sizeof(double) * calls);
    double *waited = (double *)malloc(sizeof(double) * (calls / 4 + 1));
    double next_frame, end;
    gm_notice n[64];
    size_t k, got = 0, started = 0, refused = 0, nwaited = calls / 4 + 1;
    if (posted == NULL || waited == NULL)
        return 1;
    next_frame = now_s();
    for (k = 0; k < calls; k++) {
        gm_handle h;
        double a = now_s();
        gm_result r = gm_play(c, "shot", NULL, 0, &h);
        posted[k] = now_s() - a;
        check(c, r, "play");
        if (k % 2) {
            size_t j;
            check(c, gm_poll(c, n, 64, &got), "poll");
            for (j = 0; j < got; j++) {
                started += n[j].event == GM_EVENT_STARTED;
                refused += n[j].event == GM_EVENT_REFUSED;
            }
            next_frame += 1.0 / 60.0;
            sleep_s(next_frame - now_s());
        }
    }
    end = now_s() + 2.0;
    while (now_s() < end) {
        size_t j;
        check(c, gm_poll(c, n, 64, &got), "poll");
        for (j = 0; j < got; j++) {
            started += n[j].event == GM_EVENT_STARTED;
            refused += n[j].event == GM_EVENT_REFUSED;
        }
        sleep_s(0.01);
    }
    for (k = 0; k < nwaited; k++) {
        gm_handle h;
        double a = now_s();
        check(c, gm_play(c, "shot", NULL, GM_WAIT, &h), "waited play");
        waited[k] = now_s() - a;
    }
    printf("{\"mode\": \"play\", ");
    {
        /* the first play of a frame comes after the thread slept; the second right after the first */
        size_t half = calls / 2;
        double *first = (double *)malloc(sizeof(double) * half), *second = (double *)malloc(sizeof(double) * half);
        if (first == NULL || second == NULL)
            return 1;
        for (k = 0; k < half; k++) {
            first[k] = posted[2 * k];
            second[k] = posted[2 * k + 1];
        }
        stats("posted_first_in_frame", first, half);
        printf(", ");
        stats("posted_second_in_frame", second, half);
        printf(", ");
        free(first);
        free(second);
    }
    stats("posted", posted, calls);
    printf(", ");
    stats("waited", waited, nwaited);
    printf(", \"started\": %zu, \"refused\": %zu}\n", started, refused);
    free(posted);
    free(waited);
    gm_client_free(c);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 7 && strcmp(argv[1], "poses") == 0)
        return bench_poses(argv, atof(argv[5]), (uint32_t)atoi(argv[6]), argc > 7 ? atof(argv[7]) : 0.0);
    if (argc == 6 && strcmp(argv[1], "play") == 0)
        return bench_play(argv, (size_t)atoi(argv[5]));
    fprintf(stderr, "usage: %s poses C S T SECONDS VOICES [RATE] | play C S T CALLS\n", argv[0]);
    return 2;
}
