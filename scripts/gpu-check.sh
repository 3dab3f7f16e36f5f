#!/usr/bin/env bash
# Every GPU check and measurement of act-tool, in one command, on a machine with an NVIDIA GPU:
#
#   scripts/gpu-check.sh OUT
#
# 1. installs act-tool with what the GPU paths need into a venv (.venv-gpu; GPU_CHECK_VENV to
#    change), from the package index pip is configured with (no other network);
# 2. then, within GPU_CHECK_BUDGET_S seconds (480), runs: the `gpu` tests; the shipped policy
#    (models/act_so101_twin) exported to ONNX and FP16 ONNX; enterprise TensorRT and TensorRT-RTX
#    engines built from it where this GPU supports them, each self-checked on this GPU by a short
#    `act-tool run --port emulated`; `act-tool bench` with every GPU backend beside LeRobot eager
#    (and again for the TensorRT-RTX engine); `act-tool eval --sim` of the TensorRT FP16 engine
#    beside LeRobot's own policy on a few seeds (GPU_CHECK_SEEDS, 5).
#
# Everything lands in OUT (an empty or new folder): summary.md (a table of the steps, then each
# measurement's table), summary.json, and per step its log, JSON and plots, ready to be
# committed under benchmarks/results/. A step that fails is recorded and the next one runs, so a
# failure leaves partial results; the exit status is 1 when a step failed.
#
# Without an NVIDIA GPU it says so on its first line and exits 3, before installing anything.
# Test hooks: GPU_CHECK_NVIDIA_SMI (the nvidia-smi to ask), GPU_CHECK_DRY_RUN=1 (write the
# layout and every command without running them, and install nothing).
set -u -o pipefail

usage() {
    sed -n '2,/^$/s/^# \{0,1\}//p' "$0" >&2
}

case "${1:-}" in
    -h | --help)
        usage
        exit 0
        ;;
    "")
        echo "gpu-check: missing OUT, the folder for the results" >&2
        echo "usage: scripts/gpu-check.sh OUT" >&2
        exit 2
        ;;
esac
if [ $# -ne 1 ]; then
    echo "gpu-check: one argument expected (OUT), got $#: $*" >&2
    echo "usage: scripts/gpu-check.sh OUT" >&2
    exit 2
fi

NVIDIA_SMI="${GPU_CHECK_NVIDIA_SMI:-nvidia-smi}"
if ! command -v "$NVIDIA_SMI" >/dev/null 2>&1; then
    echo "gpu-check: FAILED: no NVIDIA GPU on this machine ($NVIDIA_SMI not found); this script needs one" >&2
    exit 3
fi
if ! GPUS=$("$NVIDIA_SMI" --query-gpu=name,compute_cap,driver_version,memory.total --format=csv,noheader 2>&1) ||
    [ -z "$GPUS" ]; then
    echo "gpu-check: FAILED: no NVIDIA GPU on this machine ($NVIDIA_SMI found none: ${GPUS:-no output})" >&2
    exit 3
fi

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
OUT="$1"
if [ -e "$OUT" ] && [ -n "$(ls -A "$OUT" 2>/dev/null)" ]; then
    echo "gpu-check: $OUT is not empty; give a new or empty folder so results do not mix" >&2
    exit 2
fi
mkdir -p "$OUT" || exit 2
OUT="$(cd "$OUT" && pwd)"
cd "$ROOT" || exit 2

DRY="${GPU_CHECK_DRY_RUN:-0}"
BUDGET="${GPU_CHECK_BUDGET_S:-480}"
SEEDS="${GPU_CHECK_SEEDS:-5}"
VENV="${GPU_CHECK_VENV:-$ROOT/.venv-gpu}"
POLICY="$ROOT/models/act_so101_twin"
STEPS="$OUT/.steps.tsv" # name, status, rc, seconds, log: one line a step
FAILED=0
: >"$STEPS"
echo "gpu-check: GPU found: $GPUS"
echo "gpu-check: results in $OUT"
mkdir -p "$OUT/machine" "$OUT/install" "$OUT/tests" "$OUT/engines" "$OUT/bench" "$OUT/eval"
echo "$GPUS" >"$OUT/machine/gpu.csv"


write_summary() {
    python3 - "$OUT" "$STEPS" <<'PY'
import json, sys
from pathlib import Path
out, steps = Path(sys.argv[1]), Path(sys.argv[2])
rows = [line.split("\t") for line in steps.read_text().splitlines() if line.strip()]
data = {
    "gpu": (out / "machine" / "gpu.csv").read_text().strip(),
    "steps": [
        {"name": n, "status": s, "rc": int(rc), "seconds": float(t), "log": log}
        for n, s, rc, t, log in rows
    ],
}
(out / "summary.json").write_text(json.dumps(data, indent=2) + "\n")
md = ["# GPU check", "", f"GPU: {data['gpu']}", "", "| step | status | s | log |", "| --- | --- | --- | --- |"]
md += [f"| {r['name']} | {r['status']} | {r['seconds']:.0f} | `{r['log']}` |" for r in data["steps"]]
for name in ("bench/bench.log", "bench/bench_rtx.log", "eval/eval.log"):
    log = out / name
    if log.is_file():  # the table the command printed last
        text = log.read_text().rstrip().splitlines()
        start = max((i for i, l in enumerate(text) if l.startswith(("backend", "| backend"))), default=None)
        if start is not None:
            md += ["", f"## {name}", "", "```text", *text[start:], "```"]
(out / "summary.md").write_text("\n".join(md) + "\n")
PY
}

# step NAME LOG TIMEOUT_S COMMAND...: run it (its output to LOG), record how it went.
step() {
    local name="$1" log="$2" limit="$3"
    shift 3
    local now left started rc status
    now=$(date +%s)
    if [ -n "${DEADLINE:-}" ]; then
        left=$((DEADLINE - now))
        if [ "$left" -le 5 ]; then
            printf '%s\tskipped: out of time\t0\t0\t%s\n' "$name" "$log" >>"$STEPS"
            echo "gpu-check: $name: skipped, the budget of ${BUDGET}s is spent"
            FAILED=1
            write_summary
            return 1
        fi
        [ "$limit" -gt "$left" ] && limit=$left
    fi
    mkdir -p "$(dirname "$OUT/$log")"
    echo "\$ $*" >"$OUT/$log"
    echo "gpu-check: $name ($limit s at most): $*"
    started=$(date +%s)
    if [ "$DRY" = 1 ]; then
        rc=0
        status="dry run"
    else
        timeout --kill-after=10 "$limit" "$@" >>"$OUT/$log" 2>&1
        rc=$?
        case $rc in
            0) status="ok" ;;
            124 | 137) status="FAILED: timed out after ${limit}s" ;;
            *) status="FAILED (exit $rc)" ;;
        esac
    fi
    printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$status" "$rc" "$(($(date +%s) - started))" "$log" >>"$STEPS"
    echo "gpu-check: $name: $status"
    [ "$rc" -ne 0 ] && FAILED=1
    write_summary
    return "$rc"
}

# --- 1. install (outside the budget) -------------------------------------------------------
PY="$VENV/bin/python"
ACT="$VENV/bin/act-tool"
if [ ! -x "$PY" ] && [ "$DRY" != 1 ]; then
    BASE_PY="${PYTHON:-$(sh scripts/find-python.sh)}"
    step "venv" install/venv.log 600 "$BASE_PY" -m venv "$VENV" || exit 1
fi
step "install act-tool" install/pip.log 1800 "$PY" -m pip install --upgrade pip -e \
    ".[export,rtx,bench,sim,dev,openvino]" || exit 1
# Enterprise TensorRT (CUDA 12 wheels) and ONNX Runtime's CUDA build: wanted, not required.
step "install tensorrt" install/tensorrt.log 1200 "$PY" -m pip install -e ".[tensorrt]"
# ONNX Runtime's CUDA build replaces the CPU one (both are the module onnxruntime); its newest
# release may trail the core's pin. Where it cannot be installed, the CPU build comes back.
step "install onnxruntime-gpu" install/onnxruntime-gpu.log 900 sh -c \
    "'$PY' -m pip uninstall -y onnxruntime && '$PY' -m pip install onnxruntime-gpu ||
     '$PY' -m pip install --force-reinstall 'onnxruntime==1.32.0'"

# --- 2. the checks, within the budget ---------------------------------------------------------
DEADLINE=$(($(date +%s) + BUDGET))
step "versions" machine/versions.log 30 "$ACT" --version
step "doctor" machine/doctor.log 60 "$ACT" doctor --no-twin --json "$OUT/machine/doctor.json"
"$NVIDIA_SMI" >"$OUT/machine/nvidia-smi.txt" 2>&1 || true

step "gpu tests" tests/gpu-tests.log 150 "$PY" -m pytest -m gpu -rA -q -p no:cacheprovider \
    --junitxml "$OUT/tests/gpu-tests.xml" tests

# skip NAME LOG REASON: record a step that cannot run here (not a failure).
skip() {
    printf '%s\tskipped: %s\t0\t0\t%s\n' "$1" "$3" "$2" >>"$STEPS"
    echo "$3" >"$OUT/$2"
    echo "gpu-check: $1: skipped: $3"
    write_summary
}

# Why this machine cannot run BUILDER's engines ("" where it can), as act-tool itself judges it.
builder_problem() {
    [ "$DRY" = 1 ] && return 0
    "$PY" -c 'import sys
from act_tool.runtime.runners import compat
print(compat.builder_problem(sys.argv[1], compat.probe_machine()))' "$1" 2>&1 | tail -1
}

ENG="$OUT/engines"
step "export onnx" engines/export.log 120 "$ACT" export "$POLICY" --fp16 --builder onnx -o "$ENG"
for builder in tensorrt tensorrt-rtx; do
    problem=$(builder_problem "$builder")
    if [ -n "$problem" ]; then
        skip "engine $builder" "engines/$builder.log" "$problem"
        continue
    fi
    step "engine $builder" "engines/$builder.log" 180 \
        "$ACT" engine "$ENG/act.fp16.onnx" --builder "$builder" -o "$ENG/$builder/act.plan" &&
        step "self-check $builder" "engines/$builder-run.log" 60 \
            "$ACT" run --engine "$ENG/$builder/act.plan" --port emulated --duration 3 \
            --log "$ENG/$builder/run.jsonl"
done

step "bench" bench/bench.log 180 "$ACT" bench --checkpoint "$POLICY" \
    --json "$OUT/bench/bench.json" --plot "$OUT/bench/bench.png"
if [ -f "$ENG/tensorrt-rtx/act.plan" ] || [ "$DRY" = 1 ]; then
    step "bench tensorrt-rtx" bench/bench_rtx.log 120 "$ACT" bench --checkpoint "$POLICY" \
        --onnx "$ENG/act.onnx" --engine "$ENG/tensorrt-rtx/act.plan" \
        --json "$OUT/bench/bench_rtx.json" --plot "$OUT/bench/bench_rtx.png"
fi

PLAN="$ENG/tensorrt/act.plan"
[ -f "$PLAN" ] || [ "$DRY" = 1 ] || PLAN="$ENG/tensorrt-rtx/act.plan"
if [ -f "$PLAN" ] || [ "$DRY" = 1 ]; then
    step "eval tensorrt fp16" eval/eval.log 180 "$ACT" eval "$PLAN" --sim --episodes "$SEEDS" \
        --seed 1000 --compare lerobot --checkpoint "$POLICY" --json "$OUT/eval/eval.json"
else
    skip "eval tensorrt fp16" eval/eval.log "no TensorRT FP16 engine was built"
    FAILED=1
fi

write_summary
rm -f "$STEPS"
echo "gpu-check: done; $OUT/summary.md"
if [ "$FAILED" -ne 0 ]; then
    echo "gpu-check: some steps FAILED (see summary.md and their logs)" >&2
    exit 1
fi
