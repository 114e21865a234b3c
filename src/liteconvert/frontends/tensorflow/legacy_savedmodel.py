"""Load SavedModels that current TensorFlow cannot restore as written: Keras 2 models saved with their optimizer.

A Keras 2 (TF 2.4 to 2.15) SavedModel saved with a legacy ``OptimizerV2`` lists the optimizer's slot variables
(Adam's ``m`` and ``v``...) in its object graph. ``tf.saved_model.load`` re-creates them through the optimizer's
``add_slot``, which only exists when the ``tf-keras`` package is installed; without it loading fails with
``'_UserObject' object has no attribute 'add_slot'``.

Inference never reads optimizer state. We drop the slot-variable references from a copy of ``saved_model.pb``
(the signature functions and the variables they capture are untouched) and load that copy next to the original
``variables/`` and ``assets/``. The optimizer's values stay in the checkpoint unread.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import weakref
from typing import Any


def strip_slot_variables(saved_model_proto: Any) -> int:
    """Remove every slot-variable reference from the object graphs; return how many there were."""
    n = 0
    for mg in saved_model_proto.meta_graphs:
        if not mg.HasField("object_graph_def"):
            continue
        for node in mg.object_graph_def.nodes:
            n += len(node.slot_variables)
            del node.slot_variables[:]
    return n


def load_without_optimizer_slots(tf: Any, path: str, tags: list[str] | None = None) -> Any:
    """``tf.saved_model.load`` of ``path`` with the optimizer's slot variables left out of the object graph."""
    from tensorflow.core.protobuf import saved_model_pb2

    proto = saved_model_pb2.SavedModel()
    with open(os.path.join(path, "saved_model.pb"), "rb") as f:
        proto.ParseFromString(f.read())
    strip_slot_variables(proto)
    tmp = tempfile.mkdtemp(prefix="liteconvert-savedmodel-")
    try:
        with open(os.path.join(tmp, "saved_model.pb"), "wb") as f:
            f.write(proto.SerializeToString())
        for entry in os.listdir(path):
            if entry in ("saved_model.pb", "saved_model.pbtxt"):
                continue
            src, dst = os.path.abspath(os.path.join(path, entry)), os.path.join(tmp, entry)
            try:
                os.symlink(src, dst)
            except OSError:  # no symlinks on this file system: copy
                (shutil.copytree if os.path.isdir(src) else shutil.copy2)(src, dst)
        loaded = tf.saved_model.load(tmp, tags=tags)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    weakref.finalize(loaded, shutil.rmtree, tmp, True)  # assets may be read lazily: keep the copy while in use
    return loaded
