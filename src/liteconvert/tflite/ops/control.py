"""Control flow (ops that run other subgraphs) and custom ops."""

from __future__ import annotations

from . import declare

# WHILE runs ``cond`` then ``body`` until ``cond`` is false; IF runs one branch. The option fields hold
# subgraph indices: the IR keeps the subgraphs themselves in ``Op.subgraphs`` under these field names, and the
# writer turns them into indices. Not pure: their bodies may hold custom or Flex ops.
declare("WHILE", "WhileOptions", (), pure=False, subgraphs=("cond_subgraph_index", "body_subgraph_index"))
declare("IF", "IfOptions", ("cond",), pure=False, subgraphs=("then_subgraph_index", "else_subgraph_index"))
# Flex and custom ops: their effects are not ours to judge. A custom op's version is its registration's (a
# .tflite read back keeps it in the private attr ``_custom_version``).
declare("CUSTOM", None, (), version=lambda op: int(op.attrs.get("_custom_version", 1)), pure=False)
