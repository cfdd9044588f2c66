"""A small reverse-mode automatic differentiation over numpy arrays (micrograd, vectorised).

One :class:`Tensor` class. Every operation builds its output together with a closure ``_backward`` that
adds the local vector-Jacobian product to its parents' ``grad``: the rule for each op sits next to its
forward. :meth:`Tensor.backward` runs the closures in reverse topological order.

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

__all__ = ["Tensor", "concat", "gradcheck", "unbroadcast"]

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
        self._backward: Callable[[], None] = lambda: None
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

    def _child(self, data, parents: tuple, op: str) -> Tensor:
        return Tensor(data, requires_grad=False, _parents=parents, _op=op)

    def backward(self, grad=None) -> None:
        """Accumulate ``d self / d leaf`` (times ``grad``, default 1 for scalars) into leaves' ``grad``."""
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
            if node.grad is not None and node._parents:
                node._backward()

    def zero_grad(self) -> None:
        """Forget the accumulated gradient."""
        self.grad = None

    def detach(self) -> Tensor:
        """The same value as a constant (no gradient flows through)."""
        return Tensor(self.data, requires_grad=False)

    # -- arithmetic ---------------------------------------------------------------------------------------
    def __add__(self, other) -> Tensor:
        other = _as_tensor(other, self)
        out = self._child(self.data + other.data, (self, other), "+")

        def _backward():
            self._acc(out.grad)
            other._acc(out.grad)

        out._backward = _backward
        return out

    __radd__ = __add__

    def __neg__(self) -> Tensor:
        out = self._child(-self.data, (self,), "neg")

        def _backward():
            self._acc(-out.grad)

        out._backward = _backward
        return out

    def __sub__(self, other) -> Tensor:
        other = _as_tensor(other, self)
        out = self._child(self.data - other.data, (self, other), "-")

        def _backward():
            self._acc(out.grad)
            other._acc(-out.grad)

        out._backward = _backward
        return out

    def __rsub__(self, other) -> Tensor:
        return _as_tensor(other, self) - self

    def __mul__(self, other) -> Tensor:
        other = _as_tensor(other, self)
        out = self._child(self.data * other.data, (self, other), "*")

        def _backward():
            self._acc(out.grad * other.data)
            other._acc(out.grad * self.data)

        out._backward = _backward
        return out

    __rmul__ = __mul__

    def __truediv__(self, other) -> Tensor:
        other = _as_tensor(other, self)
        out = self._child(self.data / other.data, (self, other), "/")

        def _backward():
            self._acc(out.grad / other.data)
            other._acc(-out.grad * self.data / other.data**2)

        out._backward = _backward
        return out

    def __rtruediv__(self, other) -> Tensor:
        return _as_tensor(other, self) / self

    def __pow__(self, c: float) -> Tensor:
        if isinstance(c, Tensor):
            raise TypeError("Tensor ** Tensor is not supported; the exponent must be a constant")
        out = self._child(self.data**c, (self,), f"**{c}")

        def _backward():
            self._acc(out.grad * c * self.data ** (c - 1))

        out._backward = _backward
        return out

    def __matmul__(self, other) -> Tensor:
        other = _as_tensor(other, self)
        out = self._child(self.data @ other.data, (self, other), "@")

        def _backward():
            if self.requires_grad:
                self._acc(out.grad @ np.swapaxes(other.data, -1, -2))
            if other.requires_grad:
                other._acc(np.swapaxes(self.data, -1, -2) @ out.grad)

        out._backward = _backward
        return out

    def __rmatmul__(self, other) -> Tensor:
        return _as_tensor(other) @ self

    # -- shape --------------------------------------------------------------------------------------------
    def sum(self, axis=None, keepdims: bool = False) -> Tensor:
        """Sum over ``axis``; the gradient is broadcast back."""
        out = self._child(self.data.sum(axis=axis, keepdims=keepdims), (self,), "sum")

        def _backward():
            g = out.grad
            if axis is not None and not keepdims:
                g = np.expand_dims(g, axis)
            self._acc(np.broadcast_to(g, self.data.shape))

        out._backward = _backward
        return out

    def mean(self, axis=None, keepdims: bool = False) -> Tensor:
        """Arithmetic mean over ``axis``."""
        count = self.data.size if axis is None else np.prod([self.data.shape[a] for a in np.atleast_1d(axis)])
        return self.sum(axis=axis, keepdims=keepdims) * (1.0 / float(count))

    def reshape(self, *shape) -> Tensor:
        """numpy ``reshape``; gradient reshaped back."""
        out = self._child(self.data.reshape(*shape), (self,), "reshape")

        def _backward():
            self._acc(out.grad.reshape(self.data.shape))

        out._backward = _backward
        return out

    @property
    def T(self) -> Tensor:
        """Transpose of a 2-D tensor."""
        out = self._child(self.data.T, (self,), "T")

        def _backward():
            self._acc(out.grad.T)

        out._backward = _backward
        return out

    def __getitem__(self, index) -> Tensor:
        out = self._child(self.data[index], (self,), "getitem")

        def _backward():
            g = np.zeros_like(self.data)
            np.add.at(g, index, out.grad)
            self._acc(g)

        out._backward = _backward
        return out

    def permute_columns(self, perm: np.ndarray) -> Tensor:
        """``x[:, perm]`` for a permutation ``perm`` of the columns; backward ``g[:, argsort(perm)]``."""
        perm = np.asarray(perm)
        inverse = np.argsort(perm)
        out = self._child(self.data[:, perm], (self,), "permute_columns")

        def _backward():
            self._acc(out.grad[:, inverse])

        out._backward = _backward
        return out

    # -- elementwise functions ----------------------------------------------------------------------------
    def exp(self) -> Tensor:
        """``e^x``; derivative ``e^x``."""
        val = np.exp(self.data)
        out = self._child(val, (self,), "exp")

        def _backward():
            self._acc(out.grad * val)

        out._backward = _backward
        return out

    def log(self) -> Tensor:
        """Natural log; derivative ``1/x``."""
        out = self._child(np.log(self.data), (self,), "log")

        def _backward():
            self._acc(out.grad / self.data)

        out._backward = _backward
        return out

    def sigmoid(self) -> Tensor:
        """``σ(x) = 1 / (1 + e^{−x})``; derivative ``σ(1 − σ)``."""
        val = _sigmoid(self.data)
        out = self._child(val, (self,), "sigmoid")

        def _backward():
            self._acc(out.grad * val * (1.0 - val))

        out._backward = _backward
        return out

    def log_sigmoid(self) -> Tensor:
        """``log σ(x) = −log(1 + e^{−x})`` computed stably; derivative ``1 − σ(x)``."""
        x = self.data
        out = self._child(np.minimum(x, 0.0) - np.log1p(np.exp(-np.abs(x))), (self,), "log_sigmoid")

        def _backward():
            self._acc(out.grad * (1.0 - _sigmoid(x)))

        out._backward = _backward
        return out

    def softplus(self) -> Tensor:
        """``log(1 + e^x)``; derivative ``σ(x)``."""
        x = self.data
        out = self._child(np.maximum(x, 0.0) + np.log1p(np.exp(-np.abs(x))), (self,), "softplus")

        def _backward():
            self._acc(out.grad * _sigmoid(x))

        out._backward = _backward
        return out

    def relu(self) -> Tensor:
        """``max(x, 0)``; derivative ``1[x > 0]``."""
        out = self._child(np.maximum(self.data, 0.0), (self,), "relu")

        def _backward():
            self._acc(out.grad * (self.data > 0))

        out._backward = _backward
        return out

    def tanh(self) -> Tensor:
        """``tanh x``; derivative ``1 − tanh² x``."""
        val = np.tanh(self.data)
        out = self._child(val, (self,), "tanh")

        def _backward():
            self._acc(out.grad * (1.0 - val * val))

        out._backward = _backward
        return out

    def binary_entropy(self, eps: float = 1e-7) -> Tensor:
        """``H_b(p) = −p log2 p − (1 − p) log2(1 − p)`` in bits; derivative ``log2((1 − p)/p)``.

        ``p`` is clipped to ``[eps, 1 − eps]`` inside the logarithms (value and gradient stay finite).
        """
        p = np.clip(self.data, eps, 1.0 - eps)
        val = -(p * np.log(p) + (1.0 - p) * np.log1p(-p)) / _LN2
        out = self._child(val, (self,), "H_b")

        def _backward():
            self._acc(out.grad * (np.log1p(-p) - np.log(p)) / _LN2)

        out._backward = _backward
        return out

    # -- straight-through estimators ---------------------------------------------------------------------
    def sign_ste(self) -> Tensor:
        """Forward ``sign(x)`` with ``sign(0) = +1``; backward the clipped identity ``1[|x| ≤ 1]``."""
        out = self._child(np.where(self.data >= 0, 1.0, -1.0).astype(self.data.dtype), (self,), "sign_ste")

        def _backward():
            self._acc(out.grad * (np.abs(self.data) <= 1.0))

        out._backward = _backward
        return out

    def ste(self, value) -> Tensor:
        """Forward ``value`` (e.g. a Bernoulli sample of ``self``), backward the identity ``d/dx = 1``."""
        value = np.asarray(value, dtype=self.data.dtype)
        if value.shape != self.data.shape:
            raise ValueError(f"ste value has shape {value.shape}, expected {self.data.shape}")
        out = self._child(value, (self,), "ste")

        def _backward():
            self._acc(out.grad)

        out._backward = _backward
        return out

    def grad_reverse(self, strength: float = 1.0) -> Tensor:
        """Gradient reversal (DANN): forward the identity, backward ``−strength · grad``."""
        out = self._child(self.data.copy(), (self,), "grad_reverse")

        def _backward():
            self._acc(-strength * out.grad)

        out._backward = _backward
        return out


def concat(tensors: list[Tensor], axis: int = 0) -> Tensor:
    """``np.concatenate`` of tensors; each parent receives its slice of the gradient."""
    tensors = [_as_tensor(t) for t in tensors]
    sizes = [t.data.shape[axis] for t in tensors]
    out = Tensor(np.concatenate([t.data for t in tensors], axis=axis), False, tuple(tensors), "concat")

    def _backward():
        parts = np.split(out.grad, np.cumsum(sizes)[:-1], axis=axis)
        for t, g in zip(tensors, parts, strict=True):
            t._acc(g)

    out._backward = _backward
    return out


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
