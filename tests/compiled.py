"""Load an example as a module and compile its entities as `pyflyte register` would, offline.

Compiling an entity whose tasks use an ``ImageSpec`` normally asks Docker (or the registry)
whether the image exists. Naming each ImageSpec's image in the ``ImageConfig`` up front makes
flytekit use that name without building or probing anything.
"""

from __future__ import annotations

import importlib.util
import sys
from collections import OrderedDict
from functools import cache
from types import ModuleType

from flytekit import ImageSpec
from flytekit.configuration import Image, ImageConfig, SerializationSettings
from flytekit.models.admin.workflow import WorkflowSpec
from flytekit.models.task import TaskSpec
from flytekit.tools.translator import get_serializable

from conftest import ROOT


@cache
def load_example(name: str) -> ModuleType:
    """Import examples/<name>.py (``name`` may be ``flyte2/<file>``) without running its
    __main__ block."""
    module_name = name.replace("/", ".")
    spec = importlib.util.spec_from_file_location(module_name, ROOT / "examples" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # flytekit resolves task names through sys.modules
    spec.loader.exec_module(module)
    return module


def image_specs(module: ModuleType) -> list[ImageSpec]:
    return [value for value in vars(module).values() if isinstance(value, ImageSpec)]


def settings_for(module: ModuleType) -> SerializationSettings:
    images = [Image(name=spec.id, fqn=f"{spec.registry}/{spec.name}" if spec.registry else spec.name,
                    tag=spec.tag) for spec in image_specs(module)]
    default = ImageConfig.auto_default_image().default_image
    return SerializationSettings(image_config=ImageConfig(default_image=default, images=images))


def compile_workflow(module: ModuleType, workflow) -> tuple[WorkflowSpec, dict[str, TaskSpec]]:
    """The workflow spec and its task specs keyed by the task's short name (``train``)."""
    entities: OrderedDict = OrderedDict()
    spec = get_serializable(entities, settings_for(module), workflow)
    tasks = {
        value.template.id.name.rsplit(".", 1)[-1]: value
        for value in entities.values()
        if isinstance(value, TaskSpec)
    }
    return spec, tasks


def compile_task(module: ModuleType, task) -> TaskSpec:
    return get_serializable(OrderedDict(), settings_for(module), task)
