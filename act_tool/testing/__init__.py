"""What tests and benchmarks share: fake arms, cameras and runners, spec builders, tiny
checkpoints. Nothing here is used by the tool itself."""
