"""act-tool's engines behind LeRobot's policy calls: what the `lerobot_policy_act_tool` plugin
(plugins/) adapts. engine_policy: runner, self-check, executors, LeRobot's tensors into the
engine; robot_match: a LeRobot robot's joints and cameras against the artifact; lerobot_context:
the LeRobot command loading the plugin (its version, the robot it will connect). Uses torch
(LeRobot's tensors): the export floor."""
