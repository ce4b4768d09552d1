"""The protocol a game speaks, version 1: messages.py (every kind, one registry), wire.py (msgpack
frames: decode and validate, replies), schema.py (their JSON Schema).  Imports nothing of the mixer."""
