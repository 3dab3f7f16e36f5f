"""Feetech STS servos: the wire protocol, byte transports, and the bus."""

from act_tool.hw.feetech.bus import FeetechBus, SyncReader, SyncWriter
from act_tool.hw.feetech.protocol import ErrorBit, Instruction, Reg
from act_tool.hw.feetech.transport import SerialTransport, Transport

__all__ = [
    "ErrorBit",
    "FeetechBus",
    "Instruction",
    "Reg",
    "SerialTransport",
    "SyncReader",
    "SyncWriter",
    "Transport",
]
