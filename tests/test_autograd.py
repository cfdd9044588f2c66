"""Numerical gradient checks for every op of training.autograd."""

from __future__ import annotations

import numpy as np
import pytest

from training.autograd import Tensor, concat, gradcheck, unbroadcast
from training.losses import (
    _LN2,
    bce_with_logits,
    code_information,
    grouped_mi_tensor,
    joint_mi_tensor,
    layer_mi,
    per_neuron_mi_tensor,
)

RNG = np.random.default_rng(0)


def _r(*shape, lo=-2.0, hi=2.0):
    return RNG.uniform(lo, hi, size=shape)


BINARY = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "rsub": lambda a, b: 1.5 - a + b * 0.0,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
    "rdiv": lambda a, b: 2.0 / b + a * 0.0,
    "matmul": lambda a, b: a.reshape(3, 4) @ b.reshape(4, 3),
}


@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_ops(name):
    a = _r(12)
    b = _r(12, lo=0.5, hi=2.0)  # away from 0 for division
    assert gradcheck(BINARY[name], [a, b])


def test_broadcasting_add_mul():
    assert gradcheck(lambda a, b: a * b + b, [_r(5, 3), _r(3)])
    assert gradcheck(lambda a, b: a - b, [_r(5, 3), _r(5, 1)])
    assert unbroadcast(np.ones((4, 5, 3)), (5, 1)).tolist() == (np.ones((5, 1)) * 12).tolist()


UNARY = {
    "neg": (lambda a: -a, _r(7)),
    "pow": (lambda a: a**3, _r(7)),
    "sqrt": (lambda a: a**0.5, _r(7, lo=0.5, hi=3.0)),
    "sum": (lambda a: a.sum(), _r(3, 4)),
    "sum_axis0": (lambda a: a.sum(axis=0), _r(3, 4)),
    "sum_axis1_keep": (lambda a: a.sum(axis=1, keepdims=True), _r(3, 4)),
    "mean": (lambda a: a.mean(axis=1), _r(3, 4)),
    "reshape": (lambda a: a.reshape(4, 3) * np.arange(12).reshape(4, 3), _r(3, 4)),
    "transpose": (lambda a: a.T @ np.ones((3, 2)), _r(3, 4)),
    "getitem_rows": (lambda a: a[np.array([0, 2, 2])], _r(3, 4)),
    "getitem_col": (lambda a: a[:, 1], _r(3, 4)),
    "exp": (lambda a: a.exp(), _r(6)),
    "log": (lambda a: a.log(), _r(6, lo=0.2, hi=3.0)),
    "sigmoid": (lambda a: a.sigmoid(), _r(6, lo=-6, hi=6)),
    "log_sigmoid": (lambda a: a.log_sigmoid(), _r(6, lo=-30, hi=30)),
    "softplus": (lambda a: a.softplus(), _r(6, lo=-30, hi=30)),
    "relu": (lambda a: a.relu(), np.array([-1.5, -0.3, 0.4, 2.0])),
    "tanh": (lambda a: a.tanh(), _r(6)),
    "binary_entropy": (lambda a: a.binary_entropy(), _r(6, lo=0.05, hi=0.95)),
    "concat": (lambda a: concat([a, a * 2.0], axis=1), _r(3, 2)),
    "permute_columns": (lambda a: a.permute_columns(np.array([2, 0, 3, 1])) * np.arange(4.0), _r(3, 4)),
}


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_ops(name):
    f, x = UNARY[name]
    assert gradcheck(f, [x])


def test_gradcheck_detects_wrong_gradient():
    def bad(a):
        val = np.exp(a.data)
        return a._child(val, (a,), "bad_exp", lambda g: a._acc(g * val * 2.0))  # wrong on purpose

    with pytest.raises(AssertionError, match="gradcheck failed"):
        gradcheck(bad, [_r(4)])


def test_sign_ste_forward_and_clipped_identity_backward():
    w = Tensor(np.array([-2.0, -0.5, 0.0, 0.3, 1.5]))
    out = w.sign_ste()
    assert out.data.tolist() == [-1, -1, 1, 1, 1]
    out.backward(np.ones(5))
    assert w.grad.tolist() == [0, 1, 1, 1, 0]


def test_ste_and_grad_reverse():
    x = Tensor(np.array([0.2, 0.7]))
    sample = x.ste(np.array([0.0, 1.0]))
    assert sample.data.tolist() == [0.0, 1.0]
    (sample * np.array([3.0, 4.0])).sum().backward()
    assert x.grad.tolist() == [3.0, 4.0]
    x = Tensor(np.array([0.2, 0.7], dtype=np.float32))
    sample = x.ste(np.array([-1.0, 1.0]), 2.0)  # a ±1 sample of 2x − 1
    assert sample.data.dtype == np.float32 and sample.data.tolist() == [-1.0, 1.0]
    (sample * np.array([3.0, 4.0], dtype=np.float32)).sum().backward()
    assert x.grad.tolist() == [6.0, 8.0]
    x = Tensor(np.array([0.2, 0.7]))
    r = x.grad_reverse(0.5)
    assert np.array_equal(r.data, x.data)
    (r * np.array([2.0, -4.0])).sum().backward()
    assert x.grad.tolist() == [-1.0, 2.0]


def test_float32_graph_stays_float32():
    a = Tensor(np.ones((3, 2), dtype=np.float32))
    out = ((a * 0.5 + 1.0) / 3.0).sigmoid()
    assert out.data.dtype == np.float32
    out.sum().backward()
    assert a.grad.dtype == np.float32


def test_shared_node_gradients_accumulate():
    assert gradcheck(lambda a: a * a + a.exp() * a, [_r(5)])


# -- the loss functions are compositions of ops; check them end to end ------------------------------------
def test_bce_gradcheck_and_unlabelled_rows_ignored():
    y = np.array([1, 0, -1, 1, -1])
    assert gradcheck(lambda z: bce_with_logits(z, y), [_r(5)])
    z = Tensor(_r(5))
    bce_with_logits(z, y).backward()
    assert z.grad[2] == 0.0 and z.grad[4] == 0.0


@pytest.mark.parametrize("kind", ["per_neuron", "joint", "conditional", "grouped"])
def test_mi_losses_gradcheck(kind):
    theta = _r(24, 3, lo=0.05, hi=0.95)
    s = np.tile([0, 1, 2, 1], 6)
    y = np.tile([0, 1, -1], 8)
    assert gradcheck(lambda t: layer_mi(t, s, kind, y, group_size=2), [theta], rtol=1e-3, atol=1e-7)


def _composed_information(cond, pi):
    c = cond.relu()
    ratio = (c + 1e-30).log() - (Tensor(pi[None, :], requires_grad=False) @ c + 1e-30).log()
    return ((c * ratio).sum(axis=1) * pi).sum() * (1.0 / _LN2)


def _composed_bce(z, w_pos, w_neg):
    return -((z.log_sigmoid() * w_pos).sum() + ((-z).log_sigmoid() * w_neg).sum())


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_one_node_losses_are_their_compositions_bit_for_bit(dtype):
    rng = np.random.default_rng(8)
    for _ in range(5):
        cond = (rng.uniform(-0.01, 1.0, (3, 40)) / 10).astype(dtype)  # negative entries are clamped
        pi = rng.dirichlet(np.ones(3)).astype(dtype)
        g = np.asarray(rng.uniform(0.1, 2.0), dtype=dtype)
        fused, composed = Tensor(cond), Tensor(cond)
        a, b = code_information(fused, pi), _composed_information(composed, pi)
        a.backward(g)
        b.backward(g)
        assert a.data.dtype == b.data.dtype == dtype
        assert np.array_equal(a.data, b.data) and np.array_equal(fused.grad, composed.grad)

        z = (rng.normal(0, 3, 50)).astype(dtype)
        y = rng.integers(-1, 2, 50)
        w = rng.uniform(-0.5, 2.0, 50)
        fused, composed = Tensor(z), Tensor(z)
        a = bce_with_logits(fused, y, w, 0.7)
        coef = np.where(y >= 0, w, 0.0) / ((y >= 0).sum() * 0.7)
        w_pos, w_neg = (np.where(y == label, coef, 0).astype(dtype) for label in (1, 0))
        b = _composed_bce(composed, w_pos, w_neg)
        a.backward(g)
        b.backward(g)
        assert a.data.dtype == dtype
        assert np.array_equal(a.data, b.data) and np.array_equal(fused.grad, composed.grad)


def test_code_information_gradcheck():
    rng = np.random.default_rng(9)
    pi = rng.dirichlet(np.ones(2))
    assert gradcheck(lambda c: code_information(c, pi), [rng.uniform(0.01, 0.5, (2, 8))], rtol=1e-3)


def test_mi_tensors_match_kernels():
    import sqnn_kernels as sk

    theta = RNG.uniform(0, 1, (200, 6))
    s = RNG.integers(0, 2, 200)
    assert per_neuron_mi_tensor(Tensor(theta), s).data == pytest.approx(sk.per_neuron_mi(theta, s), rel=1e-5)
    assert joint_mi_tensor(Tensor(theta), s).data == pytest.approx(sk.joint_mi(theta, s), rel=1e-5)
    assert grouped_mi_tensor(Tensor(theta), s, 6).data == pytest.approx(sk.joint_mi(theta, s), rel=1e-5)
    assert grouped_mi_tensor(Tensor(theta), s, 1).data == pytest.approx(sk.per_neuron_mi(theta, s), rel=1e-5)


def test_joint_mi_rejects_wide_layers():
    with pytest.raises(ValueError, match="at most 16 neurons"):
        joint_mi_tensor(Tensor(np.full((4, 17), 0.5)), np.array([0, 1, 0, 1]))


def test_sign_pm1_is_plus_one_at_zero_and_keeps_the_dtype():
    from training.autograd import sign_pm1

    for dt in (np.float32, np.float64):
        a = np.array([[-0.0, 0.0, -1e-30, 2.0, -3.0, np.inf, -np.inf, np.nan]], dtype=dt)
        got = sign_pm1(a)
        assert got.dtype == dt and got.tolist() == [[1, 1, -1, 1, -1, 1, -1, -1]]
