"""A LeRobot ACT checkpoint as act-tool sees it, for export and for the PyTorch runner alike:
`checkpoint` (find, validate and load one), `inference_module` (ACT's inference path as one
torch module, the graph every artifact is exported from) and `describe` (the spec an export of
a checkpoint carries). These modules import torch and lerobot (only when called, except
inference_module, which is torch itself); the runtime reaches them only from the PyTorch runner.
"""
