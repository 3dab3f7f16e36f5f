"""One backend measured in its own process, so its peak memory is its own.

    python -m act_tool.bench.worker JOB.json

The job names the backend, the artifact, the observations file (npz: RGB frames per camera key
and states) and the repetitions. The worker writes RESULT.json (latencies, peak memory) and
RESULT.npz (the action chunk of each observation).
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class Job:
    backend: str  # "lerobot", "torch", "onnxruntime", "tensorrt"
    artifact: str  # checkpoint folder, .onnx or .plan
    observations: str  # npz written by act_tool.bench.observations
    result: str  # path stem: RESULT.json and RESULT.npz are written
    warmup: int = 5
    repeats: int = 50
    device: str = "cpu"
    fp16: bool = False
    cuda_graph: bool = False
    skip_self_check: bool = False  # an artifact without a check file: measure it anyway

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self)))

    @classmethod
    def read(cls, path: Path) -> Job:
        return cls(**json.loads(Path(path).read_text()))


def load_observations(path: str) -> tuple[list[dict[str, np.ndarray]], list[np.ndarray | None]]:
    data = np.load(path)
    n = int(data["n"])
    keys = [k for k in data.files if k.startswith("observation.images.")]
    frames = [{k: data[k][i] for k in keys} for i in range(n)]
    states = (
        [data["observation.state"][i] for i in range(n)]
        if "observation.state" in data
        else [None] * n
    )
    return frames, states


def peak_rss_mb() -> float:
    """This process's peak resident memory. Linux: VmHWM, which starts afresh at exec (ru_maxrss
    keeps the parent's high-water mark across fork+exec)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class GpuMemory:
    """GPU memory one backend takes. torch backends: torch's allocator peak. Others (ONNX Runtime
    CUDA, TensorRT): device memory taken from before loading until after running, from
    cudaMemGetInfo (cuda-python), sampled after loading, after the first runs and at the end;
    device-wide, so other processes on the GPU count too, and the CUDA context does not."""

    def __init__(self, job: Job) -> None:
        self.torch = job.backend in ("lerobot", "torch")
        self.cudart = None
        self.base = self.low = 0
        self.note = ""
        if job.device == "cpu":
            return
        if self.torch:
            self.note = "torch.cuda.max_memory_allocated"
            return
        try:
            from cuda.bindings import runtime as cudart
        except ImportError:
            self.note = "not measured: cuda-python not installed (pip install cuda-bindings)"
            return
        cudart.cudaFree(0)  # create the CUDA context first: it is not the backend's memory
        free = self._free(cudart)
        if free is None:
            self.note = "not measured: cudaMemGetInfo failed"
            return
        self.cudart, self.base, self.low = cudart, free, free
        self.note = "cudaMemGetInfo: device memory taken by loading and running (device-wide)"

    @staticmethod
    def _free(cudart) -> int | None:
        err, free, _total = cudart.cudaMemGetInfo()
        return int(free) if err == cudart.cudaError_t.cudaSuccess else None

    def sample(self) -> None:
        if self.cudart is not None and (free := self._free(self.cudart)) is not None:
            self.low = min(self.low, free)

    def peak_mb(self) -> float | None:
        if self.torch:
            torch = sys.modules.get("torch")
            if torch is not None and torch.cuda.is_available():
                return torch.cuda.max_memory_allocated() / 2**20
            return None
        if self.cudart is None:
            return None
        self.sample()
        return (self.base - self.low) / 2**20


def lerobot_step(job: Job):
    """LeRobot's own robot-loop inference: prepare, preprocessor, predict_action_chunk,
    postprocessor (on the job's device)."""
    import torch
    from lerobot.policies.utils import prepare_observation_for_inference

    from act_tool.policy.checkpoint import load_checkpoint

    ckpt = load_checkpoint(Path(job.artifact))
    device = torch.device(job.device)
    if job.device != "cpu":
        ckpt.policy.to(device)
        ckpt.preprocessor, ckpt.postprocessor = _processors_on(ckpt, job.device)

    def step(frames: dict[str, np.ndarray], state: np.ndarray | None) -> np.ndarray:
        raw = {k: f.copy() for k, f in frames.items()}
        if state is not None:
            raw["observation.state"] = state.copy()
        with torch.inference_mode():
            batch = ckpt.preprocessor(prepare_observation_for_inference(raw, device))
            actions = ckpt.postprocessor(ckpt.policy.predict_action_chunk(batch))
        return actions[0].float().cpu().numpy()

    return step


def _processors_on(ckpt, device: str):
    """LeRobot's processors placed on `device`, as its own scripts do it."""
    import torch
    from lerobot.policies.factory import make_pre_post_processors

    if ckpt.layout == "processors":
        overrides = {"device_processor": {"device": device}}
        return make_pre_post_processors(
            ckpt.config, pretrained_path=str(ckpt.path), preprocessor_overrides=overrides
        )
    ckpt.config.device = device
    stats = {
        k: {s: torch.from_numpy(v).float() for s, v in d.items()} for k, d in ckpt.stats.items()
    }
    return make_pre_post_processors(ckpt.config, dataset_stats=stats)


def runner_step(job: Job, stack):
    """An act-tool runner: frames are copied into its own input buffers, then `infer()`."""
    from act_tool.runtime.runners import RunnerOptions, open_runner

    # Every core, as LeRobot's torch uses: a like-for-like comparison (the loop's default of
    # leaving one core to the arm and cameras is a `run` choice, not a property of the backend).
    options = RunnerOptions(
        device=job.device, fp16=job.fp16, cuda_graph=job.cuda_graph, threads=os.cpu_count()
    )
    runner = stack.enter_context(open_runner(Path(job.artifact), job.backend, options))
    checked = []
    if job.backend != "torch":  # an exported artifact: the self-check, before any timing
        from act_tool.runtime.self_check import run_self_check

        run_self_check(runner, checked.append, job.skip_self_check)
    orders = {c.key: c.channel_order for c in runner.spec.cameras}

    def load(frames: dict[str, np.ndarray], state: np.ndarray | None) -> None:
        for key, frame in frames.items():
            runner.inputs[key][0] = frame[..., ::-1] if orders[key] == "bgr" else frame
        if state is not None:
            runner.inputs["observation.state"][0] = state

    def step() -> np.ndarray:
        return runner.infer()["action"][0]

    return load, step, runner.description, " ".join(checked)


def run(job: Job) -> dict:
    import contextlib

    frames, states = load_observations(job.observations)
    n = len(frames)
    latencies: list[float] = []
    self_check = ""
    outputs: list[np.ndarray] = []
    memory = GpuMemory(job)
    with contextlib.ExitStack() as stack:
        if job.backend == "lerobot":
            lstep = lerobot_step(job)
            description = f"lerobot eager ({job.device})"

            def timed(i: int) -> np.ndarray:
                return lstep(frames[i % n], states[i % n])
        else:
            load, rstep, description, self_check = runner_step(job, stack)

            def timed(i: int) -> np.ndarray:
                load(frames[i % n], states[i % n])  # not timed: input copy is a loop stage
                t = time.perf_counter()
                out = rstep()
                latencies.append(time.perf_counter() - t)
                return out

        memory.sample()
        for i in range(n):  # accuracy pass (also warms up)
            outputs.append(np.array(timed(i), dtype=np.float32))
        memory.sample()
        latencies.clear()
        for i in range(job.warmup):
            timed(i)
        latencies.clear()
        for i in range(job.repeats):
            if job.backend == "lerobot":
                t = time.perf_counter()
                timed(i)
                latencies.append(time.perf_counter() - t)
            else:
                timed(i)
        gpu_peak_mb = memory.peak_mb()
    np.savez(job.result + ".npz", actions=np.stack(outputs))
    return {
        "backend": job.backend,
        "description": description,
        "latencies_s": latencies,
        "peak_rss_mb": peak_rss_mb(),
        "gpu_peak_mb": gpu_peak_mb,
        "gpu_memory_note": memory.note,
        "self_check": self_check,
    }


def main() -> None:
    job = Job.read(Path(sys.argv[1]))
    try:
        result = run(job)
    except Exception as e:  # reported to the parent as this backend's failure
        result = {"backend": job.backend, "error": f"{type(e).__name__}: {e}"}
    Path(job.result + ".json").write_text(json.dumps(result))


if __name__ == "__main__":
    main()
