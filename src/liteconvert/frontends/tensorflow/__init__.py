"""The TensorFlow / Keras frontend.

``frontend.py`` is what the driver sees (the ``Frontend`` protocol); ``loader.py`` / ``savedmodel.py`` /
``weights.py`` read sources into graphs; ``importer.py`` walks a graph node by node through the lowering
registry (``registry.py``, one small rule per TF op in ``ops/``, grouped by family) under ``policy.py``, which
decides builtin, Flex or custom; ``flex.py`` and ``advice.py`` know TF's ops. Importing the loaders imports
TensorFlow; importing this package does not.
"""

from __future__ import annotations

from .frontend import TensorFlowFrontend, concrete_functions, keras_file, keras_model, saved_model

__all__ = ["TensorFlowFrontend", "concrete_functions", "keras_file", "keras_model", "saved_model"]
