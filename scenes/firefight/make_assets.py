"""Make the firefight scene's assets from the showcase's (deterministic; re-run to regenerate).

    .venv/bin/python scenes/firefight/make_assets.py

The speech (espeak-ng, made by the showcase's make_assets.py), the gunshots,
the wind and the music are the showcase's, re-encoded (FLAC and OGG) so
this folder stands on its own: a scene may only read files inside its own
folder.
"""

from __future__ import annotations

from pathlib import Path

import soundfile

HERE = Path(__file__).resolve().parent
SHOWCASE = HERE.parent.parent / "gamemix" / "showcase" / "assets"
COPIES = {"line_storm.wav": "line_storm.flac", "line_contact.wav": "line_contact.flac",
          "line_clear.wav": "line_clear.flac", "gun1.wav": "gun1.flac", "gun2.wav": "gun2.flac",
          "gun3.wav": "gun3.flac", "wind.wav": "wind.ogg", "music.ogg": "music.ogg"}


def main() -> None:
    (HERE / "assets").mkdir(exist_ok=True)
    for source, target in COPIES.items():
        data, rate = soundfile.read(SHOWCASE / source, dtype="float32")
        kind = {"flac": ("FLAC", "PCM_16"), "ogg": ("OGG", "VORBIS")}[target.rsplit(".", 1)[1]]
        soundfile.write(HERE / "assets" / target, data, rate, format=kind[0], subtype=kind[1])
        print("wrote", target)


if __name__ == "__main__":
    main()
