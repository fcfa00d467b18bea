"""Readable generated run names such as ``brisk-otter-417``.

Drawn from a private generator seeded from the OS, so a program that seeds the global
``random`` module neither changes its own random sequence by starting runs nor gets the same
run names on every execution.
"""

from __future__ import annotations

import random

# fmt: off
_ADJECTIVES = (
    "agile", "amber", "ample", "azure", "bold", "brave", "breezy", "bright", "brisk", "calm",
    "candid", "clever", "cosmic", "crisp", "curious", "daring", "dapper", "deft", "eager",
    "early", "earnest", "easy", "elated", "exact", "fair", "fancy", "fearless", "fleet", "fond",
    "frank", "fresh", "gentle", "gifted", "glad", "golden", "grand", "hardy", "hasty", "hearty",
    "honest", "humble", "jolly", "keen", "kind", "lively", "loyal", "lucid", "lucky", "mellow",
    "merry", "mighty", "modest", "neat", "nimble", "noble", "patient", "peppy", "plucky",
    "polite", "proud", "quick", "quiet", "rapid", "ready", "robust", "rosy", "rugged", "sage",
    "serene", "sharp", "shiny", "silent", "sleek", "smooth", "snappy", "solid", "spry", "steady",
    "sturdy", "sunny", "swift", "tidy", "upbeat", "valiant", "vivid", "warm", "wise", "witty",
    "zesty",
)
_ANIMALS = (
    "alpaca", "badger", "bat", "bear", "beaver", "bison", "bobcat", "camel", "carp", "cat",
    "cobra", "crane", "crow", "deer", "dingo", "dove", "duck", "eagle", "eel", "elk", "falcon",
    "ferret", "finch", "fox", "frog", "gecko", "goat", "goose", "hare", "hawk", "heron", "ibis",
    "jackal", "jay", "koala", "lemur", "lion", "llama", "lynx", "mink", "mole", "moose",
    "moth", "mouse", "newt", "otter", "owl", "panda", "parrot", "pike", "puffin", "quail",
    "rabbit", "raven", "robin", "seal", "shark", "sheep", "shrew", "skunk", "sloth", "snail",
    "sparrow", "squid", "stork", "swan", "tapir", "tiger", "toad", "trout", "turtle", "vole",
    "walrus", "wasp", "whale", "wolf", "wombat", "wren", "yak", "zebra",
)
# fmt: on

_generator = random.Random()


def generate_run_name() -> str:
    """``adjective-animal-NNN`` with NNN in 0..999; at most 20 characters."""
    adjective, animal = _generator.choice(_ADJECTIVES), _generator.choice(_ANIMALS)
    return f"{adjective}-{animal}-{_generator.randrange(1000)}"
