# The usual Sphinx targets, plus a bootstrap: the first target that needs the toolchain
# creates .venv/ and installs requirements.lock into it (uv when it can be had, pip otherwise).

PYTHON     ?= python3
VENV       ?= .venv
BUILDDIR   ?= _build
SPHINXOPTS ?= -nW --keep-going
UV_VERSION ?= 0.13.9
BIN        := $(VENV)/bin
STAMP      := $(VENV)/.installed-from-lock
SPHINX     := $(BIN)/python -m sphinx

.DEFAULT_GOAL := help
.PHONY: help install html html-noplot example livehtml test bench lock clean

help:
	@echo "make html         build the site; runs every example (output: $(BUILDDIR)/html/index.html)"
	@echo "make test         run the whole test suite (strict build, examples, browser)"
	@echo "make html-noplot  build the prose only; examples are shown but not run"
	@echo "make example EXAMPLE=<pattern>   build the site, running only examples whose file name matches"
	@echo "make livehtml     rebuild and reload in the browser on every save (prose only)"
	@echo "make bench        measure build times, example run times and page weight"
	@echo "make lock         re-resolve requirements.lock from pyproject.toml"
	@echo "make clean        remove build output, the generated gallery and the build's flytekit cache"

install: $(STAMP)

# Rebuilt only when the lock changes. A failed install leaves no stamp, so the next run retries.
$(STAMP): requirements.lock
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null || \
	  { echo "error: Python 3.11 or newer is needed; '$(PYTHON)' is $$($(PYTHON) -V 2>&1 || echo missing). Run: make PYTHON=python3.12 ..." >&2; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "installing the locked dependencies into $(VENV)/"
	@if command -v uv >/dev/null 2>&1; then UV=uv; \
	 elif $(BIN)/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"; then UV=$(BIN)/uv; \
	 else UV=; fi; \
	 if [ -n "$$UV" ]; then $$UV pip sync --quiet --compile-bytecode --python $(BIN)/python requirements.lock; \
	 else echo "uv unavailable; installing with pip (slower)"; \
	      $(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements.lock; fi
	@touch $@

# Sphinx writes pages in place and the search index last: a build stopped part-way (Ctrl-C)
# leaves some pages missing and no index, and the next incremental build fails under -W. The
# marker exists while sphinx-build runs; finding it means the last build did not finish, so its
# HTML goes and every page is written again. A failed build removes its HTML too, so nothing
# half-built is left looking finished.
INCOMPLETE := $(BUILDDIR)/html.incomplete
define sphinx_html
	@if [ -e $(INCOMPLETE) ]; then rm -rf $(BUILDDIR)/html; echo "the last build did not finish: writing every page again"; fi
	@mkdir -p $(BUILDDIR) && touch $(INCOMPLETE)
	@$(SPHINX) -M html . $(BUILDDIR) $(SPHINXOPTS) $(1) || \
	  { rm -rf $(BUILDDIR)/html $(INCOMPLETE); echo "error: the build failed (see the messages above); $(BUILDDIR)/html was removed" >&2; exit 1; }
	@rm -f $(INCOMPLETE)
	@echo "built: $(BUILDDIR)/html/index.html"
endef

html: $(STAMP)
	$(call sphinx_html,)

html-noplot: $(STAMP)
	$(call sphinx_html,-D plot_gallery=0)

# sphinx-gallery runs only the examples whose path matches; the others are shown without output.
example: $(STAMP)
	@test -n "$(EXAMPLE)" || { echo "usage: make example EXAMPLE=<part of an example's file name>" >&2; exit 2; }
	$(call sphinx_html,-D sphinx_gallery_conf.filename_pattern=$(EXAMPLE))

livehtml: $(STAMP)
	$(BIN)/sphinx-autobuild . $(BUILDDIR)/html $(SPHINXOPTS) -D plot_gallery=0 \
	  --ignore "*/auto_examples/*" --ignore "*/$(BUILDDIR)/*" --ignore "*/.venv/*" --ignore "*/tests/*"

test: $(STAMP)
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python tools/bench.py --builddir $(BUILDDIR)

# Needs uv (on PATH, or the one the bootstrap installed into $(VENV)).
lock: $(STAMP)
	$$(command -v uv || echo $(BIN)/uv) pip compile pyproject.toml --all-extras --universal --python-version 3.11 \
	  --generate-hashes --quiet -o requirements.lock

clean:
	rm -rf $(BUILDDIR) auto_examples sg_execution_times.rst
