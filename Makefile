# `make demo` and `make test` set everything up on a fresh machine.
VENV ?= .venv
PY := $(VENV)/bin/python
export HF_HUB_OFFLINE ?= 1
export TRANSFORMERS_NO_ADVISORY_WARNINGS := 1

.PHONY: demo test bench mutate clean-demo

$(VENV)/.installed: pyproject.toml Makefile
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# torch first, so nothing later pulls it in unpinned (an unpinned torch is a multi-GB
	# CUDA build). With no NVIDIA GPU, take the CPU build (this disk has one; pip finds it
	# through its find-links); with a GPU, or a torch already in the venv, keep the normal one.
	bash tools/install_torch.sh $(PY)
	$(PY) -m pip install -q -e '.[test]'
	touch $@

demo: $(VENV)/.installed
	$(VENV)/bin/albumgen build examples/demo.yaml
	$(VENV)/bin/albumgen status examples/demo.yaml

test: $(VENV)/.installed
	$(PY) -m pytest -q

# Named mutations (tools/mutate.py): each breaks one thing in a scratch copy and must make
# a test fail. By hand, not in CI: tens of minutes on a 2-core machine. MUTATE=names to pick.
mutate: $(VENV)/.installed
	$(PY) tools/mutate.py $(MUTATE)

bench: $(VENV)/.installed
	$(PY) bench/render_throughput.py
	$(PY) bench/pick_cost.py

clean-demo:
	rm -rf albums/demo-*
