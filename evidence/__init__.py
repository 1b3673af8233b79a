"""The evidence behind the site: how it proves what its guides and lessons say.

The lessons in ``examples/`` are what a reader copies: public SDK APIs only, nothing else.
Everything the site needs to *show* that a lesson does what its guide says lives here,
written once and imported by the build (``_ext/``), the evidence pages
(``evidence/pages/``), the tests and ``make bench``:

- ``isolation``: the one recipe that keeps a build, a test or a benchmark away from the
  reader's ``~/.flyte`` and ``/tmp``;
- ``sdk``: every private name of flytekit and the flyte SDK the project uses, checked
  against the installed versions;
- ``lessons``: the lesson scripts, loaded as modules without running them;
- ``probes``: one probe per kind of fact (task bodies run and cache hits, compiled specs,
  literal sizes);
- ``attempts``: a flytekit task's attempts run as a cluster's pods run them, one killed
  with SIGKILL after a given checkpoint write;
- ``shapes``: other shapes of a lesson's workflow, defined for comparison (the spot
  lesson's stages as one coarse task);
- ``models``: the cost models behind the figures and the guides' calculators;
- ``figures``: the house figure size and the checks every figure passes.
"""
