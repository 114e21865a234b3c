"""The layering you can read off the imports: no module imports one above it, not even inside a function.

errors, config and the file helpers at the bottom; then the IR; then the TFLite layer (and metadata, the file
format's other half); then passes and quantization; then frontends; then the driver; then reports (check,
verify, inspect); then the API; then the command line. Third-party imports (TensorFlow inside the TF frontend)
are not judged here; ``test_import_is_light`` checks ``import liteconvert`` stays free of them.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys

from conftest import ROOT

SRC = os.path.join(ROOT, "src")

LAYERS: list[tuple[int, tuple[str, ...]]] = [
    (0, ("liteconvert.errors", "liteconvert.config", "liteconvert._console", "liteconvert.flatbuf",
         "liteconvert.files")),
    (1, ("liteconvert.ir",)),
    (2, ("liteconvert.tflite", "liteconvert.metadata")),
    (3, ("liteconvert.passes", "liteconvert.quantize")),
    (4, ("liteconvert.frontends",)),
    (5, ("liteconvert.driver",)),
    (6, ("liteconvert.check", "liteconvert.verify", "liteconvert.inspect", "liteconvert.quantization_report")),
    (7, ("liteconvert.converter", "liteconvert.demo", "liteconvert")),
    (8, ("liteconvert.cli", "liteconvert.commands", "liteconvert.__main__")),
]


def layer_of(module: str) -> int:
    best, length = None, -1
    for layer, prefixes in LAYERS:
        for p in prefixes:
            if (module == p or module.startswith(p + ".")) and len(p) > length:
                best, length = layer, len(p)
    assert best is not None, f"{module} is in no layer: add it to LAYERS"
    return best


def modules() -> dict[str, str]:
    out = {}
    for dirpath, _, files in os.walk(os.path.join(SRC, "liteconvert")):
        for f in files:
            if f.endswith(".py"):
                path = os.path.join(dirpath, f)
                rel = os.path.relpath(path, SRC)[:-3].replace(os.sep, ".")
                out[rel.removesuffix(".__init__")] = path
    return out


def imports_of(name: str, path: str) -> list[tuple[str, int]]:
    """Every liteconvert module ``name`` imports (at module level or inside functions), with its line."""
    with open(path) as f:
        tree = ast.parse(f.read(), path)
    package = name if path.endswith("__init__.py") else name.rsplit(".", 1)[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(a.name, node.lineno) for a in node.names if a.name.split(".")[0] == "liteconvert"]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            if mod.split(".")[0] != "liteconvert":
                continue
            # ``from . import x`` imports the submodule x when there is one
            known = modules()
            targets = [f"{mod}.{a.name}" if f"{mod}.{a.name}" in known else mod for a in node.names]
            found += [(t, node.lineno) for t in targets]
    return found


def test_no_module_imports_a_layer_above_it():
    bad = []
    for name, path in sorted(modules().items()):
        own = layer_of(name)
        for target, line in imports_of(name, path):
            if layer_of(target) > own:
                bad.append(f"{os.path.relpath(path, ROOT)}:{line}: {name} (layer {own}) imports {target} "
                           f"(layer {layer_of(target)})")
    assert not bad, "\n".join(bad)


def test_every_module_has_a_layer():
    for name in modules():
        layer_of(name)


def test_import_is_light():
    """``import liteconvert`` (and its public subpackages) imports neither TensorFlow, Keras nor JAX."""
    code = ("import sys, liteconvert, liteconvert.cli, liteconvert.driver, liteconvert.passes\n"
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'tensorflow', 'keras', 'jax'}))")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "PYTHONPATH": SRC})
    assert res.returncode == 0 and res.stdout.strip() == "[]", (res.stdout, res.stderr)
