"""Imports point down: act_tool.hw and act_tool.runtime run on a robot computer (no torch, no
lerobot), and the runtime never reaches up into export, train or bench."""

from __future__ import annotations

import subprocess
import sys


def imported_after(code: str) -> list[str]:
    """The act_tool, torch and lerobot modules loaded by running `code` in a fresh interpreter."""
    probe = (
        f"import sys\n{code}\n"
        "print('\\n'.join(m for m in sys.modules "
        "if m.split('.')[0] in ('act_tool', 'torch', 'lerobot')))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True, text=True)
    return out.stdout.split()


def test_hw_imports_no_torch_or_lerobot():
    loaded = imported_after(
        "import act_tool.hw.feetech, act_tool.hw.so101, act_tool.hw.emulator\n"
        "import act_tool.hw.emulator.server, act_tool.hw.cameras"
    )
    bad = [m for m in loaded if m.split(".")[0] in ("torch", "lerobot")]
    assert not bad, bad


RUNTIME = (
    "import act_tool.gpu, act_tool.runtime.session, act_tool.runtime.loop\n"
    "import act_tool.runtime.runners.compat, act_tool.runtime.runners.onnxruntime_runner\n"
    "import act_tool.runtime.runners.tensorrt_runner, act_tool.runtime.runners.torch_runner"
)


def test_runtime_imports_no_torch_lerobot_export_train_or_bench():
    loaded = imported_after(RUNTIME)
    assert "act_tool.runtime.runners.torch_runner" in loaded
    above = ("act_tool.export", "act_tool.train", "act_tool.bench", "act_tool.cli")
    bad = [m for m in loaded if m.split(".")[0] in ("torch", "lerobot") or m.startswith(above)]
    assert not bad, bad


def test_runtime_source_names_no_module_above_it():
    """Also the imports inside functions (the torch runner's, the TensorRT runner's): read from
    the source, since they run only when a backend is opened."""
    import ast
    from pathlib import Path

    import act_tool.runtime

    root = Path(act_tool.runtime.__file__).parent
    above = ("act_tool.export", "act_tool.train", "act_tool.bench", "act_tool.cli")
    found = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            found += [f"{path.name}: {n}" for n in names if n.startswith(above)]
    assert not found, found
