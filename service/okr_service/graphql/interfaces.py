import strawberry
from strawberry import relay


@strawberry.interface(
    description="What an objective can contribute to: an objective or a key result."
)
class AlignmentTarget(relay.Node):
    title: str = strawberry.field(description="What the objective or key result says.")
