#!/usr/bin/env bash
# The synthetic-data study of README "Results": trains configs/synthetic.py
# (and its variants) at the same step budget and evaluates each run.
#
#   bash benchmarks/synthetic_study.sh ROOT [RUN ...]
#
# RUN names (default: all): raw offset_hemisphere offset_disc
# hemisphere_scale0.3 hemisphere_scale1.0 (offset_hemisphere with that
# shape_output_scale instead of the default 0.1) crisp no_size no_pyramid
# yaw120; smr8 smr16 (model.shape_max_res 8 / 16: shape channels from the
# generator blocks up to that resolution only), sym16 (smr16 plus
# model.shape_symmetry), sym16s3 (sym16 with shape_output_scale 0.3),
# sym16lrM (sym16 with train.shape_lr_mult M, e.g. sym16lr0.1).
# STEPS=N (default: the config's total_steps) sets the step budget, with a
# checkpoint every 200 steps. Runs go two at a time, each on one CPU thread (on a
# 2-core machine two single-threaded runs finish ~1.3x sooner than one after
# the other). Each run writes ROOT/NAME (checkpoints, metrics.jsonl, samples)
# and ROOT/NAME/eval/metrics_step*.json; timings are in ROOT/NAME.log.
set -euo pipefail
ROOT=${1:?usage: synthetic_study.sh ROOT [RUN ...]}
shift
RUNS=("$@")
if [ ${#RUNS[@]} -eq 0 ]; then
  RUNS=(raw offset_hemisphere offset_disc hemisphere_scale0.3 hemisphere_scale1.0
        crisp no_size no_pyramid yaw120)
fi
PARALLEL=${PARALLEL:-2}
# Samples per evaluation (the Chamfer MMD against the 512 test shapes costs
# ~3 min per 1000 samples and model on this CPU).
EVAL_SAMPLES=${EVAL_SAMPLES:-256}
mkdir -p "$ROOT"
export XLA_FLAGS="--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"

run_one() {
  local name=$1 cfg=configs/synthetic.py args=()
  case $name in
    raw) args=(--config.model.shape_param=raw --config.model.shape_output_scale=1.0) ;;
    offset_hemisphere|offset_disc) args=(--config.model.shape_param=$name) ;;
    hemisphere_scale0.3|hemisphere_scale1.0)
      args=(--config.model.shape_param=offset_hemisphere
            --config.model.shape_output_scale=${name#hemisphere_scale}) ;;
    crisp|no_size|no_pyramid|yaw120) cfg=configs/synthetic.py:$name ;;
    smr8|smr16) args=(--config.model.shape_max_res=${name#smr}) ;;
    sym16) args=(--config.model.shape_max_res=16 --config.model.shape_symmetry=True) ;;
    sym16s3) args=(--config.model.shape_max_res=16 --config.model.shape_symmetry=True
                   --config.model.shape_output_scale=0.3) ;;
    sym16lr*) args=(--config.model.shape_max_res=16 --config.model.shape_symmetry=True
                    --config.train.shape_lr_mult=${name#sym16lr}) ;;
    *) echo "unknown run $name" >&2; return 2 ;;
  esac
  if [ -n "${STEPS:-}" ]; then
    args+=(--config.train.total_steps="$STEPS" --config.train.checkpoint_every_steps=200
           --config.train.keep_checkpoints=8 --config.train.sample_every_steps=200)
  fi
  # Ablations change one thing of the default config (whatever its
  # shape_param is); the three shape_param runs differ in that key only.
  {
    echo "=== $name: $(date -u +%FT%TZ)"
    /usr/bin/time -f "train wall %e s" python -m launch.train --config="$cfg" \
        "${args[@]}" --workdir="$ROOT/$name"
    /usr/bin/time -f "evaluate wall %e s" python -m launch.evaluate \
        --config="$cfg" "${args[@]}" --workdir="$ROOT/$name" \
        --num_samples="$EVAL_SAMPLES"
    echo "=== $name done: $(date -u +%FT%TZ)"
  } >> "$ROOT/$name.log" 2>&1
}

active=0
for name in "${RUNS[@]}"; do
  run_one "$name" &
  active=$((active + 1))
  if [ "$active" -ge "$PARALLEL" ]; then
    wait -n
    active=$((active - 1))
  fi
done
wait
python -m benchmarks.study_table "$ROOT" "${RUNS[@]}"
