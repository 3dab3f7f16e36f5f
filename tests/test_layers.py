"""Imports point down (DESIGN.md): errors, spec and robot_types at the bottom, then hw, then
runtime and sim, then export and train, then bench and the command line. Every import in every
module counts, those inside functions too: a layer may import its own and lower layers only."""

from __future__ import annotations

import ast
from pathlib import Path

import act_tool

ROOT = Path(act_tool.__file__).parent
# Package (or bottom module) -> layer; a module may import from layers <= its own.
LAYERS = {
    "errors": 0,
    "compat": 0,
    "spec": 0,
    "robot_types": 0,
    "gpu": 0,
    "versions": 0,
    "policy": 1,
    "hw": 1,
    "runtime": 2,
    "sim": 2,
    "export": 3,
    "lerobot_policy": 3,
    "train": 3,
    "bench": 4,
    "cli": 5,
    "cli_run": 5,
    "cli_common": 5,
    "cli_dataset_sim": 5,
    "cli_eval": 5,
    "cli_eval_arm": 5,
    "cli_emulate": 5,
    "cli_faults": 5,
    "cli_backbone": 5,
    "cli_engine": 5,
    "eval": 4,
    "doctor": 4,
    "cli_doctor": 5,
    "cli_reference": 5,
}


def _layer(module: str) -> int | None:
    parts = module.split(".")
    if parts[0] != "act_tool" or len(parts) < 2:
        return None
    return LAYERS.get(parts[1])


def _imports(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append(node.module)
    return found


def test_imports_point_down():
    wrong = []
    for path in sorted(ROOT.rglob("*.py")):
        module = "act_tool." + ".".join(path.relative_to(ROOT).with_suffix("").parts)
        own = _layer(module)
        if own is None:  # act_tool/__init__, act_tool/testing: above every layer
            continue
        for imported in _imports(path):
            theirs = _layer(imported)
            if theirs is not None and theirs > own:
                wrong.append(f"{module} imports {imported}")
    assert not wrong, "imports that point up:\n" + "\n".join(wrong)


def test_every_package_has_a_layer():
    packages = {p.name for p in ROOT.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    modules = {p.stem for p in ROOT.glob("*.py")} - {"__init__"}
    assert (packages | modules) - {"testing"} <= set(LAYERS)


def test_nothing_in_act_tool_imports_a_plugin():
    """The LeRobot plugins (plugins/) sit on top of act_tool: imports point from them down."""
    plugins = {p.name for p in (ROOT.parent / "plugins").iterdir() if p.is_dir()}
    wrong = [
        f"{path.relative_to(ROOT.parent)} imports {imported}"
        for path in sorted(ROOT.rglob("*.py"))
        for imported in _imports(path)
        if imported.split(".")[0] in plugins
    ]
    assert plugins and not wrong, "act_tool imports a plugin:\n" + "\n".join(wrong)
