"""Entry point of the emulator process: `python -m act_tool.hw.emulator._child FD`."""

import sys

from act_tool.hw.emulator.process import child_main

if __name__ == "__main__":
    child_main(int(sys.argv[1]))
