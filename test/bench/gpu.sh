#!/usr/bin/env bash
# GPU benchmark and correctness check, for the device machine (issue 6). Prepare here:
#   npm run build:main && cp ../shared/bench/torch_rank1_resnet20.py dist/ && ../shared/device/prepare.sh dist
# then run there:  bash .device/start.sh bash test/bench/gpu.sh
# Prints rank1 bench on webgpu next to the PyTorch yardstick from the same run, then compares
# webgpu kernel outputs with the cpu backend. Results also land in $OUT when it is set.
set -uo pipefail
out=${OUT:-/tmp/gpu-bench}; mkdir -p "$out"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$out/gpu.txt"
echo "== rank1 bench (webgpu) + PyTorch yardstick (cuda), batch 128, 4 members"
node bin/rank1.js bench --backend webgpu --batch 128 --members 4 --steps 20 --json \
  --torch dist/torch_rank1_resnet20.py --torch-device cuda | tee "$out/bench.jsonl"
echo "== batch 512"
node bin/rank1.js bench --backend webgpu --batch 512 --members 4 --steps 10 --json | tee -a "$out/bench.jsonl"
echo "== correctness: webgpu vs cpu"
node test/bench/gpu-correctness.mjs | tee "$out/correctness.txt"
