"""The control side: commands in, targets into the engine's arrays out, once per block.
mixer.py (dispatch and the tick) and one module per concept it owns."""
