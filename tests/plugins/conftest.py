"""The plugins under plugins/: importable in this process (their folders on sys.path), and
installed for LeRobot's own commands into a private folder (LeRobot finds plugins by their
installed distribution's name, so a subprocess needs them installed: `overlay` is that folder,
for PYTHONPATH)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PLUGINS = ("lerobot_policy_act_tool", "lerobot_camera_act_tool")


@pytest.fixture(scope="session")
def plugins_imported():
    pytest.importorskip("lerobot")
    for name in PLUGINS:
        path = str(ROOT / "plugins" / name)
        if path not in sys.path:
            sys.path.insert(0, path)
    import lerobot_camera_act_tool  # noqa: F401  (registers the camera type)
    import lerobot_policy_act_tool  # noqa: F401  (registers the policy type)


@pytest.fixture(scope="session")
def overlay(tmp_path_factory) -> Path:
    """Both plugins installed (no dependencies: act-tool and LeRobot are this environment's)."""
    pytest.importorskip("lerobot")
    target = tmp_path_factory.mktemp("plugins")
    build = tmp_path_factory.mktemp("plugin-build")
    for name in PLUGINS:
        # built from a copy: a build in the source tree would leave build/ and *.egg-info there
        src = build / name
        subprocess.run(["cp", "-r", str(ROOT / "plugins" / name), str(src)], check=True)
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps"]
            + ["--no-build-isolation", "--target", str(target), str(src)],
            check=True,
            timeout=300,
        )
    return target


def lerobot_env(overlay: Path, tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(overlay), str(ROOT), env.get("PYTHONPATH", "")])
    env["HF_LEROBOT_HOME"] = str(tmp_path / "lerobot-home")
    env["HF_HUB_OFFLINE"] = "1"
    return env


def lerobot_script(name: str) -> str:
    """A LeRobot console script of this Python's environment."""
    return str(Path(sys.executable).parent / name)


@pytest.fixture(autouse=True)
def _restore_torch_threads():
    """The plugin sets torch's threads for its process; give the other tests theirs back."""
    torch = pytest.importorskip("torch")
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)
