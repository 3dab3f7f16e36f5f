"""The LeRobot plugin distributions (plugins/): imported from their sources in this process, and
installed into a private folder (pip --target, no dependencies) for LeRobot's own commands in
subprocesses, which discover plugins by distribution name as a user's environment would.
The twin's robot and env plugins: `plugin_sources`, `plugin_env`; the policy and camera plugins:
`plugins_imported`, `overlay`."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PLUGINS = REPO / "plugins"
ROBOT_PLUGIN = PLUGINS / "lerobot_robot_act_tool_twin"
ENV_PLUGIN = PLUGINS / "lerobot_env_act_tool_twin"
IGNORED = shutil.ignore_patterns("build", "*.egg-info", "__pycache__")
NO_SIM = "the `sim` extra (MuJoCo) is not installed"


@pytest.fixture
def plugin_sources(monkeypatch):
    """Both plugin packages importable from their sources (LeRobot and MuJoCo required)."""
    pytest.importorskip("lerobot")
    pytest.importorskip("mujoco", reason=NO_SIM)
    for folder in (ROBOT_PLUGIN, ENV_PLUGIN):
        monkeypatch.syspath_prepend(str(folder))


@pytest.fixture(scope="session")
def plugin_env(tmp_path_factory) -> dict[str, str]:
    """An environment for LeRobot's commands in which both plugins are installed distributions
    (and this checkout's act_tool is the one imported)."""
    pytest.importorskip("lerobot")
    pytest.importorskip("mujoco", reason=NO_SIM)
    target = tmp_path_factory.mktemp("plugins")
    sources = tmp_path_factory.mktemp("plugin_sources")  # setuptools builds inside the source
    copies = [
        shutil.copytree(p, sources / p.name, ignore=IGNORED) for p in (ROBOT_PLUGIN, ENV_PLUGIN)
    ]
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation"]
        + ["--target", str(target), *map(str, copies)],
        check=True,
        capture_output=True,
    )
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), str(target), env.get("PYTHONPATH", "")])
    env.setdefault("MUJOCO_GL", "egl")
    env["HF_HUB_OFFLINE"] = "1"
    return env


def lerobot_command(name: str) -> list[str]:
    """LeRobot's console script `name` (lerobot-eval, ...) of this interpreter's environment."""
    script = Path(sys.executable).parent / name
    if not script.exists():
        pytest.skip(f"{name} is not installed beside {sys.executable}")
    return [str(script)]


POLICY_PLUGINS = ("lerobot_policy_act_tool", "lerobot_camera_act_tool")


@pytest.fixture(scope="session")
def plugins_imported():
    pytest.importorskip("lerobot")
    for name in POLICY_PLUGINS:
        path = str(PLUGINS / name)
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
    for name in POLICY_PLUGINS:
        # built from a copy: a build in the source tree would leave build/ and *.egg-info there
        src = shutil.copytree(PLUGINS / name, build / name, ignore=IGNORED)
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps"]
            + ["--no-build-isolation", "--target", str(target), str(src)],
            check=True,
            timeout=300,
        )
    return target


def lerobot_env(overlay: Path, tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(overlay), str(REPO), env.get("PYTHONPATH", "")])
    env["HF_LEROBOT_HOME"] = str(tmp_path / "lerobot-home")
    env["HF_HUB_OFFLINE"] = "1"
    return env


def lerobot_script(name: str) -> str:
    """A LeRobot console script of this Python's environment (skips the test where it is not)."""
    return lerobot_command(name)[0]


@pytest.fixture(autouse=True)
def _restore_torch_threads():
    """The plugin sets torch's threads for its process; give the other tests theirs back."""
    torch = pytest.importorskip("torch")
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)
