"""Sphinx configuration: furo, MyST guides and an executed sphinx-gallery of flytekit examples."""

import sys
from importlib import metadata
from pathlib import Path

from sphinx.writers.html5 import HTML5Translator

sys.path.insert(0, str(Path(__file__).parent / "_ext"))

project = "Structuring Flyte workflows"
author = "The flyte-workflow-structure authors"
copyright = "2026, " + author

extensions = [
    "build_isolation",  # first: it sets HOME/TMPDIR before anything imports flytekit
    "myst_parser",
    "sphinx_gallery.gen_gallery",
    "sphinx_copybutton",
    "sphinx_design",
]

# Only the site's sources are documents; the gallery's header is raw input to sphinx-gallery.
exclude_patterns = [
    "_build",
    ".venv",
    "tests",
    "tools",
    "README.md",
    "examples",
    "auto_examples/*.ipynb",
    "**/.pytest_cache",
]
root_doc = "index"

# Strict: every cross-reference must resolve (the Makefile adds -nW --keep-going).
nitpicky = True

myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3

sphinx_gallery_conf = {
    "examples_dirs": "examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/",  # run every example, not only plot_*.py
    "within_subsection_order": "FileNameSortKey",
    "reset_modules": ("matplotlib", "build_isolation.fresh_flytekit_cache"),
    "download_all_examples": False,
    "remove_config_comments": True,
    # Run times are measured by `make bench`; the generated table page pulls jQuery and
    # DataTables from public CDNs, which this site must not depend on.
    "write_computation_times": False,
    "show_signature": False,
    # Only the gallery's own stylesheet: the binder, dataframe and rendered-HTML ones style
    # output this site does not have, and each is a render-blocking request on every page.
    "css": ("sg_gallery",),
}

html_theme = "furo"
html_title = project
html_static_path = ["_static"]
html_favicon = "_static/favicon.svg"
# Accessibility fixes for markup our dependencies generate (checked by tests/test_browser.py).
html_css_files = ["accessibility.css"]
html_js_files = [("accessibility.js", {"defer": "defer"})]
templates_path = ["_templates"]
html_sidebars = {
    "**": [
        "sidebar/brand.html",
        "sidebar/search.html",
        "sidebar/scroll-start.html",
        "sidebar/navigation.html",
        "sidebar/built-with.html",
        "sidebar/scroll-end.html",
        "sidebar/variant-selector.html",
    ]
}
# Readers should know which flytekit produced every output on the site.
html_context = {
    "flytekit_version": metadata.version("flytekit"),
    "python_version": ".".join(map(str, sys.version_info[:3])),
}
html_show_sourcelink = False
html_copy_source = False

# Copy only the code: skip the ">>> " and "$ " prompts and the output lines after them.
copybutton_prompt_text = r">>> |\.\.\. |\$ "
copybutton_prompt_is_regexp = True
copybutton_only_copy_prompt_lines = True
# Code blocks get a copy button; the gallery's captured-output blocks do not.
copybutton_selector = "div:not(.sphx-glr-script-out) > div.highlight pre"


class AccessibleHTMLTranslator(HTML5Translator):
    """Sphinx's HTML writer, plus the ``aria-level`` its ``role="heading"`` elements lack.

    Toctree captions are rendered ``<p class="caption" role="heading">``; ARIA 1.2 requires
    ``aria-level`` on a heading role (sphinx-doc/sphinx#14030; upstream pull request #14437, still
    open, adds the same). Level 2 is what ARIA 1.1 assumed when it was missing.
    """

    def starttag(self, node, tagname, suffix="\n", empty=False, **attributes):
        attributes = {name.lower(): value for name, value in attributes.items()}
        if attributes.get("role") == "heading":
            attributes.setdefault("aria-level", "2")
        return super().starttag(node, tagname, suffix, empty, **attributes)


def setup(app):
    app.set_translator("html", AccessibleHTMLTranslator)
