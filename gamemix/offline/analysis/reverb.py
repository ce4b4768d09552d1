"""Reverb level per bus where sends exist, after De Man, McNally & Reiss (2017), "Perceptual
evaluation and analysis of reverberation in multitrack music production", JAES 65(1/2),
who describe the amount of reverb on a source by the loudness of its reverb
relative to the loudness of the dry source, in LU.

A return's stem holds the reverb of every bus that sends to it.  The reverb is
linear and time-invariant (an FDN, core/dsp/reverb.py, with fixed settings),
so each sender's share of the return is the reverb of that sender alone: its
stem (post-fader, as sends are) times the send gain, run here through the
engine's own reverb kernel with the return's settings and fader.  Where a
snapshot or mapping moved a send level or the return's fader during the
render, the share uses the scene's static value; `explained_db` (the energy of
the shares' sum against the return's stem, dB) says how well the shares
account for the return: near 0 dB when nothing moved.

reverb_lu = L(share) - L(dry stem), integrated loudness (BS.1770, gated) of each.
"""

from __future__ import annotations

import numpy as np

from gamemix.core.dsp import reverb as fdn
from gamemix.offline.analysis.frames import rounded
from gamemix.offline.meter import Meter

BLOCK = 256


def wet(stem: np.ndarray, sample_rate: int, settings, gain_db: float) -> np.ndarray:
    """The reverb of `stem` (frames, channels) scaled by gain_db: what a return with these settings
    would output for it alone (100 % wet)."""
    st = fdn.allocate(1, 1, sample_rate)
    fdn.set_reverb(st.params, 0, sample_rate, settings.decay_s, settings.size, settings.damping,
                   settings.predelay_ms)
    x = np.ascontiguousarray(stem.T, dtype=np.float32) * np.float32(10.0 ** (gain_db / 20.0))
    channels, n = x.shape
    out = np.zeros_like(x)
    buf = np.zeros((channels, BLOCK), np.float32)
    for start in range(0, n, BLOCK):
        k = min(BLOCK, n - start)
        buf[:, :k] = x[:, start:start + k]
        fdn.reverb_block(0, buf, k, channels, st.params, st.lines, st.diffusers, st.predelay, st.positions)
        out[:, start:start + k] = buf[:, :k]
    return out.T


def analyse(folder, tree) -> list[dict]:
    """One entry per (sender, return): send dB, reverb LU relative to dry, and the return's explained energy."""
    scene = folder.scene
    if scene is None or not tree.returns:
        return []
    sr = folder.sample_rate
    out = []
    for ret in tree.returns:
        senders = [b for b, s in tree.sends.items() if ret in s]
        if not senders:
            continue
        bus = scene.buses[ret]
        ret_stem = folder.stem(ret)
        meter = Meter(sr, ret_stem.shape[1])
        total = np.zeros_like(ret_stem)
        entries = []
        for b in senders:
            dry = folder.stem(b)
            share = wet(dry, sr, bus.reverb, tree.sends[b][ret] + bus.volume_db)
            total += share
            l_dry, l_wet = meter.measure(dry)["integrated_lufs"], meter.measure(share)["integrated_lufs"]
            entries.append({"bus": b, "return": ret, "send_db": tree.sends[b][ret],
                            "dry_lufs": l_dry, "reverb_lufs": l_wet,
                            "reverb_lu": rounded(l_wet - l_dry) if l_dry is not None and l_wet is not None else None})
        e_ret = float(np.sum(ret_stem.astype(np.float64) ** 2))
        e_sum = float(np.sum(total.astype(np.float64) ** 2))
        explained = rounded(10 * np.log10(e_sum / e_ret)) if e_ret > 0 and e_sum > 0 else None
        for e in entries:
            e["explained_db"] = explained
        out += entries
    return out
