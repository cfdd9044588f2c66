"""Shared adder graph: the counts of many subsets of one input word, with common partial sums built once.

A layer of the core needs, for its input bits ``t`` (``k`` bits), the count ``T = sum_i t_i`` and for every
neuron ``j`` the count ``P_j = sum_{i in S_j} t_i`` of its selected inputs (:func:`fpga.render.selection`).
Counted one neuron at a time that is about one LUT per counted bit. Many neurons select the same pairs of
inputs, so the pair sum ``t_a + t_b`` can be built once and used by all of them (common subexpression
elimination; greedy, as in Paar's algorithm for constant matrix products):

1. repeatedly take the pair of terms (inputs or earlier sums) that the most rows still contain (at least two),
   add a node ``a + b`` and put it in those rows in place of ``a`` and ``b``;
2. sum what is left of every row by a tree no deeper than the deepest row needs (depth = adders on the
   longest path from the inputs): the smallest term is added to the largest one the depth allows, as an
   adder costs a LUT only where both operands have bits (``min(w_a, w_b)`` LUTs on a carry chain).

Every node is an unsigned two-operand adder: its value is at most ``hi`` (the number of inputs under it), its
width ``bit_length(hi)`` bits. ``sqnn_graph.v`` instantiates the graph from the tables of
:func:`fpga.render.render_structure`; the nodes of depth ``<= cut`` are computed in the first clock of the
layer, the others in the second from the registered values.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MAX_SHARED = 4096  # at most this many shared nodes (bounds time and the k + MAX_SHARED square of pair counts)


@dataclass(frozen=True)
class AdderGraph:
    """Adder graph over ``k`` input bits; signal ``s < k`` is input bit ``s``, signal ``k + n`` is node ``n``.

    Attributes
    ----------
    k : int
        Number of input bits.
    ops : ndarray of int64, shape (n_nodes, 2)
        Signal indices of the two operands of every node (node ``n`` = ``ops[n, 0] + ops[n, 1]``); operands
        come before the node.
    hi : ndarray of int64, shape (k + n_nodes,)
        Largest value of every signal (1 for an input bit).
    depth : ndarray of int64, shape (k + n_nodes,)
        Adders on the longest path from the inputs (0 for an input bit).
    roots : ndarray of int64, shape (n_rows,)
        Signal holding the count of every row, -1 for an empty row (count 0).
    stage : ndarray of int64, shape (k + n_nodes,)
        0: computed in the layer's first clock (inputs too), 1: in the second clock.
    """

    k: int
    ops: np.ndarray
    hi: np.ndarray
    depth: np.ndarray
    roots: np.ndarray
    stage: np.ndarray

    @property
    def n_nodes(self) -> int:
        return int(self.ops.shape[0])

    @property
    def width(self) -> np.ndarray:
        """Bits of every signal, ``bit_length(hi)``."""
        return np.array([int(h).bit_length() for h in self.hi], dtype=np.int64)


def _pair_counts(m: np.ndarray) -> np.ndarray:
    c = m.T.astype(np.int32) @ m.astype(np.int32)
    np.fill_diagonal(c, 0)
    return c


def build_graph(rows: list[np.ndarray], k: int) -> AdderGraph:
    """Greedy shared adder graph for the counts of ``rows`` (arrays of distinct input indices in ``[0, k)``).

    Deterministic: ties are broken by the smallest signal indices.
    """
    n_rows = len(rows)
    # columns: inputs, then the shared nodes as they are made (at most one per two row terms)
    cap = k + min(MAX_SHARED, max(1, sum(len(r) for r in rows) // 2))
    m = np.zeros((n_rows, cap), dtype=np.int8)
    for i, r in enumerate(rows):
        m[i, np.asarray(r, dtype=np.int64)] = 1
    ops: list[tuple[int, int]] = []
    hi = [1] * k
    depth = [0] * k
    c = np.zeros((cap, cap), dtype=np.int32)  # co-occurrence counts of every pair of columns
    c[:k, :k] = _pair_counts(m[:, :k])
    # best partner of every column (row max of c), recomputed only where it can have changed
    best = c.max(axis=1)
    n = k
    while n < cap:
        a = int(np.argmax(best))
        if best[a] < 2:
            break
        b = int(np.argmax(c[a]))
        rows_ab = np.flatnonzero(m[:, a] & m[:, b])
        m[rows_ab, a] = 0
        m[rows_ab, b] = 0
        m[rows_ab, n] = 1
        old = c[:n, [a, b]].copy()
        cols = m[:, : n + 1].astype(np.int32)
        for x in (a, b, n):
            cx = cols.T @ cols[:, x]
            cx[x] = 0
            c[x, : n + 1] = cx
            c[: n + 1, x] = cx
        ops.append((a, b))
        hi.append(hi[a] + hi[b])
        depth.append(1 + max(depth[a], depth[b]))
        # columns a and b only lost co-occurrences: a maximum taken there may have dropped
        lost = (old > c[:n, [a, b]]) & (old == best[:n, None])
        stale = np.union1d(np.flatnonzero(lost.any(axis=1)), [a, b])
        best[stale] = c[stale, : n + 1].max(axis=1)
        best[: n] = np.maximum(best[:n], c[:n, n])
        best[n] = c[n, : n + 1].max()
        n += 1
    row_terms = [[int(t) for t in np.flatnonzero(m[i, :n])] for i in range(n_rows)]
    top = max((_min_depth(ts, depth) for ts in row_terms if ts), default=0)
    roots = np.full(n_rows, -1, dtype=np.int64)
    for i, terms in enumerate(row_terms):
        if terms:
            roots[i] = _row_tree(terms, top, ops, hi, depth)
    return _staged(k, np.array(ops, dtype=np.int64).reshape(-1, 2), hi, depth, roots)


def _min_depth(terms: list[int], depth: list[int]) -> int:
    """Smallest depth of a two-input adder tree over ``terms``: ``ceil(log2(sum_t 2^depth_t))`` (Kraft)."""
    return max(0, (sum(1 << depth[t] for t in terms) - 1).bit_length())


def _row_tree(terms: list[int], top: int, ops: list, hi: list[int], depth: list[int]) -> int:
    """Sum ``terms`` by adders (appended to ``ops``, ``hi``, ``depth``) with root depth ``<= top``; returns
    the root.

    An adder costs a LUT per bit where both operands have bits, ``min(w_a, w_b)``: the smallest term is added
    to the largest one that keeps the tree within ``top`` (Kraft sum ``sum_t 2^depth_t <= 2^top``), else the
    two shallowest are joined (which never raises the smallest reachable depth).
    """
    budget = 1 << top
    kraft = sum(1 << depth[t] for t in terms)
    terms = list(terms)
    while len(terms) > 1:
        terms.sort(key=lambda t: (hi[t], depth[t], t))
        a, b = terms[0], None
        for t in reversed(terms[1:]):
            if kraft - (1 << depth[a]) - (1 << depth[t]) + (2 << max(depth[a], depth[t])) <= budget:
                b = t
                break
        if b is None:
            a, b = sorted(terms, key=lambda t: (depth[t], hi[t], t))[:2]
        terms.remove(a)
        terms.remove(b)
        kraft += (2 << max(depth[a], depth[b])) - (1 << depth[a]) - (1 << depth[b])
        ops.append((a, b))
        hi.append(hi[a] + hi[b])
        depth.append(1 + max(depth[a], depth[b]))
        terms.append(len(hi) - 1)
    return terms[0]


def _staged(k: int, ops: np.ndarray, hi: list[int], depth: list[int], roots: np.ndarray) -> AdderGraph:
    """Split the nodes between the layer's two clocks at the middle of the deepest root."""
    depth_a = np.array(depth, dtype=np.int64)
    top = max((int(depth_a[r]) for r in roots if r >= 0), default=0)
    cut = (top + 1) // 2 + 1  # the second clock also computes u = 2 P - T and the compare
    stage = (depth_a > cut).astype(np.int64)
    return AdderGraph(k, ops, np.array(hi, dtype=np.int64), depth_a, roots, stage)


def evaluate(graph: AdderGraph, bits: np.ndarray) -> np.ndarray:
    """Numpy twin of the graph: ``(n, k)`` 0/1 inputs -> ``(n, n_rows)`` int64 row counts."""
    bits = np.asarray(bits)
    if bits.ndim != 2 or bits.shape[1] != graph.k:
        raise ValueError(f"bits must have shape (n, {graph.k}), got {bits.shape}")
    values = np.zeros((bits.shape[0], graph.k + graph.n_nodes), dtype=np.int64)
    values[:, : graph.k] = bits != 0
    for n, (a, b) in enumerate(graph.ops):
        values[:, graph.k + n] = values[:, a] + values[:, b]
    out = np.zeros((bits.shape[0], graph.roots.size), dtype=np.int64)
    for i, r in enumerate(graph.roots):
        if r >= 0:
            out[:, i] = values[:, r]
    return out


__all__ = ["AdderGraph", "build_graph", "evaluate"]
