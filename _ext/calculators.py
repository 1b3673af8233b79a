"""The decision calculators on the decomposition, parallelism and interruptible
guides (issue 13): which pages load them, and where their defaults come from.

A guide opts in with front matter naming its calculator (``calculator: parallelism``).
Only such pages get ``_static/calculators.js`` (deferred) and ``calculators.css``.

A calculator's defaults are the inputs its example ran with in this build, so on first
load it shows what the example printed. Some are measured during the run (the
decomposition example's step times and hand-off size), so all of them are taken from the
example's globals by ``record_model_inputs``, a sphinx-gallery scraper that adds no
image (sphinx-gallery calls it after every code block). It keeps them next to the
generated page as ``<stem>.calculator.json``. An example that did not run in this build
keeps its last run's; one that has none is run again (its checksum is forgotten), and
without a run (``make html-noplot``) the calculator starts empty and says why. Every
build writes them to ``_static/calculator-inputs.js``, loaded before the script.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from sphinx.application import Sphinx


def _parallelism(g: dict) -> dict:
    return {"inputs": dict(g["MODEL_INPUTS"])}


def _interruptible(g: dict) -> dict:
    to_rate = g["rate_from_monthly_fraction"]
    return {
        "stages": [asdict(stage) for stage in g["PIPELINE"]],
        "spot_price_ratio": g["SPOT_PRICE_RATIO"],
        "preemptions_per_hour": g["PREEMPTIONS_PER_HOUR"],
        "spot_attempts": g["SPOT_ATTEMPTS"],
        "overhead_minutes": g["OVERHEAD_MINUTES"],
        # AWS's bands: [monthly fraction, the model's rate per node-hour for it]
        "bands": {band: [f, to_rate(f)] for band, f in g["AWS_ADVISOR_BANDS"].items()},
    }


def _decomposition(g: dict) -> dict:
    return {
        "first": asdict(g["train_step"]),  # measured run time, compiled requests
        "second": asdict(g["predict_step"]),
        "handoff_bytes": g["handoff_bytes"],  # the measured model file
        "overhead": asdict(g["overhead"]),
    }


# Example (file stem) -> (calculator, its defaults read from the example's globals once
# they exist).
EXAMPLES = {
    "fan_out_inference_with_map_task": ("parallelism", _parallelism),
    "spot_preemption_with_caching": ("interruptible", _interruptible),
    "decompose_training_and_inference": ("decomposition", _decomposition),
}
SUFFIX = ".calculator.json"


def record_model_inputs(block, block_vars: dict, gallery_conf: dict) -> str:
    """A sphinx-gallery image scraper that adds no image: it saves the model inputs of a
    calculator's example."""
    stem = Path(block_vars["src_file"]).stem
    if stem not in EXAMPLES:
        return ""
    try:
        inputs = EXAMPLES[stem][1](block_vars["example_globals"])
    except KeyError:  # the cell that defines them has not run yet
        return ""
    path = Path(block_vars["target_file"]).with_name(stem + SUFFIX)
    text = json.dumps(inputs, indent=1) + "\n"
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")
    return ""


def _gallery_dirs(app: Sphinx) -> list[Path]:
    dirs = app.config.sphinx_gallery_conf.get("gallery_dirs", [])
    return [Path(app.srcdir, d) for d in ([dirs] if isinstance(dirs, str) else dirs)]


def run_examples_without_inputs(app: Sphinx) -> None:
    """An example that ran before this extension did (its checksum is current, so
    sphinx-gallery would skip it) has no inputs file: forget its checksum so it runs
    again."""
    for stem in EXAMPLES:
        for gallery in _gallery_dirs(app):
            if not (gallery / (stem + SUFFIX)).is_file():
                (gallery / (stem + ".py.md5")).unlink(missing_ok=True)


def write_inputs_script(app: Sphinx, env) -> None:
    """After reading, before pages are written (their links carry its checksum)."""
    if app.builder.format != "html":
        return
    inputs = {}
    for stem, (calculator, _) in EXAMPLES.items():
        for gallery in _gallery_dirs(app):
            if (gallery / (stem + SUFFIX)).is_file():
                inputs[calculator] = json.loads(
                    (gallery / (stem + SUFFIX)).read_text("utf-8")
                )
    static = Path(app.outdir, "_static")
    static.mkdir(parents=True, exist_ok=True)
    (static / "calculator-inputs.js").write_text(
        "// The inputs each calculator's example ran with in this build "
        "(_ext/calculators.py).\n"
        f"window.calculatorInputs = {json.dumps(inputs)};\n",
        encoding="utf-8",
    )


def add_calculator(
    app: Sphinx, pagename: str, templatename: str, context: dict, doctree
) -> None:
    """Load the calculator's files on the pages whose front matter names one, and only
    there."""
    if app.env.metadata.get(pagename, {}).get("calculator"):
        app.add_css_file("calculators.css")
        app.add_js_file("calculator-inputs.js", loading_method="defer")
        app.add_js_file("calculators.js", loading_method="defer")


def setup(app: Sphinx) -> dict:
    # After sphinx-gallery's configuration (priority 10), before it runs examples (500).
    app.connect("builder-inited", run_examples_without_inputs, priority=450)
    app.connect("env-updated", write_inputs_script)
    app.connect("html-page-context", add_calculator)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
