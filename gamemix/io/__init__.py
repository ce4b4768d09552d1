"""Edge: audio in and out (PortAudio devices, headless outputs)."""
