"""`make twin-policy`: from nothing to an ACT policy that does the twin's task, on a CPU.

Five `act-tool` commands, each printed before it runs, each skipped when its result is already
there, so an interrupted recipe is started again with the same command and loses no finished
stage (training resumes from its last checkpoint):

    1. demonstrations   act-tool dataset sim --noise      (the scripted expert, driven off its path)
    2. backbone         act-tool backbone                 (a ResNet18 taught in the twin)
    3. training         act-tool train --freeze-backbone  (features once, then LeRobot's ACT)
    4. export           act-tool export --fp16            (ONNX checked against LeRobot, FP16)
    5. evaluation       act-tool eval --sim               (unseen layouts, beside LeRobot's policy)

The wall time of every stage goes to OUTPUT/recipe.json.
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

BIN = Path(sys.executable).parent
sys.path.insert(0, str(Path(__file__).parent))
from demo import SMALL_POLICY  # noqa: E402

# The policy: the demo's small ACT (LeRobot options); the frozen loop needs no loader worker and
# no backbone learning rate.
POLICY = [
    *(
        a
        for a in SMALL_POLICY
        if not a.startswith(("--num_workers", "--policy.optimizer_lr_backbone"))
    ),
    "--num_workers=0",
]
EVAL_SEED = 1000  # layouts no stage trains on: demonstrations use 0.., the backbone 100000..


def bf16_flag() -> list[str]:
    """--bf16 where this CPU computes BF16 natively (else FP32, which is faster there)."""
    from act_tool.train.cpu_features import bf16_supported

    return ["--bf16"] if bf16_supported() else []


def run_stage(record: dict, name: str, title: str, argv: list[str]) -> None:
    print(f"\n=== {title}\n$ {shlex.join([Path(argv[0]).name, *argv[1:]])}", flush=True)
    t0 = time.perf_counter()
    subprocess.run(argv, check=True)
    record[name] = record.get(name, 0.0) + time.perf_counter() - t0


def checkpoint_step(run: Path) -> int:
    state = run / "checkpoints" / "last" / "training_state" / "training_step.json"
    return json.loads(state.read_text())["step"] if state.is_file() else 0


def ship(args: argparse.Namespace, out: Path, checkpoint: Path, record: dict) -> None:
    """The trained policy as a LeRobot pretrained_model folder with a README (model card)."""
    target = args.ship.resolve()
    staging = target.with_name(f".{target.name}.part")
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(checkpoint, staging)
    # BF16 autocast was how it trained, not how it runs: a user's LeRobot loads it in FP32.
    for name in ("config.json", "train_config.json"):
        config = json.loads((staging / name).read_text())
        (config.get("policy", config))["use_amp"] = False
        (staging / name).write_text(json.dumps(config, indent=4) + "\n")
    figures = json.loads((out / "eval.json").read_text())
    steps = json.loads((checkpoint / "train_config.json").read_text())["steps"]
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True, cwd=Path(__file__).parent).stdout.strip() or "unknown"  # fmt: skip
    seeds = figures["seeds"]
    rows = [f"| {b['backend']} | {b['success']['count']}/{b['success']['judged']} "
            f"[{100 * b['success']['ci95'][0]:.0f}, {100 * b['success']['ci95'][1]:.0f}] % | "
            f"{b['grasp']['successful']}/{b['grasp']['attempts']} |" for b in figures["backends"]]  # fmt: skip
    minutes = ", ".join(f"{k} {v / 60:.1f} min" for k, v in record.items())
    (staging / "README.md").write_text(f"""# act_so101_twin

LeRobot ACT policy for the SO-101 digital twin's task (put the red cube in the gray bowl), two
96x128 cameras (front, handeye), trained on a 2-core CPU by this project's recipe.

- Command: `make twin-policy` (scripts/twin_policy.py: --episodes {args.episodes} --noise
  {args.noise} --backbone-steps {args.backbone_steps} --steps {args.steps} --batch-size
  {args.batch_size}), act-tool commit {commit}.
- Data: {args.episodes} scripted demonstrations from layout seeds 0 upwards (episodes the
  expert missed under the noise skipped); backbone pretrained on layout seeds 100000-100299
  (100300-100339 measured it).
- Training: {steps} steps, frozen twin backbone; stages: {minutes}.
- Evaluation (`act-tool eval --sim`, layout seeds {seeds[0]}-{seeds[-1]}, never trained on):

| policy | episode success [95 % CI] | successful grasps / attempts |
| --- | --- | --- |
{chr(10).join(rows)}

Load it like any LeRobot checkpoint (`ACTPolicy.from_pretrained`), export it with
`act-tool export models/act_so101_twin --fp16`. It knows the twin only: on a real arm it is a
starting point for fine-tuning, not a policy.
""")
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    print(f"shipped: {target}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--output", type=Path, default=Path("twin-policy"))
    ap.add_argument("--episodes", type=int, default=100, help="demonstrations")
    ap.add_argument("--noise", type=float, default=3.0, help="demonstrations' drive noise, deg")
    ap.add_argument("--backbone-steps", type=int, default=1500)
    ap.add_argument("--steps", type=int, default=15000, help="ACT training steps")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--eval-episodes", type=int, default=20)
    ap.add_argument("--ship", type=Path, help="copy the policy there with its model card")
    args = ap.parse_args()
    out = args.output.resolve()
    out.mkdir(parents=True, exist_ok=True)
    act = str(BIN / "act-tool")
    data, backbone, run = out / "data", out / "backbone.safetensors", out / "run"
    artifacts, checkpoint = out / "artifacts", run / "checkpoints" / "last" / "pretrained_model"
    times_file = out / "recipe.json"
    record = json.loads(times_file.read_text()) if times_file.is_file() else {}

    def save() -> None:
        times_file.write_text(json.dumps(record, indent=2) + "\n")

    if not data.is_dir():
        run_stage(record, "demonstrations", f"1. {args.episodes} demonstrations in the twin",
                  [act, "dataset", "sim", "-o", str(data), "--episodes", str(args.episodes),
                   "--noise", str(args.noise)])  # fmt: skip
        save()
    if not backbone.is_file():
        run_stage(record, "backbone", "2. A ResNet18 taught in the twin",
                  [act, "backbone", "-o", str(backbone), "--steps", str(args.backbone_steps),
                   *bf16_flag()])  # fmt: skip
        save()
    step = checkpoint_step(run)
    if step < args.steps:
        if run.exists() and step == 0:
            shutil.rmtree(run)  # stopped before its first checkpoint: nothing to keep
        common = ["--steps", str(args.steps), "--device", "cpu"]
        argv = (
            [act, "train", "-o", str(run), "--resume", *common]
            if step
            else [act, "train", "--dataset", str(data), "-o", str(run), "--backbone",
                  str(backbone), "--freeze-backbone", *bf16_flag(), "--batch-size",
                  str(args.batch_size), *common, "--", *POLICY, "--save_freq=5000"]
        )  # fmt: skip
        run_stage(
            record,
            "training",
            f"3. ACT on the frozen backbone's features ({args.steps} steps)",
            argv,
        )
        save()
        shutil.rmtree(artifacts, ignore_errors=True)  # made from an older checkpoint
        (out / "eval.json").unlink(missing_ok=True)
    if not (artifacts / "act.fp16.onnx.json").is_file():
        run_stage(record, "export", "4. Export: ONNX checked against LeRobot, FP16",
                  [act, "export", str(checkpoint), "--fp16", "--dataset", str(data), "-o",
                   str(artifacts), "--builder", "onnx"])  # fmt: skip
        save()
    if not (out / "eval.json").is_file():
        run_stage(record, "evaluation",
                  f"5. {args.eval_episodes} unseen layouts: FP32 beside LeRobot's policy",
                  [act, "eval", str(artifacts / "act.onnx"), "--sim", "--episodes",
                   str(args.eval_episodes), "--seed", str(EVAL_SEED), "--compare", "lerobot",
                   "--jobs", "2", "--video", str(out / "videos"), "--json",
                   str(out / "eval.json")])  # fmt: skip
        save()
    if args.ship:
        ship(args, out, checkpoint, record)
    total = sum(record.values())
    print(
        f"\n=== Done: {total / 60:.0f} min of stages ({', '.join(f'{k} {v / 60:.1f}' for k, v in record.items())} min)"
    )
    print(f"policy: {checkpoint}\nartifacts: {artifacts}\nevaluation: {out / 'eval.json'}")


if __name__ == "__main__":
    main()
