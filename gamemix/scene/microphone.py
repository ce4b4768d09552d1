"""The scene's `microphone` section: AR mode (docs/scene-format.md, "Microphone").

A microphone feeds a bus of the tree (hear-through: the real world through
the game's output), and what it hears drives the mix: chosen buses follow the
room's noise (ambient-adaptive gain), chosen buses duck while a person speaks
(a voice-activity detector), and with loudspeakers the game's own output is
used as the reference that keeps it from driving either (echo safety).

Control side: nothing here runs per audio block.
"""

from __future__ import annotations

from typing import Literal, Optional, Union

from pydantic import Field

from gamemix.scene.fields import Decibels, Milliseconds, Strict, ranged

MAX_ADAPTIVE_BUSES = 256      # buses one microphone section may make follow or duck

DETECTORS = ("silero", "webrtc")


class Follow(Strict):
    """A bus that keeps a margin over the room's noise ("adaptive volume")."""

    margin_db: ranged(-40.0, 40.0) = Field(10.0, description="LU the bus keeps over the ambient noise estimate")
    level_lufs: Optional[ranged(-70.0, 0.0)] = Field(
        None, description="the bus's loudness in the mix (default: its loudness target, `loudness.target_lufs`)")
    max_boost_db: ranged(0.0, 24.0) = Field(12.0, description="the most the bus is raised above its own level")
    attack_s: ranged(0.0, 60.0) = Field(2.0, description="time constant of a rising boost, s")
    release_s: ranged(0.0, 120.0) = Field(4.0, description="time constant of a boost given back, s")


class Duck(Strict):
    """A bus that ducks while a person speaks ("conversation awareness")."""

    depth_db: ranged(-60.0, 0.0) = Field(-12.0, description="the duck while speech is detected, dB")
    attack_ms: Milliseconds = Field(60.0, description="time constant of the duck going down")
    hold_ms: Milliseconds = Field(500.0, description="how long the duck stays after speech stops (gaps between "
                                                     "words do not pump)")
    release_ms: Milliseconds = Field(800.0, description="time constant of the duck coming back")


class Ambient(Strict):
    """The ambient noise estimate: a low percentile of short-term loudness over a sliding window."""

    window_s: ranged(1.0, 30.0) = Field(4.0, description="the window the percentile is taken over, s")
    percentile: ranged(1.0, 50.0) = Field(20.0, description="which percentile of the momentary loudness values")
    calibration_db: ranged(-60.0, 60.0) = Field(
        0.0, description="added to the mic's loudness to put it on the output's scale (the level at the ear of "
                         "a sound the mic reads at 0 LUFS, minus 0 LUFS); 0 for a calibrated pair")


class Echo(Strict):
    """Echo safety: what the microphone hears of the game's own output."""

    mode: Literal["headphones", "speakers"] = Field(
        "headphones", description="headphones: the mic cannot hear the output, no reference is used; speakers: the "
                                  "output is the reference that gates the estimate and the detector")
    delay_ms: Optional[ranged(0.0, 1000.0)] = Field(
        None, description="output-to-mic delay; null: measured from the signals (GCC-PHAT)")
    margin_db: ranged(0.0, 40.0) = Field(
        6.0, description="the mic must be this far above the echo the reference predicts to count as the room")
    canceller: bool = Field(True, description="speakers: subtract the predicted echo (NLMS, frequency domain) "
                                              "before the detector and the estimate")


class Microphone(Strict):
    """A microphone in the mix (see the module docstring)."""

    device: Optional[Union[int, str]] = Field(
        None, description="PortAudio input device, by index or part of its name (default: the default input)")
    channels: Literal[1, 2] = Field(1, description="channels captured")
    bus: str = Field(description="the bus the microphone feeds (hear-through); an ordinary bus of the tree")
    hear_through_db: Optional[Decibels] = Field(
        0.0, description="the microphone's level into its bus; null: not heard (the analysis still runs)")
    hear_through_align: bool = Field(
        False, description="delay the hear-through by the analysis's latency, so a duck starts with the speech "
                           "that triggers it (adds that latency to what the player hears)")
    detector: Literal[DETECTORS] = Field("silero", description="voice-activity detector: silero (ONNX model, "
                                                               "robust in noise) or webrtc (light)")
    speech_threshold: ranged(0.05, 0.95) = Field(0.5, description="silero: speech probability that starts speech")
    webrtc_mode: Literal[0, 1, 2, 3] = Field(3, description="webrtc: aggressiveness, 3 = fewest false alarms")
    ambient: Ambient = Ambient()
    follow: dict[str, Follow] = Field(default_factory=dict, max_length=MAX_ADAPTIVE_BUSES,
                                      description="buses that keep a margin over the room's noise")
    duck: dict[str, Duck] = Field(default_factory=dict, max_length=MAX_ADAPTIVE_BUSES,
                                  description="buses that duck while a person speaks")
    echo: Echo = Echo()
