"""Tests of the package as a whole: imports, public API, dependency direction, package data, docstrings."""

from __future__ import annotations

import ast
import dataclasses
import importlib
import inspect
import pkgutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import ganlib

PACKAGE_DIR = Path(ganlib.__file__).resolve().parent
REPO = PACKAGE_DIR.parent
MODULES = sorted(
    name for _, name, _ in pkgutil.walk_packages([str(PACKAGE_DIR)], prefix="ganlib.")
)


def test_the_module_list_is_not_empty():
    assert {"ganlib.config", "ganlib.train", "ganlib.course", "ganlib.models.mlp"} <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_every_module_imports(name):
    module = importlib.import_module(name)
    for public in getattr(module, "__all__", []):
        assert hasattr(module, public), f"{name}.__all__ names {public!r}, which does not exist"


def test_top_level_all_names_exist():
    assert ganlib.__all__
    for name in ganlib.__all__:
        assert hasattr(ganlib, name), name
    assert isinstance(ganlib.__version__, str)


def _imported_modules(path: Path) -> set[str]:
    """Absolute module names a source file imports (relative imports resolved against ganlib)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = ".".join(("ganlib", *path.relative_to(PACKAGE_DIR).parent.parts))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)  # from ganlib import course
    return found


def test_the_import_parser_sees_the_cli_import():
    assert "ganlib.course" in _imported_modules(PACKAGE_DIR / "__main__.py")


COURSE_DIR = PACKAGE_DIR / "course"  # course tooling, its own extra: only ``python -m ganlib`` reaches it


@pytest.mark.parametrize("path", sorted(p for p in PACKAGE_DIR.rglob("*.py")
                                        if p.name != "__main__.py" and COURSE_DIR not in p.parents),
                         ids=lambda p: str(p.relative_to(PACKAGE_DIR)))
def test_nothing_in_ganlib_imports_the_course_tooling(path):
    imported = _imported_modules(path)
    assert not any(name == "ganlib.course" or name.startswith("ganlib.course.") for name in imported), (
        f"{path.name} imports the course tooling")


TRAINING_FILES = [PACKAGE_DIR / "train.py", *sorted((PACKAGE_DIR / "training").glob("*.py"))]


@pytest.mark.parametrize("path", TRAINING_FILES, ids=lambda p: str(p.relative_to(PACKAGE_DIR)))
def test_training_depends_only_on_losses_models_and_config(path):
    """DESIGN: ``training -> losses, models``; it reads data through a protocol, never ganlib.data.
    (``train.py`` is the short wrapper around ``training``; ``progress`` is the shared progress display;
    ``sampling`` draws from the models for the snapshots, and itself needs only models and progress.)"""
    imported = _imported_modules(path)
    ganlib_parts = {name.split(".")[1] for name in imported if name.startswith("ganlib.")}
    assert ganlib_parts <= {"losses", "models", "config", "training", "progress", "sampling"}, ganlib_parts


def test_sampling_depends_only_on_models_and_progress():
    imported = _imported_modules(PACKAGE_DIR / "sampling.py")
    assert {name.split(".")[1] for name in imported if name.startswith("ganlib.")} <= {"models", "progress"}


def test_bundled_asset_is_declared_as_package_data():
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = pyproject["tool"]["setuptools"]["package-data"]["ganlib"]
    asset = PACKAGE_DIR / "assets" / "mnist_5k.npz"
    assert asset.is_file()
    assert any(asset.relative_to(PACKAGE_DIR).match(pattern) for pattern in patterns)
    assert "ganlib*" in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]


def _public_functions():
    seen = set()
    for name in ["ganlib", *MODULES]:  # config has no __all__; the package re-exports its API
        module = importlib.import_module(name)
        for public in getattr(module, "__all__", []):
            obj = getattr(module, public)
            if (inspect.isfunction(obj) or inspect.isclass(obj)) and id(obj) not in seen:
                seen.add(id(obj))
                yield f"{name}.{public}", obj


PUBLIC = dict(_public_functions())


def test_the_public_api_list_is_not_empty():
    assert {"ganlib.train.train", "ganlib.losses.discriminator_loss", "ganlib.get_device"} <= set(PUBLIC)


@pytest.mark.parametrize("qualname", sorted(PUBLIC))
def test_public_api_has_docstrings(qualname):
    obj = PUBLIC[qualname]
    doc = inspect.getdoc(obj)
    assert doc, f"{qualname} has no docstring"
    if dataclasses.is_dataclass(obj):  # @dataclass writes "Name(field: type = ...)" when there is none
        assert not doc.startswith(f"{obj.__name__}("), f"{qualname} has only the generated dataclass docstring"


def test_course_commands_on_a_plain_install_print_one_line_naming_the_extra():
    # a plain `pip install ganlib` has no nbformat: blocking its import stands in for that install
    code = ("import sys; sys.modules['nbformat'] = None\n"
            "from ganlib.__main__ import main\n"
            "import ganlib, ganlib.train, ganlib.metrics  # training and evaluation still import\n"
            "sys.exit(main(['course', 'build', '--check']))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "error: the course tooling needs the 'course' extra: pip install \"ganlib[course]\" "
        "(in a checkout: pip install -e \".[course]\")"]
