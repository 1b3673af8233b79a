# NOT RUNNABLE WITH OPEN-SOURCE FLYTEKIT: actors need Union's `union` package and a Union
# deployment. The names follow Union's API reference for union.actor.ActorEnvironment
# (union 0.1.201). The site's tests only check that this file parses.
import os

from flytekit import ImageSpec, Resources
from sklearn.ensemble import RandomForestClassifier
from union.actor import ActorEnvironment

actor_image = ImageSpec(
    name="workflow-structure-actors",
    packages=["union", "scikit-learn==1.9.1"],  # an actor's image must contain `union`
    registry=os.environ.get("FLYTE_IMAGE_REGISTRY", "localhost:30000"),
)

inference = ActorEnvironment(
    name="digits-inference",
    container_image=actor_image,
    replica_count=2,  # warm containers that accept tasks
    ttl_seconds=300,  # how long an idle replica stays up
    requests=Resources(cpu="1", mem="512Mi"),
)


@inference.task
def predict_batch(model: RandomForestClassifier, images: list[list[float]]) -> list[int]:
    return [int(label) for label in model.predict(images)]
