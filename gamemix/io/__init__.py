"""Edge: audio in and out behind one small interface (base.py): PortAudio, a null clock, WAV files."""
