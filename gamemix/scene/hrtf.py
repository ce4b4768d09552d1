"""Head-related transfer functions: measured sets prepared into the tables the binaural kernels read.

Control side: NumPy and SciPy at scene load, never per block.  `load(None, rate)` gives the bundled
default (the MIT KEMAR set: NumPy, SciPy and soxr only), `load(path, rate)` a SOFA file
(SimpleFreeFieldHRIR, read with sofar: the `spatial` extra); either way an `HrtfTables` at the
output rate, prepared once per (source, rate) and kept in memory.

Conventions (the kernels depend on them)
----------------------------------------
Directions are the listener's, as in SOFA and AmbiX: azimuth in degrees counterclockwise from straight
ahead seen from above (90 = the listener's left, 270 = right), elevation up (+90 = overhead).  The
unit vector of (azimuth, elevation) is (cos el cos az, cos el sin az, sin el) with x front, y left,
z up.  In the engine's listener frame (x right, y up, z front: core/panning) that is
azimuth = atan2(-x, z), elevation = asin(y).  Ear 0 is the left ear, 1 the right.

The grid: row k is elevation el0 + k * el_step degrees (k < n_el: -90 to +90 inclusive); column j is
azimuth j * az_step (j < n_az: 0 to 360 - az_step; column n_az is column 0 again).  Each node holds,
per ear, a minimum-phase HRIR hrir[k, j, e, :] of `taps` samples and a delay delay[k, j, e] in samples
(fractional, >= 0): the direct path plays ear e as hrir[k, j, e] convolved with the input delayed by
delay[k, j, e].  Every delay includes PRE_DELAY (0.1 ms), the ambisonic decoder's causal margin, so
the two paths place a source at the same time.

The ambisonic decoder takes order-3 AmbiX input: ACN channel order (channel n*n + n + m for degree n,
order m), SN3D normalisation, real spherical harmonics without the Condon-Shortley phase: channels
0..3 are 1, sin az cos el, sin el, cos az cos el (W, Y, Z, X).  decoder[c, e, :] is the FIR from
channel c to ear e.  A plane wave from d, encoded as the SN3D harmonics of d (`sh_sn3d`) and decoded,
gives each ear approximately the direct path's response for d.

Level: every set is diffuse-field equalised so that each ear's power average over the sphere is 1/2
at every frequency: a sound from everywhere at once has unit power over both ears, as the stereo
panner's -3 dB centre has, so a scene keeps its loudness between stereo and binaural.

Preparation, per set and rate
-----------------------------
1. Delays.  Each measured response's onset is found as Andreopoulou & Katz (2017, "Identification of
   perceptually relevant methods of inter-aural time difference estimation", JASA 142(2), 588-598)
   found most perceptually relevant: the first sample at -30 dB of the response's peak after a 3 kHz
   low-pass (here a causal 4th-order Butterworth at the measured rate, then upsampled by an integer
   factor to >= 176.4 kHz and interpolated linearly between samples).  Onsets are times, the same at every output
   rate; the earliest of the set becomes PRE_DELAY.  KEMAR's interaural difference at +-90 degrees
   azimuth is 0.66 ms.
2. Magnitudes.  The responses are resampled to the output rate with soxr VHQ, as audio assets are
   (scene/assets.py), and their magnitude spectra diffuse-field equalised: divided by the power
   average over all directions (weighted by the area each stands for on the triangulation of step
   4), which takes out what every direction shares (loudspeaker, microphones, ear canal).  Below
   200 Hz and above 0.9 x the lower Nyquist frequency (the measured one or the output's) each
   response's equalised magnitude is held at its value at the band's edge: there is nothing there
   worth inverting.
3. Minimum phase.  Each equalised magnitude becomes a minimum-phase response by folding its real
   cepstrum (Oppenheim & Schafer, Discrete-Time Signal Processing, 3rd ed., sec. 13.8; the
   homomorphic method), truncated to `taps` with a half-Hann fade over the last eighth, and folded
   once more from the truncated filter's own magnitude (truncation can push a zero just outside the
   unit circle; an FIR's minimum-phase twin is as long, so this changes nothing else).  A head's
   responses are close to minimum phase plus a delay (Kulkarni, Isabelle & Colburn 1999,
   "Sensitivity of human subjects to head-related transfer-function phase spectra", JASA 105(5)),
   which is what the split into a filter and a delay relies on.
4. Grid.  The measured directions' unit vectors are triangulated by their convex hull
   (scipy.spatial.ConvexHull); a pole the set does not reach gets a virtual vertex carrying the mean
   of the nearest ring (for KEMAR, whose lowest ring is -40 degrees: the south pole).  Each grid
   node takes the barycentric blend of the corners of the facet its direction crosses, for the
   filters and the delays alike, so a node at a measured direction takes exactly the measured
   values.  Below the lowest ring the values thus move from the ring's to the ring's mean at the
   pole, continuously (holding each azimuth's ring value down to the pole would leave the pole row
   with a different value per column: a 1.3 ms jump of the interaural delay under the listener).
5. Decoder.  Order 3, designed against the direct path's responses on every other node of the grid
   (10 degrees), each weighted by the area it stands for: least squares below 2 kHz and magnitude
   least squares above (MagLS: Schoerkhuber, Zaunschirm & Hoeldrich 2018, "Binaural rendering of
   Ambisonic signals via magnitude least squares", DAGA 2018), where each frequency takes the phase
   the decoder of the previous one gives, advanced by the set's mean delay; Tikhonov regularisation
   of 1e-3 of the Gram matrix's mean diagonal; then windowed to decoder_taps (a half-Hann fade over
   the last quarter).  The harmonics come from scipy.special.sph_harm_y, SN3D made explicit
   (`sh_sn3d`), so hand-written polynomials can be tested against them.

Lengths scale with the rate (`taps_for`): taps 32 and decoder_taps 64 at 48 kHz, rounded up to a
multiple of 8.  benchmarks/hrtf_figures.py prints the errors each step leaves.

The bundled set, gamemix/scene/data/mit_kemar.npz, is made by `python -m gamemix.scene.make_hrtf` from
the MIT KEMAR measurements (Gardner & Martin 1995, "HRTF measurements of a KEMAR", JASA 97(6),
3907-3908; MIT Media Lab Perceptual Computing Technical Report #280, 1994) as the slab package ships
them.  Attribution and terms: gamemix/scene/data/MIT_KEMAR.md.
"""

from __future__ import annotations

import math
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DEFAULT_FILE = Path(__file__).resolve().parent / "data" / "mit_kemar.npz"
MIN_RATE, MAX_RATE = 8000, 192000
GRID_STEP = 5.0           # degrees, both axes
ORDER = 3                 # the decoder's ambisonic order
TAPS_48K = 32             # direct path's HRIR length at 48 kHz (0.67 ms)
DECODER_TAPS_48K = 64     # decoder FIR length at 48 kHz (1.33 ms); benchmarks/hrtf_figures.py: others
PRE_DELAY = 0.1e-3        # s: the earliest delay of a set (the decoder's causal margin)
ONSET_DB = -30.0          # onset threshold relative to the peak (Andreopoulou & Katz 2017)
ONSET_LOWPASS = 3000.0    # Hz
ONSET_RATE = 176400.0     # Hz, the least rate onsets are found at
EQ_LOW = 200.0            # Hz: below it, equalised magnitudes are held flat
EQ_HIGH = 0.9             # of the lower Nyquist frequency: above it, held flat
FLOOR = 1e-5              # -100 dB: the least magnitude the cepstrum takes
CROSSOVER = 2000.0        # Hz: least squares below, magnitude least squares above
REGULARISATION = 1e-3
DESIGN_STRIDE = 2         # the decoder is designed on every other grid row and column (10 degrees)
DECODER_FADE = 4          # the decoder's FIRs fade over their last quarter
CHUNK = 512               # responses processed at a time (bounds the memory a large SOFA set takes)


@dataclass(frozen=True)
class HrtfTables:
    """An HRTF set prepared for one output rate (module docstring: conventions).  Arrays are read-only."""

    sample_rate: int
    taps: int              # length of the direct path's minimum-phase HRIRs
    el0: float             # elevation of row k: el0 + k * el_step degrees, k < n_el (-90 .. +90)
    el_step: float
    n_el: int
    az_step: float         # azimuth of column j: j * az_step degrees, j < n_az (wraps: n_az is 0)
    n_az: int
    hrir: np.ndarray       # (n_el, n_az, 2, taps) float32, C-contiguous; ear 0 left, 1 right
    delay: np.ndarray      # (n_el, n_az, 2) float32, samples (fractional), >= 0
    max_delay: float       # the largest delay in `delay`, samples
    order: int             # ambisonic order of the decoder (3)
    decoder: np.ndarray    # ((order+1)**2, 2, decoder_taps) float32: ACN/SN3D channel -> ear FIRs
    description: str       # source and attribution

    @property
    def decoder_taps(self) -> int:
        return self.decoder.shape[2]

    def node(self, azimuth: float, elevation: float) -> tuple[int, int]:
        """The grid row and column nearest a direction (degrees)."""
        k = int(round((min(max(elevation, -90.0), 90.0) - self.el0) / self.el_step))
        j = int(round((azimuth % 360.0) / self.az_step)) % self.n_az
        return k, j


@dataclass(frozen=True)
class Measured:
    """A measured set as read: directions in degrees (SOFA convention) and responses (M, 2, N)."""

    sample_rate: float
    azimuth: np.ndarray
    elevation: np.ndarray
    hrir: np.ndarray
    description: str


_cache: dict[tuple, HrtfTables] = {}
_measured: dict[tuple, tuple[Measured, np.ndarray]] = {}   # a source's data and its onsets (s)
_lock = threading.Lock()


def load(path: str | os.PathLike | None, sample_rate: int) -> HrtfTables:
    """None: the bundled default (MIT KEMAR); else a SOFA file (SimpleFreeFieldHRIR), read with sofar.

    The tables are prepared once per (source, rate) and cached (a file is read again when its size or
    modification time changed).  Raises ValueError, naming the file, for a missing or unreadable
    file, a SOFA file of another convention, or data that cannot make a set."""
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, np.integer)) or \
            not MIN_RATE <= sample_rate <= MAX_RATE:
        raise ValueError(f"HRTF sample rate {sample_rate!r}: an integer from {MIN_RATE} to {MAX_RATE} Hz")
    key = _source_key(path)
    with _lock:
        tables = _cache.get((key, int(sample_rate)))
        if tables is None:
            measured, onsets = _measured.get(key) or (None, None)
            if measured is None:
                measured = read_default() if path is None else read_sofa(path)
                try:
                    onsets = onset_times(measured.hrir, measured.sample_rate)
                except ValueError as exc:
                    raise ValueError(f"{_name(path)}: {exc}") from None
                _remember(_measured, key, (measured, onsets))
            try:
                tables = prepare(measured, int(sample_rate), onsets)
            except ValueError as exc:
                raise ValueError(f"{_name(path)}: {exc}") from None
            _remember(_cache, (key, int(sample_rate)), tables)
    return tables


def _remember(cache: dict, key, value, keep: int = 8) -> None:
    """Keep the last `keep` entries: a set edited while a scene is watched is not kept in every version."""
    cache[key] = value
    while len(cache) > keep:
        del cache[next(iter(cache))]


def _name(path) -> str:
    return "the bundled HRTF set" if path is None else f"HRTF file {os.fspath(path)}"


def _source_key(path) -> tuple:
    if path is None:
        return ("default",)
    p = Path(os.fspath(path))
    try:
        st = p.stat()
    except OSError as exc:
        raise ValueError(f"{_name(path)}: cannot be read ({exc.strerror or exc})") from None
    if not p.is_file():
        raise ValueError(f"{_name(path)}: not a file")
    return (str(p.resolve()), st.st_size, st.st_mtime_ns)


def read_default() -> Measured:
    """The bundled MIT KEMAR set (NumPy only)."""
    try:
        with np.load(DEFAULT_FILE, allow_pickle=False) as f:
            return Measured(float(f["sample_rate"]), f["azimuth"].astype(np.float64),
                            f["elevation"].astype(np.float64), f["hrir"].astype(np.float64), str(f["description"]))
    except (OSError, KeyError, ValueError) as exc:
        raise ValueError(f"the bundled HRTF set {DEFAULT_FILE}: cannot be read ({exc})") from None


def read_sofa(path: str | os.PathLike) -> Measured:
    """A SimpleFreeFieldHRIR SOFA file, read with sofar; ValueError naming the file otherwise."""
    name = _name(path)
    try:
        import sofar
    except ImportError:
        raise ValueError(f"{name}: reading SOFA files needs sofar (pip install 'gamemix[spatial]')") from None
    import warnings
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sofa = sofar.read_sofa(os.fspath(path), verify=False, verbose=False)
    except Exception as exc:   # sofar/netCDF4 raise OSError, KeyError, ValueError, ... for a bad file
        raise ValueError(f"{name}: not a readable SOFA file ({type(exc).__name__}: {exc})") from None
    convention = str(getattr(sofa, "GLOBAL_SOFAConventions", ""))
    if convention != "SimpleFreeFieldHRIR":
        raise ValueError(f"{name}: SOFA convention {convention or '(none)'!r}, expected SimpleFreeFieldHRIR")
    try:
        ir = np.ma.filled(np.asarray(sofa.Data_IR, dtype=np.float64), np.nan)
        rate = float(np.ravel(np.ma.filled(sofa.Data_SamplingRate, np.nan))[0])
        pos = np.ma.filled(np.asarray(sofa.SourcePosition, dtype=np.float64), np.nan)
        pos_type = str(getattr(sofa, "SourcePosition_Type", "spherical"))
        delay = np.ma.filled(np.asarray(getattr(sofa, "Data_Delay", 0.0), dtype=np.float64), np.nan)
    except (AttributeError, TypeError, ValueError, IndexError) as exc:
        raise ValueError(f"{name}: unreadable data ({exc})") from None
    if ir.ndim == 2:
        ir = ir[:, :, None]
    if ir.ndim != 3 or ir.shape[1] != 2 or ir.shape[0] < 3 or ir.shape[2] < 2:
        raise ValueError(f"{name}: Data_IR has shape {ir.shape}; expected directions x 2 ears x samples")
    pos = np.atleast_2d(pos)
    if pos.shape == (1, 3) and len(ir) > 1:
        pos = np.repeat(pos, len(ir), axis=0)
    if pos.shape != (len(ir), 3):
        raise ValueError(f"{name}: SourcePosition has shape {pos.shape}; expected {len(ir)} x 3")
    if not (np.isfinite(ir).all() and np.isfinite(pos).all() and math.isfinite(rate) and rate > 0):
        raise ValueError(f"{name}: Data_IR, SourcePosition or Data_SamplingRate holds missing or non-finite values")
    if not np.any(ir):
        raise ValueError(f"{name}: every impulse response is silent")
    if pos_type.lower().startswith("cartesian"):
        x, y, z = pos.T
        if np.any(np.hypot(np.hypot(x, y), z) == 0):
            raise ValueError(f"{name}: a source position is at the listener")
        az, el = np.degrees(np.arctan2(y, x)), np.degrees(np.arctan2(z, np.hypot(x, y)))
    else:
        az, el = pos[:, 0], pos[:, 1]
    if np.any(np.abs(el) > 90.0 + 1e-6):
        raise ValueError(f"{name}: elevations beyond +-90 degrees")
    # Data_Delay (samples, per measurement or one for all, per ear): added to the responses' onsets
    try:
        delay = np.broadcast_to(np.atleast_2d(delay), (len(ir), 2))
    except ValueError:
        raise ValueError(f"{name}: Data_Delay has shape {np.shape(delay)}; expected 1 or {len(ir)} x 2") from None
    if np.any(delay < 0) or not np.isfinite(delay).all():
        raise ValueError(f"{name}: Data_Delay holds negative or non-finite values")
    if np.any(delay):
        width = ir.shape[2] + int(np.ceil(delay.max())) + 1
        f = np.fft.rfftfreq(width)
        ir = np.fft.irfft(np.fft.rfft(ir, width, axis=-1) * np.exp(-2j * np.pi * f * delay[..., None]), width, axis=-1)
    try:        # SOFA puts the left ear first; a file whose first receiver is to the right is swapped
        receivers = np.ma.filled(np.asarray(sofa.ReceiverPosition, dtype=np.float64), np.nan)
        receivers = receivers[..., 0] if receivers.ndim == 3 else receivers.reshape(-1, 3)
        if len(receivers) >= 2 and receivers[0, 1] < 0 < receivers[1, 1] and \
                not str(getattr(sofa, "ReceiverPosition_Type", "cartesian")).lower().startswith("spher"):
            ir = ir[:, ::-1]
    except (AttributeError, TypeError, ValueError):
        pass
    attrs = [str(getattr(sofa, a, "") or "").strip() for a in
             ("GLOBAL_Title", "GLOBAL_Organization", "GLOBAL_AuthorContact", "GLOBAL_License", "GLOBAL_References")]
    description = f"{os.path.basename(os.fspath(path))}: " + "; ".join(a for a in attrs if a)
    return Measured(rate, np.mod(az, 360.0), np.clip(el, -90.0, 90.0), ir, description.rstrip(": "))


# ------------------------------------------------------------------------------------------ preparation

def taps_for(rate: int, at_48k: int = TAPS_48K) -> int:
    """A length of at_48k samples at 48 kHz scaled to `rate`, rounded up to a multiple of 8 (at least 8)."""
    return max(8, 8 * math.ceil(at_48k * rate / 48000 / 8))


def prepare(measured: Measured, rate: int, onsets: np.ndarray | None = None,
            decoder_taps: int | None = None) -> HrtfTables:
    """The tables of a measured set at `rate` (module docstring: the steps)."""
    taps = taps_for(rate)
    mesh, fir, delay = measured_filters(measured, rate, onsets)
    n_el, n_az = int(round(180 / GRID_STEP)) + 1, int(round(360 / GRID_STEP))
    el = -90.0 + GRID_STEP * np.arange(n_el)
    az = GRID_STEP * np.arange(n_az)
    grid_el, grid_az = np.meshgrid(el, az, indexing="ij")
    index, weight = mesh.weights(grid_az.ravel(), grid_el.ravel())
    hrir = mesh.blend(fir, index, weight).reshape(n_el, n_az, 2, taps)
    delays = mesh.blend(delay, index, weight).reshape(n_el, n_az, 2)
    s = DESIGN_STRIDE
    decoder = design_decoder(hrir[::s, ::s], delays[::s, ::s], grid_az[::s, ::s], grid_el[::s, ::s], rate,
                             decoder_taps if decoder_taps is not None else taps_for(rate, DECODER_TAPS_48K))
    arrays = [np.ascontiguousarray(a, dtype=np.float32) for a in (hrir, delays, decoder)]
    for a in arrays:
        a.flags.writeable = False
    return HrtfTables(sample_rate=int(rate), taps=taps, el0=-90.0, el_step=GRID_STEP, n_el=n_el, az_step=GRID_STEP,
                      n_az=n_az, hrir=arrays[0], delay=arrays[1], max_delay=float(arrays[1].max()), order=ORDER,
                      decoder=arrays[2], description=measured.description)


def measured_filters(measured: Measured, rate: int, onsets: np.ndarray | None = None
                     ) -> tuple["SphereMesh", np.ndarray, np.ndarray]:
    """Steps 1-3 at the measured directions: the mesh, the filters (M, 2, taps) and delays (M, 2) in samples."""
    if onsets is None:
        onsets = onset_times(measured.hrir, measured.sample_rate)
    mesh = SphereMesh(measured.azimuth, measured.elevation)
    mag = equalised_magnitudes(measured, rate, mesh)
    flat = mag.reshape(-1, mag.shape[-1])
    taps = taps_for(rate)
    fir = np.concatenate([minimum_phase(flat[i:i + CHUNK], taps) for i in range(0, len(flat), CHUNK)])
    return mesh, fir.reshape(mag.shape[:2] + (taps,)), (onsets - onsets.min() + PRE_DELAY) * rate


def onset_times(hrir: np.ndarray, rate: float) -> np.ndarray:
    """(M, 2) onset of each response in seconds: -30 dB of its peak after a 3 kHz low-pass (module doc)."""
    from scipy.signal import butter, sosfilt
    m, _, n = hrir.shape
    sos = butter(4, min(ONSET_LOWPASS, 0.45 * rate), fs=rate, output="sos")
    factor = max(1, math.ceil(ONSET_RATE / rate))
    flat = hrir.reshape(m * 2, n)
    out = np.empty(m * 2)
    for c in range(0, m * 2, CHUNK):
        low = sosfilt(sos, flat[c:c + CHUNK], axis=1)
        if factor > 1:     # an integer factor: every response starts on an output sample
            low = resample_rows(low, rate, rate * factor, exact=True)
        env = np.abs(low)
        peak = env.max(axis=1)
        if np.any(peak <= 0):
            raise ValueError("a silent response has no onset")
        level = peak * 10 ** (ONSET_DB / 20)
        i = np.argmax(env >= level[:, None], axis=1)
        rows = np.arange(len(i))
        before, at = env[rows, np.maximum(i - 1, 0)], env[rows, i]
        frac = np.where((i > 0) & (at > before), (level - before) / np.where(at > before, at - before, 1.0), 1.0)
        out[c:c + CHUNK] = (i - 1 + frac) / (rate * factor)
    return out.reshape(m, 2)


def resample_rows(x: np.ndarray, rate: float, to: float, exact: bool = False) -> np.ndarray:
    """Each row of x (K, n) resampled from `rate` to `to` with soxr VHQ, as audio assets are
    (scene/assets.py).  The rows go through soxr as one signal, apart by more than its filter's reach
    (a few hundred samples: measured 125 at the output rate, 115 at the input rate), which is
    20 times faster than as K channels.  Row k's output starts at round(k * stride * to / rate):
    with `exact` the ratio must make that an integer (an integer upsampling factor) and the rows keep
    their timing; otherwise a row may be shifted by a fraction of a sample, which its magnitude
    spectrum does not see.  Returns (K, resampled_width(n, rate, to))."""
    import soxr
    k, n = x.shape
    q = to / rate
    if exact and abs(q - round(q)) > 1e-9:
        raise ValueError("exact resampling needs an integer factor")
    gap = _gap(q)
    stride = n + gap
    flat = np.zeros(k * stride + gap)
    flat[:k * stride].reshape(k, stride)[:, gap // 2:gap // 2 + n] = x
    out = soxr.resample(flat, rate, to, quality="VHQ")
    width = resampled_width(n, rate, to)
    starts = np.round(np.arange(k) * stride * q).astype(np.int64)
    idx = starts[:, None] + np.arange(width)[None, :]
    out = np.concatenate([out, np.zeros(max(0, int(idx.max()) + 1 - len(out)))])
    return out[idx]


def _gap(q: float) -> int:
    return int(math.ceil(400 * max(1.0, 1.0 / q)))


def resampled_width(n: int, rate: float, to: float) -> int:
    """The length of a row of n samples as resample_rows gives it."""
    return int(math.floor((n + _gap(to / rate)) * to / rate))


def equalised_magnitudes(measured: Measured, rate: int, mesh: "SphereMesh") -> np.ndarray:
    """(M, 2, nfft//2+1) float32 diffuse-field equalised magnitudes at `rate` (step 2 of the module
    docstring), computed CHUNK responses at a time."""
    m, _, n = measured.hrir.shape
    flat = measured.hrir.reshape(m * 2, n)
    resample = rate != measured.sample_rate
    width = resampled_width(n, measured.sample_rate, rate) if resample else n
    # the grid: no time aliasing of the responses, and 16 times the filters' length at least (cepstra)
    nfft = max(2048, 1 << math.ceil(math.log2(max(16 * taps_for(rate), width))))
    spec = np.empty((m * 2, nfft // 2 + 1), dtype=np.float32)
    for c in range(0, m * 2, CHUNK):
        rows = resample_rows(flat[c:c + CHUNK], measured.sample_rate, rate) if resample else flat[c:c + CHUNK]
        spec[c:c + CHUNK] = np.abs(np.fft.rfft(rows, nfft, axis=1))
    spec = spec.reshape(m, 2, -1)
    f = np.fft.rfftfreq(nfft, 1.0 / rate)
    w = mesh.area_weights()                                  # over the measured directions
    diffuse = np.sqrt(np.einsum("m,mef->f", w, spec.astype(np.float64) ** 2) / (2 * w.sum()))
    lo = int(np.searchsorted(f, EQ_LOW))
    hi = int(np.searchsorted(f, EQ_HIGH * min(rate, measured.sample_rate) / 2)) - 1
    if hi <= lo:
        raise ValueError(f"{rate} Hz leaves no band to equalise")
    if np.any(diffuse[lo:hi + 1] <= 0):
        raise ValueError("the set's diffuse-field average is zero somewhere in the audible band")
    spec[:, :, lo:hi + 1] /= (diffuse[lo:hi + 1] * math.sqrt(2)).astype(np.float32)
    spec[:, :, :lo] = spec[:, :, lo:lo + 1]
    spec[:, :, hi + 1:] = spec[:, :, hi:hi + 1]
    return spec


def minimum_phase(magnitude: np.ndarray, taps: int) -> np.ndarray:
    """Minimum-phase responses (..., taps) of magnitudes (..., nfft//2+1) by real-cepstrum folding
    (Oppenheim & Schafer, sec. 13.8), truncated to `taps` with a half-Hann fade over the last eighth.
    Truncation can leave a zero just outside the unit circle; a second fold of the truncated filter's
    own magnitude takes it back inside: an FIR's minimum-phase twin is as long, so that pass changes
    neither the length nor the magnitude."""
    nfft = 2 * (magnitude.shape[-1] - 1)
    h = _fold(np.log(np.maximum(magnitude.astype(np.float64), FLOOR)), nfft)[..., :taps] * fade(taps)
    again = np.log(np.maximum(np.abs(np.fft.rfft(h, nfft, axis=-1)), FLOOR * 1e-3))
    return _fold(again, nfft)[..., :taps]


def _fold(log_magnitude: np.ndarray, nfft: int) -> np.ndarray:
    """The minimum-phase response (..., nfft) of a log magnitude (..., nfft//2+1): its real cepstrum
    folded onto positive quefrencies."""
    cep = np.fft.irfft(log_magnitude, nfft, axis=-1)
    cep[..., 1:nfft // 2] *= 2
    cep[..., nfft // 2 + 1:] = 0
    return np.fft.irfft(np.exp(np.fft.rfft(cep, axis=-1)), nfft, axis=-1)


def fade(n: int, part: int = 8) -> np.ndarray:
    """1 over n samples but the last n/part (at least 2): a half-Hann down to (not reaching) 0."""
    k = max(2, n // part)
    w = np.ones(n)
    w[n - k:] = 0.5 + 0.5 * np.cos(np.pi * (np.arange(k) + 1) / (k + 1))
    return w


# ------------------------------------------------------------------------------------------ the sphere

def unit_vectors(azimuth, elevation) -> np.ndarray:
    """(..., 3) unit vectors (x front, y left, z up) of directions in degrees."""
    az, el = np.radians(azimuth), np.radians(elevation)
    return np.stack([np.cos(el) * np.cos(az), np.cos(el) * np.sin(az), np.sin(el)], axis=-1)


class SphereMesh:
    """The convex hull of a set's directions (deduplicated), with virtual vertices at a pole it lacks,
    for barycentric interpolation and quadrature weights."""

    def __init__(self, azimuth: np.ndarray, elevation: np.ndarray):
        from scipy.spatial import ConvexHull, QhullError
        v = unit_vectors(azimuth, elevation)
        key = np.round(v, 6) + 0.0         # + 0.0: no -0.0 apart from 0.0
        _, first, self.group = np.unique(key, axis=0, return_index=True, return_inverse=True)
        self.group = self.group.ravel()
        self.n_unique = len(first)
        verts = [v[first]]
        uel = np.degrees(np.arcsin(np.clip(v[first, 2], -1, 1)))
        self.el_min, self.el_max = float(uel.min()), float(uel.max())
        self.poles = []                      # (vertex index, unique indices of the ring it copies)
        for sign, edge in ((-1.0, self.el_min), (1.0, self.el_max)):
            if abs(edge - sign * 90.0) > 1e-3:
                self.poles.append((self.n_unique + len(self.poles), np.flatnonzero(np.abs(uel - edge) < 1e-3)))
                verts.append(np.array([[0.0, 0.0, sign]]))
        self.vertices = np.concatenate(verts)
        try:
            hull = ConvexHull(self.vertices)
        except (QhullError, ValueError) as exc:
            raise ValueError(f"the measured directions cannot be triangulated ({str(exc).splitlines()[0]})") from None
        self.simplices = hull.simplices
        self.equations = hull.equations
        if np.any(self.equations[:, 3] > -1e-6):
            raise ValueError("the measured directions do not surround the listener (their hull misses the centre)")
        a, b, c = (self.vertices[self.simplices[:, i]] for i in range(3))
        self.inverse = np.linalg.inv(np.stack([a, b, c], axis=2))   # solves [a b c] w = p

    def weights(self, azimuth, elevation) -> tuple[np.ndarray, np.ndarray]:
        """(P, 3) vertex indices and barycentric weights of directions (degrees)."""
        p = unit_vectors(np.asarray(azimuth, dtype=np.float64), np.asarray(elevation, dtype=np.float64))
        p = p.reshape(-1, 3)
        index, weight = np.empty((len(p), 3), dtype=np.int64), np.empty((len(p), 3))
        step = max(1, (1 << 22) // len(self.equations))
        for c in range(0, len(p), step):
            index[c:c + step], weight[c:c + step] = self._weights(p[c:c + step])
        return index, weight

    def _weights(self, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        # the facet a ray crosses is the one whose plane it meets first: the largest n.p / offset; planes
        # shared by several facets (coplanar directions) are told apart by the barycentric weights
        score = (p @ self.equations[:, :3].T) / -self.equations[:, 3]
        cand = np.argpartition(-score, 5, axis=1)[:, :6] if score.shape[1] > 6 else \
            np.broadcast_to(np.arange(score.shape[1]), score.shape)
        w = np.einsum("pcij,pj->pci", self.inverse[cand], p)
        w = w / w.sum(axis=2, keepdims=True)
        best = np.argmax(w.min(axis=2), axis=1)
        rows = np.arange(len(p))
        facet = cand[rows, best]
        w = np.clip(w[rows, best], 0.0, None)
        w /= w.sum(axis=1, keepdims=True)
        w[w < 1e-9] = 0.0
        w /= w.sum(axis=1, keepdims=True)
        return self.simplices[facet], w

    def vertex_data(self, data: np.ndarray) -> np.ndarray:
        """Per-direction data (M, ...) as per-vertex data: duplicates averaged, poles the mean of their ring."""
        counts = np.bincount(self.group, minlength=self.n_unique).astype(np.float64)
        out = np.zeros((len(self.vertices),) + data.shape[1:])
        np.add.at(out, self.group, data)
        out[:self.n_unique] /= counts.reshape((-1,) + (1,) * (data.ndim - 1))
        for vertex, ring in self.poles:
            out[vertex] = out[ring].mean(axis=0)
        return out

    def blend(self, data: np.ndarray, index: np.ndarray, weight: np.ndarray) -> np.ndarray:
        """Per-direction data (M, ...) interpolated at the points of weights()."""
        vd = self.vertex_data(data)
        return np.einsum("pk,pk...->p...", weight, vd[index])

    def area_weights(self) -> np.ndarray:
        """(M,) quadrature weight of each measured direction: a third of its facets' areas (shared
        among duplicates; a virtual pole's share goes to its ring)."""
        a, b, c = (self.vertices[self.simplices[:, i]] for i in range(3))
        area = 0.5 * np.linalg.norm(np.cross(b - a, c - a), axis=1)
        vw = np.zeros(len(self.vertices))
        np.add.at(vw, self.simplices.ravel(), np.repeat(area / 3, 3))
        for vertex, ring in self.poles:
            vw[ring] += vw[vertex] / len(ring)
        counts = np.bincount(self.group, minlength=self.n_unique)
        return vw[self.group] / counts[self.group]


# ------------------------------------------------------------------------------------------ ambisonics

def sh_sn3d(order: int, azimuth, elevation) -> np.ndarray:
    """(..., (order+1)**2) real spherical harmonics, ACN order, SN3D, no Condon-Shortley phase, of
    directions in degrees, from scipy.special.sph_harm_y (orthonormal, complex, with that phase):
        Y_nm(SN3D) = sqrt(4 pi / (2n+1)) * (-1)^m * sqrt(2) * Re Y_n^m   for m > 0
                   = sqrt(4 pi / (2n+1)) * Y_n^0                          for m = 0
                   = sqrt(4 pi / (2n+1)) * (-1)^|m| * sqrt(2) * Im Y_n^|m|  for m < 0."""
    import scipy.special as sp
    az = np.mod(np.radians(np.asarray(azimuth, dtype=np.float64)), 2 * np.pi)
    polar = np.pi / 2 - np.radians(np.asarray(elevation, dtype=np.float64))
    out = np.empty(np.broadcast(az, polar).shape + ((order + 1) ** 2,))
    for n in range(order + 1):
        scale = math.sqrt(4 * math.pi / (2 * n + 1))
        for m in range(n + 1):
            if hasattr(sp, "sph_harm_y"):
                y = sp.sph_harm_y(n, m, polar, az)
            else:                                           # SciPy < 1.15: (m, n, azimuth, polar)
                y = sp.sph_harm(m, n, az, polar)
            if m == 0:
                out[..., n * n + n] = scale * y.real
            else:
                s = scale * math.sqrt(2) * (-1) ** m
                out[..., n * n + n + m] = s * y.real
                out[..., n * n + n - m] = s * y.imag
    return out


def grid_area(el_deg: np.ndarray, step: float) -> np.ndarray:
    """Solid angle of the band of each grid row (split among its n_az nodes by the caller)."""
    lo = np.radians(np.clip(el_deg - step / 2, -90, 90))
    hi = np.radians(np.clip(el_deg + step / 2, -90, 90))
    return 2 * np.pi * (np.sin(hi) - np.sin(lo))


def direct_response(hrir: np.ndarray, delay: np.ndarray, nfft: int) -> np.ndarray:
    """(..., 2, nfft//2+1) spectra of the direct path: each ear's filter delayed by its (fractional) delay."""
    f = np.fft.rfftfreq(nfft)                                  # cycles per sample
    return np.fft.rfft(hrir, nfft, axis=-1) * np.exp(-2j * np.pi * f * delay[..., None])


def design_decoder(hrir: np.ndarray, delay: np.ndarray, grid_az: np.ndarray, grid_el: np.ndarray,
                   rate: int, length: int, order: int = ORDER) -> np.ndarray:
    """((order+1)**2, 2, length) FIRs from ACN/SN3D channels to the ears: LS below CROSSOVER, MagLS above
    (Schoerkhuber, Zaunschirm & Hoeldrich 2018), designed over the nodes of a regular grid (rows from -90
    to +90 degrees, columns around), each weighted by the area it stands for, against the direct path's
    responses hrir (rows, columns, 2, taps) delayed by delay (rows, columns, 2) samples."""
    nfft = max(4 * length, 2 << math.ceil(math.log2(hrir.shape[-1] + delay.max() + 8)))
    target = direct_response(hrir, delay, nfft).reshape(-1, 2, nfft // 2 + 1)   # (G, 2, F)
    y = sh_sn3d(order, grid_az.ravel(), grid_el.ravel())                           # (G, C)
    w = np.repeat(grid_area(grid_el[:, 0], float(grid_el[1, 0] - grid_el[0, 0])) / grid_el.shape[1], grid_el.shape[1])
    gram = (y * w[:, None]).T @ y
    lam = REGULARISATION * np.trace(gram) / len(gram)
    pinv = np.linalg.solve(gram + lam * np.eye(len(gram)), (y * w[:, None]).T)      # (C, G)
    f = np.fft.rfftfreq(nfft, 1.0 / rate)
    k_c = int(np.searchsorted(f, CROSSOVER))
    d = np.empty((y.shape[1], 2, len(f)), dtype=np.complex128)
    d[:, :, :k_c] = np.einsum("cg,gef->cef", pinv, target[:, :, :k_c])
    # MagLS: above the crossover each bin keeps the magnitudes and takes the phase the previous bin's
    # decoder gives, advanced by the set's mean delay (a linear phase): the phase then runs on as a
    # delay, not as a constant, which would make the filters two-sided and long.
    mag = np.abs(target)
    tau = float(np.sum(w[:, None] * delay.reshape(-1, 2)) / (2 * w.sum()))
    step = np.exp(-2j * np.pi * tau / nfft)
    for k in range(k_c, len(f)):
        z = (y @ d[:, :, k - 1]) * step                                                # (G, 2)
        d[:, :, k] = pinv @ (mag[:, :, k] * z / np.maximum(np.abs(z), 1e-30))
    fir = np.fft.irfft(d, nfft, axis=-1)[:, :, :length]
    return fir * fade(length, DECODER_FADE)


def decoded_response(decoder: np.ndarray, azimuth, elevation, nfft: int) -> np.ndarray:
    """(..., 2, nfft//2+1) spectra at both ears of plane waves from the directions, encoded with
    sh_sn3d and decoded by `decoder`."""
    y = sh_sn3d((int(round(math.sqrt(decoder.shape[0]))) - 1), azimuth, elevation)
    return np.einsum("...c,cef->...ef", y, np.fft.rfft(decoder, nfft, axis=-1))
