"""The lesson cache/cache_arrays_by_content: an offloaded array keyed by its address, or by
the digest ``HashMethod`` stores with it."""

from __future__ import annotations

import contextlib
import io
from typing import Annotated

import numpy as np
import pytest
from flytekit import HashMethod

from evidence import lessons, probes

NAME = "cache/cache_arrays_by_content"


@pytest.fixture(scope="module")
def lesson():
    return lessons.load(NAME)


def probed(entity) -> probes.TaskRuns:
    with probes.flytekit_runs() as runs, contextlib.redirect_stdout(io.StringIO()):
        runs.value = entity()
    return runs


def test_by_reference_the_same_pixels_in_a_new_blob_miss(lesson, empty_caches):
    runs = [probed(lesson.ink_by_reference) for _ in range(2)]
    assert [r.bodies for r in runs] == [["digit_images", "ink_per_image"]] * 2
    assert [r.misses for r in runs] == [["ink_per_image"]] * 2


def test_by_content_the_second_run_is_served(lesson, empty_caches):
    first, second = (probed(lesson.ink_by_content) for _ in range(2))
    assert first.bodies == ["digit_images_hashed", "ink_per_image"]
    assert second.bodies == ["digit_images_hashed"] and second.hits == ["ink_per_image"]
    assert second.value == first.value


def test_the_hashed_output_travels_with_its_digest(lesson):
    """The literal of an output annotated with HashMethod carries fn(value) as its hash:
    what both key builders use in place of the blob's address."""
    pixels = lesson.digit_images_hashed.task_function()
    hashed, _ = probes.flytekit_literal(
        pixels, Annotated[np.ndarray, HashMethod(lesson.array_digest)])
    plain, _ = probes.flytekit_literal(pixels, np.ndarray)
    assert hashed.hash == lesson.array_digest(pixels)
    assert not plain.hash


def test_the_digest_sees_values_dtype_and_shape(lesson):
    pixels = np.arange(12.0)
    digest = lesson.array_digest
    assert digest(pixels) == digest(pixels.copy())
    assert digest(pixels) != digest(pixels.astype(np.float32))
    assert digest(pixels) != digest(pixels.reshape(3, 4))
    assert digest(pixels) != digest(pixels + 1)


def test_only_the_consumer_is_cached(lesson):
    _, templates = probes.flytekit_compiled(lesson.ink_by_content)
    assert templates["digit_images_hashed"].metadata.discoverable is False
    ink = templates["ink_per_image"].metadata
    assert (ink.discoverable, ink.discovery_version) == (True, "1")
    _, templates = probes.flytekit_compiled(lesson.ink_by_reference)
    assert templates["digit_images"].metadata.discoverable is False
