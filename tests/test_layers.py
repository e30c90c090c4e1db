"""The layers of ``docs/architecture.md`` hold: every import of the project's own modules, at any
depth of any file, goes only where its layer may go; and the distribution lists every package."""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = ("engine", "systems", "components", "kernels", "net", "clients")

CORE = "synthtwin.engine"
APP = "synthtwin.engine.app"
SYNTH = "synthtwin.engine.synth"
WIRE = "synthtwin.net.wire"

ALLOWED: dict[str, tuple[str, ...]] = {
    "synthtwin.kernels": ("synthtwin.kernels",),
    "synthtwin.components": ("synthtwin.components",),
    WIRE: (WIRE,),
    CORE: (CORE, "synthtwin.components"),
    SYNTH: (CORE, SYNTH, "synthtwin.components", "synthtwin.kernels"),
    "synthtwin.systems": (CORE, "synthtwin.systems", "synthtwin.components", "synthtwin.kernels"),
    "synthtwin.net": (CORE, "synthtwin.net", "synthtwin.components", "synthtwin.kernels"),
    "synthtwin.clients": ("synthtwin.clients", WIRE),
    APP: ("synthtwin",),
}
"""Layer -> the package prefixes its modules may import. A module belongs to the longest layer
prefix of its name; an import of the core must not reach into ``app`` or ``synth`` unless the
layer lists those by name."""


def _is_under(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def _layer(module: str) -> str:
    """The layer of ``module``; ``synthtwin`` itself (the whole package) counts as the app's."""
    return max((layer for layer in ALLOWED if _is_under(module, layer)), key=len, default=APP)


def _may_import(module: str, target: str) -> bool:
    """Whether ``module`` may import ``target``."""
    layer = _layer(module)
    if _layer(target) in (APP, SYNTH) and _layer(target) not in ALLOWED[layer]:
        return layer == APP
    return any(_is_under(target, prefix) for prefix in ALLOWED[layer])


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    parts = parts[:-1] if parts[-1] == "__init__" else parts
    return ".".join(("synthtwin", *parts))


MODULE_STRING = re.compile(r"^synthtwin(\.\w+)+$")
"""A module named in a string: ``python -m synthtwin.net.gateway``, ``importlib.import_module``."""


def _imports(path: Path) -> list[tuple[int, str]]:
    """``(line, module)`` of every import in a file, at any depth (functions included): each
    ``from M import n`` as ``M.n`` too (``n`` may be a module), and every string constant that
    names a synthtwin module, docstrings aside."""
    tree = ast.parse(path.read_text(), filename=str(path))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
    }
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path}:{node.lineno}: use an absolute synthtwin import"
            found.append((node.lineno, node.module or ""))
            found += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in docstrings
            and MODULE_STRING.match(node.value)
        ):
            found.append((node.lineno, node.value))
    return found


def _sources() -> list[Path]:
    return sorted(path for folder in FOLDERS for path in (ROOT / folder).rglob("*.py"))


def test_every_import_respects_the_layers():
    broken = []
    for path in _sources():
        module = _module_name(path)
        for line, target in _imports(path):
            top = target.split(".")[0]
            if top in FOLDERS:
                broken.append(f"{path.relative_to(ROOT)}:{line}: '{target}' is not synthtwin.*")
            elif top == "synthtwin" and not _may_import(module, target):
                broken.append(f"{path.relative_to(ROOT)}:{line}: {module} imports {target}")
    assert not broken, "\n".join(broken)


def test_tests_and_benches_import_only_synthtwin():
    stray = [
        f"{path.relative_to(ROOT)}:{line}: {target}"
        for folder in ("tests", "bench")
        for path in (ROOT / folder).rglob("*.py")
        for line, target in _imports(path)
        if target.split(".")[0] in FOLDERS
    ]
    assert not stray, "\n".join(stray)


def test_the_rules_catch_a_breach():
    assert not _may_import("synthtwin.kernels", "synthtwin.components.pose")
    assert not _may_import("synthtwin.engine.world", "synthtwin.kernels.animation")
    assert not _may_import("synthtwin.engine.world", "synthtwin.engine.synth.town")
    assert not _may_import("synthtwin.engine.loop", "synthtwin.engine.app.cli")
    assert not _may_import("synthtwin.systems", "synthtwin.engine.synth.town")
    assert not _may_import("synthtwin.net.render", "synthtwin.engine.synth.body_model")
    assert not _may_import("synthtwin.net.wire.crowd", "synthtwin.net.publisher")
    assert not _may_import("synthtwin.net.render.renderer", "synthtwin.clients.python")
    assert not _may_import("synthtwin.clients.python", "synthtwin.net.requests")
    assert _may_import("synthtwin.net.render", "synthtwin.engine.world")
    assert _may_import("synthtwin.engine.synth.town", "synthtwin.kernels.physiology")
    assert _may_import("synthtwin.engine.app.cli", "synthtwin.engine.synth.town")
    assert _may_import("synthtwin.clients.python.cli", "synthtwin.net.wire.crowd")
    assert not _may_import("synthtwin.systems.health", "synthtwin.engine.synth")
    assert not _may_import("synthtwin.net.gateway", "synthtwin")


def test_aliased_string_and_nested_imports_are_seen(tmp_path):
    source = tmp_path / "probe.py"
    source.write_text(
        '"""Mentions synthtwin.engine.app in its docstring only."""\n'
        "from synthtwin.engine import synth\n"
        "def f():\n"
        "    import synthtwin.engine.app.cli\n"
        "    return 'synthtwin.engine.app.serve'\n"
    )
    seen = {target for _, target in _imports(source)}
    assert {"synthtwin.engine.synth", "synthtwin.engine.app.cli"} <= seen
    assert "synthtwin.engine.app.serve" in seen
    assert "synthtwin.engine.app" not in seen, "docstrings are prose, not imports"


def test_the_distribution_lists_every_package():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    on_disk = {
        _module_name(init) for folder in FOLDERS for init in (ROOT / folder).rglob("__init__.py")
    }
    assert set(config["packages"]) == on_disk
    assert config["package-dir"] == {f"synthtwin.{folder}": folder for folder in FOLDERS}
