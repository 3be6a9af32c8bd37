"""Per-kernel micro-benchmarks: each fused Numba kernel against the NumPy expressions it replaces.

Shapes are those of the VAE 784-400-20 step at batch 128 (and the conv DAE's middle layer for the
conv rows). Each pair runs interleaved, many repeats; the table gives medians, IQR and the speed-up.
Run with ``python -m benchmarks --what kernels``.
"""
from __future__ import annotations

import numpy as np

from benchmarks.timing import interleave
from nnlite import threads
from nnlite.ops._kernels import dense as kd
from nnlite.ops._kernels.blas import matmul_acc
from nnlite.ops._kernels.optim import _adam_parallel, _adam_serial


def _cases(dtype, rng):
    N, D, H, L = 128, 784, 400, 20
    f = dtype
    x = rng.random((N, D)).astype(f)
    W = (rng.standard_normal((D, H)) * 0.05).astype(f)
    b = (rng.standard_normal(H) * 0.1).astype(f)
    pre = x @ W
    y_relu = np.maximum(pre + b, 0)
    dy = rng.standard_normal((N, H)).astype(f)
    logits = (rng.standard_normal((N, D)) * 3).astype(f)
    grad = np.empty_like(logits)
    db = np.zeros(H, f)
    dz = np.empty_like(dy)
    gW = np.zeros((D, H), f)
    buf = np.empty_like(pre)
    cases = []

    # -- dense forward, elementwise part only: y <- relu(y + b)
    def nn_fwd():
        np.copyto(buf, pre)
        kd.bias_act_forward(buf, b, kd.RELU)

    def np_fwd():
        np.copyto(buf, pre)
        np.maximum(buf + b, 0)
    cases.append(("bias + ReLU forward (128x400)", nn_fwd, np_fwd, N * H))

    def nn_sig():
        np.copyto(buf, pre)
        kd.bias_act_forward(buf, b, kd.SIGMOID)

    def np_sig():
        np.copyto(buf, pre)
        1 / (1 + np.exp(-(buf + b)))
    cases.append(("bias + sigmoid forward (128x400)", nn_sig, np_sig, N * H))

    # -- dense backward, elementwise part: dz = dy * [y > 0]; db += sum_rows(dz)
    def nn_bwd():
        kd.act_backward(dy, y_relu, kd.RELU, 0.0, out=dz, db=db)

    def np_bwd():
        d = dy * (y_relu > 0)
        db.__iadd__(d.sum(axis=0))
    cases.append(("ReLU backward + bias grad (128x400)", nn_bwd, np_bwd, N * H))

    # -- whole dense layer forward: product + bias + ReLU
    def nn_dense():
        y = threads.matmul(x, W)
        kd.bias_act_forward(y, b, kd.RELU)

    def np_dense():
        np.maximum(x @ W + b, 0)
    cases.append(("Dense 784->400 ReLU forward (product included)", nn_dense, np_dense, N * H))

    # -- weight gradient accumulate
    def nn_acc():
        matmul_acc(gW, x.T, dy)

    def np_acc():
        gW.__iadd__(x.T @ dy)
    cases.append(("W.grad += x^T dz (784x128x400)", nn_acc, np_acc, D * H))

    # -- losses
    def nn_bce():
        kd.bce_with_logits(logits, x, grad, 1.0)

    def np_bce():
        np.sum(np.maximum(logits, 0) - logits * x + np.log1p(np.exp(-np.abs(logits))))
        e = np.exp(-np.abs(logits))
        np.where(logits >= 0, 1.0, e) / (1 + e) - x
    cases.append(("BCE-with-logits value + grad (128x784)", nn_bce, np_bce, N * D))

    def nn_mse():
        kd.mse(logits, x, grad, 1.0 / logits.size)

    def np_mse():
        d = logits - x
        np.mean(d * d)
        2 * d / d.size
    cases.append(("MSE value + grad (128x784)", nn_mse, np_mse, N * D))

    # -- VAE sampling + KL
    mu = rng.standard_normal((N, L)).astype(f)
    lv = rng.standard_normal((N, L)).astype(f)
    eps = rng.standard_normal((N, L)).astype(f)
    z, std = np.empty_like(mu), np.empty_like(mu)

    def nn_kl():
        kd.gaussian_sample_kl(mu, lv, eps, z, std)

    def np_kl():
        s = np.exp(0.5 * lv)
        mu + s * eps
        -0.5 * np.sum(1 + lv - mu * mu - s * s)
    cases.append(("VAE sample z + KL (128x20)", nn_kl, np_kl, N * L))

    # -- Adam over the VAE's 652,824 parameters (10 arrays)
    shapes = [(D, H), (H,), (H, 2 * L), (2 * L,), (L, H), (H,), (H, D), (D,)]
    P = [rng.standard_normal(s).astype(f).reshape(-1) for s in shapes]
    G = [rng.standard_normal(p.shape).astype(f) for p in P]
    M = [np.zeros_like(p) for p in P]
    V = [np.zeros_like(p) for p in P]
    n_params = sum(p.size for p in P)
    args = (1e-3, 0.9, 0.999, 1e-8, 0.1, 0.001, 0.0, False)

    def nn_adam_serial():
        for p, g, m, v in zip(P, G, M, V):
            _adam_serial(p, g, m, v, *args)

    def nn_adam_parallel():
        threads.sync_numba()
        for p, g, m, v in zip(P, G, M, V):
            (_adam_parallel if p.size >= 65536 else _adam_serial)(p, g, m, v, *args)

    def np_adam():
        for p, g, m, v in zip(P, G, M, V):
            m *= 0.9
            m += 0.1 * g
            v *= 0.999
            v += 0.001 * g * g
            p -= (1e-3 * (m / 0.1) / (np.sqrt(v / 0.001) + 1e-8)).astype(p.dtype)
    cases.append((f"Adam, serial kernel ({n_params:,} params)", nn_adam_serial, np_adam, n_params))
    cases.append((f"Adam, parallel kernel ({n_params:,} params)", nn_adam_parallel, np_adam, n_params))
    return cases


def _conv_cases(dtype, rng):
    """Conv2d(32, 64, 3, stride 2, padding 1) on (128, 32, 14, 14): nnlite vs PyTorch (if present)."""
    try:
        from nnlite.layers.conv import Conv2d
    except Exception:
        return []
    from benchmarks import reference_torch as rt

    x = rng.random((128, 32, 14, 14)).astype(dtype)
    conv = Conv2d(32, 64, 3, stride=2, padding=1, dtype=dtype, random_state=0)
    y = conv(x)
    dy = rng.standard_normal(y.shape).astype(dtype)

    def nn_fb():
        conv(x)
        conv.backward(dy)
    if not rt.available():
        return [("Conv2d 32->64 3x3/2 fwd+bwd (128x32x14x14)", nn_fb, None, y.size)]
    torch = rt.torch
    tconv = torch.nn.Conv2d(32, 64, 3, stride=2, padding=1).to(rt._tdtype(dtype))
    tx = torch.from_numpy(x).requires_grad_(True)
    tdy = torch.from_numpy(dy)

    def torch_fb():
        tconv.zero_grad()
        tx.grad = None
        tconv(tx).backward(tdy)
    return [("Conv2d 32->64 3x3/2 fwd+bwd (128x32x14x14), vs PyTorch", nn_fb, torch_fb, y.size)]


def run(args, log) -> list[str]:
    rng = np.random.default_rng(0)
    reps = 60 if args.quick else 400
    lines = [f"{reps} interleaved repeats per kernel after 10 warm-up (the 'Data' line above is about the "
             "step tables).", "",
             "| kernel | nnlite median us | IQR us | NumPy twin median us | IQR us | speed-up |",
             "| --- | ---: | ---: | ---: | ---: | ---: |"]
    threads.set_policy("auto")
    for name, ours, twin, _ in _cases(args.dtype, rng) + _conv_cases(args.dtype, rng):
        impls = [("ours", lambda: None, ours)] + ([("twin", lambda: None, twin)] if twin else [])
        t = interleave(impls, reps, 10, 0.0)
        a = t["ours"] * 1e6
        qa = np.percentile(a, [25, 75])
        if twin:
            b = t["twin"] * 1e6
            qb = np.percentile(b, [25, 75])
            row = (f"| {name} | {np.median(a):.1f} | {qa[0]:.1f}-{qa[1]:.1f} | {np.median(b):.1f} | "
                   f"{qb[0]:.1f}-{qb[1]:.1f} | {np.median(b) / np.median(a):.2f}x |")
        else:
            row = f"| {name} | {np.median(a):.1f} | {qa[0]:.1f}-{qa[1]:.1f} | - | - | - |"
        lines.append(row)
        log(row)
    return lines + ["", "Twin = the NumPy expressions the kernel replaces (PyTorch for the conv row); "
                        "speed-up = twin median / nnlite median, measured interleaved in one run.", ""]
