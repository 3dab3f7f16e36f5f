#!/bin/bash
# What a longer training in the twin reaches (benchmarks/results/sim_training.md): the demo's
# policy (scripts/demo.py SMALL_POLICY) on EPISODES twin demonstrations (seeds 0..EPISODES-1),
# STEPS steps with a checkpoint every SAVE steps; then the last checkpoint per precision and
# backend beside LeRobot (benchmarks/eval_precisions.py) and every checkpoint's FP32 artifact on
# the same 20 unseen seeds (1000..1019). Table: benchmarks/sim_training_table.py DIR.
#
#   STEPS=6000 SAVE=2000 EPISODES=50 benchmarks/sim_training.sh /tmp/simtrain
set -e
DIR=$(mkdir -p "${1:?usage: sim_training.sh DIR}" && cd "$1" && pwd)
ROOT=$(cd "$(dirname "$0")/.." && pwd)
A=$ROOT/.venv/bin/act-tool
PY=$ROOT/.venv/bin/python
cd "$DIR"
date +%s > t0
[ -d data ] || $A dataset sim -o data --episodes "${EPISODES:-50}" > dataset.log 2>&1
date +%s > t1_data
[ -d run/checkpoints/last ] || $A train --dataset data -o run --steps "${STEPS:-6000}" --device cpu --no-pretrained-backbone -- \
  --policy.dim_model=128 --policy.dim_feedforward=512 --policy.n_heads=4 \
  --policy.n_encoder_layers=2 --policy.latent_dim=16 --policy.n_vae_encoder_layers=2 \
  --policy.chunk_size=20 --policy.n_action_steps=10 --policy.optimizer_lr=3e-4 \
  --policy.optimizer_lr_backbone=1e-4 --num_workers=1 --save_freq="${SAVE:-2000}" > train.log 2>&1
date +%s > t2_train
[ -d art ] || $A export run/checkpoints/last/pretrained_model --fp16 --int8 --dataset data -o art \
  --builder onnx > export_last.log 2>&1
(cd "$ROOT" && $PY benchmarks/eval_precisions.py "$DIR/art" \
  --checkpoint "$DIR/run/checkpoints/last/pretrained_model" --episodes 20 --seed 1000 --jobs 2 \
  --out "$DIR/eval_precisions.md") > eval_precisions.log 2>&1
date +%s > t4_precisions
for c in $(ls run/checkpoints | grep -v last); do
  [ -f "eval_$c.json" ] && continue
  $A export "run/checkpoints/$c/pretrained_model" -o "art_$c" --builder onnx > "export_$c.log" 2>&1
  $A eval "art_$c/act.onnx" --sim --episodes 20 --seed 1000 --jobs 2 --episode-time 12 \
    --json "eval_$c.json" > "eval_$c.log" 2>&1
done
date +%s > t5_curve
