"""The generic registry every named thing (datasets, losses, backbones) goes through."""

import pytest

from haco.registry import Registry


def test_register_lookup_and_errors():
    things = Registry("widget")

    @things.register("a")
    def make_a():
        return 1

    things.add("b", 2)
    assert things["a"] is make_a and list(things) == ["a", "b"] and len(things) == 2
    with pytest.raises(ValueError, match="widget 'a' is registered twice"):
        things.add("a", 3)
    with pytest.raises(KeyError, match="unknown widget 'c'; known: a, b"):
        things["c"]
