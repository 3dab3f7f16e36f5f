"""A tabletop scene for the synthetic dataset: an SO-101-like arm, a red cube and a gray bowl,
drawn with OpenCV from a front camera and a wrist (hand-eye) camera.

Geometry is in metres with the arm's base at the origin, x forward, y left, z up; the table is
z = 0. Joints are in LeRobot's SO-101 units: degrees for the five arm joints, 0 (closed) .. 100
(open) for the gripper. `inverse_kinematics` and `forward_kinematics` are exact inverses for a
gripper pointing straight down, so the rendered arm is where the joint values say it is.
Images are RGB uint8 (LeRobot's camera convention).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

SHOULDER_HEIGHT = 0.10  # m above the table
UPPER_ARM = 0.13
FOREARM = 0.14
HAND = 0.10  # wrist joint to fingertips
CUBE_SIZE = 0.03
BOWL_RADIUS = 0.045

TABLE_RGB = (196, 170, 130)
WALL_RGB = (225, 228, 232)
CUBE_RGB = (220, 30, 30)
BOWL_RGB = (120, 120, 120)
BOWL_INNER_RGB = (80, 80, 80)
ARM_RGB = (40, 60, 150)
FINGER_RGB = (30, 30, 30)


@dataclass(frozen=True)
class ArmPose:
    """Points of the arm in world coordinates, for drawing."""

    shoulder: np.ndarray
    elbow: np.ndarray
    wrist: np.ndarray
    tip: np.ndarray
    pan_rad: float
    roll_rad: float
    opening: float  # 0 closed .. 1 open


def inverse_kinematics(x: float, y: float, z: float, roll_deg: float, gripper: float) -> np.ndarray:
    """Joint positions that put the fingertips at (x, y, z), pointing down (elbow up)."""
    pan = math.atan2(y, x)
    r = math.hypot(x, y)
    dx, dz = r, z + HAND - SHOULDER_HEIGHT
    d = min(math.hypot(dx, dz), UPPER_ARM + FOREARM - 1e-6)
    cos_e = (d * d - UPPER_ARM**2 - FOREARM**2) / (2 * UPPER_ARM * FOREARM)
    e = math.acos(max(-1.0, min(1.0, cos_e)))
    theta1 = math.atan2(dz, dx) + math.atan2(
        FOREARM * math.sin(e), UPPER_ARM + FOREARM * math.cos(e)
    )
    forearm_abs = theta1 - e
    wrist_rel = -math.pi / 2 - forearm_abs
    return np.array(
        [
            math.degrees(pan),
            90.0 - math.degrees(theta1),
            math.degrees(e) - 90.0,
            math.degrees(wrist_rel) + 90.0,
            roll_deg,
            gripper,
        ],
        dtype=np.float64,
    )


def forward_kinematics(q: np.ndarray) -> ArmPose:
    """Shoulder, elbow, wrist and fingertip positions for joint values `q` (SO-101 units)."""
    pan = math.radians(q[0])
    theta1 = math.radians(90.0 - q[1])
    e = math.radians(q[2] + 90.0)
    forearm_abs = theta1 - e
    wrist_abs = forearm_abs + math.radians(q[3] - 90.0)
    pts_2d = [(0.0, SHOULDER_HEIGHT)]
    for length, angle in ((UPPER_ARM, theta1), (FOREARM, forearm_abs), (HAND, wrist_abs)):
        r0, z0 = pts_2d[-1]
        pts_2d.append((r0 + length * math.cos(angle), z0 + length * math.sin(angle)))
    c, s = math.cos(pan), math.sin(pan)
    pts = [np.array([r * c, r * s, z]) for r, z in pts_2d]
    return ArmPose(*pts, pan_rad=pan, roll_rad=math.radians(q[4]), opening=float(q[5]) / 100.0)


@dataclass(frozen=True)
class Camera:
    """A pinhole camera: position, rotation (rows: right, down, forward) and focal length."""

    position: np.ndarray
    rotation: np.ndarray
    focal: float
    width: int
    height: int

    @staticmethod
    def look_at(eye, target, up, width: int, height: int, fov_deg: float) -> Camera:
        eye, target, up = (np.asarray(v, dtype=np.float64) for v in (eye, target, up))
        fwd = target - eye
        fwd /= np.linalg.norm(fwd)
        right = np.cross(fwd, up)
        right /= np.linalg.norm(right)
        down = np.cross(fwd, right)
        focal = 0.5 * width / math.tan(math.radians(fov_deg) / 2)
        return Camera(eye, np.stack([right, down, fwd]), focal, width, height)

    def project(self, points: np.ndarray) -> np.ndarray:
        """(N, 3) world points -> (N, 2) pixel coordinates (float)."""
        cam = (np.atleast_2d(points) - self.position) @ self.rotation.T
        z = np.maximum(cam[:, 2], 1e-3)
        u = self.focal * cam[:, 0] / z + self.width / 2
        v = self.focal * cam[:, 1] / z + self.height / 2
        return np.stack([u, v], axis=1)


def front_camera(width: int, height: int) -> Camera:
    """In front of the arm, looking back at it and at the table."""
    return Camera.look_at((0.62, -0.06, 0.40), (0.13, 0.0, 0.08), (0, 0, 1), width, height, 60)


def wrist_camera(pose: ArmPose, width: int, height: int) -> Camera:
    """On the hand, looking down past the fingers, turning with pan and wrist roll."""
    yaw = pose.pan_rad + pose.roll_rad
    heading = np.array([math.cos(yaw), math.sin(yaw), 0.0])
    eye = pose.wrist + np.array([0.0, 0.0, 0.02]) - 0.03 * heading
    target = pose.tip + 0.06 * heading - np.array([0.0, 0.0, 0.06])
    return Camera.look_at(eye, target, heading, width, height, 80)


def cube_corners(center: np.ndarray, yaw_deg: float) -> np.ndarray:
    """The eight corners of the cube whose bottom face centre is `center`."""
    h = CUBE_SIZE / 2
    c, s = math.cos(math.radians(yaw_deg)), math.sin(math.radians(yaw_deg))
    pts = []
    for dz in (0.0, CUBE_SIZE):
        for dx, dy in ((-h, -h), (h, -h), (h, h), (-h, h)):
            pts.append(center + np.array([c * dx - s * dy, s * dx + c * dy, dz]))
    return np.array(pts)


def circle(center: np.ndarray, radius: float, z: float, n: int = 24) -> np.ndarray:
    a = np.linspace(0, 2 * math.pi, n, endpoint=False)
    return np.stack(
        [center[0] + radius * np.cos(a), center[1] + radius * np.sin(a), np.full(n, z)], axis=1
    )


def _poly(img: np.ndarray, pixels: np.ndarray, rgb) -> None:
    import cv2

    hull = cv2.convexHull(np.round(pixels * 4).astype(np.int32))
    cv2.fillConvexPoly(img, hull, rgb, lineType=cv2.LINE_AA, shift=2)


def _line(img: np.ndarray, a: np.ndarray, b: np.ndarray, rgb, thickness: int) -> None:
    import cv2

    pa, pb = (tuple(int(v) for v in np.round(p * 4)) for p in (a, b))
    cv2.line(img, pa, pb, rgb, max(1, thickness), lineType=cv2.LINE_AA, shift=2)


def _draw_objects(img: np.ndarray, cam: Camera, cube: np.ndarray, cube_yaw: float, bowl) -> None:
    _poly(img, cam.project(circle(bowl, BOWL_RADIUS, 0.0)), BOWL_RGB)
    _poly(img, cam.project(circle(bowl, BOWL_RADIUS * 0.75, 0.0)), BOWL_INNER_RGB)
    corners = cube_corners(cube, cube_yaw)
    _poly(img, cam.project(corners), CUBE_RGB)
    # A darker top face gives the cube some shape.
    _poly(img, cam.project(corners[4:]), (170, 20, 20))


def _fingers(pose: ArmPose) -> list[tuple[np.ndarray, np.ndarray]]:
    yaw = pose.pan_rad + pose.roll_rad
    side = np.array([-math.sin(yaw), math.cos(yaw), 0.0])
    half = 0.005 + 0.025 * pose.opening
    base = pose.tip + np.array([0.0, 0.0, 0.04])
    return [(base + k * half * side, pose.tip + k * half * side) for k in (-1, 1)]


def render_front(
    pose: ArmPose, cube: np.ndarray, cube_yaw: float, bowl: np.ndarray, width: int, height: int
) -> np.ndarray:
    """The front view: table, bowl, cube and the arm drawn over them."""
    cam = front_camera(width, height)
    img = np.empty((height, width, 3), dtype=np.uint8)
    img[:] = WALL_RGB
    table = np.array([[-0.2, -0.4, 0], [0.6, -0.4, 0], [0.6, 0.4, 0], [-0.2, 0.4, 0]])
    _poly(img, cam.project(table), TABLE_RGB)
    _draw_objects(img, cam, cube, cube_yaw, bowl)
    scale = width / 128
    base = np.array([0.0, 0.0, 0.0])
    _line(img, cam.project(base)[0], cam.project(pose.shoulder)[0], (60, 60, 60), int(6 * scale))
    for a, b in ((pose.shoulder, pose.elbow), (pose.elbow, pose.wrist), (pose.wrist, pose.tip)):
        pa, pb = cam.project(np.stack([a, b]))
        _line(img, pa, pb, ARM_RGB, int(4 * scale))
    for a, b in _fingers(pose):
        pa, pb = cam.project(np.stack([a, b]))
        _line(img, pa, pb, FINGER_RGB, int(2 * scale))
    return img


def render_handeye(
    pose: ArmPose, cube: np.ndarray, cube_yaw: float, bowl: np.ndarray, width: int, height: int
) -> np.ndarray:
    """The wrist view: the table below the hand, with the fingers in the foreground."""
    cam = wrist_camera(pose, width, height)
    img = np.empty((height, width, 3), dtype=np.uint8)
    img[:] = TABLE_RGB
    _draw_objects(img, cam, cube, cube_yaw, bowl)
    for a, b in _fingers(pose):
        pa, pb = cam.project(np.stack([a, b]))
        _line(img, pa, pb, FINGER_RGB, int(5 * width / 128))
    return img
