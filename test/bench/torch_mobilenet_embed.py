#!/usr/bin/env python3
"""PyTorch yardstick for `rank1 bench --embed` (issue 18): embedding throughput of the frozen
backbones' torchvision equivalents, so TF.js, ONNX Runtime and PyTorch form ratios in one run.

Speed only: the weights are random (torchvision has no pretrained MobileNetV2 0.35 and no
MobileNet v1 at all), which does not change the arithmetic.
  v2-0.35  torchvision.models.mobilenet_v2(width_mult=0.35): features + global average pool
           (1280 values, as the app's MobileNetV2 0.35 embedding).
  v1-0.25  MobileNet v1 (Howard et al. 2017, Table 1) at width 0.25: conv 3x3/2 then 13
           depthwise-separable blocks, BatchNorm + ReLU6, global average pool (256 values).
Input: `--count` uint8 images at 224 px, scaled to [-1, 1] per batch (as the app's graph does),
batches of `--batch`, one warm-up batch, best of `--repeats` timed passes.

Prints one JSON line per backbone: {"phase": "embed", "backend": "pytorch", "backbone",
"images_per_s", "device", "images", "size"}. Exits with status 3 and one line on stderr when
torch or torchvision is not installed (the caller then reports no PyTorch row).
Usage: torch_mobilenet_embed.py [--backbone v1-0.25|v2-0.35|all] [--count 128] [--batch 32]
       [--threads 2] [--size 224] [--repeats 3]
"""
import argparse, json, sys, time

try:
    import torch
    import torch.nn as nn
    import torchvision
except ImportError as e:
    print(f'PyTorch yardstick: {e.name} is not installed (apt-get install python3-torchvision)', file=sys.stderr)
    sys.exit(3)

p = argparse.ArgumentParser()
p.add_argument('--backbone', default='all', choices=['all', 'v1-0.25', 'v2-0.35'])
p.add_argument('--count', type=int, default=128)
p.add_argument('--batch', type=int, default=32)
p.add_argument('--threads', type=int, default=2)
p.add_argument('--size', type=int, default=224)
p.add_argument('--repeats', type=int, default=3)
a = p.parse_args()
torch.set_num_threads(a.threads)
torch.manual_seed(0)


def conv_bn(cin, cout, k, stride, groups=1):
    return [nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False), nn.BatchNorm2d(cout), nn.ReLU6(inplace=True)]


def mobilenet_v1(alpha):
    # (output channels at width 1, stride) of the 13 depthwise-separable blocks (Table 1).
    blocks = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2)] + [(512, 1)] * 5 + [(1024, 2), (1024, 1)]
    cin = int(32 * alpha)
    layers = conv_bn(3, cin, 3, 2)
    for cout, stride in blocks:
        cout = int(cout * alpha)
        layers += conv_bn(cin, cin, 3, stride, groups=cin) + conv_bn(cin, cout, 1, 1)
        cin = cout
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten())


def mobilenet_v2(alpha):
    net = torchvision.models.mobilenet_v2(width_mult=alpha)
    return nn.Sequential(net.features, nn.AdaptiveAvgPool2d(1), nn.Flatten())


NETS = {'v1-0.25': lambda: mobilenet_v1(0.25), 'v2-0.35': lambda: mobilenet_v2(0.35)}

pixels = torch.randint(0, 256, (a.count, 3, a.size, a.size), dtype=torch.uint8)
device = f'cpu, {a.threads} threads, torch {torch.__version__}, torchvision {torchvision.__version__}'
for name in NETS if a.backbone == 'all' else [a.backbone]:
    net = NETS[name]().eval()

    def run(n):
        with torch.inference_mode():
            for s in range(0, n, a.batch):
                net(pixels[s : s + a.batch].float() / 127.5 - 1)

    run(min(a.batch, a.count))
    best = float('inf')
    for _ in range(a.repeats):
        t0 = time.perf_counter()
        run(a.count)
        best = min(best, time.perf_counter() - t0)
    print(json.dumps({'phase': 'embed', 'backend': 'pytorch', 'backbone': name,
                      'images_per_s': round(a.count / best, 1), 'device': device,
                      'images': a.count, 'size': a.size}), flush=True)
