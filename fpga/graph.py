"""Shared adder graph: the counts of many subsets of one input word, with common partial sums built once.

A layer of the core needs, for its input bits ``t`` (``k`` bits), the count ``T = sum_i t_i`` and for every
neuron ``j`` the count ``P_j = sum_{i in S_j} t_i`` of its selected inputs (:func:`fpga.render.selection`).
Counted one neuron at a time that is about one LUT per counted bit. Many neurons select the same pairs of
inputs, so the pair sum ``t_a + t_b`` can be built once and used by all of them (common subexpression
elimination; greedy, as in Paar's algorithm for constant matrix products):

1. repeatedly take the pair of terms (inputs or earlier sums) that the most rows still contain (at least two),
   no deeper than the layer's first clock allows (depth = adders on the longest path from the inputs), add a
   node ``a + b`` and put it in those rows in place of ``a`` and ``b``;
2. pack what is left of every row into as few groups as the first clock can sum, and sum each group, then
   the group sums, by trees whose smallest term is added to the largest one the depth allows, as an adder
   costs a LUT only where both operands have bits (``min(w_a, w_b)`` LUTs on a carry chain);
3. place the register between the layer's two clocks where the fewest bits cross it (a minimum cut within
   the depth each clock allows): a few wide group sums per row rather than many narrow partial sums.

Every node is an unsigned two-operand adder: its value is at most ``hi`` (the number of inputs under it), its
width ``bit_length(hi)`` bits. ``sqnn_graph.v`` instantiates the graph from the tables of
:func:`fpga.render.render_structure`; the nodes of stage 0 are computed in the first clock of the layer, the
others in the second from the registered values.
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


def build_graph(rows: list[np.ndarray], k: int, *, tail: int = 2,
                shallow: tuple[int, ...] = ()) -> AdderGraph:
    """Greedy shared adder graph for the counts of ``rows`` (arrays of distinct input indices in ``[0, k)``).

    The second clock also holds ``tail`` adder levels after the counts (the neurons' compare). The first clock
    may hold ``d0 = (top + 2 tail - 1) // 2`` adders on any path and the second ``d1 = max(top - d0,
    d0 - tail)``, ``top`` being the depth the shared pairs need, so that both clocks are about as deep. Shared
    pairs are kept within ``d0``; each row's terms are packed into as few groups as the first clock can sum
    (Kraft sum ``<= 2^d0`` each), and the group sums are added in the second, so that few and wide partial
    sums cross the register; :func:`_fewest_register_bits` then places the register.

    Rows in ``shallow`` (the layer's ``T``, which passes one adder more, ``T + cut``, before the compare) are
    summed at their least depth, and that adder (and one more where the depth allows, for the fanout of ``T``
    to every neuron) counts in the second clock's depth.
    Deterministic: ties are broken by the smallest signal indices.
    """
    row_terms, ops, hi, depth = _shared_pairs(rows, k, None)
    top = max((_min_depth(ts, depth) for ts in row_terms if ts), default=0)
    d0 = (top + 2 * tail - 1) // 2
    d1 = max(top - d0, d0 - tail, 0)
    if max(depth, default=0) > d0:
        row_terms, ops, hi, depth = _shared_pairs(rows, k, d0)
    roots = np.full(len(rows), -1, dtype=np.int64)
    built: dict[tuple[tuple[int, ...], int], int] = {}  # the same terms, same depth: summed once

    def tree(terms: list[int], top: int) -> int:
        key = (tuple(sorted(terms)), top)
        if key not in built:
            built[key] = _row_tree(list(key[0]), top, ops, hi, depth)
        return built[key]

    for i, terms in enumerate(row_terms):
        if terms:
            groups = [tree(g, d0) for g in _pack(terms, d0, depth)]
            least = _min_depth(groups, depth)
            roots[i] = tree(groups, least if i in shallow else max(d0 + d1, least))
    depth_a = np.array(depth, dtype=np.int64)
    late = {int(roots[i]): 1 for i in shallow if roots[i] >= 0}  # one adder more than the other rows'
    # the trees may end shallower than the budget: the second clock holds what they need, or d0 - tail
    need = max((int(depth_a[r]) + late.get(int(r), 0) for r in roots if r >= 0), default=0)
    d1 = max(d0 - tail, need - d0, 0)
    # where the clocks leave room, a shallow row ends one adder earlier still: its many readers (every
    # neuron reads T) then have time for the routing of a high-fanout net
    late = {r: min(2, d0 + d1 - int(depth_a[r])) for r in late}
    hi_a = np.array(hi, dtype=np.int64)
    ops_a = np.array(ops, dtype=np.int64).reshape(-1, 2)
    stage = _fewest_register_bits(k, ops_a, hi_a, depth_a, roots, d0, d1, late)
    return AdderGraph(k, ops_a, hi_a, depth_a, roots, stage)


def _pack(terms: list[int], d0: int, depth: list[int]) -> list[list[int]]:
    """Terms in groups of Kraft sum ``sum_t 2^depth_t <= 2^d0`` (each summable within ``d0`` adders), deepest
    terms first, each into the first group it fits (first-fit decreasing)."""
    groups: list[list[int]] = []
    room: list[int] = []
    for t in sorted(terms, key=lambda t: (-depth[t], t)):
        need = 1 << depth[t]
        for g, r in enumerate(room):
            if need <= r:
                groups[g].append(t)
                room[g] -= need
                break
        else:
            groups.append([t])
            room.append((1 << d0) - need)
    return groups


def _shared_pairs(rows: list[np.ndarray], k: int, max_depth: int | None):
    """Greedy common-pair elimination: repeatedly add the pair of terms that most rows contain (at least two),
    of depth at most ``max_depth`` (None: any). Returns (terms of every row, ops, hi, depth)."""
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
        ops.append((a, b))
        hi.append(hi[a] + hi[b])
        depth.append(1 + max(depth[a], depth[b]))
        closed = max_depth is not None and depth[n] >= max_depth  # no pair may use node n
        for x in (a, b, n):
            cx = cols.T @ cols[:, x]
            cx[x] = 0
            if max_depth is not None:
                cx[[y for y in range(n + 1) if depth[y] >= max_depth]] = 0
                if depth[x] >= max_depth:
                    cx[:] = 0
            c[x, : n + 1] = cx
            c[: n + 1, x] = cx
        # columns a and b only lost co-occurrences: a maximum taken there may have dropped
        lost = (old > c[:n, [a, b]]) & (old == best[:n, None])
        stale = np.union1d(np.flatnonzero(lost.any(axis=1)), [a, b])
        best[stale] = c[stale, : n + 1].max(axis=1)
        best[: n] = np.maximum(best[:n], c[:n, n])
        best[n] = 0 if closed else c[n, : n + 1].max()
        n += 1
    row_terms = [[int(t) for t in np.flatnonzero(m[i, :n])] for i in range(n_rows)]
    return row_terms, ops, hi, depth


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


def _fewest_register_bits(k: int, ops: np.ndarray, hi: np.ndarray, depth: np.ndarray, roots: np.ndarray,
                          d0: int, d1: int, late: dict[int, int] | None = None) -> np.ndarray:
    """Stage (0: first clock, 1: second) of every signal minimising the registered bits, by a minimum cut.

    A signal ``u`` of width ``w_u`` is registered when it is computed in the first clock (``x_u = 0``) and
    read in the second (by a node with ``x_c = 1``, or as a row count: rows are read in the second clock).
    With ``z_u = max_c x_c`` over its readers, the registered bits are ``sum_u w_u (z_u - x_u)``, minimised
    subject to ``x_a <= x_c`` for every operand ``a`` of ``c`` (no first-clock node reads a second-clock
    value), ``x = 0`` for the inputs and for nodes more than ``d1`` adders below a root (the second clock's
    longest path; ``late`` maps a root to the adders that follow it there beyond the other rows'), ``x = 1``
    for nodes deeper than ``d0``. Every constraint is an implication between two
    binary variables, so the optimum is a minimum s-t cut (value 1 = sink side; an edge is cut from the
    source side to the sink side): ``w_u`` on s -> z_u (paid if z_u = 1) and on x_u -> t (paid if x_u = 0),
    unbounded edges a -> b for ``a >= b``, s -> v for ``v = 0`` and v -> t for ``v = 1``.
    """
    from scipy.sparse import csr_array
    from scipy.sparse.csgraph import maximum_flow

    n_sig = hi.size
    width = np.array([int(h).bit_length() for h in hi], dtype=np.int64)
    height = np.zeros(n_sig, dtype=np.int64)  # adders on the longest path from the signal up to a row count
    for root, extra in (late or {}).items():
        height[root] = max(height[root], extra)
    for n in range(ops.shape[0] - 1, -1, -1):
        for a in ops[n]:
            height[a] = max(height[a], height[k + n] + 1)
    is_node = np.arange(n_sig) >= k
    fixed_one = is_node & (depth > d0)
    fixed_zero = ~is_node | (height + 1 > d1)  # height + 1: the node itself is an adder of the second clock
    if np.any(fixed_one & fixed_zero):  # cannot happen when d0 + d1 >= top
        raise AssertionError("no two-clock split within the depth bounds")
    big = int(width.sum()) + 1
    src, snk = 2 * n_sig, 2 * n_sig + 1  # x_u = u, z_u = n_sig + u
    edges: list[tuple[int, int, int]] = []
    for u in range(n_sig):
        edges += [(src, n_sig + u, int(width[u])), (u, snk, int(width[u]))]
        if fixed_one[u]:
            edges.append((u, snk, big))
        if fixed_zero[u]:
            edges.append((src, u, big))
    for n, (a, b) in enumerate(ops):
        c = k + n
        for x in (a, b):
            edges += [(c, int(x), big), (n_sig + int(x), c, big)]  # x_c >= x_a, z_a >= x_c
    for r in roots:
        if r >= 0:
            edges.append((n_sig + int(r), snk, big))  # read in the second clock
    e = np.array(edges, dtype=np.int64)
    cap = csr_array((e[:, 2].astype(np.int32), (e[:, 0], e[:, 1])), shape=(snk + 1, snk + 1))
    cap.sum_duplicates()
    flow = maximum_flow(cap, src, snk).flow
    residual = (cap - flow).tocsr()
    residual.eliminate_zeros()
    # source side of the minimum cut: reachable from s through edges with residual capacity left
    seen = np.zeros(snk + 1, dtype=bool)
    seen[src] = True
    todo = [src]
    indptr, indices, data = residual.indptr, residual.indices, residual.data
    while todo:
        v = todo.pop()
        for j in range(indptr[v], indptr[v + 1]):
            w = indices[j]
            if data[j] > 0 and not seen[w]:
                seen[w] = True
                todo.append(w)
    return (~seen[:n_sig]).astype(np.int64)


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
