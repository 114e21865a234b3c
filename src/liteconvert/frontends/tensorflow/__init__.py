"""The TensorFlow / Keras frontend. Importing this package imports TensorFlow."""

from .importer import import_graphs
from .loader import LoadedGraph, load_concrete_functions, load_keras_file, load_keras_model, load_saved_model

__all__ = [
    "LoadedGraph",
    "import_graphs",
    "load_concrete_functions",
    "load_keras_file",
    "load_keras_model",
    "load_saved_model",
]
