"""
Train once, predict cheaply: one workflow, two tasks
====================================================

Training and batch inference run as two tasks, so each asks for its own resources.
Runs locally in a few seconds. The question behind it: :ref:`guide-decomposition`.
"""

# %%
# Define the tasks
# ----------------
# Training needs more memory than inference, so it asks for more.
import os

import matplotlib.pyplot as plt
from flytekit import ImageSpec, Resources, task, workflow
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression

image = ImageSpec(
    name="workflow-structure-examples",
    packages=["scikit-learn==1.9.1", "matplotlib==3.11.2"],
    registry=os.environ.get("FLYTE_IMAGE_REGISTRY", "localhost:30000"),
)


@task(container_image=image, requests=Resources(cpu="2", mem="2Gi"))
def train(max_iter: int) -> LogisticRegression:
    digits = load_digits()
    return LogisticRegression(max_iter=max_iter).fit(digits.data[:1500], digits.target[:1500])


@task(container_image=image, requests=Resources(cpu="1", mem="500Mi"))
def predict(model: LogisticRegression) -> float:
    digits = load_digits()
    return float(model.score(digits.data[1500:], digits.target[1500:]))


@workflow
def train_then_predict(max_iter: int = 2000) -> float:
    return predict(model=train(max_iter=max_iter))


# %%
# Run it
# ------
if __name__ == "__main__":
    accuracy = train_then_predict(max_iter=2000)
    print(f"held-out accuracy: {accuracy:.3f}")
    plt.bar(["held-out accuracy"], [accuracy])
    plt.ylim(0, 1)
    plt.show()
