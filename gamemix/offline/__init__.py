"""Edge: offline work on files: render.py (a script through a scene to WAV), meter.py (BS.1770)."""
