"""The sound designer's scene files: fields.py and model.py (pydantic), graph.py (the bus graph),
checks.py (cross-references), load.py (located YAML in, a validated Scene out), assets.py (decoded
audio), script.py (render scripts), paths.py (files confined to the scene's folder)."""
