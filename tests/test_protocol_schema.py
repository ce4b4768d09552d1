"""`gamemix schema --protocol`: the JSON Schema of the wire frames, checked against real frames.

jsonschema is not a dependency, so `check` below validates the subset of draft 2020-12
that msgspec and pydantic emit; it fails on any assertion keyword it does not know, so a
constraint is never silently skipped.
"""

import base64
import collections
import json
import math

import msgpack
import msgspec
import numpy as np
import pytest
import yaml

from gamemix.cli import main
from gamemix.client import Client
from gamemix.live.server import Server, ServerConfig
from gamemix.live.telemetry import PUBLISHED, SENT
from gamemix.protocol import messages as protocol
from gamemix.protocol import wire
from gamemix.protocol.schema import protocol_schema

ANNOTATIONS = {"title", "description", "default", "discriminator", "$schema", "$defs", "examples", "contentEncoding"}
ASSERTIONS = {"$ref", "type", "const", "enum", "anyOf", "oneOf", "properties", "required", "additionalProperties",
              "items", "prefixItems", "minItems", "maxItems", "minimum", "maximum", "exclusiveMinimum",
              "exclusiveMaximum", "minLength", "maxLength", "propertyNames", "maxProperties"}


def _is(kind: str, value) -> bool:
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    return {"null": value is None, "boolean": isinstance(value, bool), "string": isinstance(value, str),
            "array": isinstance(value, list), "object": isinstance(value, dict), "number": number,
            "integer": number and (isinstance(value, int) or value.is_integer())}[kind]


def _same(a, b) -> bool:
    return isinstance(a, bool) == isinstance(b, bool) and a == b


def check(schema, value, root, path="$") -> list[str]:
    """Errors of `value` against `schema` (a subset of JSON Schema 2020-12); [] if valid."""
    if schema is True or schema == {}:
        return []
    if schema is False:
        return [f"{path}: no value allowed"]
    unknown = set(schema) - ANNOTATIONS - ASSERTIONS
    assert not unknown, f"the test's validator does not know {unknown}"
    errors = []
    if isinstance(value, bytes) and schema.get("contentEncoding") == "base64":
        value = base64.b64encode(value).decode()       # msgpack bin is JSON's base64 string
    if "$ref" in schema:
        assert schema["$ref"].startswith("#/$defs/")
        errors += check(root["$defs"][schema["$ref"][len("#/$defs/"):]], value, root, path)
    if "type" in schema and not _is(schema["type"], value):
        return errors + [f"{path}: {value!r} is not of type {schema['type']}"]
    if "const" in schema and not _same(value, schema["const"]):
        errors.append(f"{path}: {value!r} is not {schema['const']!r}")
    if "enum" in schema and not any(_same(value, e) for e in schema["enum"]):
        errors.append(f"{path}: {value!r} is not one of {schema['enum']}")
    if "anyOf" in schema and all(check(s, value, root, path) for s in schema["anyOf"]):
        errors.append(f"{path}: matches no branch of anyOf")
    if "oneOf" in schema:
        matches = sum(not check(s, value, root, path) for s in schema["oneOf"])
        if matches != 1:
            errors.append(f"{path}: matches {matches} branches of oneOf, not exactly one")
    if isinstance(value, dict):
        props = schema.get("properties", {})
        errors += [f"{path}: missing {k!r}" for k in schema.get("required", []) if k not in value]
        for key, item in value.items():
            if key in props:
                errors += check(props[key], item, root, f"{path}.{key}")
            elif "additionalProperties" in schema:
                errors += check(schema["additionalProperties"], item, root, f"{path}.{key}")
            if "propertyNames" in schema:
                errors += check(schema["propertyNames"], key, root, f"{path} key {key!r}")
        if len(value) > schema.get("maxProperties", math.inf):
            errors.append(f"{path}: {len(value)} properties")
    if isinstance(value, list):
        prefix = schema.get("prefixItems", [])
        for k, item in enumerate(value):
            sub = prefix[k] if k < len(prefix) else schema.get("items", True)
            errors += check(sub, item, root, f"{path}[{k}]")
        if len(value) < schema.get("minItems", 0) or len(value) > schema.get("maxItems", math.inf):
            errors.append(f"{path}: {len(value)} items")
    if isinstance(value, str) and not schema.get("minLength", 0) <= len(value) <= schema.get("maxLength", math.inf):
        errors.append(f"{path}: length {len(value)}")
    if _is("number", value):
        bounds = (("minimum", lambda x, b: x >= b), ("maximum", lambda x, b: x <= b),
                  ("exclusiveMinimum", lambda x, b: x > b), ("exclusiveMaximum", lambda x, b: x < b))
        errors += [f"{path}: {value} violates {key} {schema[key]}" for key, ok in bounds
                   if key in schema and not ok(value, schema[key])]     # NaN fails every bound
    return errors


@pytest.fixture(scope="module")
def schema():
    return json.loads(protocol_schema(PUBLISHED, SENT))


def frame(data: bytes):
    """A frame as the receiver sees it (msgpack map to Python values)."""
    return msgpack.unpackb(data, raw=False)


def test_schema_is_draft_2020_12_json_and_every_ref_resolves(schema, capsys):
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["anyOf"] == [{"$ref": f"#/$defs/{name}"} for name in ("Request", "Reply", "Published")]
    refs = []

    def walk(node):
        if isinstance(node, dict):
            refs.extend(v for k, v in node.items() if k == "$ref")
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)
    walk(schema)
    assert refs and all(r.startswith("#/$defs/") and r[len("#/$defs/"):] in schema["$defs"] for r in refs)
    assert main(["schema", "--protocol"]) == 0
    assert json.loads(capsys.readouterr().out) == schema
    assert main(["schema"]) == 0                                       # the default is still the scene schema
    assert json.loads(capsys.readouterr().out)["title"] == "gamemix scene"


def test_schema_names_every_message_type_the_wire_accepts(schema):
    request = schema["$defs"]["Request"]
    mapping = request["discriminator"]["mapping"]
    assert request["discriminator"]["propertyName"] == "type"
    assert set(mapping) == set(protocol.KINDS)                         # the protocol's one table of kinds
    assert protocol.STREAM_KINDS < set(mapping) and protocol.MIXER_KINDS < set(mapping)
    assert sorted(b["$ref"] for b in request["anyOf"]) == sorted(mapping.values())
    for kind, ref in mapping.items():
        branch = schema["$defs"][ref[len("#/$defs/"):]]
        fields = {f.name for f in msgspec.structs.fields(protocol.KINDS[kind])}
        assert set(branch["properties"]) == fields | {"type"}, kind
        assert branch["properties"]["type"]["enum"] == [kind]
        assert branch["properties"]["v"]["const"] == protocol.PROTOCOL_VERSION
        assert {"type", "v"} <= set(branch["required"]) and "rid" not in branch["required"]
        assert branch["additionalProperties"] is False
    published = schema["$defs"]["Published"]["discriminator"]["mapping"]
    assert set(published) == {"telemetry", "ready", "fault", "reload"}


def test_the_client_has_a_method_for_every_message_kind():
    missing = [kind for kind in protocol.KINDS if not callable(getattr(Client, kind, None))]
    assert missing == []


def _client_frames() -> tuple[list[bytes], list[bytes]]:
    """Drive gamemix.live.client.Client against a fake server socket; returns (command frames, replies)."""
    sent, replies = [], []

    queue = collections.deque()

    class FakeDealer:
        def send(self, data, flags=0):
            sent.append(data)
            msg = frame(data)
            data = {"play": {"id": 5}, "event": {"id": 9, "refused": []},
                    "hello": {"session": 1, "ids": [1 << 40, 2 << 40]}}.get(msg["type"], {})
            replies.append(wire.ok(msg["rid"], data) if msg["type"] != "seek"
                           else wire.error(msg["rid"], "unknown_instance", "no instance 5"))
            queue.append(replies[-1])
            if msg["type"] == "pause":
                replies.append(wire.encode({"type": "notify", "id": 5, "event": "paused", "block": 3}))
                queue.append(replies[-1])

        def poll(self, timeout):
            return len(queue)

        def recv(self):
            return queue.popleft()

        def close(self, linger=None):
            pass

    class FakePush(FakeDealer):
        def send(self, data, flags=0):
            sent.append(data)

    client = Client("inproc://nothing-commands", "inproc://nothing-streams", "inproc://nothing-telemetry")
    client._dealer.close(linger=0)
    client._push.close(linger=0)
    client._dealer, client._push = FakeDealer(), FakePush()
    client.ping()
    client.query()
    client.load_scene("other.yaml")
    assert client.play("tone", position=(3, 0, -2), fade_in=0.5, wait=True) == 5
    client.event("hum", id=9, position=(1, 2, 3))
    client.stop(5, fade=0.25)
    client.set_parameter("rain", 0.8)
    client.snapshot_start("combat", intensity=50)
    client.snapshot_stop("combat", fade=1.0)
    client.bus_volume("music", -6, fade=0.1)
    client.reset_meters("music")
    client.emitter(5, (2.5, 0, -2), velocity=(-1, 0, 0))
    client.emitters([5, 6], [(0, 0, 1), (1, 0, 0)], velocities=np.zeros((2, 3)))
    client.listener((0, 1.8, 0), forward=(0, 0, -1))
    client.stream_parameter("rain", 0.2)
    client.bus_mute("music", True)
    client.snapshot_intensity("combat", 75.0)
    client.vca_volume("effects", -6.0, fade=0.5)
    client.object(3, (1, 0, -2), velocity=(0, 0, 1), direction=(0, 0, 1))
    client.occlusion(5, occlusion=0.5, obstruction=0.25)
    client.occlusion(zone="cave", occlusion=1.0)
    client.aux_sends({"cave": -6.0}, object=3)
    client.emitters([5, 6], [(0, 0, 1), (1, 0, 0)], directions=[(1, 0, 0), (0, 0, -1)])
    client.object(3, remove=True, fade=0.2)
    client.upload_sound("chat", b"\x00\x00\x80\x3f" * 480, sample_rate=16000)
    assert client.play("tone", wait=True) == 5
    client.hello()
    assert client.play("tone") == (1 << 40) + 1                          # a handle from the session, at once
    client.set_instance(5, volume_db=-6, pan=0.5, fade=0.1)
    client.pause(5)
    client.seek(5, 1.5)
    client.instance_info(5)
    client.sound_info("tone")
    assert client.poll() == [{"id": 5, "event": "paused", "block": 3},
                             {"id": 5, "event": "refused", "kind": "seek", "code": "unknown_instance",
                              "message": "no instance 5"}]
    client.close()
    return sent, replies


def test_frames_the_client_sends_validate_and_decode(schema):
    sent, replies = _client_frames()
    kinds = set()
    for data in sent:
        assert check(schema, frame(data), schema) == [], frame(data)
        assert check(schema["$defs"]["Request"], frame(data), schema) == []
        msg, _ = wire.decode(data)                                      # and the server accepts it
        kinds.add(protocol.kind_of(msg))
    assert kinds == set(protocol.KINDS)                                # the client covers every kind
    for data in replies:
        assert check(schema["$defs"]["Reply"], frame(data), schema) == []


@pytest.mark.parametrize("bad", [
    {"type": "ping"},                                                   # no version
    {"v": 2, "type": "ping"},
    {"v": 1, "type": "jump"},
    {"v": 1, "sound": "tone"},                                          # no type
    {"v": 1, "type": ["ping"]},                                         # unhashable type (once crashed decode)
    {"v": 1, "type": "play"},                                           # no sound
    {"v": 1, "type": "play", "sound": "tone", "loud": True},            # unknown field
    {"v": 1, "type": "play", "sound": "tone", "volume_db": 30.0},       # out of range
    {"v": 1, "type": "emitter", "id": -1, "position": [0, 0, 0]},
    {"v": 1, "type": "emitter", "id": 1, "position": [0, 0]},
    {"v": 1, "type": "emitter", "id": 1, "position": [float("nan"), 0, 0]},
    {"v": 1, "type": "emitters", "ids": [1], "positions": [[0, 0, 1e8]]},
    {"v": 1, "type": "snapshot_intensity", "name": "combat", "intensity": 101},
    {"v": 1, "type": "load_scene", "file": ""},
    {"v": 1, "type": "play", "sound": "tone", "volume_db": "3"},        # a numeric string for a number
    {"v": 1, "type": "play", "sound": "tone", "id": True},              # a bool for an id
    {"v": 1, "type": "bus_mute", "bus": "music", "mute": 1},            # an int for a bool
    {"v": 1, "type": "emitter", "id": 1, "position": [True, 0, 0]},
    {"v": 1, "type": "emitters", "ids": [1], "positions": [["1", 0, 0]]},
])
def test_frames_the_wire_refuses_do_not_validate(schema, bad):
    data = wire.msgpack.packb(bad, use_bin_type=True)
    with pytest.raises(wire.WireError):
        wire.decode(data)
    assert check(schema, frame(data), schema) != []


def nest(value, levels):
    for _ in range(levels):
        value = [value]
    return value


def test_a_frame_nested_anywhere_the_types_do_not_nest_is_refused():
    """The message types bound the nesting: a list where a number or an id belongs is a bad value at
    the first level, whatever lies inside; a nesting too deep even to read is a bad frame."""
    for frame in ({"type": "ping", "rid": nest(1, 1)},
                  {"type": "emitter", "id": 1, "position": [0, 0, 0], "rid": nest(1, 8)},
                  {"type": "emitters", "ids": [1], "positions": [nest(0.0, 7)] * 3},
                  {"type": "play", "sound": "tone", "position": nest(0.0, 12)}):
        with pytest.raises(wire.WireError) as refused:
            wire.decode(wire.encode(frame))
        assert refused.value.code == "bad_value", frame
    deep = b"\x84\xa1v\x01\xa4type\xa4ping\xa3rid\x01\xa2zz" + b"\x91" * 100_000 + b"\x01"
    with pytest.raises(wire.WireError) as refused:
        wire.decode(deep)
    assert refused.value.code in ("bad_frame", "unknown_field")


def test_numbers_are_strict_but_an_int_is_a_float():
    with pytest.raises(wire.WireError) as refused:
        wire.decode(wire.encode({"type": "stop", "id": 5.0}))           # JSON Schema would take 5.0 as an int
    assert refused.value.code == "bad_value" and refused.value.field == "id"
    message, _ = wire.decode(wire.encode({"type": "play", "sound": "tone", "volume_db": -3, "position": [1, 2, 3]}))
    assert message.volume_db == -3.0 and message.position == (1.0, 2.0, 3.0)


def test_error_replies_and_published_frames_validate(schema, scene_dir):
    from conftest import sine
    for data in (b"\xc1", wire.encode({"type": "play", "sound": 7, "rid": "a"})):
        try:
            wire.decode(data)
        except wire.WireError as exc:
            reply = frame(wire.error(exc.rid, exc.code, exc.message, exc.field))
            assert reply["ok"] is False
            assert check(schema["$defs"]["Reply"], reply, schema) == []
            assert check(schema, reply, schema) == []
    scene_dir.audio("tone.wav", sine(1000.0, 1.0, amp=0.5))
    buses = {"master": {"limiter": {}, "loudness": {}}, "dialogue": {}, "ui": {},
             "music": {"compressor": {}, "sidechain": [{"key": "dialogue"}], "unmask": {"target": "dialogue"}}}
    path = scene_dir.scene({"tone": {"files": ["tone.wav"], "loop": True, "bus": "music"}}, buses=buses,
                           extra={"snapshots": {"quiet": {"buses": {"music": {"volume_db": -6}}}}})
    server = Server(ServerConfig(scene=path, output="null", watch=True))   # never started: no sockets bound
    try:
        m = server.mixer
        m.play("tone", 1)
        m.snapshot_start("quiet")
        out = np.zeros((m.block_size, m.channels), dtype=np.float32)
        for _ in range(100):
            m.render(out)
        telemetry = frame(wire.encode(server.telemetry()))
        levels = telemetry["buses"]
        assert levels["master"]["momentary_lufs"] is not None and levels["ui"]["rms_dbfs"] is None
        assert {"limiter_gr_db", "loudness_gain_db"} <= set(levels["master"])      # every optional reading
        assert {"compressor_gr_db", "sidechain_db", "unmask_cut_db"} <= set(levels["music"])
        assert telemetry["snapshots"]
        assert check(schema["$defs"]["Published"], telemetry, schema) == []
        assert check(schema, telemetry, schema) == []
        from gamemix.live.telemetry import ready
        for published in (ready(m, {"commands": "tcp://127.0.0.1:1"}, {"priority": "normal"}),
                          {"type": "fault", "stage": "render stall", "message": "late"}):
            assert check(schema["$defs"]["Published"], frame(wire.encode(published)), schema) == []
        assert check(schema["$defs"]["Reply"], frame(wire.ok(7, server.query())), schema) == []
        doc = yaml.safe_load(path.read_text())
        for volume, ok in ((-3, True), ("loud", False)):                 # a good edit, then a broken one
            doc["buses"]["music"]["volume_db"] = volume
            path.write_text(yaml.safe_dump(doc))
            server.reloader._mtime = -1.0
            reload = frame(server.reloader.check_file())
            assert reload["type"] == "reload" and reload["ok"] is ok
            assert check(schema["$defs"]["Published"], reload, schema) == []
    finally:
        server.stop()
