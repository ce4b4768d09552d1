"""The output layouts: their channels in file order, speaker directions, WAV channel masks, loudness weights.

One table, the home of these facts for the panners (core/panning/), the
meters (dsp/bs1770.py), the WAV writer (io/wav.py) and the scene's
`output.channels`:

- Speaker directions follow ITU-R BS.775 (5.1) and ITU-R BS.2051 (7.1 is its
  system I, 0+7+0; 7.1.4 its system J, 4+7+0, with the upper layer at 45°,
  inside the standard's 30-55° range).  Azimuths here are degrees to the
  listener's *right* (the listener frame's x axis), elevations degrees up;
  BS.2051 counts azimuth to the left, so its M+030 (front left) is -30 here.
- The channel order is the WAVE_FORMAT_EXTENSIBLE order (ascending bits of
  the channel mask; Microsoft's KSAUDIO_SPEAKER_* definitions), so a file's
  channels are where soundfile, ffmpeg and every player expect them:
  5.1 is FL FR FC LFE SL SR (mask 0x60F, ffmpeg's "5.1"), 7.1 is
  FL FR FC LFE BL BR SL SR (0x63F), 7.1.4 adds TFL TFR TBL TBR (0x2D63F).
- BS.1770-4 channel weights: LFE excluded (0), channels at 60-120° azimuth
  below 30° elevation 1.41 (+1.5 dB), the others 1.0 (BS.1770-4, Table 3).
  An ambisonic stream is metered on its W channel (the omnidirectional
  pressure; an approximation, stated as such).
- Ambisonic layouts are AmbiX: ACN channel order, SN3D normalisation
  (Nachbar, Zotter, Deleflie & Sontacchi 2011); their WAV mask is 0 (no
  speakers: the channels are sound-field components).

Control side, read when a scene loads (nothing here runs per block).
"""

from __future__ import annotations

from typing import NamedTuple

MAX_CHANNELS = 16               # the widest layout (third-order ambisonics); core/arrays.MAX_OUT follows it


class Speaker(NamedTuple):
    name: str                   # WAVE_FORMAT_EXTENSIBLE name (FL, FR, FC, LFE, BL, BR, SL, SR, TFL, ...)
    azimuth: float              # degrees to the right of straight ahead
    elevation: float            # degrees up
    mask: int                   # its bit in the channel mask


FL = Speaker("FL", -30.0, 0.0, 0x1)
FR = Speaker("FR", 30.0, 0.0, 0x2)
FC = Speaker("FC", 0.0, 0.0, 0x4)
LFE = Speaker("LFE", 0.0, 0.0, 0x8)


class LayoutSpec(NamedTuple):
    """What a layout is: its channels in file order and how they are heard."""

    name: str
    kind: str                           # "speakers", "binaural" or "ambisonic"
    channels: tuple[str, ...]
    speakers: tuple[Speaker, ...]       # for "speakers": one per channel, in file order (LFE included)
    mask: int                           # WAVE_FORMAT_EXTENSIBLE dwChannelMask (0: none)
    weights: tuple[float, ...]          # BS.1770-4 channel weights
    order: int = 0                      # ambisonic order


def _speakers(name: str, speakers: tuple[Speaker, ...]) -> LayoutSpec:
    def weight(s: Speaker) -> float:
        if s.name == "LFE":
            return 0.0
        return 1.41 if 60.0 <= abs(s.azimuth) <= 120.0 and abs(s.elevation) < 30.0 else 1.0
    mask = 0
    for s in speakers:
        mask |= s.mask
    return LayoutSpec(name, "speakers", tuple(s.name for s in speakers), speakers, mask,
                      tuple(weight(s) for s in speakers))


def _ambisonic(name: str, order: int) -> LayoutSpec:
    n = (order + 1) ** 2
    return LayoutSpec(name, "ambisonic", tuple(f"ACN{k}" for k in range(n)), (), 0,
                      (1.0,) + (0.0,) * (n - 1), order)


SPECS: dict[str, LayoutSpec] = {spec.name: spec for spec in (
    LayoutSpec("stereo", "speakers", ("FL", "FR"), (FL, FR), 0x3, (1.0, 1.0)),
    _speakers("quad", (Speaker("FL", -45.0, 0.0, 0x1), Speaker("FR", 45.0, 0.0, 0x2),
                       Speaker("BL", -135.0, 0.0, 0x10), Speaker("BR", 135.0, 0.0, 0x20))),
    _speakers("5.1", (FL, FR, FC, LFE, Speaker("SL", -110.0, 0.0, 0x200), Speaker("SR", 110.0, 0.0, 0x400))),
    _speakers("7.1", (FL, FR, FC, LFE, Speaker("BL", -135.0, 0.0, 0x10), Speaker("BR", 135.0, 0.0, 0x20),
                      Speaker("SL", -90.0, 0.0, 0x200), Speaker("SR", 90.0, 0.0, 0x400))),
    _speakers("7.1.4", (FL, FR, FC, LFE, Speaker("BL", -135.0, 0.0, 0x10), Speaker("BR", 135.0, 0.0, 0x20),
                        Speaker("SL", -90.0, 0.0, 0x200), Speaker("SR", 90.0, 0.0, 0x400),
                        Speaker("TFL", -45.0, 45.0, 0x1000), Speaker("TFR", 45.0, 45.0, 0x4000),
                        Speaker("TBL", -135.0, 45.0, 0x8000), Speaker("TBR", 135.0, 45.0, 0x20000))),
    LayoutSpec("binaural", "binaural", ("L", "R"), (), 0x3, (1.0, 1.0)),
    _ambisonic("ambix1", 1),
    _ambisonic("ambix3", 3),
)}
NAMES = tuple(SPECS)
