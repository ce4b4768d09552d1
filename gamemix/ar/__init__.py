"""AR mode's analysis of the microphone: ambient noise, speech, and the game's own echo.

ambient.py (the noise estimate), detectors.py (voice-activity detectors),
segments.py (frame decisions into speech segments), echo.py (the output as
the reference: delay, canceller, gate), analysis.py (the pipeline a block
goes through).  Live it runs on a thread of its own (live/mic.py), offline
in the render loop; never inside the audio block.
"""
