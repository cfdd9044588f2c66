"""A small reverse-mode automatic differentiation over numpy arrays (micrograd, vectorised).

One :class:`Tensor` class. Every operation builds its output together with a closure ``_backward(g)`` that
adds the local vector-Jacobian product of ``g = ∂L/∂out`` to its parents' ``grad``: the rule for each op sits
next to its forward. :meth:`Tensor.backward` runs the closures in reverse topological order and releases the
graph as it goes. A closure refers to its op's inputs, never to its output, so a graph holds no reference
cycle: it is freed by reference counting (not by the cycle collector) when the last reference goes.

Broadcasting follows numpy; gradients flowing into a broadcast operand are summed back to its shape
(:func:`unbroadcast`). :func:`gradcheck` compares the analytic gradients with central finite differences.

Ops (forward → local derivative):

* ``a + b``, ``a - b``, ``a * b``, ``a / b``, ``-a``, ``a ** c`` (c constant)
* ``a @ b`` → ``dA = G Bᵀ``, ``dB = Aᵀ G``
* ``sum``/``mean`` (axis, keepdims), ``reshape``, ``T``, ``a[index]``
* ``exp``, ``log`` (``1/x``), ``sigmoid`` (σ(1−σ)), ``softplus`` (σ), ``relu``, ``tanh``
* ``log_sigmoid`` (numerically stable ``−softplus(−x)``), ``binary_entropy`` (``H_b(p)`` in bits,
  ``dH/dp = log2((1−p)/p)``)
* straight-through estimators: ``sign_ste`` (forward ``sign``, backward ``1[|x| ≤ 1]``),
  ``ste(forward_value)`` (forward a given value, backward identity), ``grad_reverse(λ)`` (forward identity,
  backward ``−λ``)
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.special import expit

__all__ = ["Tensor", "concat", "gradcheck", "sign_pm1", "ste_window", "unbroadcast"]

_LN2 = float(np.log(2.0))


def unbroadcast(grad: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum ``grad`` over the axes that numpy broadcasting added or stretched to reach it from ``shape``."""
    if grad.shape == shape:
        return grad
    while grad.ndim > len(shape):
        grad = grad.sum(axis=0)
    for axis, size in enumerate(shape):
        if size == 1 and grad.shape[axis] != 1:
            grad = grad.sum(axis=axis, keepdims=True)
    return grad


def sign_pm1(a: np.ndarray) -> np.ndarray:
    """``sign(a)`` as ±1 in ``a``'s dtype, with ``sign(0) = +1`` (the binary weights' rule)."""
    out = (a >= 0).astype(a.dtype)  # {0, 1}, then 2 · − 1 (exact); np.where on 2-D arrays is ~15x slower
    out *= 2
    out -= 1
    return out


def ste_window(a: np.ndarray) -> np.ndarray:
    """The straight-through estimator's gradient window ``1[|a| ≤ 1]`` of :func:`sign_pm1`."""
    return np.abs(a) <= 1.0


def _as_tensor(x, like: Tensor | None = None) -> Tensor:
    """Wrap a constant; Python scalars take the dtype of ``like`` (so float32 graphs stay float32)."""
    if isinstance(x, Tensor):
        return x
    if like is not None and isinstance(x, (int, float, np.integer, np.floating)):
        return Tensor(np.asarray(x, dtype=like.data.dtype), requires_grad=False)
    return Tensor(x, requires_grad=False)


class Tensor:
    """A numpy array with a gradient and the closure that propagates it.

    Parameters
    ----------
    data : array_like
        Value; stored as a float array (float64 unless a float32 array is given).
    requires_grad : bool, default True
        Leaves with ``requires_grad=False`` (constants) accumulate no gradient.
    """

    __array_priority__ = 100.0

    def __init__(self, data, requires_grad: bool = True, _parents: tuple = (), _op: str = ""):
        arr = np.asarray(data)
        if arr.dtype != np.float32:
            arr = arr.astype(np.float64, copy=False)
        self.data = arr
        self.requires_grad = bool(requires_grad) or any(p.requires_grad for p in _parents)
        self.grad: np.ndarray | None = None
        self._parents = _parents
        self._backward: Callable[[np.ndarray], None] | None = None
        self._op = _op

    # -- plumbing -----------------------------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of ``data``."""
        return self.data.shape

    def __repr__(self) -> str:
        return f"Tensor(shape={self.shape}, op={self._op or 'leaf'!r})"

    def _acc(self, g: np.ndarray) -> None:
        # Gradients are never modified in place, so an incoming array may be stored without a copy even if
        # another node holds it too (e.g. both operands of ``+``): accumulation allocates a new array.
        if not self.requires_grad:
            return
        g = unbroadcast(np.asarray(g), self.data.shape)
        if g.dtype != self.data.dtype:
            g = g.astype(self.data.dtype)
        self.grad = g if self.grad is None else self.grad + g

    def _child(self, data, parents: tuple, op: str, backward: Callable[[np.ndarray], None]) -> Tensor:
        """The output of ``op`` on ``parents``; ``backward(g)`` adds the parents' shares of ``g = ∂L/∂out``.

        ``backward`` must not refer to the output tensor (only to the parents and arrays): the graph then has
        no reference cycle and is freed by reference counting as soon as the caller drops it. If no parent
        needs a gradient the output is a constant and keeps neither parents nor ``backward``.
        """
        if not any(p.requires_grad for p in parents):
            return Tensor(data, requires_grad=False, _op=op)
        out = Tensor(data, requires_grad=True, _parents=parents, _op=op)
        out._backward = backward
        return out

    def backward(self, grad=None) -> None:
        """Accumulate ``d self / d leaf`` (times ``grad``, default 1 for scalars) into leaves' ``grad``.

        The graph is released on the way (as ``retain_graph=False`` in PyTorch): once a node has passed its
        gradient to its parents it drops its ``backward`` closure, its parents and its gradient, so every
        intermediate array can be freed during the backward pass. Leaves keep their accumulated ``grad``;
        a second ``backward`` through the same interior node raises ``RuntimeError``.
        """
        if self._op and not self._parents and self.requires_grad:
            raise RuntimeError(f"backward() through {self!r} again: its graph was released by the first call")
        topo: list[Tensor] = []
        seen: set[int] = set()
        stack = [(self, False)]
        while stack:
            node, done = stack.pop()
            if done:
                topo.append(node)
                continue
            if id(node) in seen:
                continue
            seen.add(id(node))
            stack.append((node, True))
            stack.extend((p, False) for p in node._parents if id(p) not in seen)
        if grad is None:
            if self.data.size != 1:
                raise ValueError("backward() without grad needs a scalar output")
            grad = np.ones_like(self.data)
        self.grad = np.asarray(grad, dtype=self.data.dtype).reshape(self.data.shape).copy()
        for node in reversed(topo):
            if not node._parents:
                continue  # a leaf: keeps its gradient
            g, backward = node.grad, node._backward
            node.grad, node._backward, node._parents = None, None, ()
            if g is not None:
                backward(g)

    def zero_grad(self) -> None:
        """Forget the accumulated gradient."""
        self.grad = None

    def detach(self) -> Tensor:
        """The same value as a constant (no gradient flows through)."""
        return Tensor(self.data, requires_grad=False)

    # -- arithmetic ---------------------------------------------------------------------------------------
    def __add__(self, other) -> Tensor:
        other = _as_tensor(other, self)

        def _backward(g):
            self._acc(g)
            other._acc(g)

        return self._child(self.data + other.data, (self, other), "+", _backward)

    __radd__ = __add__

    def __neg__(self) -> Tensor:

        def _backward(g):
            self._acc(-g)

        return self._child(-self.data, (self,), "neg", _backward)

    def __sub__(self, other) -> Tensor:
        other = _as_tensor(other, self)

        def _backward(g):
            self._acc(g)
            other._acc(-g)

        return self._child(self.data - other.data, (self, other), "-", _backward)

    def __rsub__(self, other) -> Tensor:
        return _as_tensor(other, self) - self

    def __mul__(self, other) -> Tensor:
        other = _as_tensor(other, self)

        def _backward(g):
            self._acc(g * other.data)
            other._acc(g * self.data)

        return self._child(self.data * other.data, (self, other), "*", _backward)

    __rmul__ = __mul__

    def __truediv__(self, other) -> Tensor:
        other = _as_tensor(other, self)

        def _backward(g):
            self._acc(g / other.data)
            other._acc(-g * self.data / other.data**2)

        return self._child(self.data / other.data, (self, other), "/", _backward)

    def __rtruediv__(self, other) -> Tensor:
        return _as_tensor(other, self) / self

    def __pow__(self, c: float) -> Tensor:
        if isinstance(c, Tensor):
            raise TypeError("Tensor ** Tensor is not supported; the exponent must be a constant")

        def _backward(g):
            self._acc(g * c * self.data ** (c - 1))

        return self._child(self.data**c, (self,), f"**{c}", _backward)

    def __matmul__(self, other) -> Tensor:
        other = _as_tensor(other, self)

        def _backward(g):
            if self.requires_grad:
                self._acc(g @ np.swapaxes(other.data, -1, -2))
            if other.requires_grad:
                other._acc(np.swapaxes(self.data, -1, -2) @ g)

        return self._child(self.data @ other.data, (self, other), "@", _backward)

    def __rmatmul__(self, other) -> Tensor:
        return _as_tensor(other) @ self

    # -- shape --------------------------------------------------------------------------------------------
    def sum(self, axis=None, keepdims: bool = False) -> Tensor:
        """Sum over ``axis``; the gradient is broadcast back."""

        def _backward(g):
            if axis is not None and not keepdims:
                g = np.expand_dims(g, axis)
            self._acc(np.broadcast_to(g, self.data.shape))

        return self._child(self.data.sum(axis=axis, keepdims=keepdims), (self,), "sum", _backward)

    def mean(self, axis=None, keepdims: bool = False) -> Tensor:
        """Arithmetic mean over ``axis``."""
        count = self.data.size if axis is None else np.prod([self.data.shape[a] for a in np.atleast_1d(axis)])
        return self.sum(axis=axis, keepdims=keepdims) * (1.0 / float(count))

    def reshape(self, *shape) -> Tensor:
        """numpy ``reshape``; gradient reshaped back."""

        def _backward(g):
            self._acc(g.reshape(self.data.shape))

        return self._child(self.data.reshape(*shape), (self,), "reshape", _backward)

    @property
    def T(self) -> Tensor:
        """Transpose of a 2-D tensor."""

        def _backward(g):
            self._acc(g.T)

        return self._child(self.data.T, (self,), "T", _backward)

    def __getitem__(self, index) -> Tensor:
        def _backward(g):
            full = np.zeros_like(self.data)
            np.add.at(full, index, g)
            self._acc(full)

        return self._child(self.data[index], (self,), "getitem", _backward)

    def permute_columns(self, perm: np.ndarray) -> Tensor:
        """``x[:, perm]`` for a permutation ``perm`` of the columns; backward ``g[:, argsort(perm)]``."""
        perm = np.asarray(perm)
        inverse = np.argsort(perm)

        def _backward(g):
            self._acc(g[:, inverse])

        return self._child(self.data[:, perm], (self,), "permute_columns", _backward)

    # -- elementwise functions ----------------------------------------------------------------------------
    def exp(self) -> Tensor:
        """``e^x``; derivative ``e^x``."""
        val = np.exp(self.data)

        def _backward(g):
            self._acc(g * val)

        return self._child(val, (self,), "exp", _backward)

    def log(self) -> Tensor:
        """Natural log; derivative ``1/x``."""

        def _backward(g):
            self._acc(g / self.data)

        return self._child(np.log(self.data), (self,), "log", _backward)

    def sigmoid(self) -> Tensor:
        """``σ(x) = 1 / (1 + e^{−x})``; derivative ``σ(1 − σ)``."""
        val = _sigmoid(self.data)

        def _backward(g):
            self._acc(g * val * (1.0 - val))

        return self._child(val, (self,), "sigmoid", _backward)

    def log_sigmoid(self) -> Tensor:
        """``log σ(x) = −log(1 + e^{−x})`` computed stably; derivative ``1 − σ(x)``."""
        x = self.data

        def _backward(g):
            self._acc(g * (1.0 - _sigmoid(x)))

        val = np.minimum(x, 0.0) - np.log1p(np.exp(-np.abs(x)))
        return self._child(val, (self,), "log_sigmoid", _backward)

    def softplus(self) -> Tensor:
        """``log(1 + e^x)``; derivative ``σ(x)``."""
        x = self.data

        def _backward(g):
            self._acc(g * _sigmoid(x))

        val = np.maximum(x, 0.0) + np.log1p(np.exp(-np.abs(x)))
        return self._child(val, (self,), "softplus", _backward)

    def relu(self) -> Tensor:
        """``max(x, 0)``; derivative ``1[x > 0]``."""

        def _backward(g):
            self._acc(g * (self.data > 0))

        return self._child(np.maximum(self.data, 0.0), (self,), "relu", _backward)

    def tanh(self) -> Tensor:
        """``tanh x``; derivative ``1 − tanh² x``."""
        val = np.tanh(self.data)

        def _backward(g):
            self._acc(g * (1.0 - val * val))

        return self._child(val, (self,), "tanh", _backward)

    def binary_entropy(self, eps: float = 1e-7) -> Tensor:
        """``H_b(p) = −p log2 p − (1 − p) log2(1 − p)`` in bits; derivative ``log2((1 − p)/p)``.

        ``p`` is clipped to ``[eps, 1 − eps]`` inside the logarithms (value and gradient stay finite).
        """
        p = np.clip(self.data, eps, 1.0 - eps)
        val = -(p * np.log(p) + (1.0 - p) * np.log1p(-p)) / _LN2

        def _backward(g):
            self._acc(g * (np.log1p(-p) - np.log(p)) / _LN2)

        return self._child(val, (self,), "H_b", _backward)

    # -- straight-through estimators ---------------------------------------------------------------------
    def sign_ste(self) -> Tensor:
        """Forward ``sign(x)`` with ``sign(0) = +1``; backward the clipped identity ``1[|x| ≤ 1]``."""

        def _backward(g):
            self._acc(g * ste_window(self.data))

        return self._child(sign_pm1(self.data), (self,), "sign_ste", _backward)

    def ste(self, value, scale: float = 1.0) -> Tensor:
        """Forward ``value`` (e.g. a Bernoulli sample of ``self``), backward ``d/dx = scale`` (default the
        identity; ``x.ste(v, 2.0)`` is ``(2x − 1).ste(v)`` in one op: a ±1 sample of ``2θ − 1``)."""
        value = np.asarray(value, dtype=self.data.dtype)
        if value.shape != self.data.shape:
            raise ValueError(f"ste value has shape {value.shape}, expected {self.data.shape}")

        def _backward(g):
            self._acc(g if scale == 1.0 else g * scale)

        return self._child(value, (self,), "ste", _backward)

    def grad_reverse(self, strength: float = 1.0) -> Tensor:
        """Gradient reversal (DANN): forward the identity, backward ``−strength · grad``."""

        def _backward(g):
            self._acc(-strength * g)

        return self._child(self.data.copy(), (self,), "grad_reverse", _backward)


def concat(tensors: list[Tensor], axis: int = 0) -> Tensor:
    """``np.concatenate`` of tensors; each parent receives its slice of the gradient."""
    tensors = [_as_tensor(t) for t in tensors]
    sizes = [t.data.shape[axis] for t in tensors]

    def _backward(g):
        parts = np.split(g, np.cumsum(sizes)[:-1], axis=axis)
        for t, part in zip(tensors, parts, strict=True):
            t._acc(part)

    return tensors[0]._child(np.concatenate([t.data for t in tensors], axis=axis), tuple(tensors), "concat",
                             _backward)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    """Numerically stable logistic function ``1 / (1 + e^{−x})`` (scipy's ``expit``), dtype preserved."""
    return expit(x)


def gradcheck(
    f: Callable[..., Tensor],
    inputs: list[np.ndarray],
    *,
    eps: float = 1e-6,
    rtol: float = 1e-4,
    atol: float = 1e-6,
    weights: np.ndarray | None = None,
) -> bool:
    """Compare the autograd gradient of ``L = Σ w ⊙ f(inputs)`` with central differences.

    ``∂L/∂x_j ≈ (L(x + ε e_j) − L(x − ε e_j)) / 2ε`` for every element of every input (float64).

    Parameters
    ----------
    f : callable
        Maps Tensors (one per input) to a Tensor.
    inputs : list of float arrays
        Points at which to check.
    weights : array, optional
        Fixed random weights ``w`` for a non-scalar output (default: a seeded standard normal draw).

    Returns
    -------
    bool
        True if every gradient element agrees; otherwise raises ``AssertionError`` naming the worst element.
    """
    inputs = [np.array(x, dtype=np.float64) for x in inputs]
    tensors = [Tensor(x) for x in inputs]
    out = f(*tensors)
    if weights is None:
        weights = np.random.default_rng(12345).standard_normal(out.data.shape)
    (out * weights).sum().backward()
    for i, (x, t) in enumerate(zip(inputs, tensors, strict=True)):
        analytic = np.zeros_like(x) if t.grad is None else t.grad
        numeric = np.zeros_like(x)
        for j in np.ndindex(x.shape):
            orig = x[j]
            x[j] = orig + eps
            plus = float((f(*[Tensor(v) for v in inputs]).data * weights).sum())
            x[j] = orig - eps
            minus = float((f(*[Tensor(v) for v in inputs]).data * weights).sum())
            x[j] = orig
            numeric[j] = (plus - minus) / (2 * eps)
        if not np.allclose(analytic, numeric, rtol=rtol, atol=atol):
            k = np.unravel_index(np.argmax(np.abs(analytic - numeric)), x.shape)
            raise AssertionError(
                f"gradcheck failed for input {i} at {k}: "
                f"analytic {analytic[k]:.6g} vs numeric {numeric[k]:.6g}"
            )
    return True
