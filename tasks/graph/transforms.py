r"""Graph transforms (PyG ``BaseTransform``\ s) that turn a graph into per-node hop tokens.

:class:`HopTokens` is the one-off propagation of the hop-token iMixer: with the GCN-normalised
adjacency :math:`\hat A = \tilde D^{-1/2}(A + I)\tilde D^{-1/2}`,

.. math::
    T_v = \big[\, x_v,\; (\hat A X)_v,\; (\hat A^2 X)_v,\; \dots,\; (\hat A^K X)_v \,\big]
    \in \mathbb{R}^{(K+1) \times F},

computed once per graph with sparse products, after which every node is an independent
fixed-length sequence and training runs on mini-batches of nodes.

:class:`StructuralFeatures` gives graphs without node features (polblogs, football) features from
their structure alone: the eigenvectors of the normalised Laplacian
:math:`L = I - D^{-1/2} A D^{-1/2}` belonging to the smallest non-trivial eigenvalues (a spectral
embedding, Belkin & Niyogi 2003), plus the standardised log-degree, optionally one-hot node ids.
"""
from __future__ import annotations

from typing import Optional

import numpy as np
import torch
from torch import Tensor
from torch_geometric.data import Data
from torch_geometric.nn.conv.gcn_conv import gcn_norm
from torch_geometric.transforms import BaseTransform
from torch_geometric.utils import degree, to_torch_coo_tensor

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


@TRANSFORMS.register_module()
class HopTokens(BaseTransform):
    r"""Stack the node features propagated over 0..K hops into ``data.hop_tokens``.

    .. math::
        \mathrm{hop\_tokens}[v, k] = (\hat A^k X)_v, \qquad k = 0, \dots, K,

    with :math:`\hat A` the symmetric-normalised adjacency with self-loops (see
    :func:`normalized_adjacency`). The graph should be undirected (see
    :func:`tasks.graph.data.prepare_graph`, which symmetrises directed input).

    Args:
        num_hops: ``K``; the model sees ``K + 1`` tokens per node.
        add_self_loops: use :math:`A + I` (GCN); ``False`` propagates over :math:`D^{-1/2}AD^{-1/2}`.

    Shapes:
        ``data.x``: ``(N, F)`` -> ``data.hop_tokens``: ``(N, K + 1, F)`` (float32).
    """

    def __init__(self, num_hops: int = 3, add_self_loops: bool = True) -> None:
        if num_hops < 0:
            raise ValueError(f"num_hops must be >= 0, got {num_hops}")
        self.num_hops, self.add_self_loops = int(num_hops), bool(add_self_loops)

    def forward(self, data: Data) -> Data:
        if data.x is None:
            raise ValueError("HopTokens needs node features data.x; graphs without features need "
                             "StructuralFeatures (or features='structural' in NodeDataset) first")
        x = data.x.float()
        adj = normalized_adjacency(data.edge_index, data.num_nodes, data.get("edge_weight"), self.add_self_loops)
        tokens = [x]
        for _ in range(self.num_hops):
            tokens.append(adj @ tokens[-1])
        data.hop_tokens = torch.stack(tokens, dim=1)
        return data

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}(num_hops={self.num_hops}, add_self_loops={self.add_self_loops})"


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
    * ``degree``: the standardised :math:`\log(1 + d_v)`;
    * ``onehot``: the identity matrix (the usual featureless-GCN input; ``N`` columns).

    Args:
        spectral_dim: number of eigenvectors (``0``: none). Capped at ``N - 2`` with a clear error.
        degree: add the log-degree column.
        onehot: add ``N`` one-hot id columns.
        cat: append to an existing ``data.x`` instead of replacing it.

    Shapes:
        ``data.edge_index``: ``(2, E)`` (undirected) -> ``data.x``: ``(N, F')``.
    """

    def __init__(self, spectral_dim: int = 16, degree: bool = True, onehot: bool = False, cat: bool = False) -> None:
        if spectral_dim < 0:
            raise ValueError(f"spectral_dim must be >= 0, got {spectral_dim}")
        if not (spectral_dim or degree or onehot):
            raise ValueError("StructuralFeatures with spectral_dim=0, degree=False and onehot=False makes no features")
        self.spectral_dim, self.degree, self.onehot, self.cat = int(spectral_dim), degree, onehot, cat

    def forward(self, data: Data) -> Data:
        n = data.num_nodes
        cols = []
        if self.spectral_dim:
            cols.append(spectral_embedding(data.edge_index, n, self.spectral_dim))
        if self.degree:
            logd = torch.log1p(degree(data.edge_index[1], n))
            cols.append(((logd - logd.mean()) / logd.std().clamp_min(1e-6)).unsqueeze(1))
        if self.onehot:
            cols.append(torch.eye(n))
        feats = torch.cat(cols, dim=1).float()
        data.x = torch.cat([data.x.float(), feats], dim=1) if (self.cat and data.x is not None) else feats
        return data

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}(spectral_dim={self.spectral_dim}, degree={self.degree}, "
                f"onehot={self.onehot}, cat={self.cat})")


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
