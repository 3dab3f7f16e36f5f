"""The digital twin of the SO-101 pick-and-place cell, in MuJoCo (install extra `sim`).

    twin.py        `Twin`: reset(seed), set_goals, step, joint_positions, render, cell_state
    units.py       LeRobot's degrees / gripper 0..100 <-> the model's joint radians (no MuJoCo)
    arm_model.py   the SO-101 MJCF: official kinematics and inertias, primitive shapes
    cell_model.py  table, cube, bowl, lights, front camera
    layout.py      where the cube and the bowl stand for a seed
    kinematics.py  closed-form IK for top-down grasps
    expert.py      the scripted expert's goals per control tick
    detectors.py   grasp attempts, successful grasps, success (pure functions over snapshots)
    render.py      offscreen rendering (EGL, else OSMesa) into caller-owned frames
    dataset.py     `act-tool dataset sim` (the only module here that imports LeRobot)

Nothing is imported here, so `act_tool.sim.units` and `act_tool.sim.detectors` load without
MuJoCo.
"""
