"""SiMaN's own CIFAR-10 ResNet-20 1W/1A training, in PyTorch on the CPU, for the first epochs of a run.

A cross-check of `binarygrad train --model resnet20-prelu --scheme siman` (docs/cifar10.md): the same network, the
same recipe and the same data files, trained by the reference code's arithmetic instead of ours. The model and the
quantizer follow lmbxmu/SiMaN `cifar/models_cifar/resnet.py` (`resnet20_1w1a`) and `cifar/modules/binarized_modules.py`
(`BinarizeConv2d`, its default median update of B); the recipe follows its `main.py` and `run.sh`: SGD with momentum
0.9, lr 0.1, batch 256, weight decay 5e-4 except on the binary convolutions' weights, five epochs of warm-up
(lr 0.1·(e + 1)/5, per epoch), then cosine annealing over 400 − 4 epochs, the clipping percentile 15·(1 − e/400),
crop-flip augmentation and ImageNet normalisation. The random streams (initialisation, shuffling, crops) are
PyTorch's, so curves agree with ours statistically, not bit for bit.

Usage: python3 siman_reference.py DATA_DIR EPOCHS [THREADS] [SEED] > curve.jsonl
DATA_DIR holds data_batch_1.bin … data_batch_5.bin and test_batch.bin (the official binary layout). One JSON line
per epoch: epoch, trainLoss, trainAcc, testAcc, seconds.
"""
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def load(path):
    raw = np.fromfile(path, dtype=np.uint8).reshape(-1, 3073)
    return raw[:, 1:].reshape(-1, 3, 32, 32), raw[:, 0].astype(np.int64)


MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32).reshape(1, 3, 1, 1)
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32).reshape(1, 3, 1, 1)


def normalise(images):
    return (images.astype(np.float32) / 255.0 - MEAN) / STD


def crop_flip(images, rng):
    """transforms.RandomCrop(32, padding=4) and RandomHorizontalFlip() on a batch (uint8 N×3×32×32)."""
    n = images.shape[0]
    padded = np.zeros((n, 3, 40, 40), dtype=np.uint8)
    padded[:, :, 4:36, 4:36] = images
    out = np.empty_like(images)
    dx = rng.integers(0, 9, n)
    dy = rng.integers(0, 9, n)
    flip = rng.random(n) < 0.5
    for i in range(n):
        window = padded[i, :, dy[i]:dy[i] + 32, dx[i]:dx[i] + 32]
        out[i] = window[:, :, ::-1] if flip[i] else window
    return out


class BinaryQuantize(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return torch.sign(x)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return (2 - torch.abs(2 * x)).clamp(min=0) * grad


class BinarizeConv2d(nn.Conv2d):
    """SiMaN's BinarizeConv2d (median update of B, the reference's default)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        w = self.weight
        self.alpha = nn.Parameter(w.abs().mean([1, 2, 3], keepdim=True).view(w.size(0), 1, 1), requires_grad=True)
        b = torch.sign(w).view(w.shape[0], 1, -1)
        b.add_(1).div_(2)
        self.B = nn.Parameter(b, requires_grad=False)
        self.register_buffer('percent', torch.tensor(0.))

    def forward(self, a):
        w = self.weight
        p = self.percent.item()
        w1 = (w - w.mean([1, 2, 3], keepdim=True)).detach()
        flat = w1.abs().flatten().numpy()
        clip_low, clip_high = np.percentile(flat, p), np.percentile(flat, 100 - p)
        self.weight.data = w1.abs().clamp(min=float(clip_low), max=float(clip_high)).mul(torch.sign(w1))
        w = self.weight
        w1 = w - w.mean([1, 2, 3], keepdim=True)
        w2 = w1 / torch.sqrt(w1.var([1, 2, 3], keepdim=True) + 1e-5)
        a0 = a - a.mean([1, 2, 3], keepdim=True)
        a1 = a0 / torch.sqrt(a0.var([1, 2, 3], keepdim=True) + 1e-5)
        x = w2.abs().view(w.shape[0], -1)
        if self.training:
            b = torch.zeros_like(x)
            b[x > x.median(dim=1)[0].unsqueeze(1)] = 1
            self.B.data = b
        x2 = x.view_as(w)
        bw = x2 - x2.detach() + self.B.mul(2).sub(1).view_as(w)
        ba = BinaryQuantize.apply(a1)
        out = F.conv2d(ba, bw, self.bias, self.stride, self.padding, self.dilation, self.groups)
        return out * self.alpha


class Block(nn.Module):
    """BasicBlock_1w1a: a real identity (option A when downsampling) around each binary convolution, PReLU after."""

    def __init__(self, in_planes, planes, stride=1):
        super().__init__()
        self.conv1 = BinarizeConv2d(in_planes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.nonlinear1 = nn.PReLU(planes)
        self.conv2 = BinarizeConv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.nonlinear2 = nn.PReLU(planes)
        self.pad = planes // 4 if stride != 1 or in_planes != planes else None

    def shortcut(self, x):
        if self.pad is None:
            return x
        return F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, self.pad, self.pad), "constant", 0)

    def forward(self, x):
        out = self.nonlinear1(self.bn1(self.conv1(x)) + self.shortcut(x))
        return self.nonlinear2(self.bn2(self.conv2(out)) + out)


class ResNet20(nn.Module):
    def __init__(self, classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        blocks, in_planes = [], 16
        for planes, stride in ((16, 1), (32, 2), (64, 2)):
            for s in (stride, 1, 1):
                blocks.append(Block(in_planes, planes, s))
                in_planes = planes
        self.layer = nn.Sequential(*blocks)
        self.bn2 = nn.BatchNorm1d(64)
        self.linear = nn.Linear(64, classes)
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Conv2d)):
                nn.init.kaiming_normal_(m.weight)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.layer(out)
        out = F.avg_pool2d(out, out.size()[3]).flatten(1)
        return self.linear(self.bn2(out))


def main():
    data_dir, epochs = sys.argv[1], int(sys.argv[2])
    threads = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    seed = int(sys.argv[4]) if len(sys.argv) > 4 else 123
    total_epochs, batch, lr = 400, 256, 0.1
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    parts = [load(os.path.join(data_dir, f"data_batch_{i}.bin")) for i in range(1, 6)]
    train_x, train_y = np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
    test_x, test_y = load(os.path.join(data_dir, "test_batch.bin"))
    test_inputs = torch.from_numpy(normalise(test_x))

    model = ResNet20()
    binary_weights = [p for n, p in model.named_parameters() if 'layer' in n and 'conv' in n]
    others = [p for n, p in model.named_parameters() if not ('layer' in n and 'conv' in n)]
    optimizer = torch.optim.SGD([{'params': others, 'initial_lr': lr},
                                 {'params': binary_weights, 'initial_lr': lr, 'weight_decay': 0.}],
                                lr=lr, momentum=0.9, weight_decay=5e-4)
    warm_up = 1  # args.warm_up is a flag: True, so the reference's "args.warm_up*4" is 4
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, total_epochs - warm_up * 4, eta_min=0, last_epoch=-1)
    convs = [m for n, m in model.named_modules() if isinstance(m, nn.Conv2d) and 'layer' in n]
    criterion = nn.CrossEntropyLoss()
    for epoch in range(epochs):
        start = time.time()
        if epoch < 5:
            for group in optimizer.param_groups:
                group['lr'] = lr * (epoch + 1) / 5
        for conv in convs:
            conv.percent = torch.tensor(15.0 * (1 - epoch / total_epochs))
        model.train()
        order = rng.permutation(len(train_y))
        seen = correct = 0
        loss_sum = 0.0
        for first in range(0, len(order), batch):
            idx = order[first:first + batch]
            inputs = torch.from_numpy(normalise(crop_flip(train_x[idx], rng)))
            targets = torch.from_numpy(train_y[idx])
            output = model(inputs)
            loss = criterion(output, targets)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            loss_sum += loss.item() * len(idx)
            correct += (output.argmax(1) == targets).sum().item()
            seen += len(idx)
        if epoch >= 4 * warm_up:
            scheduler.step()
        model.eval()
        with torch.no_grad():
            hits = sum((model(test_inputs[i:i + 500]).argmax(1) == torch.from_numpy(test_y[i:i + 500])).sum().item()
                       for i in range(0, len(test_y), 500))
        print(json.dumps({"epoch": epoch + 1, "trainLoss": loss_sum / seen, "trainAcc": correct / seen,
                          "testAcc": hits / len(test_y), "seconds": time.time() - start}), flush=True)


if __name__ == '__main__':
    main()
