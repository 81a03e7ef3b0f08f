#!/usr/bin/env bash
# GPU measurements of gan3d in one call (renderer table, train-step images/s).
#
# For a lent GPU machine whose Python already has jax[cuda], flax, optax and
# chex (ml_collections may come as a wheel in .whl/, see below). Each step
# has its own time limit and a failure does not stop the next one; every log
# goes to $OUT (or ./gpu_out). Run from the repository root:
#
#   bash benchmarks/gpu_check.sh            # about 4-5 minutes on one H200
#   STEPS="env render" bash benchmarks/gpu_check.sh      # some steps only
#
# Steps: versions and device; `benchmarks.render` (all cases, the CPU
# table's batches); the 128 case at batch 32; `benchmarks.train_step` for the
# synthetic configs (3D and 2D head) and ffhq128 at the paper's batch 32.
set -u
OUT=${OUT:-gpu_out}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 XLA_PYTHON_CLIENT_PREALLOCATE=false
if ls .whl/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir \
    --upgrade --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site:.
else
  export PYTHONPATH=.
fi

step() {  # step NAME SECONDS COMMAND...
  local name=$1 secs=$2; shift 2
  case " ${STEPS:-$name} " in *" $name "*) ;; *) return ;; esac
  echo "=== $name ($(date -u +%H:%M:%S))"
  timeout "$secs" "$@" >"$OUT/$name.log" 2>&1
  echo "rc=$?"
  grep -v -E '^(I|W)[0-9]{4} ' "$OUT/$name.log" | tail -n 12
}

step env 60 bash -c 'nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv;
  python3 -c "import jax, flax, optax, chex; print(\"jax\", jax.__version__, \"flax\", flax.__version__, \"optax\", optax.__version__, \"chex\", chex.__version__); print(jax.devices())"'
step render 150 python3 -m benchmarks.render --repeats=10
step render128_b32 80 python3 -m benchmarks.render --case=128 --batch=32 --repeats=10
step train_synthetic 150 python3 -m benchmarks.train_step \
  --configs=synthetic,synthetic64 --steps=10
step train_ffhq128 120 python3 -m benchmarks.train_step --configs=ffhq128 \
  --modes=3d --steps=5
echo "=== done ($(date -u +%H:%M:%S))"
