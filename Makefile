# One command for each job on a fresh Debian machine; every target is idempotent.
#   make demo   installs what it needs, compiles the kernels, starts the demo game (demo_game/): a window
#               and sound where the machine has them, else the bot plays headless into out/demo.wav
#   make showcase  renders the bundled showcase scene offline and prints its report
#   make test   installs what it needs (PortAudio, PulseAudio, ...) and runs the test suite
#   make bench  installs what it needs (incl. OpenAL Soft for the peer) and runs benchmarks/
#   make assets regenerates the showcase's audio and script (needs espeak-ng, installed here)
#   make ar-assets regenerates scenes/ar's microphone recording (mic.flac, mic.json) and its sounds

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
APT_PACKAGES := portaudio19-dev python3-dev python3-venv pulseaudio pulseaudio-utils libsndfile1 chromium cmake gcc libzmq3-dev pkg-config ffmpeg espeak-ng
BENCH_APT_PACKAGES := gcc libopenal-dev
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: demo showcase warmup test bench assets ar-assets system-packages bench-packages clean

demo: warmup
	$(PY) -m demo_game --out-dir out

showcase: warmup
	$(PY) -m gamemix demo --out-dir out

# compiles the mixer's kernels, showing each (about half a minute the first time; 1 s once cached)
warmup: $(VENV)/.installed
	$(PY) -m gamemix warmup

test: warmup
	$(PY) -m gamemix warmup --layout all
	$(VENV)/bin/lint-imports
	$(PY) -m pytest -q tests

bench: $(VENV)/.installed bench-packages
	$(PY) benchmarks/bench_engine.py
	$(PY) benchmarks/bench_control.py
	$(PY) benchmarks/bench_dynamics.py
	$(PY) benchmarks/bench_server.py
	$(PY) benchmarks/bench_client.py
	$(PY) benchmarks/bench_streaming.py
	$(PY) benchmarks/bench_c_client.py
	$(PY) benchmarks/bench_check.py
	$(PY) benchmarks/bench_ar.py
	$(PY) benchmarks/bench_binaural.py
	$(PY) benchmarks/bench_reliability.py
	$(PY) benchmarks/bench_render.py --cli

assets: $(VENV)/.installed
	@dpkg -s espeak-ng >/dev/null 2>&1 || ($(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq espeak-ng)
	$(PY) scenes/showcase/make_assets.py
	$(PY) scenes/showcase/make_script.py

ar-assets: $(VENV)/.installed
	$(PY) scenes/ar/make_mic.py

system-packages:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing apt packages: $$missing"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi

bench-packages:
	@missing=$$(for p in $(BENCH_APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi

$(VENV)/.installed: pyproject.toml | system-packages
	[ -x $(PY) ] || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[audio,test,demo,analysis,cluster,spatial,ar]'
	$(PY) -m pip install -q --no-deps 'silero-vad>=5.1'   # only its ONNX model: no torch (pyproject.toml, extra ar)
	touch $@

clean:
	rm -rf $(VENV) out *.egg-info
