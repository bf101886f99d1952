# `make demo` and `make test` set up .venv on first use; later runs reuse it.
VENV ?= .venv
PY := $(VENV)/bin/python
ENV_STAMP := $(VENV)/.mmzoo-env
ENV_INPUTS := setup.py tools/misc/setup_env.sh $(wildcard requirements/*.txt)
PYTEST_ARGS ?=

.PHONY: env test demo clean-env

env: $(ENV_STAMP)

$(ENV_STAMP): $(ENV_INPUTS)
	VENV=$(VENV) bash tools/misc/setup_env.sh
	touch $@

test: $(ENV_STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

demo: $(ENV_STAMP)
	$(PY) tools/misc/demo.py

clean-env:
	rm -rf $(VENV)
