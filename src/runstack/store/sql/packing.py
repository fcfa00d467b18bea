"""Metric points packed into one binary value, so that a logging call writes one row.

A row per point costs SQLite and PostgreSQL a B-tree insert per point (and per index), which
caps logging at about 100,000 points per second on this class of machine; one packed row per
call costs about the same as one point. Two layouts:

- a *batch* (``metric_log.points``): the points of one logging call, any keys;
- a *block* (``metric_blocks.points``): points of one key, each with the ``seq`` of the
  call that logged it, so that blocks and batches merge back into logging order.

Numbers are little-endian IEEE doubles and int64s, whatever the machine: NaN, ±inf and -0.0
are stored bit for bit. Keys are UTF-8 joined by NUL, which no key can contain (neither the
key rules nor PostgreSQL's text type allow it).
"""

from __future__ import annotations

import struct
import sys
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

_COUNT = struct.Struct("<I")
_SWAP = sys.byteorder != "little"


def _to_bytes(numbers: array[float] | array[int]) -> bytes:
    if _SWAP:
        numbers = array(numbers.typecode, numbers)
        numbers.byteswap()
    return numbers.tobytes()


def _from_bytes(typecode: str, data: bytes) -> array:  # type: ignore[type-arg]
    numbers = array(typecode)
    numbers.frombytes(data)
    if _SWAP:
        numbers.byteswap()
    return numbers


@dataclass(frozen=True)
class Batch:
    """The points of one logging call, as parallel columns."""

    keys: Sequence[str]
    values: Sequence[float]
    timestamps: Sequence[int]
    steps: Sequence[int]


def pack_batch(
    keys: Sequence[str], values: Iterable[float], timestamps: Iterable[int], steps: Iterable[int]
) -> bytes:
    """One call's points: count, values, timestamps, steps, then the NUL-joined keys."""
    return b"".join(
        (
            _COUNT.pack(len(keys)),
            _to_bytes(array("d", values)),
            _to_bytes(array("q", timestamps)),
            _to_bytes(array("q", steps)),
            "\0".join(keys).encode(),
        )
    )


def unpack_batch(data: bytes) -> Batch:
    (count,) = _COUNT.unpack_from(data)
    at = _COUNT.size
    width = 8 * count
    values = _from_bytes("d", data[at : at + width])
    timestamps = _from_bytes("q", data[at + width : at + 2 * width])
    steps = _from_bytes("q", data[at + 2 * width : at + 3 * width])
    text = data[at + 3 * width :].decode()
    keys = text.split("\0") if count else []
    if len(keys) != count:
        raise ValueError(f"a packed metric batch holds {len(keys)} keys for {count} points")
    return Batch(keys, values, timestamps, steps)


@dataclass(frozen=True)
class Block:
    """Points of one key in logging order: the call's ``seq``, value, timestamp, step."""

    seqs: Sequence[int]
    values: Sequence[float]
    timestamps: Sequence[int]
    steps: Sequence[int]


def pack_block(
    seqs: Iterable[int], values: Iterable[float], timestamps: Iterable[int], steps: Iterable[int]
) -> bytes:
    numbers = array("q", seqs)
    columns = (numbers, array("d", values), array("q", timestamps), array("q", steps))
    return _COUNT.pack(len(numbers)) + b"".join(_to_bytes(c) for c in columns)


def unpack_block(data: bytes) -> Block:
    (count,) = _COUNT.unpack_from(data)
    at, width = _COUNT.size, 8 * count
    parts = [data[at + i * width : at + (i + 1) * width] for i in range(4)]
    return Block(
        _from_bytes("q", parts[0]),
        _from_bytes("d", parts[1]),
        _from_bytes("q", parts[2]),
        _from_bytes("q", parts[3]),
    )
