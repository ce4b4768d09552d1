"""The JSON Schema of the wire's frames (`gamemix schema --protocol`), from the models themselves.

Requests come from the message structs (msgspec's generator); replies from
the pydantic models below; published frames (telemetry, reload) from the
models the live server publishes, passed in by the caller (live/telemetry.py),
so each frame's schema is written next to the code that makes it.  The
result is one draft 2020-12 document: `$defs.Request` (a union discriminated
on `type`, one branch per message kind), `$defs.Reply` (`OkReply` /
`ErrorReply`) and `$defs.Published`.

Control side.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal, Optional, Union

import msgspec
from pydantic import BaseModel, ConfigDict, Field, RootModel, TypeAdapter

from gamemix.protocol.messages import KINDS, PROTOCOL_VERSION, AnyMessage


class Frame(BaseModel):
    """Base of the models of frames the server sends (schema only)."""

    model_config = ConfigDict(extra="forbid")


class ErrorBody(Frame):
    """Why a command was refused."""

    code: str = Field(description="stable error code (docs/protocol.md, 'Error codes')")
    message: str = Field(description="human-readable explanation")
    field: Optional[str] = Field(description="dotted path of the offending field, or null")


class OkReply(Frame):
    """Reply to a command that was carried out (ROUTER socket)."""

    v: Literal[1] = Field(description="protocol version")
    rid: Any = Field(description="the request's `rid`, echoed; null if it had none")
    ok: Literal[True]
    data: dict[str, Any] = Field(description="command-specific result, {} if none (docs/protocol.md)")


class ErrorReply(Frame):
    """Reply to a command that was refused (ROUTER socket); nothing changed."""

    v: Literal[1] = Field(description="protocol version")
    rid: Any = Field(description="the request's `rid`, echoed; null if it had none or the frame was unreadable")
    ok: Literal[False]
    error: ErrorBody


def _requests() -> tuple[dict, dict]:
    """(Request schema, the message kinds' $defs) from the message structs, with the wire's envelope:
    `v` is required there and must be the protocol version."""
    (union,), defs = msgspec.json.schema_components([AnyMessage], ref_template="#/$defs/{name}")
    for cls in KINDS.values():
        branch = defs[cls.__name__]
        branch["properties"]["v"] = {"const": PROTOCOL_VERSION, "description": "protocol version"}
        branch["properties"]["rid"]["description"] = ("request id, echoed in the reply "
                                                      "(ignored on the stream socket)")
        branch["required"] = sorted(set(branch.get("required", [])) | {"v"})
    request = {"title": "Request", **union,
               "description": "A frame a client sends: a command (ROUTER) or a stream message (PULL), "
                              "told apart by `type`."}
    return request, defs


def protocol_schema(published: tuple[type[BaseModel], ...], sent: tuple[type[BaseModel], ...] = ()) -> str:
    """JSON Schema (draft 2020-12) of every frame on the wire; `published`: the models of the frames
    the server publishes, each with a `type` literal; `sent`: those it sends one client on the command
    socket besides replies (notices)."""
    request, defs = _requests()

    class Reply(RootModel[Union[(OkReply, ErrorReply, *sent)]]):
        """The one reply to each command, and the notices about a session's instances, on the ROUTER socket."""

    class Published(RootModel[Annotated[Union[published], Field(discriminator="type")]]):
        """A frame the server publishes on the PUB socket."""

    out = TypeAdapter(Union[Reply, Published]).json_schema(ref_template="#/$defs/{model}")
    defs.update(out.pop("$defs"))
    defs["Request"] = request
    return json.dumps({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": f"gamemix wire protocol, version {PROTOCOL_VERSION}",
        "description": ("One msgpack map per ZeroMQ frame, shown here as JSON: requests (commands on the "
                        "ROUTER socket, streams on the PULL socket), replies, and published frames (PUB). "
                        "A `bytes` field (contentEncoding base64 here) is a msgpack bin on the wire. "
                        "Not expressed here: `emitters` lists must have equal lengths, and the listener's "
                        "`forward` and `up` must not be zero or parallel. See docs/protocol.md."),
        "anyOf": [{"$ref": "#/$defs/Request"}, *out["anyOf"]],
        "$defs": defs,
    }, indent=2)
