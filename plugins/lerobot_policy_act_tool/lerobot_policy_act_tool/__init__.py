"""act-tool's exported ACT engines as a LeRobot policy (`"type": "act_tool"` in the config.json
that `act-tool export` writes beside the artifacts).

LeRobot imports this package by its distribution name (register_third_party_plugins); importing
it registers the config class. LeRobot then finds ActToolPolicy in modeling_act_tool and
make_act_tool_pre_post_processors in processor_act_tool by its naming convention.
"""

from lerobot_policy_act_tool.configuration_act_tool import ActToolConfig

__all__ = ["ActToolConfig"]
