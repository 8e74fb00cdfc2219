# `make demo` and `make test` set everything up on a fresh machine.
VENV ?= .venv
PY := $(VENV)/bin/python
# The AudioCraft backend's tests get a venv of their own: AudioCraft imports torchaudio, and
# torchaudio's PyPI wheels are CUDA builds that cannot load against .venv's CPU torch. This
# one takes a CUDA torch of the same CUDA major (13) as torchaudio 2.11; .venv stays free
# of CUDA wheels (tests/project/test_install.py). README: AudioCraft backend.
AC_VENV ?= .venv-audiocraft
AC_PY := $(AC_VENV)/bin/python
AC_TORCH ?= torch==2.14.1
export HF_HUB_OFFLINE ?= 1
export TRANSFORMERS_NO_ADVISORY_WARNINGS := 1

.PHONY: demo check lint test test-audiocraft bench mutate clean-demo

$(VENV)/.installed: pyproject.toml Makefile
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# torch first, so nothing later pulls it in unpinned (an unpinned torch is a multi-GB
	# CUDA build). With no NVIDIA GPU, take the CPU build (this disk has one; pip finds it
	# through its find-links); with a GPU, or a torch already in the venv, keep the normal one.
	bash tools/install_torch.sh $(PY)
	$(PY) -m pip install -q -e '.[test,acestep]'
	touch $@

demo: $(VENV)/.installed
	$(VENV)/bin/albumgen build examples/demo.yaml
	$(VENV)/bin/albumgen status examples/demo.yaml

$(AC_VENV)/.installed: pyproject.toml Makefile
	test -x $(AC_PY) || python3 -m venv $(AC_VENV)
	$(AC_PY) -m pip install -q --upgrade pip
	$(AC_PY) -m pip install -q "$(AC_TORCH)"
	$(AC_PY) -m pip install -q -e '.[audiocraft,test]'
	# AudioCraft without its pins (torch 2.1, av 11, xformers<0.0.23): the extra above
	# holds what it imports. pip warns that the pins are unmet; that is expected.
	$(AC_PY) -m pip install -q --no-deps audiocraft==1.3.0
	touch $@

# The code's own rules: ruff's, and the house's floors (import-linter, [tool.importlinter]).
lint: $(VENV)/.installed
	$(VENV)/bin/ruff check src stages tests bench tools
	$(VENV)/bin/lint-imports

# Test processes (pytest-xdist): one per core of the 2-core box CI runs on; each keeps torch
# to one thread (tests/conftest.py). A file's tests stay in one process (--dist loadfile), so
# its module fixtures are built once; tests/conftest.py keeps the Ray files together too.
JOBS ?= 2
PYTEST := $(PY) -m pytest -q -n $(JOBS) --dist loadfile

# The quick loop while changing code: lint, boundaries and every test that starts no child
# process and no worker pool (left to make test: tests/e2e, with its kills, Ray, the browser
# and the wheel, and the tests marked slow).
check: lint
	$(PYTEST) -m "not e2e and not slow"

# Everything, as CI runs it.
test: $(VENV)/.installed $(AC_VENV)/.installed lint
	$(PYTEST)
	$(AC_PY) -m pytest -q -m audiocraft

test-audiocraft: $(AC_VENV)/.installed
	$(AC_PY) -m pytest -q -m audiocraft

# Named mutations (tools/mutate.py): each breaks one thing in a scratch copy and must make
# a test fail. By hand, not in CI: tens of minutes on a 2-core machine. MUTATE=names to pick.
mutate: $(VENV)/.installed
	$(PY) tools/mutate.py $(MUTATE)

bench: $(VENV)/.installed
	$(PY) bench/render_throughput.py
	$(PY) bench/pick_cost.py
	$(PY) bench/sequence_cost.py
	$(PY) bench/master_cost.py

clean-demo:
	rm -rf albums/demo-*
