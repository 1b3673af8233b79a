"""The decision calculators on the decomposition, parallelism and interruptible guides:
which pages load them, and where they start from.

A guide opts in with front matter naming its calculator (``calculator: parallelism``). Only
such pages get ``calculators.css`` and ``_static/calculators.js``, the latter fetched once the
page has loaded (``LOADER``).

A calculator starts from its model's defaults, ``evidence.models.<name>.DEFAULTS``: the
inputs the evidence page prints and draws, so on first load it shows what that page printed.
Every build writes them to ``_static/calculator-inputs.js``, with the loader of the script.
"""

from __future__ import annotations

import hashlib
import importlib
import json
from pathlib import Path

from sphinx.application import Sphinx

from evidence.models import CALCULATORS


# calculators.js is 50 KB: fetched with the page, it delayed the page's largest paint in
# Lighthouse's model by 0.2 s. It is fetched once the page has loaded; a calculator opened
# before it arrives is built when it does.
LOADER = """// The calculators themselves: fetched once the page has loaded.
(() => {
  const src = new URL("calculators.js?v=%s", document.currentScript.src).href;
  const load = () => document.head.append(Object.assign(document.createElement("script"),
                                                        {src}));
  if (document.readyState === "complete") load();
  else window.addEventListener("load", load);
})();
"""


def write_inputs_script(app: Sphinx, env) -> None:
    """After reading, before pages are written (their links carry its checksum)."""
    if app.builder.format != "html":
        return
    inputs = {name: importlib.import_module(f"evidence.models.{name}").calculator_defaults()
              for name in CALCULATORS}
    static = Path(app.outdir, "_static")
    static.mkdir(parents=True, exist_ok=True)
    # The checksum makes a browser that cached an older calculators.js fetch the new one.
    script = Path(app.srcdir, "_static", "calculators.js").read_bytes()
    version = hashlib.sha256(script).hexdigest()[:8]
    (static / "calculator-inputs.js").write_text(
        "// Each calculator's model defaults (evidence/models/, _ext/calculators.py).\n"
        f"window.calculatorInputs = {json.dumps(inputs)};\n" + LOADER % version,
        encoding="utf-8",
    )


def add_calculator(
    app: Sphinx, pagename: str, templatename: str, context: dict, doctree
) -> None:
    """Load the calculator's files on the pages whose front matter names one, and only
    there."""
    if app.env.metadata.get(pagename, {}).get("calculator"):
        app.add_css_file("calculators.css")
        app.add_js_file("calculator-inputs.js", loading_method="defer")  # and the loader


def setup(app: Sphinx) -> dict:
    app.connect("env-updated", write_inputs_script)
    app.connect("html-page-context", add_calculator)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
