"""`act-tool doctor`: what this machine can do for act-tool, each problem with its fix.

    checks.py      DoctorOptions and run_doctor: every check, each in its own try
    report.py      Status, Item, Section; the text screen and the JSON
    software.py    Python and extras; ONNX Runtime, the GPU, CUDA driver, TensorRT(-RTX)
    hardware.py    serial ports with Feetech servos answering (read-only), cameras that open
    system.py      real-time priority, the twin's offscreen GL, LeRobot calibration files

Works in the core install: torch, lerobot, onnx, tensorrt and mujoco are never required (the
extras are found with importlib.util.find_spec; MuJoCo renders in a child process).
"""
