"""A small trained text-to-image world (synthetic shapes, SD1-architecture models, judges) in
which "a more faithful image" has a measurable meaning. See tiny_world/README.md."""
