"""act_tool.hw runs on a robot computer: no torch, no lerobot."""

from __future__ import annotations

import subprocess
import sys


def test_hw_imports_no_torch_or_lerobot():
    code = (
        "import sys\n"
        "import act_tool.hw.feetech, act_tool.hw.so101, act_tool.hw.emulator\n"
        "import act_tool.hw.emulator.server, act_tool.hw.cameras\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('torch', 'lerobot')]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
