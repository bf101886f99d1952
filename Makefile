# `make demo` and `make test` set up .venv on first use; later runs reuse it.
VENV ?= .venv
PY := $(VENV)/bin/python
ENV_STAMP := $(VENV)/.mmzoo-env
ENV_INPUTS := setup.py tools/misc/setup_env.sh $(wildcard requirements/*.txt)
# The ops' extension is rebuilt (editable install) when its sources change.
EXT_STAMP := $(VENV)/.mmzoo-ext
EXT_INPUTS := $(shell find mmzoo/ops/csrc -type f 2>/dev/null)
PYTEST_ARGS ?=

.PHONY: env test lint demo demo-bsda demo-t2net clean-env

env: $(ENV_STAMP)

$(ENV_STAMP): $(ENV_INPUTS)
	VENV=$(VENV) bash tools/misc/setup_env.sh
	touch $@ $(EXT_STAMP)

# setup_env.sh builds the extension too (hence the touch above, and the
# check below, which skips a second build right after it).
$(EXT_STAMP): $(EXT_INPUTS) | $(ENV_STAMP)
	@if [ -e $@ ] && [ -z "$$(find $(EXT_INPUTS) -newer $@)" ]; then exit 0; fi; \
	echo "rebuilding mmzoo._ext"; \
	PATH="$(abspath $(VENV))/bin:$$PATH" $(PY) -m pip install -q --no-deps \
		--no-build-isolation -e . && touch $@

test: $(EXT_STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

# The Python checks of .pre-commit-config.yaml, run from the venv at the same
# versions (CI reaches PyPI, not the hooks' repositories); settings in
# setup.cfg. Only these folders are checked, never .venv, build, work_dirs or
# data.
LINT_PATHS := mmzoo tools tests benchmarks configs projects setup.py
# Every check runs, so one run lists all violations; any one fails the target.
lint: $(ENV_STAMP)
	@status=0; bin=$(VENV)/bin; set -x; \
	$$bin/flake8 $(LINT_PATHS) || status=1; \
	$$bin/isort --check-only --diff $(LINT_PATHS) || status=1; \
	$$bin/yapf --diff --recursive $(LINT_PATHS) || status=1; \
	$$bin/docformatter --check --recursive --wrap-descriptions 79 \
		$(LINT_PATHS) || status=1; \
	$$bin/codespell $(LINT_PATHS) README.md docs || status=1; \
	exit $$status

demo: $(EXT_STAMP)
	$(PY) tools/misc/demo.py

demo-bsda: $(EXT_STAMP)
	$(PY) tools/misc/demo_bsda.py

demo-t2net: $(EXT_STAMP)
	$(PY) tools/misc/demo_t2net.py

clean-env:
	rm -rf $(VENV)
