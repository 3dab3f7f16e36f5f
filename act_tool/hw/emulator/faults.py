"""Bus faults the virtual arm injects on its own, reproducibly from a seed: lost, corrupt and
late replies, a servo that goes silent (as if unplugged), and a servo squeezing an object (its
shaft stopped short of the goal: high load, then the overload error bit).

`BusFaults` is the configuration (frozen, validated); `FaultInjector` is its state inside the
emulator: one random draw per reply decides that reply's fate, so the same requests meet the
same faults on every run with the same seed.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from act_tool.compat import StrEnum
from act_tool.hw.emulator.servo import VirtualServo
from act_tool.hw.errors import HardwareError
from act_tool.hw.feetech.protocol import Instruction, Reg
from act_tool.hw.so101.joints import SERVO_IDS

MAX_LATE_S = 10.0  # a late reply holds the emulator's bus: longer would only hang clients


class FaultConfigError(HardwareError):
    """A fault option out of range."""


class FaultStart(StrEnum):
    """When the faults begin."""

    START = "start"  # as soon as the virtual arm runs
    # at the client's first sync-read with every servo's torque on: its first control tick,
    # right after an SO-101 connect (act-tool's or LeRobot's); never on a dry run (torque off)
    CONNECTED = "connected"

    @classmethod
    def parse(cls, value: str | FaultStart) -> FaultStart:
        try:
            return cls(value)
        except ValueError:
            choices = ", ".join(s.value for s in cls)
            raise FaultConfigError(f"faults from {value!r}: use one of {choices}") from None


@dataclass(frozen=True)
class BusFaults:
    """What goes wrong on the virtual arm's bus. Rates are fractions of replies (0..1, in sum
    at most 1); times are seconds after the faults start (`start`)."""

    seed: int = 0
    lost: float = 0.0  # replies never sent
    corrupt: float = 0.0  # replies sent with a wrong checksum
    late: float = 0.0  # replies sent `late_s` later than due (after the client gave up)
    late_s: float = 0.5
    silent_servo: int | None = None  # this servo stops answering and obeying (unplugged) ...
    silent_after_s: float = 0.0  # ... this long after the faults start
    squeeze_servo: int | None = None  # this servo's shaft meets an object (a gripper squeezing)
    squeeze_at: int | None = None  # counts below which it cannot go; None: a quarter of its range
    start: FaultStart = FaultStart.START

    def __post_init__(self) -> None:
        object.__setattr__(self, "start", FaultStart.parse(self.start))
        for name in ("lost", "corrupt", "late"):
            rate = getattr(self, name)
            if not 0.0 <= rate <= 1.0:
                raise FaultConfigError(
                    f"the rate of {name} replies is {rate}: give a fraction of replies from 0 to "
                    "1 (0.01 is one reply in a hundred)"
                )
        if self.lost + self.corrupt + self.late > 1.0:
            raise FaultConfigError(
                f"lost, corrupt and late replies add up to more than all replies "
                f"({self.lost} + {self.corrupt} + {self.late}): lower them to a sum of at most 1"
            )
        if not 0.0 < self.late_s <= MAX_LATE_S:
            raise FaultConfigError(
                f"late replies are {self.late_s} s late: give a delay above 0 and at most "
                f"{MAX_LATE_S:g} s"
            )
        if self.silent_after_s < 0:
            raise FaultConfigError(
                f"a servo cannot go silent {self.silent_after_s} s after the faults start: "
                "give 0 or more seconds"
            )
        for name in ("silent_servo", "squeeze_servo"):
            servo_id = getattr(self, name)
            if servo_id is not None and servo_id not in SERVO_IDS:
                raise FaultConfigError(
                    f"{name.replace('_', ' ')} {servo_id}: the virtual SO-101's servo ids are "
                    f"{SERVO_IDS[0]} to {SERVO_IDS[-1]} (1 shoulder_pan ... 6 gripper)"
                )
        if self.squeeze_at is not None and not 0 <= self.squeeze_at <= 4095:
            raise FaultConfigError(
                f"squeeze at {self.squeeze_at} counts: give a position from 0 to 4095"
            )

    @property
    def any_reply_faults(self) -> bool:
        return self.lost > 0 or self.corrupt > 0 or self.late > 0

    @property
    def active(self) -> bool:
        """Whether anything goes wrong at all."""
        return (
            self.any_reply_faults
            or self.silent_servo is not None
            or (self.squeeze_servo is not None)
        )


@dataclass(frozen=True)
class ReplyFate:
    """What happens to one reply."""

    lost: bool = False
    corrupt: bool = False
    late_s: float = 0.0


ON_TIME = ReplyFate()
LOST = ReplyFate(lost=True)
CORRUPT = ReplyFate(corrupt=True)


class FaultInjector:
    """`BusFaults` at work on a set of servos. The bus calls `observe` before handling each
    request, asks `unplugged` which servos hear it and `fate` for each reply."""

    def __init__(self, faults: BusFaults, servos: list[VirtualServo]) -> None:
        self.faults = faults
        self.servos = servos
        self._rng = random.Random(faults.seed)
        self._late = ReplyFate(late_s=faults.late_s)
        self.started_at: float | None = None
        self.injected = {"lost": 0, "corrupt": 0, "late": 0}  # replies given each fate

    def observe(self, instruction: Instruction, now: float) -> None:
        """Before each request is handled: start the faults when due (see FaultStart)."""
        if self.started_at is not None:
            return
        if self.faults.start is FaultStart.START or (
            instruction is Instruction.SYNC_READ
            and all(s.get(Reg.TORQUE_ENABLE) for s in self.servos)
        ):
            self.started_at = now
            self._place_object()

    def unplugged(self, servo: VirtualServo, now: float) -> bool:
        f = self.faults
        return (
            servo.id == f.silent_servo
            and self.started_at is not None
            and now - self.started_at >= f.silent_after_s
        )

    def fate(self) -> ReplyFate:
        """The next reply's fate (one draw of the seeded generator per reply)."""
        f = self.faults
        if self.started_at is None or not f.any_reply_faults:
            return ON_TIME
        u = self._rng.random()
        if u < f.lost:
            self.injected["lost"] += 1
            return LOST
        if u < f.lost + f.corrupt:
            self.injected["corrupt"] += 1
            return CORRUPT
        if u < f.lost + f.corrupt + f.late:
            self.injected["late"] += 1
            return self._late
        return ON_TIME

    def _place_object(self) -> None:
        f = self.faults
        for s in self.servos:
            if s.id == f.squeeze_servo:
                lo, hi = s.get(Reg.MIN_POSITION_LIMIT), s.get(Reg.MAX_POSITION_LIMIT)
                s.obstacle = float(f.squeeze_at if f.squeeze_at is not None else lo + (hi - lo) / 4)
