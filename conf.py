"""Sphinx configuration: furo, MyST guides and an executed sphinx-gallery of flytekit examples."""

import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from urllib.parse import urlsplit

from sphinx.writers.html5 import HTML5Translator

ROOT = Path(__file__).parent
sys.path.insert(0, str(ROOT / "_ext"))
sys.path.insert(0, str(ROOT))  # the evidence package, which the evidence pages import

project = "Structuring Flyte workflows"
author = "The flyte-workflow-structure authors"
copyright = "2026, " + author

extensions = [
    "build_isolation",  # first: it moves HOME and TMPDIR into the build before anything runs
    "myst_parser",
    "sphinx_gallery.gen_gallery",
    "gallery_sync",  # forgets failed runs' checksums and removed examples' pages before a run
    "sphinx_copybutton",
    "sphinx_design",  # Flyte 1 / Flyte 2 tabs, collapsed details
    "sphinxext.opengraph",  # a meta description (and Open Graph tags) on every page
    "page_description",  # ... the one written for it, or its whole first paragraph
    "notfound.extension",  # 404.html whose links work from any missing URL
    "sphinx_llms_txt",  # llms.txt and llms-full.txt for AI assistants
    "gallery_downloads",  # notebooks that run in Jupyter; no downloads on evidence pages
    "calculators",  # the guides' calculators: only on their pages, from evidence.models
    "search_index",  # index entries survive an incremental build (a Sphinx 9.0 gap)
    "gallery_figures",  # figures sized, and a tap from their full-resolution image
    "page_assets",  # per page: only the stylesheets it uses block its first paint
]

# Where the site is served, when the build knows it: Read the Docs sets its canonical URL;
# elsewhere SITE_URL may. Without one, pages carry no canonical link and no sitemap is
# written (a sitemap lists absolute URLs; sphinx-sitemap would warn, failing the build).
SITE_URL = os.environ.get("READTHEDOCS_CANONICAL_URL") or os.environ.get("SITE_URL", "")
if SITE_URL and not SITE_URL.endswith("/"):
    SITE_URL += "/"


def _repository_url() -> str:
    """The public repository readers can clone: SITE_REPOSITORY_URL, Read the Docs' clone
    URL, or this checkout's `origin` remote; empty when none is known (then no link is shown)."""
    url = os.environ.get("SITE_REPOSITORY_URL") or os.environ.get("READTHEDOCS_GIT_CLONE_URL")
    if not url:
        try:
            url = subprocess.run(["git", "remote", "get-url", "origin"], cwd=Path(__file__).parent,
                                 capture_output=True, text=True, check=True).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            url = ""
    if url.startswith("git@"):  # git@github.com:owner/repo.git -> https://github.com/owner/repo
        host, _, path = url[4:].partition(":")
        url = f"https://{host}/{path}"
    url = url.removesuffix(".git")
    return url if url.startswith("https://") else ""


REPOSITORY_URL = _repository_url()
if SITE_URL:
    extensions.append("sphinx_sitemap")

# Only the site's sources are documents; the gallery's header is raw input to sphinx-gallery.
exclude_patterns = [
    "_build",
    ".venv",
    "tests",
    "tools",
    "README.md",
    "examples",
    "evidence",
    "auto_examples/**.ipynb",
    "auto_evidence/**.ipynb",
    "**/.pytest_cache",
]
root_doc = "index"

# Strict: every cross-reference must resolve (the Makefile adds -nW --keep-going).
nitpicky = True

myst_enable_extensions = ["colon_fence", "deflist", "substitution"]
myst_heading_anchors = 3
myst_footnote_transition = True
# The landing page tells readers where to get the scripts: the repository when the build
# knows it, otherwise the download buttons at the bottom of every lesson's page. Its install
# line pins everything any lesson's Run-it box pins (tests/test_reading.py holds that).
from evidence import lessons, run_it  # noqa: E402

def _pins(path: Path) -> list[str]:
    try:
        return run_it.parse(path).install[2:]
    except ValueError:  # a lesson without its box: tests/test_lessons.py names it
        return []


LESSON_PINS = sorted({pin for path in lessons.paths() for pin in _pins(path)})
myst_substitutions = {
    "install_all": "```sh\npip install " + " ".join(LESSON_PINS) + "\n```",
    "get_the_scripts": (
        f"clone [the site's repository]({REPOSITORY_URL}), which holds every script in "
        "`examples/`, or download one from the buttons at the end of its page"
        if REPOSITORY_URL else
        "download it from the buttons at the end of its page (Python source or notebook)"
    ),
}

# Two galleries, one folder per question in the guides' order: the lessons a reader copies
# (examples/), and the evidence pages that probe, compile and model them (evidence/pages/).
QUESTIONS = ("decompose", "parallelize", "cache", "interruptible")
sphinx_gallery_conf = {
    "examples_dirs": ["examples", "evidence/pages"],
    "gallery_dirs": ["auto_examples", "auto_evidence"],
    "subsection_order": [f"{gallery}/{question}" for gallery in ("examples", "evidence/pages")
                         for question in QUESTIONS] + ["*"],  # "*": any other folder, last
    "filename_pattern": r"/",  # run every script, not only plot_*.py
    "within_subsection_order": "gallery_order.FlyteOneFirst",
    # Each script starts with empty local caches of both SDKs (evidence.isolation).
    "reset_modules": ("matplotlib", "build_isolation.fresh_local_caches"),
    "download_all_examples": False,
    "remove_config_comments": True,
    # Run times are measured by `make bench`; the generated table page pulls jQuery and
    # DataTables from public CDNs, which this site must not depend on.
    "write_computation_times": False,
    "show_signature": False,
    # Only the gallery's own stylesheet: the binder, dataframe and rendered-HTML ones style
    # output this site does not have, and each is a render-blocking request on every page.
    "css": ("sg_gallery",),
    # Figures are drawn at the size furo shows them; sharp screens get a 2x image.
    "image_srcset": ["2x"],
}

html_theme = "furo"
html_title = project
html_static_path = ["_static"]
html_favicon = "_static/favicon.svg"
# The site's styles, with its accessibility fixes for markup our dependencies generate
# (checked by tests/test_browser.py), in one stylesheet: each one holds the first paint.
html_css_files = ["site.css"]
# The accessibility fixes that need a script.
html_js_files = [("accessibility.js", {"defer": "defer"})]
templates_path = ["_templates"]
# Readers should know which SDKs produced every output on the site: said in every page's
# footer (_templates/page.html), which phones show too.
html_context = {
    "flytekit_version": metadata.version("flytekit"),
    "flyte_version": metadata.version("flyte"),
    "python_version": ".".join(map(str, sys.version_info[:3])),
}
html_show_sourcelink = False
html_copy_source = True  # sphinx-llms-txt builds llms-full.txt from the copied sources
html_baseurl = SITE_URL
if REPOSITORY_URL:
    html_theme_options = {
        "source_repository": REPOSITORY_URL + "/",
        "source_branch": os.environ.get("SITE_REPOSITORY_BRANCH", "main"),
        "source_directory": "",
    }

# Page metadata: a description from each page's first paragraph, no generated social-card
# images (matplotlib renders one per page: slow, and nothing links them).
ogp_site_url = SITE_URL
ogp_social_cards = {"enable": False}
ogp_description_length = 160
sitemap_url_scheme = "{link}"  # one language, one version: no /en/latest/ in the URLs
notfound_urls_prefix = urlsplit(SITE_URL).path or "/"
# Relative links when the site's URL is unknown, so llms.txt works wherever it is served.
llms_txt_uri_template = SITE_URL + "_sources/{docname}{suffix}{sourcelink_suffix}"
llms_txt_summary = (
    "Guides on when to decompose, parallelize, cache and use interruptible (spot) tasks in "
    "Flyte, for flytekit (Flyte 1) and the flyte SDK (Flyte 2), each backed by example "
    "scripts executed when the site was built."
)

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
