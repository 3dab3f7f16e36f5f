"""act-tool: LeRobot ACT policies, exported and run fast on the SO-101."""

__version__ = "0.1.0"
