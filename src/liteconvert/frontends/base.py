"""What every frontend gives the driver: the protocol, and the framework-neutral records of an import.

A frontend knows one source framework and nothing about flatbuffers. It loads a source, imports it into the IR
(one lowering rule per source op, in its own registry), and can run the source for ``verify``. For every source
node it keeps a :class:`NodeRecord`: the status the node *needs* (independent of the flags) and what was emitted;
``check`` reports them, ``convert`` raises on the problems. Statuses:

``builtin``      lowered to LiteRT builtin ops
``limited``      a builtin lowering exists, but this node is outside it (dtype, rank, dynamic dimension,
                 attribute value, non-constant input)
``select``       no builtin lowering; the Flex delegate can run it (needs Select TF ops)
``custom``       no builtin lowering and no Flex kernel: needs a custom op and a user kernel
``unsupported``  cannot run on LiteRT at all (Python callbacks, resource/variant values)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from ..config import ConversionConfig
from ..errors import OpProblem
from ..ir import Model

BUILTIN, LIMITED, SELECT, CUSTOM, UNSUPPORTED = "builtin", "limited", "select", "custom", "unsupported"

Reference = Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]]


@dataclass
class NodeRecord:
    op_type: str
    node: str
    layer: str | None
    status: str
    litert: tuple[str, ...] = ()  # LiteRT ops it became (or would become)
    reason: str = ""
    limitation: str | None = None  # for "limited": dtype | rank | dynamic dimension | attribute value | ...
    emitted: str | None = None  # "builtin", "flex", "custom", or None when it is a problem
    signature: str = ""
    fallback: str | None = None  # the op set that could carry it when builtins cannot: select | custom | None

    def problem(self) -> OpProblem:
        return OpProblem(self.op_type, self.node, self.reason, self.layer, status=self.status,
                         limitation=self.limitation, fallback=self.fallback, signature=self.signature)


@dataclass
class ModelInput:
    signature: str
    name: str
    dtype: str
    shape: tuple[int, ...] | None


@dataclass
class Imported:
    """The result of an import: the model (None when nodes could not be carried), every node's record, and the
    problems (nodes no allowed op set carries)."""

    model: Model | None
    records: list[NodeRecord] = field(default_factory=list)
    problems: list[OpProblem] = field(default_factory=list)

    def record_for(self, node: str) -> NodeRecord | None:
        for r in self.records:
            if r.node == node:
                return r
        return None


class Frontend(Protocol):
    """A source model, ready to load. ``label`` names it in reports."""

    label: str

    def load(self) -> Any:
        """Load the source (graphs, functions): the input of the other methods."""

    def import_model(self, loaded: Any, config: ConversionConfig, keep_going: bool = False) -> Imported:
        """Import into the IR; ``keep_going``: allow every fallback, so that ``check`` sees a complete graph."""

    def references(self, loaded: Any) -> dict[str, Reference]:
        """A runner per signature key, for ``verify``: named inputs to named outputs."""

    def inputs(self, loaded: Any) -> list[ModelInput]:
        """Each signature's inputs (dtype and shape), for ``check``'s advice."""

    def aliases(self, loaded: Any) -> dict[str, list[str]]:
        """Signature keys converted once for another (key -> the keys that share its subgraph)."""

    def advice(self, op_type: str, status: str) -> str | None:
        """What to do about a source op that is not builtin, when the frontend knows better than the generic
        advice (a replacement with builtin-friendly ops, say)."""
