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
	@echo "make example EXAMPLE=<pattern>   build the site, running only the lessons and evidence pages whose path matches"
	@echo "make livehtml     rebuild and reload in the browser on every save (prose only)"
	@echo "make bench        measure build times, example run times and page weight"
	@echo "make lock         re-resolve requirements.lock from pyproject.toml"
	@echo "make clean        remove build output and the generated galleries"

install: $(STAMP)

# The stamp says the lock was installed, not that the venv still works: an install stopped with
# Ctrl-C leaves a venv without pip, `rm -rf .venv` during one leaves a stamp without Python. So
# every run checks the venv (about 30 ms) and reinstalls when it is broken.
VENV_BROKEN := $(shell test -e $(STAMP) && ! $(BIN)/python -c 'import sphinx' >/dev/null 2>&1 && echo yes)
.PHONY: FORCE
FORCE:
# What a venv (or one half made or half deleted) holds; a broken VENV holding anything else is
# not removed, in case VENV names a directory of the user's.
VENV_ENTRIES := bin|include|lib|lib64|share|etc|pyvenv.cfg|\.lock|\.gitignore|CACHEDIR\.TAG|$(notdir $(STAMP))

# Rebuilt when the lock changes or the venv is broken. A failed install leaves no stamp, so the
# next run retries.
$(STAMP): requirements.lock $(if $(VENV_BROKEN),FORCE)
	@version=$$($(PYTHON) -c 'import sys; print("%d.%d.%d" % sys.version_info[:3]); sys.exit(sys.version_info < (3, 11))' 2>/dev/null) || \
	  { if [ -n "$$version" ]; then found="is $$version"; else found="was not found"; fi; \
	    echo "error: Python 3.11 or newer is needed; '$(PYTHON)' $$found. Run: make PYTHON=python3.12 ..." >&2; exit 1; }
	@if [ ! -e $(VENV) ]; then $(PYTHON) -m venv $(VENV) || exit 1; exit 0; fi; \
	 if ! $(BIN)/python -c '' >/dev/null 2>&1; then why="its python does not start"; \
	 elif ! command -v uv >/dev/null 2>&1 && ! $(BIN)/python -m pip --version >/dev/null 2>&1; then why="it has no pip"; \
	 elif [ -n "$(VENV_BROKEN)" ]; then \
	   echo "$(VENV)/ lacks packages of the lock (sphinx does not import); installing them again"; exit 0; \
	 else exit 0; fi; \
	 if ls -A $(VENV) | grep -qvxE '$(VENV_ENTRIES)'; then \
	   echo "error: $(VENV)/ holds more than a virtual environment; remove it or pass VENV=<another path>" >&2; exit 1; fi; \
	 echo "$(VENV)/ is broken ($$why: an interrupted install?); creating it again"; \
	 $(PYTHON) -m venv --clear $(VENV)
	@rm -f $@
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
# HTML and doctrees go and every page is read and written again. A failed build removes its HTML too, so nothing
# half-built is left looking finished, and its doctrees go too: Sphinx reports a page's
# warnings only when it reads the page, so an incremental build after a failed one would
# read nothing again and pass.
INCOMPLETE := $(BUILDDIR)/html.incomplete
define sphinx_html
	@if [ -e $(INCOMPLETE) ]; then rm -rf $(BUILDDIR)/html $(BUILDDIR)/doctrees; echo "the last build did not finish: reading and writing every page again"; fi
	@mkdir -p $(BUILDDIR) && touch $(INCOMPLETE)
	@$(SPHINX) -M html . $(BUILDDIR) $(SPHINXOPTS) $(1) || \
	  { rm -rf $(BUILDDIR)/html $(BUILDDIR)/doctrees $(INCOMPLETE); echo "error: the build failed (see the messages above); $(BUILDDIR)/html was removed" >&2; exit 1; }
	@rm -f $(INCOMPLETE)
	@echo "built: $(BUILDDIR)/html/index.html"
endef

html: $(STAMP)
	$(call sphinx_html,)

html-noplot: $(STAMP)
	$(call sphinx_html,-D plot_gallery=0)

# sphinx-gallery runs only the scripts (lessons and evidence pages) whose path matches (a regular
# expression); the others are shown without output. A pattern that matches none would run
# nothing and "succeed".
define CHECK_EXAMPLE_PATTERN
import os, re, sys
from pathlib import Path
pattern = os.environ["EXAMPLE"]
names = [p.as_posix() for folder in ("examples", "evidence/pages")
         for p in sorted(Path(folder).rglob("*.py"))]
try:
    found = any(re.search(pattern, name) for name in names)
except re.error as error:
    sys.exit(f"error: EXAMPLE={pattern!r} is not a regular expression ({error})")
if not found:
    sys.exit(f"error: no example file name matches EXAMPLE={pattern!r}; the scripts are: "
             + ", ".join(name.removeprefix("examples/") for name in names))
endef
export CHECK_EXAMPLE_PATTERN

example: $(STAMP)
	@test -n "$(EXAMPLE)" || { echo "usage: make example EXAMPLE=<part of an example's file name>" >&2; exit 2; }
	@$(BIN)/python -c "$$CHECK_EXAMPLE_PATTERN" || exit 2
	$(call sphinx_html,-D "sphinx_gallery_conf.filename_pattern=$$EXAMPLE")

# sphinx-autobuild rebuilds when a watched file changes, and the build itself writes the gallery
# and the HTML: those folders must be ignored or every build starts the next. Its --ignore
# takes paths (a glob is matched against the whole absolute path, so "*/auto_examples/*" never
# matched the top-level folder).
livehtml: $(STAMP)
	$(BIN)/sphinx-autobuild . $(BUILDDIR)/html $(SPHINXOPTS) -D plot_gallery=0 \
	  --ignore auto_examples --ignore auto_evidence --ignore $(BUILDDIR) --ignore $(VENV) --ignore tests --re-ignore '/__pycache__/'

# Two workers (pytest-xdist) on CI's two cores, tests handed out one by one as workers free
# up; the browser modules each stay on one worker (their xdist_group), so their shared page
# fixtures are made once. The site builds in the background from the start (tests/conftest.py).
# TEST_WORKERS=0 runs it in one process.
TEST_WORKERS ?= 2
test: $(STAMP)
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadgroup --no-loadscope-reorder

bench: $(STAMP)
	$(BIN)/python tools/bench.py --builddir $(BUILDDIR)

# Needs uv (on PATH, or the one the bootstrap installed into $(VENV)). The lock is replaced
# only when its content changes: a newer file would make every target reinstall. uv keeps the
# pins of the file it writes to, so it compiles into a copy of the lock; the header names the
# equivalent direct command, as before.
LOCK_COMPILE := pip compile pyproject.toml --all-extras --universal --python-version 3.11 --generate-hashes
lock: $(STAMP)
	@new=$$(mktemp requirements.lock.XXXXXX) && trap 'rm -f "$$new"' EXIT INT TERM && cp -p requirements.lock "$$new" && \
	 $$(command -v uv || echo $(BIN)/uv) $(LOCK_COMPILE) --quiet \
	   --custom-compile-command "uv $(LOCK_COMPILE) -o requirements.lock" -o "$$new" && \
	 if cmp -s "$$new" requirements.lock; then echo "requirements.lock is up to date"; \
	 else mv "$$new" requirements.lock && echo "requirements.lock updated"; fi

clean:
	rm -rf $(BUILDDIR) auto_examples auto_evidence sg_execution_times.rst flyte-package.tgz
