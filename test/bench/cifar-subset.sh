#!/bin/bash
# Copies the first N images (by name) of every class of ../shared/data/cifar10/train into
# .device-data/cifar10-subset/, small enough to travel to the GPU machine beside .device/
# (carry [".device", ".device-data"]): test/bench/gpu.sh trains resnet20 on it with webgpu and
# compares the validation accuracy with the wasm figure recorded in docs/gpu.md (same subset, seed,
# epochs and batch). Usage: bash test/bench/cifar-subset.sh [N=300]
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"
n=${1:-300}
src=../shared/data/cifar10/train
out=.device-data/cifar10-subset
rm -rf "$out"
for dir in "$src"/*/; do
  cls=$(basename "$dir")
  mkdir -p "$out/$cls"
  mapfile -t files < <(find "$dir" -maxdepth 1 -type f | sort)
  cp "${files[@]:0:$n}" "$out/$cls/"
done
echo "$out: $(find "$out" -type f | wc -l) images, $(du -sm "$out" | cut -f1) MiB"
