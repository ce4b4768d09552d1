"""The `gamemix` command line: validate, schema, render, demo, warmup, meter, serve, keys, check, analyze,
recommend, top.

Edge: turns arguments into calls and errors into exit codes; no logic of its own.
Diagnostics go to the `gamemix` logger (stderr); results go to stdout.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from gamemix import __version__
from gamemix.errors import LocatedError
from gamemix.live import config

SHOWCASE = Path(__file__).resolve().parent / "showcase"     # package data: works from an installed wheel
log = logging.getLogger("gamemix")


def cmd_validate(args) -> int:
    from gamemix.scene.assets import build_bank
    from gamemix.scene.load import load_scene
    scene = load_scene(args.scene)
    if args.script:
        from gamemix.scene.script import load_script
        script = load_script(args.script, scene.output.sample_rate, scene.output.block_size, scene)
    if args.decode:
        for warning in build_bank(scene).warnings:
            print(f"warning: {warning}", file=sys.stderr)
        if scene.output.hrtf is not None:            # read and prepared as a binaural render would
            from gamemix.scene import hrtf
            try:
                hrtf.load(scene.asset_path(scene.output.hrtf), scene.output.sample_rate)
            except ValueError as exc:
                raise LocatedError([scene.problem(("output", "hrtf"), str(exc))]) from None
    print(f"{args.scene}: ok ({len(scene.buses)} buses, {len(scene.sounds)} sounds)")
    if args.script:
        print(f"{args.script}: ok against {args.scene} ({len(script.messages)} messages)")
    return 0


def _refused(report: dict, allow_errors: bool) -> int:
    """Exit code of a render: 1 if the mixer refused any command, unless errors are allowed."""
    n = len(report["errors"])
    if n == 0 or allow_errors:
        return 0
    print(f"gamemix: {n} command{'s were' if n != 1 else ' was'} refused (listed above); failing. "
          f"Use --allow-errors to accept a render with refused commands", file=sys.stderr)
    return 1


def cmd_schema(args) -> int:
    if args.protocol:
        from gamemix.live.telemetry import PUBLISHED, SENT
        from gamemix.protocol.schema import protocol_schema
        print(protocol_schema(PUBLISHED, SENT))
        return 0
    from gamemix.scene.load import json_schema
    print(json_schema())
    return 0


def compile_reporter(stream=None):
    """Prints each kernel as it compiles (stderr), with a header on the first: a cold start says what it does."""
    from gamemix.core.kernel_cache import cache_dir
    stream = stream or sys.stderr

    def report(name: str, done: int, total: int, elapsed: float) -> None:
        if done == 1:
            print(f"compiling the mixer's kernels (first run of this version on this machine; cached in "
                  f"{cache_dir()}):", file=stream, flush=True)
        print(f"  [{done:3} of ~{total}] {elapsed:6.1f} s  {name.removeprefix('gamemix.')}", file=stream, flush=True)
    return report


def cmd_warmup(args) -> int:
    from gamemix.core.kernel_cache import cache_dir
    from gamemix.offline.warmup import SHOWCASE, warm_up
    seconds = warm_up(args.scene or SHOWCASE, compile_reporter(sys.stdout), args.layout)
    print(f"kernels ready in {seconds:.1f} s ({cache_dir()})", flush=True)
    return 0


def cmd_render(args) -> int:
    from gamemix.core.kernel_cache import CompileProgress
    from gamemix.offline.render import format_report, render
    with CompileProgress(compile_reporter()):
            report = render(args.scene, args.script, args.out, seed=args.seed, stems_dir=args.stems,
                        report_path=args.report, fmt=args.format, strict=not args.allow_errors,
                        layout=args.layout, mic=args.mic)
    print(format_report(report))
    print(f"wrote {args.out}")
    return _refused(report, args.allow_errors)


def cmd_demo(args) -> int:
    from gamemix.core.kernel_cache import CompileProgress
    from gamemix.offline.render import format_report, render
    out = Path(args.out_dir)
    with CompileProgress(compile_reporter()):
        report = render(SHOWCASE / "scene.yaml", SHOWCASE / "script.yaml", out / "showcase.wav",
                        stems_dir=out / "stems", report_path=out / "showcase.json")
    print(format_report(report))
    print(f"wrote {out / 'showcase.wav'} (stems in {out / 'stems'}, report {out / 'showcase.json'})")
    return _refused(report, False)


def cmd_check(args) -> int:
    import os
    from gamemix.core.kernel_cache import CompileProgress
    from gamemix.offline import check as mixcheck
    from gamemix.scene.load import load_scene
    job = mixcheck.read_job(args.scene, args.recordings, args.seed)
    targets = mixcheck.scene_targets(load_scene(args.scene), args.loudness_tolerance)
    baseline = None
    if args.baseline and (Path(args.baseline) / "check.json").exists():
        baseline = json.loads((Path(args.baseline) / "check.json").read_text())
    workers = args.workers or os.cpu_count() or 1
    client = None
    if args.cluster:
        from gamemix.offline.check_cluster import connect, run_cluster
        client = connect(args.cluster)
        results = run_cluster(job, client)
        where = f"on {args.cluster} ({len(client.scheduler_info()['workers'])} workers)"
    elif workers == 1 or len(job.recordings) == 1:
        results, where = mixcheck.run_serial(job), "serially"
    else:
        results, where = mixcheck.run_pool(job, workers), f"on {workers} local processes"
    print(f"checking {len(job.recordings)} recordings against {args.scene} {where}", file=sys.stderr, flush=True)
    progress = mixcheck.Progress(len(job.recordings), lambda text: print(text, end="", file=sys.stderr, flush=True))
    try:
        with CompileProgress(compile_reporter()):
            run = mixcheck.check(job, targets, results, baseline, args.tolerance, progress)
    finally:
        if client is not None:
            cluster = getattr(client, "cluster", None)
            client.close()
            if cluster is not None:
                cluster.close()
    print(mixcheck.table(run))
    if args.json:
        mixcheck.save(run, args.json)
    if args.junit:
        Path(args.junit).write_text(mixcheck.junit(run))
    if args.baseline and args.accept:
        if run["passed"]:
            Path(args.baseline).mkdir(parents=True, exist_ok=True)
            mixcheck.save(run, Path(args.baseline) / "check.json")
            print(f"accepted as the baseline: {Path(args.baseline) / 'check.json'}")
        else:
            print("not accepted as the baseline: the run failed", file=sys.stderr)
    return 0 if run["passed"] else 1


def cmd_analyze(args) -> int:
    import time
    from gamemix.core.kernel_cache import CompileProgress
    from gamemix.offline.analysis.analyze import analyze
    started = time.monotonic()
    with CompileProgress(compile_reporter()):
        doc = analyze(args.source, args.out, scene=args.scene, reference=args.reference)
    for sentence in doc["description"]:
        print(sentence["text"])
    print(f"wrote {Path(args.out) / 'analysis.html'} and {Path(args.out) / 'analysis.json'} "
          f"({time.monotonic() - started:.1f} s)")
    return 0


def cmd_recommend(args) -> int:
    from gamemix.core.kernel_cache import CompileProgress
    from gamemix.offline.analysis import recommend as rec
    with CompileProgress(compile_reporter()):
        result = rec.recommend(args.scene, args.script, vary=args.vary, verify=args.verify,
                               max_masked_percent=args.max_masked_percent)
    text = rec.patch_text(result)
    print(text, end="")
    if args.out:
        Path(args.out).write_text(text)
    if args.apply:
        rec.apply_patch(args.scene, result.changes)
        print(f"applied {len(result.changes)} change(s) to {args.scene}", file=sys.stderr)
    return 0


def cmd_top(args) -> int:
    from gamemix.live.top import main as top
    return top(args.telemetry, 1 if args.once else args.frames, args.timeout)


def cmd_meter(args) -> int:
    from gamemix.offline.meter import format_report, measure_file
    result = measure_file(args.file)
    print(json.dumps(result) if args.json else format_report(result))
    return 0


def cmd_serve(args) -> int:
    import signal
    import threading
    from gamemix.live.server import Server, ServerConfig
    server_config = ServerConfig(scene=Path(args.scene), commands=args.commands, streams=args.streams,
                                 telemetry=args.telemetry, output=args.output, device=args.device, ahead=args.ahead,
                                 device_buffer=args.device_buffer,
                                 telemetry_hz=args.telemetry_hz, record=Path(args.record) if args.record else None,
                                 watch=args.watch, seed=args.seed,
                                 curve_secret=Path(args.curve_secret) if args.curve_secret else None,
                                 curve_clients=Path(args.curve_clients) if args.curve_clients else None,
                                 max_stream_age=args.max_stream_age, realtime=args.realtime,
                                 endpoints_file=Path(args.endpoints_file) if args.endpoints_file else None,
                                 layout=args.layout, mic=Path(args.mic) if args.mic else None)
    done = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: done.set())
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    log.info("loading %s (the first run on a machine also compiles the audio kernels, about half a minute)",
             args.scene)
    with Server(server_config) as server:
        _serve_until(done, args.duration, args.parent_pid)
        stats = server.output_stats()
    log.info("stopped: %d blocks, %d xruns", stats.get("blocks", 0), stats.get("xruns", 0))
    return 0


def _serve_until(done, duration: float | None, parent_pid: int | None) -> None:
    """Wait for a signal, the end of `duration`, or (with `parent_pid`) the parent's exit: a server that
    a game spawned stops when the game goes, however it went."""
    import os
    import time
    end = None if duration is None else time.monotonic() + duration
    while not done.is_set():
        left = 1.0 if end is None else min(1.0, end - time.monotonic())
        if left <= 0 or done.wait(left):
            return
        if parent_pid is not None and os.getppid() != parent_pid:
            log.info("the process that started this server (pid %d) is gone: stopping", parent_pid)
            return


def cmd_keys(args) -> int:
    from gamemix.live.curve import make_keys
    for name, public, secret in make_keys(Path(args.folder)):
        print(f"{name}: public {public}, secret {secret}")
    print("serve with --curve-secret server.key_secret --curve-clients DIR (holding client.key)")
    return 0


def _count(minimum: int):
    """An argparse type: an int >= minimum."""
    def parse(text: str) -> int:
        value = int(text)
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {value}")
        return value
    return parse


_non_negative, _positive = _count(0), _count(1)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gamemix", description="Game-audio mixing middleware.")
    parser.add_argument("--version", action="version", version=f"gamemix {__version__}")
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"],
                        help="diagnostics shown on stderr (default INFO)")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("validate", help="check a scene file and report every error with its location")
    p.add_argument("scene")
    p.add_argument("--no-decode", dest="decode", action="store_false",
                   help="only check the file, do not decode its audio")
    p.add_argument("--script", default=None,
                   help="also check this render script against the scene (every name it gives must exist)")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("schema", help="print the JSON Schema of scene files (for editors)")
    p.add_argument("--protocol", action="store_true",
                   help="print the JSON Schema of the live server's wire frames instead (docs/protocol.md)")
    p.set_defaults(func=cmd_schema)

    p = sub.add_parser("render", help="render a script of timed messages through a scene to WAV")
    p.add_argument("scene")
    p.add_argument("--layout", help="output layout instead of the scene's `output.channels` (stereo, quad, 5.1, "
                                    "7.1, 7.1.4, binaural, ambix1, ambix3)")
    p.add_argument("--script", required=True, help="YAML timeline of messages (see docs/script-format.md)")
    p.add_argument("--out", required=True, help="output WAV file")
    p.add_argument("--seed", type=int, default=None, help="random seed (default: the script's, else 0)")
    p.add_argument("--stems", default=None, help="folder for one post-fader WAV per bus")
    p.add_argument("--report", default=None, help="write the render's figures as JSON")
    p.add_argument("--format", default="float", choices=["float", "pcm24", "pcm16"], help="WAV sample format")
    p.add_argument("--mic", default=None, help="a recording (any rate and channels) that stands in for the scene's "
                                               "microphone (AR mode; docs/scene-format.md, Microphone)")
    p.add_argument("--allow-errors", action="store_true",
                   help="exit 0 even when the script names what the scene lacks or the mixer refuses commands "
                        "(for exploring; a mix check should not pass it)")
    p.set_defaults(func=cmd_render)

    p = sub.add_parser("demo", help="render the bundled showcase scene and print its report")
    p.add_argument("--out-dir", default="out")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("warmup", help="compile the mixer's kernels now (a first run takes about half a minute), "
                                      "showing each one")
    p.add_argument("--scene", default=None, help="render one block of this scene (default: the bundled showcase)")
    p.add_argument("--layout", nargs="+", help="compile for these output layouts too ('all': one of each panner "
                                               "class: stereo, speakers, ambisonics, binaural)")
    p.set_defaults(func=cmd_warmup)

    p = sub.add_parser("serve", help="run the live mixer: ZeroMQ in, audio out")
    p.add_argument("scene")
    p.add_argument("--layout", help="output layout instead of the scene's `output.channels` (stereo, quad, 5.1, "
                                    "7.1, 7.1.4, binaural, ambix1, ambix3)")
    p.add_argument("--commands", default=config.COMMANDS, help="ROUTER endpoint for commands")
    p.add_argument("--streams", default=config.STREAMS, help="PULL endpoint for poses and streams")
    p.add_argument("--telemetry", default=config.TELEMETRY, help="PUB endpoint for telemetry")
    p.add_argument("--output", default="device", help="'device' (PortAudio), 'null', or a .wav file (headless)")
    p.add_argument("--device", default=None, help="PortAudio output device name or index")
    p.add_argument("--ahead", type=_non_negative, default=0,
                   help="blocks rendered ahead of the device by a render thread of their own; 0 (default) renders "
                        "each block just before the device takes it: the least latency")
    p.add_argument("--device-buffer", type=_positive, default=config.DEVICE_BUFFER,
                   help="PortAudio frames per buffer (the device's latency is a few of these)")
    p.add_argument("--telemetry-hz", type=float, default=config.TELEMETRY_HZ)
    p.add_argument("--record", default=None, help="write every applied message, with its block, to this script")
    p.add_argument("--watch", action="store_true", help="reload the scene when its file changes")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
    p.add_argument("--curve-secret", default=None, help="server secret key file (required beyond loopback)")
    p.add_argument("--curve-clients", default=None, help="folder of authorised client public keys")
    p.add_argument("--max-stream-age", type=float, default=config.MAX_STREAM_AGE_S,
                   help="drop stream frames sent longer ago than this (seconds; the sender stamps them)")
    p.add_argument("--no-realtime", dest="realtime", action="store_false",
                   help="do not ask for real-time scheduling of the render thread")
    p.add_argument("--endpoints-file", default=None,
                   help="once the sockets are bound, write their endpoints (and the pid) here as JSON")
    p.add_argument("--mic", default=None,
                   help="a recording that stands in for the scene's microphone (AR mode); without it, a scene with a "
                        "microphone captures it from the device, full duplex with the output")
    p.add_argument("--parent-pid", type=int, default=None,
                   help="stop when this process (the game that started the server) exits")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("check", help="re-render recorded sessions through a scene and check them against its "
                                     "targets and the last accepted run (mix CI)")
    p.add_argument("recordings", nargs="+", help="recordings (serve --record) or scripts")
    p.add_argument("--scene", required=True)
    p.add_argument("--workers", type=_positive, default=None, help="local worker processes (default: one per core)")
    p.add_argument("--cluster", default=None,
                   help="a Dask scheduler (tcp://HOST:8786), or local:N for a LocalCluster of N workers")
    p.add_argument("--json", default=None, help="write every figure and verdict here")
    p.add_argument("--junit", default=None, help="write a JUnit XML report here")
    p.add_argument("--baseline", default=None, help="folder of the last accepted run (its check.json)")
    p.add_argument("--accept", action="store_true", help="with --baseline: a run that passes becomes the baseline")
    p.add_argument("--tolerance", type=float, default=0.5,
                   help="dB or LU a figure may move the wrong way from the baseline (default 0.5)")
    p.add_argument("--loudness-tolerance", type=float, default=1.0,
                   help="LU an integrated loudness may sit from its bus's target (default 1)")
    p.add_argument("--seed", type=int, default=None, help="render seed (default: each recording's)")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("analyze", help="analyse a render (loudness, masking, pan, reverb, voices) into an HTML "
                                       "report and its JSON twin")
    p.add_argument("source", help="a render folder (mix.wav, stems/, report.json), or a script to render with --scene")
    p.add_argument("--scene", default=None, help="the scene (needed for a script; overrides a folder's render.json)")
    p.add_argument("--out", required=True, help="folder for analysis.html and analysis.json")
    p.add_argument("--reference", default=None, help="another render folder or script to compare against")
    p.set_defaults(func=cmd_analyze)

    p = sub.add_parser("recommend", help="solve for the bus gains and duck depths that meet the scene's targets; "
                                         "print them as a YAML patch")
    p.add_argument("scene")
    p.add_argument("--script", required=True, help="the script (or recording) the mix is judged on")
    p.add_argument("--vary", action="append", default=None,
                   help="a setting that may move: a bus name (its fader) or a path such as "
                        "buses.music.sidechain[0].depth_db (repeatable; default: every fader and duck depth)")
    p.add_argument("--max-masked-percent", type=float, default=None,
                   help="also: no mix bus masked by the rest for more than this %% of its time")
    p.add_argument("--out", default=None, help="also write the patch here")
    p.add_argument("--apply", action="store_true", help="write the changes into the scene, keeping its comments")
    p.add_argument("--no-verify", dest="verify", action="store_false",
                   help="do not re-render the result to measure it")
    p.set_defaults(func=cmd_recommend)

    p = sub.add_parser("top", help="a live terminal view of a running server's meters, voices and snapshots")
    p.add_argument("--telemetry", default=None, help=f"the server's telemetry endpoint (default {config.TELEMETRY})")
    p.add_argument("--once", action="store_true", help="print one frame and exit")
    p.add_argument("--frames", type=_positive, default=None, help="show this many frames, then exit")
    p.add_argument("--timeout", type=float, default=5.0, help="give up after this many seconds without telemetry")
    p.set_defaults(func=cmd_top)

    p = sub.add_parser("keys", help="make CURVE key pairs for a server and a client")
    p.add_argument("folder")
    p.set_defaults(func=cmd_keys)

    p = sub.add_parser("meter", help="measure a file's loudness (BS.1770-4 / EBU R128) and true peak")
    p.add_argument("file")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_meter)
    return parser


def _configure_logging(level: str) -> None:
    """The `gamemix` logger writes `gamemix: message` lines to stderr (once per process)."""
    if not log.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("gamemix: %(message)s"))
        log.addHandler(handler)
    log.setLevel(level)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _configure_logging(args.log_level)
    try:
        return args.func(args)
    except LocatedError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        n = len(exc.problems)
        print(f"{n} error{'s' if n != 1 else ''}", file=sys.stderr)
        return 1
    except (OSError, ValueError) as exc:
        print(f"gamemix: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:        # a bug, not the input's fault: say so, keep the traceback for --log-level DEBUG
        log.debug("traceback", exc_info=True)
        print(f"gamemix: unexpected error: {type(exc).__name__}: {exc} (run with --log-level DEBUG for the "
              f"traceback, and please report it)", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
