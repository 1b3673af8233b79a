"""Other shapes of a lesson's workflow, defined for comparison by the evidence pages and
the tests, once.

The caching lesson's ``extract_features`` gets a docstring describing its input
(``documented_features``): same name, version and body, a new description in the interface.

The spot lesson splits its pipeline into four tasks. ``coarse_spot_task`` is the same
work as one interruptible task: it calls the lesson's stage functions directly, so both
shapes do exactly the same work, and it is defined in the lesson's module, as an edit
to the lesson's file would define it. Inside one task the stages are not tasks of their
own, so a probe sees one body; ``stages_that_ran`` reads which stages did their work
from the labelled line each stage body prints when it runs.
"""

from __future__ import annotations

import contextlib
import io
from types import ModuleType
from typing import Any

from evidence import lessons, probes

COARSE_SPOT = '''
@task(container_image=image, interruptible=True, retries=3)
def all_stages(preempt_stage: int) -> str:
    features = featurize.task_function(preempt_stage=preempt_stage)
    model = train.task_function(features=features, preempt_stage=preempt_stage)
    accuracy = evaluate.task_function(
        model=model, features=features, preempt_stage=preempt_stage)
    return publish.task_function(
        model=model, accuracy=accuracy, preempt_stage=preempt_stage)
'''


def coarse_spot_task(lesson: ModuleType) -> Any:
    """The spot lesson's four stages as one interruptible task, ``all_stages``; not
    cached: its entry would be written only when all four succeed, and a hit would skip
    the side effect."""
    return lessons.redefine(lesson, COARSE_SPOT)["all_stages"]


DOCUMENTED_FEATURES = '''
@task(container_image=image, cache=Cache(version="1"))
def extract_features(n_components: int) -> np.ndarray:
    """Whitened principal components of the digits.

    :param n_components: how many components to keep
    """
    pixels = load_digits().data / 16.0
    pca = PCA(n_components=n_components, whiten=True, random_state=0)
    return pca.fit(pixels[:N_TRAIN]).transform(pixels)
'''


def documented_features(lesson: ModuleType) -> Any:
    """The caching lesson's ``extract_features``, same name and cache version, with a
    docstring whose ``:param:`` line describes ``n_components``."""
    return lessons.redefine(lesson, DOCUMENTED_FEATURES)["extract_features"]


def stages_that_ran(printed: str, stages: list[str]) -> list[str]:
    """The stages whose body printed its ``<stage> ran...`` line, in order."""
    names = [line.split(" ran", 1)[0] for line in printed.splitlines()
             if " ran" in line]
    return [name for name in names if name in stages]


def probed(entity, preempt_stage: int, stages: list[str]) -> probes.TaskRuns:
    """Run ``entity(preempt_stage=...)`` quietly under the probe: ``value`` is its result,
    None if the simulated preemption stopped it; ``stages`` the stages whose work ran
    (inside a coarse task too)."""
    from flytekit.exceptions.user import FlyteRecoverableException

    printed = io.StringIO()
    with probes.flytekit_runs() as runs, contextlib.redirect_stdout(printed):
        try:
            runs.value = entity(preempt_stage=preempt_stage)
        except FlyteRecoverableException:
            runs.value = None
    runs.stages = stages_that_ran(printed.getvalue(), stages)
    return runs
