"""A numpy reader for graph-tool's binary ``.gt`` format (optionally gzip-compressed).

The format is documented by graph-tool (https://graph-tool.skewed.de/static/doc/gt_format.html):

* header: the 6-byte magic ``b'\\xe2\\x9b\\xbe gt'``, a version byte (``1``), an endianness byte
  (``0`` little, ``1`` big), a comment string;
* ``directed`` (one byte), the vertex count ``N`` (``uint64``);
* the out-adjacency list: for every vertex, its out-degree (``uint64``) followed by its neighbours,
  each stored in the smallest unsigned integer of 1, 2, 4 or 8 bytes that holds ``N``;
* the property maps: their count (``uint64``), then for each a key type (``0`` graph, ``1`` vertex,
  ``2`` edge), a name (string), a value-type byte and the values (one, ``N`` or ``E``; edge values
  follow the order of the adjacency list).

Strings are a ``uint64`` length and the bytes (no terminator). Value types: ``0`` bool (1 byte),
``1`` int16, ``2`` int32, ``3`` int64, ``4`` double, ``5`` long double (16 bytes), ``6`` string,
``7``-``12`` vectors of those scalars (``uint64`` length, then the items), ``13`` vector of strings,
``14`` a pickled Python object (stored as a string, returned as raw bytes, never unpickled).
"""
from __future__ import annotations

import gzip
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Union

import numpy as np

MAGIC = b"\xe2\x9b\xbe gt"
_SCALARS = {0: "u1", 1: "i2", 2: "i4", 3: "i8", 4: "f8", 5: "f16"}
_KEYS = {0: "graph", 1: "vertex", 2: "edge"}


@dataclass
class GTGraph:
    """A graph read from a ``.gt`` file.

    Attributes:
        num_nodes: ``N``.
        directed: whether the file stores a directed graph.
        edge_index: ``(2, E)`` int64 array of ``(source, target)`` in file order.
        graph_properties / vertex_properties / edge_properties: name -> value (strings are decoded
            to ``str``; scalar vertex / edge properties are numpy arrays of length ``N`` / ``E``).
        comment: the file's comment string.
    """

    num_nodes: int
    directed: bool
    edge_index: np.ndarray
    graph_properties: Dict[str, Any] = field(default_factory=dict)
    vertex_properties: Dict[str, Any] = field(default_factory=dict)
    edge_properties: Dict[str, Any] = field(default_factory=dict)
    comment: str = ""


class GTFormatError(ValueError):
    """The file is not a valid graph-tool ``.gt`` file."""


class _Reader:
    def __init__(self, buf: bytes, path: str) -> None:
        self.buf, self.pos, self.path, self.endian = buf, 0, path, "<"

    def need(self, n: int) -> None:
        if self.pos + n > len(self.buf):
            raise GTFormatError(f"{self.path}: truncated .gt file (wanted {n} bytes at offset {self.pos}, "
                                f"file has {len(self.buf)})")

    def array(self, code: str, count: int) -> np.ndarray:
        dt = np.dtype(self.endian + code)
        self.need(count * dt.itemsize)
        out = np.frombuffer(self.buf, dt, count, self.pos)
        self.pos += count * dt.itemsize
        return out

    def byte(self) -> int:
        return int(self.array("u1", 1)[0])

    def u64(self) -> int:
        return int(self.array("u8", 1)[0])

    def string(self) -> bytes:
        n = self.u64()
        self.need(n)
        out = self.buf[self.pos:self.pos + n]
        self.pos += n
        return out

    def values(self, vtype: int, count: int) -> Any:
        if vtype in _SCALARS:
            arr = self.array(_SCALARS[vtype], count)
            return arr.astype(bool) if vtype == 0 else arr.astype(arr.dtype.newbyteorder("="))
        if vtype == 6:
            return [self.string().decode("utf-8", "replace") for _ in range(count)]
        if 7 <= vtype <= 12:
            return [self.array(_SCALARS[vtype - 7], self.u64()).copy() for _ in range(count)]
        if vtype == 13:
            return [[self.string().decode("utf-8", "replace") for _ in range(self.u64())] for _ in range(count)]
        if vtype == 14:
            return [self.string() for _ in range(count)]
        raise GTFormatError(f"{self.path}: unknown property value type {vtype} at offset {self.pos - 1}")


def read_gt(path: Union[str, Path]) -> GTGraph:
    """Read a graph-tool ``.gt`` or ``.gt.gz`` file with numpy (graph-tool is not needed).

    Args:
        path: the file; gzip compression is detected from the content, not the name.

    Returns:
        a :class:`GTGraph`.

    Raises:
        GTFormatError: bad magic, unsupported version, truncated file or trailing bytes.
    """
    path = Path(path)
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    r = _Reader(raw, str(path))
    if raw[:6] != MAGIC:
        raise GTFormatError(f"{path}: not a graph-tool .gt file (magic {raw[:6]!r}, expected {MAGIC!r})")
    r.pos = 6
    version, big = r.byte(), r.byte()
    if version != 1:
        raise GTFormatError(f"{path}: .gt version {version} is not supported (only version 1)")
    r.endian = ">" if big else "<"
    comment = r.string().decode("utf-8", "replace")
    directed = bool(r.byte())
    n = r.u64()
    code = "u1" if n < 2 ** 8 else "u2" if n < 2 ** 16 else "u4" if n < 2 ** 32 else "u8"
    src, dst = [], []
    for v in range(n):
        nbrs = r.array(code, r.u64())
        src.append(np.full(len(nbrs), v, dtype=np.int64))
        dst.append(nbrs.astype(np.int64))
    edge_index = np.stack([np.concatenate(src) if src else np.zeros(0, np.int64),
                           np.concatenate(dst) if dst else np.zeros(0, np.int64)])
    if edge_index.size and edge_index[1].max() >= n:
        raise GTFormatError(f"{path}: an edge names vertex {int(edge_index[1].max())} but the graph has {n}")
    g = GTGraph(num_nodes=n, directed=directed, edge_index=edge_index, comment=comment)
    for _ in range(r.u64()):
        key = r.byte()
        if key not in _KEYS:
            raise GTFormatError(f"{path}: unknown property key type {key} at offset {r.pos - 1}")
        name = r.string().decode("utf-8", "replace")
        vtype = r.byte()
        count = {0: 1, 1: n, 2: edge_index.shape[1]}[key]
        vals = r.values(vtype, count)
        if key == 0:
            g.graph_properties[name] = vals[0]
        else:
            (g.vertex_properties if key == 1 else g.edge_properties)[name] = vals
    if r.pos != len(raw):
        raise GTFormatError(f"{path}: {len(raw) - r.pos} unexpected trailing bytes after the property maps")
    return g
