"""The package layers hold (docs/architecture.md): imports go downward only, Beam stays in
pipeline/, TensorFlow never reaches pretrain/, no module reads another's private names, and a
production module over ~400 lines says at its top why it is one file. Read from the source
with ``ast``, so nothing is imported."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

from conftest import REPO

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    tomllib = pytest.importorskip("tomli")

ROOT = REPO
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PACKAGE_DIRS = PYPROJECT["tool"]["setuptools"]["package-dir"]  # "c4forge.pipeline" -> "pipeline"

# Each top-level package and the c4forge packages it may import (itself included).
ALLOWED = {
    "cleaning_rules": {"cleaning_rules"},
    "corpus": {"corpus"},
    "tokenizer_training": {"tokenizer_training", "corpus"},
    "pretrain": {"pretrain", "corpus"},
    "pipeline": {"pipeline", "cleaning_rules", "corpus", "tokenizer_training"},
    "cli": {"cli", "pipeline", "cleaning_rules", "corpus", "tokenizer_training", "pretrain"},
}
# Third-party packages confined to some layers: Beam to pipeline/, TensorFlow to none at all
# (tests read the output back with it), torch and transformers to the training stages.
CONFINED = {
    "apache_beam": {"pipeline"},
    "tensorflow": set(),
    "torch": {"pretrain"},
    "transformers": {"pretrain", "tokenizer_training"},
}
MAX_LINES = 400
ONE_FILE_REASON = "Why one file:"


def production_modules() -> list[tuple[str, Path]]:
    """(top-level package, path) of every installed module."""
    modules = []
    for dotted, folder in PACKAGE_DIRS.items():
        top = dotted.split(".")[1]
        modules += [(top, path) for path in sorted((ROOT / folder).rglob("*.py"))]
    return modules


def c4forge_imports(tree: ast.Module, path: Path) -> list[tuple[str, list[str], int]]:
    """(imported c4forge module, names taken from it, line) of every import, relative ones resolved."""
    package = ".".join(["c4forge", *path.relative_to(ROOT).parent.parts])
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(a.name, [], node.lineno) for a in node.names if a.name.startswith("c4forge.")]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            if module.startswith("c4forge"):
                found.append((module, [a.name for a in node.names], node.lineno))
    return found


def third_party_imports(tree: ast.Module) -> list[tuple[str, int]]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(a.name.split(".")[0], node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            found.append((node.module.split(".")[0], node.lineno))
    return found


def test_every_package_folder_is_installed():
    listed = set(PYPROJECT["tool"]["setuptools"]["packages"])
    folders = {dotted: ROOT / folder for dotted, folder in PACKAGE_DIRS.items()}
    on_disk = set()
    for dotted, folder in folders.items():
        for init in folder.rglob("__init__.py"):
            on_disk.add(".".join([dotted, *init.parent.relative_to(folder).parts]))
    assert on_disk == listed


def layer_violations(top: str, tree: ast.Module, path: Path) -> list[str]:
    wrong = []
    for module, _, line in c4forge_imports(tree, path):
        target = module.split(".")[1] if module.count(".") else ""
        if target not in ALLOWED[top]:
            wrong.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
    for name, line in third_party_imports(tree):
        if name in CONFINED and top not in CONFINED[name]:
            wrong.append(f"{path.relative_to(ROOT)}:{line} imports {name}")
    return wrong


def private_reads(tree: ast.Module, path: Path) -> list[str]:
    """``from module import _name`` and ``module._name`` where module is another c4forge module."""
    wrong = []
    for module, names, line in c4forge_imports(tree, path):
        wrong += [f"{path.relative_to(ROOT)}:{line} imports {module}.{n}" for n in names
                  if n.startswith("_") and not n.startswith("__")]
    modules = set()  # names bound to c4forge modules: `from c4forge.x import mod`, `import c4forge.x as mod`
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith("c4forge")):
            modules.update(a.asname or a.name for a in node.names)
        elif isinstance(node, ast.Import):
            modules.update(a.asname or a.name.split(".")[-1] for a in node.names if a.name.startswith("c4forge"))
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in modules
                and node.attr.startswith("_") and not node.attr.startswith("__")):
            wrong.append(f"{path.relative_to(ROOT)}:{node.lineno} reads {node.value.id}.{node.attr}")
    return wrong


def test_layers_import_downward_only_and_confined_libraries_stay_in_their_layers():
    wrong = []
    for top, path in production_modules():
        wrong += layer_violations(top, ast.parse(path.read_text(), str(path)), path)
    assert not wrong, "\n".join(wrong)


def test_no_module_reads_another_modules_private_names():
    wrong = []
    for _, path in production_modules():
        wrong += private_reads(ast.parse(path.read_text(), str(path)), path)
    assert not wrong, "\n".join(wrong)


def test_long_modules_say_why_they_are_one_file():
    wrong = []
    for _, path in production_modules():
        text = path.read_text()
        lines = text.count("\n")
        docstring = ast.get_docstring(ast.parse(text)) or ""
        if lines > MAX_LINES and ONE_FILE_REASON not in docstring:
            wrong.append(f"{path.relative_to(ROOT)}: {lines} lines, no '{ONE_FILE_REASON}' in its docstring")
    assert not wrong, "\n".join(wrong)


def test_the_checks_see_violations():
    """A check that can find nothing proves nothing: each one on a probe that breaks it."""
    probe = ast.parse("from c4forge.pretrain import train\nfrom ..records import _gunzip\nimport torch\n"
                      "from c4forge.pipeline import sinks\nsinks._write_shard()\n")
    path = ROOT / "cleaning_rules" / "language" / "probe.py"
    assert layer_violations("cleaning_rules", probe, path) == [
        "cleaning_rules/language/probe.py:1 imports c4forge.pretrain",
        "cleaning_rules/language/probe.py:4 imports c4forge.pipeline",
        "cleaning_rules/language/probe.py:3 imports torch",
    ]
    assert private_reads(probe, path) == [
        "cleaning_rules/language/probe.py:2 imports c4forge.cleaning_rules.records._gunzip",
        "cleaning_rules/language/probe.py:5 reads sinks._write_shard",
    ]
