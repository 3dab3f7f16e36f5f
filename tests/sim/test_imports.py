"""act_tool.sim sits beside the runtime: no torch, no lerobot (but in its dataset writer)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.sim.helpers import NO_SIM


def test_sim_imports_no_torch_or_lerobot():
    pytest.importorskip("mujoco", reason=NO_SIM)
    code = (
        "import sys\n"
        "import act_tool.sim.twin, act_tool.sim.expert, act_tool.sim.detectors\n"
        "import act_tool.sim.render, act_tool.sim.kinematics, act_tool.cli_dataset_sim\n"
        "from act_tool.sim.twin import Twin\n"
        "Twin().step(0.1)\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('torch', 'lerobot')]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
