"""The circuit families `make(..., family=NAME)` knows: a name, a generator class, its keywords.

A family's keywords are its generator's dataclass fields (less any it hides);
`make` checks them with the shared rules of `do1rl.core.checks` (sizes,
probabilities) and true/false for bool fields, and the generator's own
`__post_init__` does the rest. A family that promises a law of d1 states it
as the generator's `d1_law()` (P(d1 = t), t = 0..max_depth), which
tests/test_families.py checks. Recipe: docs/extending.md.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from do1rl.core.biregular import LayeredBiregular
from do1rl.core.generators import Generator, RandomAlternating

DEFAULT_FAMILY = "random"
_SIZES = ("num_nodes", "max_depth", "max_gates")  # what `Generator` needs besides __call__


@dataclass(frozen=True)
class CircuitFamily:
    """A registered circuit family."""

    name: str
    generator: type
    keywords: tuple[str, ...]  # the generator's fields `make` accepts
    flags: tuple[str, ...]  # those of them that are true or false

    def build(self, **kwargs: Any) -> Generator:
        """The family's generator with these keywords."""
        return self.generator(**kwargs)


CIRCUIT_FAMILIES: dict[str, CircuitFamily] = {}


def register_family(name: str, generator: type, *, hidden: tuple[str, ...] = ()) -> CircuitFamily:
    """Registers `generator` as family `name`; its fields but `hidden` are its keywords.

    `generator` is a pytree dataclass: best made with `generators.generator_dataclass`, whose
    constructor refuses what `make` refuses (a plain `flax.struct` dataclass is rebuilt by jax through
    its constructor, so `checks.check_generator` has to let None, arrays and other placeholders through).
    """
    if not isinstance(name, str) or not name or name in CIRCUIT_FAMILIES:
        raise ValueError(f"a family needs a new, non-empty name; got {name!r} (registered: {', '.join(CIRCUIT_FAMILIES)})")
    if not isinstance(generator, type) or not dataclasses.is_dataclass(generator):
        raise TypeError(f"family {name!r}: the generator must be a dataclass class, got {generator!r}")
    missing = [a for a in _SIZES if not hasattr(generator, a)]
    missing += [] if any("__call__" in vars(c) for c in generator.__mro__[:-1]) else ["__call__"]
    if missing:
        raise TypeError(f"family {name!r}: {generator.__name__} lacks {', '.join(missing)} (see do1rl.core.generators.Generator)")
    fields = [f for f in dataclasses.fields(generator) if f.name not in hidden]
    family = CircuitFamily(
        name=name,
        generator=generator,
        keywords=tuple(f.name for f in fields),
        flags=tuple(f.name for f in fields if f.type in (bool, "bool")),
    )
    CIRCUIT_FAMILIES[name] = family
    return family


def family_keywords() -> tuple[str, ...]:
    """Every keyword of some registered family, once, in registration order."""
    return tuple(dict.fromkeys(k for f in CIRCUIT_FAMILIES.values() for k in f.keywords))


def family_flags() -> tuple[str, ...]:
    """Every true/false keyword of some registered family, once."""
    return tuple(dict.fromkeys(k for f in CIRCUIT_FAMILIES.values() for k in f.flags))


register_family("random", RandomAlternating)
register_family("biregular", LayeredBiregular, hidden=("candidates", "max_rounds"))  # deprecated, unused
