r"""Graph transforms (PyG ``BaseTransform``\ s) that turn a graph into per-node hop tokens.

:class:`HopTokens` is the one-off propagation of the hop-token iMixer: with the GCN-normalised
adjacency :math:`\hat A = \tilde D^{-1/2}(A + I)\tilde D^{-1/2}`,

.. math::
    T_v = \big[\, x_v,\; (\hat A X)_v,\; (\hat A^2 X)_v,\; \dots,\; (\hat A^K X)_v \,\big]
    \in \mathbb{R}^{(K+1) \times F},

computed once per graph with sparse products, after which every node is an independent
fixed-length sequence and training runs on mini-batches of nodes. On a directed graph
(``directed=True``) a node gets :math:`2K+1` tokens: its features, :math:`K` hops over in-neighbours
and :math:`K` hops over out-neighbours (:func:`directed_adjacency`).

:class:`StructuralFeatures` gives graphs without node features (polblogs, football) features from
their structure alone: the eigenvectors of the normalised Laplacian
:math:`L = I - D^{-1/2} A D^{-1/2}` belonging to the smallest non-trivial eigenvalues (a spectral
embedding, Belkin & Niyogi 2003), plus the standardised log-degree (log in- and out-degree on a
directed graph), optionally one-hot node ids.
"""
from __future__ import annotations

from typing import Optional, Tuple

import numpy as np
import torch
from torch import Tensor
from torch_geometric.data import Data
from torch_geometric.nn.conv.gcn_conv import gcn_norm
from torch_geometric.transforms import BaseTransform
from torch_geometric.utils import add_remaining_self_loops, degree, to_torch_coo_tensor, to_undirected

from backbones.registry import TRANSFORMS


def normalized_adjacency(edge_index: Tensor, num_nodes: int, edge_weight: Optional[Tensor] = None,
                         add_self_loops: bool = True, dtype: torch.dtype = torch.float32) -> Tensor:
    r"""The sparse matrix :math:`\hat A = \tilde D^{-1/2}(A + I)\tilde D^{-1/2}` (PyG's ``gcn_norm``).

    Row ``i`` holds the weights of the messages node ``i`` receives (``source_to_target`` flow), so
    ``A_hat @ X`` is one GCN propagation step.

    Args:
        edge_index: ``(2, E)`` edges ``(source, target)``.
        num_nodes: ``N``.
        edge_weight: optional ``(E,)`` weights.
        add_self_loops: add :math:`I` before normalising.
        dtype: value dtype.

    Returns:
        ``(N, N)`` sparse COO tensor (coalesced).
    """
    ei, w = gcn_norm(edge_index, edge_weight, num_nodes, add_self_loops=add_self_loops, dtype=dtype)
    with torch.sparse.check_sparse_tensor_invariants(enable=True):  # cheap here; also keeps torch quiet
        return to_torch_coo_tensor(ei.flip(0), w, size=(num_nodes, num_nodes))


def directed_adjacency(edge_index: Tensor, num_nodes: int, edge_weight: Optional[Tensor] = None,
                       add_self_loops: bool = True, dtype: torch.dtype = torch.float32) -> Tuple[Tensor, Tensor]:
    r"""The in- and out-neighbour propagation matrices of a directed graph.

    Each edge :math:`u \to v` (``edge_index[:, e] = (u, v)``, self-loops added when asked) gets the
    weight :math:`w_{uv} = (\tilde d^{out}_u)^{-1/2} (\tilde d^{in}_v)^{-1/2}` (the directed
    normalisation of Rossi et al., *Edge directionality improves learning on heterophilic graphs*,
    2023). ``P_in[v, u] = w_uv`` aggregates what a node receives, ``P_out = P_in^T`` what it points to.
    On a symmetric graph both equal :func:`normalized_adjacency`.

    Returns:
        ``(P_in, P_out)``, ``(N, N)`` sparse COO tensors (coalesced).
    """
    if edge_weight is None:
        edge_weight = torch.ones(edge_index.size(1), dtype=dtype)
    if add_self_loops:
        edge_index, edge_weight = add_remaining_self_loops(edge_index, edge_weight, 1.0, num_nodes)
    w = edge_weight.to(dtype)
    d_out = torch.zeros(num_nodes, dtype=dtype).scatter_add_(0, edge_index[0], w)
    d_in = torch.zeros(num_nodes, dtype=dtype).scatter_add_(0, edge_index[1], w)
    inv_sqrt = lambda d: torch.where(d > 0, d.clamp_min(1e-12).pow(-0.5), torch.zeros_like(d))  # noqa: E731
    w = inv_sqrt(d_out)[edge_index[0]] * w * inv_sqrt(d_in)[edge_index[1]]
    with torch.sparse.check_sparse_tensor_invariants(enable=True):
        return (to_torch_coo_tensor(edge_index.flip(0), w, size=(num_nodes, num_nodes)),
                to_torch_coo_tensor(edge_index, w, size=(num_nodes, num_nodes)))


def num_hop_tokens(num_hops: int, directed: bool = False) -> int:
    """Tokens per node: ``K + 1``, or ``2K + 1`` for in- and out-neighbour hops on a directed graph."""
    return 2 * num_hops + 1 if directed else num_hops + 1


@TRANSFORMS.register_module()
class HopTokens(BaseTransform):
    r"""Stack the node features propagated over 0..K hops into ``data.hop_tokens``.

    .. math::
        \mathrm{hop\_tokens}[v, k] = (\hat A^k X)_v, \qquad k = 0, \dots, K,

    with :math:`\hat A` the symmetric-normalised adjacency with self-loops (see
    :func:`normalized_adjacency`); the graph should then be undirected
    (:func:`tasks.graph.data.prepare_graph` symmetrises directed input). With ``directed=True`` the
    edges keep their direction and

    .. math::
        \mathrm{hop\_tokens}[v] = \big[x_v,\ (P_{in} X)_v, \dots, (P_{in}^K X)_v,\
        (P_{out} X)_v, \dots, (P_{out}^K X)_v\big]

    (see :func:`directed_adjacency`): what reaches ``v`` along the edges and what ``v`` reaches.

    Args:
        num_hops: ``K``; the model sees ``K + 1`` tokens per node (``2K + 1`` when directed).
        add_self_loops: use :math:`A + I` (GCN); ``False`` propagates over :math:`D^{-1/2}AD^{-1/2}`.
        directed: separate in- and out-neighbour hops over the directed edges.

    Shapes:
        ``data.x``: ``(N, F)`` -> ``data.hop_tokens``: ``(N, K + 1, F)`` or ``(N, 2K + 1, F)`` (float32).
    """

    def __init__(self, num_hops: int = 3, add_self_loops: bool = True, directed: bool = False) -> None:
        if num_hops < 0:
            raise ValueError(f"num_hops must be >= 0, got {num_hops}")
        self.num_hops, self.add_self_loops, self.directed = int(num_hops), bool(add_self_loops), bool(directed)

    def forward(self, data: Data) -> Data:
        if data.x is None:
            raise ValueError("HopTokens needs node features data.x; graphs without features need "
                             "StructuralFeatures (or features='structural' in NodeDataset) first")
        x = data.x.float()
        args = (data.edge_index, data.num_nodes, data.get("edge_weight"), self.add_self_loops)
        adjs = directed_adjacency(*args) if self.directed else (normalized_adjacency(*args),)
        tokens = [x]
        for adj in adjs:
            h = x
            for _ in range(self.num_hops):
                h = adj @ h
                tokens.append(h)
        data.hop_tokens = torch.stack(tokens, dim=1)
        return data

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}(num_hops={self.num_hops}, add_self_loops={self.add_self_loops}, "
                f"directed={self.directed})")


@TRANSFORMS.register_module()
class StructuralFeatures(BaseTransform):
    r"""Node features from the graph structure alone (for graphs that have none).

    Columns, in order:

    * ``spectral_dim`` Laplacian eigenvectors: with :math:`L = I - D^{-1/2} A D^{-1/2}` and
      :math:`L u_i = \lambda_i u_i`, :math:`0 = \lambda_0 \le \lambda_1 \le \dots`, the vectors
      :math:`u_1, \dots, u_{d}` (the trivial :math:`u_0` is skipped), each scaled by
      :math:`\sqrt N` so entries are :math:`O(1)`, its sign fixed so that its largest-magnitude
      entry (the first one, on ties) is positive (eigenvectors of repeated eigenvalues are only
      defined up to a rotation);
    * ``degree``: the standardised :math:`\log(1 + d_v)`; with ``directed=True`` two columns, the
      standardised log in-degree and log out-degree;
    * ``onehot``: the identity matrix (the usual featureless-GCN input; ``N`` columns).

    Args:
        spectral_dim: number of eigenvectors (``0``: none). Capped at ``N - 2`` with a clear error.
        degree: add the log-degree column.
        onehot: add ``N`` one-hot id columns.
        cat: append to an existing ``data.x`` instead of replacing it.
        directed: the edges are directed: in- and out-degree columns, and the spectral embedding of
            the symmetrised graph.

    Shapes:
        ``data.edge_index``: ``(2, E)`` -> ``data.x``: ``(N, F')``.
    """

    def __init__(self, spectral_dim: int = 16, degree: bool = True, onehot: bool = False, cat: bool = False,
                 directed: bool = False) -> None:
        if spectral_dim < 0:
            raise ValueError(f"spectral_dim must be >= 0, got {spectral_dim}")
        if not (spectral_dim or degree or onehot):
            raise ValueError("StructuralFeatures with spectral_dim=0, degree=False and onehot=False makes no features")
        self.spectral_dim, self.degree, self.onehot, self.cat = int(spectral_dim), degree, onehot, cat
        self.directed = bool(directed)

    def forward(self, data: Data) -> Data:
        n = data.num_nodes
        ei = data.edge_index
        cols = []
        if self.spectral_dim:
            cols.append(spectral_embedding(to_undirected(ei, num_nodes=n) if self.directed else ei, n,
                                           self.spectral_dim))
        if self.degree:
            for end in ((1, 0) if self.directed else (1,)):  # in-degree (targets), then out-degree (sources)
                logd = torch.log1p(degree(ei[end], n))
                cols.append(((logd - logd.mean()) / logd.std().clamp_min(1e-6)).unsqueeze(1))
        if self.onehot:
            cols.append(torch.eye(n))
        feats = torch.cat(cols, dim=1).float()
        data.x = torch.cat([data.x.float(), feats], dim=1) if (self.cat and data.x is not None) else feats
        return data

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}(spectral_dim={self.spectral_dim}, degree={self.degree}, "
                f"onehot={self.onehot}, cat={self.cat}, directed={self.directed})")


def spectral_embedding(edge_index: Tensor, num_nodes: int, dim: int) -> Tensor:
    r"""The ``dim`` eigenvectors of :math:`I - D^{-1/2} A D^{-1/2}` after the trivial one.

    Dense ``eigh`` up to 3,000 nodes, ARPACK (``scipy.sparse.linalg.eigsh``) above. Isolated nodes
    get zero rows. See :class:`StructuralFeatures` for scaling and sign.

    Returns:
        ``(N, dim)`` float32.
    """
    import scipy.sparse as sp

    if dim > num_nodes - 2:
        raise ValueError(f"spectral_dim={dim} needs a graph with at least {dim + 2} nodes, this one has "
                         f"{num_nodes}; lower spectral_dim")
    ei = edge_index.cpu().numpy()
    a = sp.coo_matrix((np.ones(ei.shape[1]), (ei[0], ei[1])), shape=(num_nodes, num_nodes)).tocsr()
    a.data[:] = 1.0  # ignore multi-edges
    deg = np.asarray(a.sum(1)).ravel()
    dinv = np.where(deg > 0, 1.0 / np.sqrt(np.maximum(deg, 1e-12)), 0.0)
    lap = sp.identity(num_nodes) - sp.diags(dinv) @ a @ sp.diags(dinv)
    if num_nodes <= 3000:
        vals, vecs = np.linalg.eigh(lap.toarray())
    else:
        from scipy.sparse.linalg import eigsh

        vals, vecs = eigsh(lap.tocsc(), k=dim + 1, which="SA", tol=1e-8)
        order = np.argsort(vals)
        vals, vecs = vals[order], vecs[:, order]
    vecs = vecs[:, 1:dim + 1] * np.sqrt(num_nodes)
    vecs[deg == 0] = 0.0
    mag = np.abs(vecs)
    idx = (mag >= mag.max(0, keepdims=True) - 1e-6).argmax(0)  # first entry of (near-)maximal magnitude
    vecs = vecs * np.where(vecs[idx, np.arange(vecs.shape[1])] < 0, -1.0, 1.0)
    return torch.from_numpy(np.ascontiguousarray(vecs)).float()
