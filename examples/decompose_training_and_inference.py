"""
Train once, predict cheaply: one workflow, two tasks
====================================================

Training and batch inference run as two tasks, so each asks for its own resources.
Runs locally in a few seconds.
"""

# %%
# Define the tasks
# ----------------
# Training needs more memory than inference, so it asks for more.
from flytekit import Resources, task, workflow
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression


@task(requests=Resources(cpu="2", mem="2Gi"))
def train(max_iter: int) -> LogisticRegression:
    digits = load_digits()
    return LogisticRegression(max_iter=max_iter).fit(digits.data[:1500], digits.target[:1500])


@task(requests=Resources(cpu="1", mem="500Mi"))
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
