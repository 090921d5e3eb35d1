"""A binarygrad `resnet20-prelu --scheme siman` checkpoint, loaded into SiMaN's reference network in PyTorch.

A cross-check of a long run's state, not only of its first epochs (siman_reference.py trains from scratch): the
checkpoint's latent weights, batch norms, PReLU slopes and classifier go into siman_reference.py's `ResNet20` (the
per-channel α after each binary convolution set to 1: ours has none, and the batch norm after it absorbs it), B is
the median split of |w2| that a training forward computes, and the inputs are normalised as binarygrad does
(CIFAR-10 mean and standard deviation). Then:
- the test accuracy on the checkpoint's running statistics (the run's own `testAcc` for that epoch, if the two
  networks compute the same function), and after recalibrating them as `binarygrad eval --recalibrate-bn N` does (the
  first N training images in order, no augmentation, the plain average of the batches' means and unbiased variances);
- with --train-epochs E, E more epochs trained by the reference code's arithmetic from that state (SGD momentum
  buffers from the checkpoint, the reference's per-epoch cosine rate and clipping percentile from its next epoch on), each
  followed by both test accuracies and the share of binary weights that flipped in the epoch.

Usage: python3 siman_transplant.py CHECKPOINT DATA_DIR [--train-epochs E] [--threads T] [--recalibrate N]
(--recalibrate 0 skips the recalibrated accuracy; the default is 10 000 images.)
DATA_DIR holds the CIFAR-10 binary files; the epochs continue from the checkpoint's own count (epochsDone).
One JSON line per stage.
"""
import argparse, json, os, struct, sys, time
import numpy as np
import torch, torch.nn as nn, torch.nn.functional as F
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, '..', '..', 'samples', 'pytorch'))
import siman_reference as ref
from eval_checkpoint import load_safetensors  # the repository's safetensors reader (NumPy only)

CIFAR_MEAN = np.array([0.4914, 0.4822, 0.4465], dtype=np.float32).reshape(1, 3, 1, 1)
CIFAR_STD = np.array([0.2470, 0.2435, 0.2616], dtype=np.float32).reshape(1, 3, 1, 1)

def normalise(images):
    # binarygrad's table: (b/255f - mean)/std in float32
    return ((images.astype(np.float32) / np.float32(255) - CIFAR_MEAN) / CIFAR_STD).astype(np.float32)

def units(model):
    for block in model.layer:
        yield block.conv1, block.bn1, block.nonlinear1
        yield block.conv2, block.bn2, block.nonlinear2

def load_into(model, tensors):
    t = lambda k: tensors[k].to(torch.float32).clone()
    def bn(mod, prefix):
        mod.weight.data = t(prefix + '.weight'); mod.bias.data = t(prefix + '.bias')
        mod.running_mean.data = t(prefix + '.running_mean'); mod.running_var.data = t(prefix + '.running_var')
    model.conv1.weight.data = t('model.layers.0.weight')
    bn(model.bn1, 'model.layers.1')
    for k, (conv, bnm, act) in enumerate(units(model)):
        i = 3 + 2 * k
        conv.weight.data = t(f'model.layers.{i}.main.0.weight')
        conv.alpha.data = torch.ones_like(conv.alpha)   # ours has no α: the BN after each convolution absorbs it
        conv.alpha.requires_grad_(False)
        bn(bnm, f'model.layers.{i}.main.1')
        act.weight.data = t(f'model.layers.{i + 1}.weight')
    bn(model.bn2, 'model.layers.40')
    model.linear.weight.data = t('model.layers.41.weight'); model.linear.bias.data = t('model.layers.41.bias')

def set_b_from_latents(model):
    """B as a training forward computes it (median split of |w2| per filter), without touching the latents."""
    for conv, _, _ in units(model):
        w = conv.weight.data
        w1 = w - w.mean([1, 2, 3], keepdim=True)
        w2 = w1 / torch.sqrt(w1.var([1, 2, 3], keepdim=True) + 1e-5)
        x = w2.abs().view(w.shape[0], -1)
        b = torch.zeros_like(x); b[x > x.median(dim=1)[0].unsqueeze(1)] = 1
        conv.B.data = b.view_as(conv.B)

def evaluate(model, x, y):
    model.eval()
    with torch.no_grad():
        hits = sum((model(x[i:i + 500]).argmax(1) == y[i:i + 500]).sum().item() for i in range(0, len(y), 500))
    return hits / len(y)

def recalibrate(model, train_x, images, batch=256):
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    for m in bns: m.reset_running_stats(); m.momentum = None
    model.train()
    # no B update during recalibration: keep the B of the weights
    saved = [conv.B.data.clone() for conv, _, _ in units(model)]
    with torch.no_grad():
        used = 0
        for first in range(0, len(train_x), batch):
            if used >= images: break
            model(torch.from_numpy(normalise(train_x[first:first + batch]))); used += min(batch, len(train_x) - first)
    for (conv, _, _), b in zip(units(model), saved): conv.B.data = b
    for m in bns: m.momentum = 0.1
    return used

def fail(message):
    print(f"siman_transplant: {message}", file=sys.stderr)
    sys.exit(2)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('ckpt'); ap.add_argument('data_dir')
    ap.add_argument('--train-epochs', type=int, default=0)
    ap.add_argument('--threads', type=int, default=1); ap.add_argument('--seed', type=int, default=123)
    ap.add_argument('--recalibrate', type=int, default=10000)
    a = ap.parse_args()
    for name in ('train_epochs', 'recalibrate'):
        if getattr(a, name) < 0: fail(f"--{name.replace('_', '-')} is {getattr(a, name)}; expected 0 or more")
    if a.threads < 1: fail(f"--threads is {a.threads}; expected 1 or more")
    torch.set_num_threads(a.threads); torch.manual_seed(a.seed)
    files = [a.ckpt] + [os.path.join(a.data_dir, f) for f in [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]]
    missing = [f for f in files if not os.path.isfile(f)]
    if missing:
        fail(f"{missing[0]} not found (expected a binarygrad checkpoint, and the CIFAR-10 binary files in DATA_DIR)")
    try:
        tensors, meta = load_safetensors(a.ckpt)
    except (OSError, ValueError, KeyError, TypeError, struct.error) as e:
        # struct.error: shorter than the 8-byte header length; ValueError: header not JSON (UnicodeDecodeError and
        # JSONDecodeError are ValueErrors) or a tensor's offsets/shape not matching its data; KeyError/TypeError: a
        # header entry without data_offsets, dtype or shape
        fail(f"{a.ckpt} is not a readable safetensors checkpoint ({type(e).__name__}: {e})")
    if meta.get('model') != 'resnet20-prelu' or meta.get('scheme') != 'siman':
        fail(f"{a.ckpt} is a {meta.get('model')} / {meta.get('scheme')} checkpoint; this script reads "
             "resnet20-prelu / siman ones (SiMaN's own network)")
    try:
        start_epoch = int(meta.get('epochsDone', '0'))
    except (TypeError, ValueError):
        fail(f"{a.ckpt}: metadata epochsDone is {meta.get('epochsDone')!r}, expected a whole number of epochs")
    parts = [ref.load(os.path.join(a.data_dir, f"data_batch_{i}.bin")) for i in range(1, 6)]
    train_x, train_y = np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
    test_x, test_y = ref.load(os.path.join(a.data_dir, "test_batch.bin"))
    tx, ty = torch.from_numpy(normalise(test_x)), torch.from_numpy(test_y)
    model = ref.ResNet20(); load_into(model, tensors); set_b_from_latents(model)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    print(json.dumps({"stage": "loaded", "testAccRunning": evaluate(model, tx, ty)}), flush=True)
    if a.recalibrate > 0:  # 0 skips it: resetting the statistics and averaging no batch would leave them at 0 and 1
        used = recalibrate(model, train_x, a.recalibrate)
        print(json.dumps({"stage": "loaded", "recalibratedImages": used, "testAccRecalibrated": evaluate(model, tx, ty)}), flush=True)
    if a.train_epochs == 0: return
    model.load_state_dict(state)
    binary = [p for n, p in model.named_parameters() if 'layer' in n and 'conv' in n and n.endswith('weight')]
    others = [p for n, p in model.named_parameters() if not ('layer' in n and 'conv' in n) and p.requires_grad]
    opt = torch.optim.SGD([{'params': others}, {'params': binary, 'weight_decay': 0.}], lr=0.1, momentum=0.9, weight_decay=5e-4)
    # momentum buffers from the checkpoint (binarygrad's layer indices: 0 stem conv, 1 its batch norm, 3 + 2k unit k's
    # convolution and batch norm, 4 + 2k its PReLU slopes, 40 the final batch norm, 41 the classifier)
    names = {id(p): n for n, p in model.named_parameters()}
    ours = {}
    ours['conv1.weight'] = 'layers.0.weight'; ours['bn1.weight'] = 'layers.1.weight'; ours['bn1.bias'] = 'layers.1.bias'
    for k in range(18):
        blk, j = k // 2, k % 2 + 1; i = 3 + 2 * k
        ours[f'layer.{blk}.conv{j}.weight'] = f'layers.{i}.main.0.weight'
        ours[f'layer.{blk}.bn{j}.weight'] = f'layers.{i}.main.1.weight'; ours[f'layer.{blk}.bn{j}.bias'] = f'layers.{i}.main.1.bias'
        ours[f'layer.{blk}.nonlinear{j}.weight'] = f'layers.{i + 1}.weight'
    ours['bn2.weight'] = 'layers.40.weight'; ours['bn2.bias'] = 'layers.40.bias'
    ours['linear.weight'] = 'layers.41.weight'; ours['linear.bias'] = 'layers.41.bias'
    loaded = 0
    for group in opt.param_groups:
        for p in group['params']:
            key = f"optimizer.{ours[names[id(p)]]}.momentum_buffer"
            if key in tensors:
                opt.state[p]['momentum_buffer'] = tensors[key].to(torch.float32).clone(); loaded += 1
    print(json.dumps({"stage": "optimizer", "momentumBuffersLoaded": loaded}), flush=True)
    convs = [conv for conv, _, _ in units(model)]
    rng = np.random.default_rng(a.seed)
    total = 400
    for e in range(start_epoch, start_epoch + a.train_epochs):
        # the reference's schedule: cosine over 396 epochs, stepped after each epoch from epoch 4 on
        lr = 0.5 * 0.1 * (1 + np.cos(np.pi * (e - 4) / (total - 4))) if e >= 5 else 0.1 * (e + 1) / 5
        for g in opt.param_groups: g['lr'] = lr
        for conv in convs: conv.percent = torch.tensor(15.0 * (1 - e / total))
        model.train(); start = time.time()
        before = [conv.B.data.reshape(conv.B.shape[0], -1).clone() for conv in convs]
        order = rng.permutation(len(train_y)); seen = correct = 0; loss_sum = 0.0
        for first in range(0, len(order), 256):
            idx = order[first:first + 256]
            inputs = torch.from_numpy(normalise(ref.crop_flip(train_x[idx], rng))); targets = torch.from_numpy(train_y[idx])
            out = model(inputs); loss = F.cross_entropy(out, targets)
            opt.zero_grad(); loss.backward(); opt.step()
            loss_sum += loss.item() * len(idx); correct += (out.argmax(1) == targets).sum().item(); seen += len(idx)
        flips = sum((b != conv.B.data.reshape(b.shape)).sum().item() for b, conv in zip(before, convs)) / sum(b.numel() for b in before)
        running = evaluate(model, tx, ty)
        saved = {k: v.clone() for k, v in model.state_dict().items()}
        recal = (recalibrate(model, train_x, a.recalibrate), evaluate(model, tx, ty))[1]
        model.load_state_dict(saved)
        print(json.dumps({"epoch": e + 1, "lr": lr, "trainLoss": loss_sum / seen, "trainAcc": correct / seen, "testAccRunning": running,
                          "testAccRecalibrated": recal, "flipRatio": flips, "seconds": time.time() - start}), flush=True)

if __name__ == '__main__':
    main()
