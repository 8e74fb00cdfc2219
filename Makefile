# `make demo` and `make test` set everything up on a fresh machine.
VENV ?= .venv
PY := $(VENV)/bin/python
export HF_HUB_OFFLINE ?= 1
export TRANSFORMERS_NO_ADVISORY_WARNINGS := 1

.PHONY: demo test bench clean-demo

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	# A CPU build of torch lies on some machines' disks (--no-index looks only there);
	# taking it first stops pip from pulling a multi-GB CUDA build. Elsewhere this is a
	# no-op and pip installs the machine's normal torch.
	$(PY) -m pip install -q --no-index torch==2.13.0 2>/dev/null || echo "no local CPU torch wheel; using the normal torch"
	$(PY) -m pip install -q -e '.[test]'
	touch $@

demo: $(VENV)/.installed
	$(VENV)/bin/albumgen build examples/demo.yaml
	$(VENV)/bin/albumgen status examples/demo.yaml

test: $(VENV)/.installed
	$(PY) -m pytest -q

bench: $(VENV)/.installed
	$(PY) bench/render_throughput.py
	$(PY) bench/pick_cost.py

clean-demo:
	rm -rf albums/demo-*
