"""HopTokens against a dense reference; StructuralFeatures' maths."""
import torch
from torch_geometric.data import Data
from torch_geometric.utils import to_undirected

from tasks.graph import HopTokens, StructuralFeatures, normalized_adjacency


def _graph(n=7, f=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    ei = torch.tensor([[0, 1, 1, 2, 3, 4, 5, 0], [1, 2, 3, 3, 4, 5, 6, 6]])
    return Data(x=torch.randn(n, f, generator=g), edge_index=to_undirected(ei, num_nodes=n), num_nodes=n)


def _dense_a_hat(data, self_loops=True):
    n = data.num_nodes
    a = torch.zeros(n, n)
    a[data.edge_index[1], data.edge_index[0]] = 1.0
    if self_loops:
        a = a + torch.eye(n)
    d = a.sum(1)
    dinv = torch.where(d > 0, d.pow(-0.5), torch.zeros_like(d))
    return dinv[:, None] * a * dinv[None, :]


def test_hop_tokens_match_dense_reference():
    data = _graph()
    out = HopTokens(num_hops=4)(data.clone()).hop_tokens
    a_hat = _dense_a_hat(data).double()
    x = data.x.double()
    assert out.shape == (7, 5, 3)
    for k in range(5):
        ref = torch.linalg.matrix_power(a_hat, k) @ x
        torch.testing.assert_close(out[:, k].double(), ref, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(normalized_adjacency(data.edge_index, 7).to_dense(), a_hat.float())


def test_hop_tokens_without_self_loops_and_zero_hops():
    data = _graph()
    out = HopTokens(num_hops=2, add_self_loops=False)(data.clone()).hop_tokens
    a = _dense_a_hat(data, self_loops=False)
    torch.testing.assert_close(out[:, 2], a @ a @ data.x, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(HopTokens(0)(data.clone()).hop_tokens[:, 0], data.x)


def test_hop_tokens_need_features():
    data = _graph()
    data.x = None
    try:
        HopTokens(2)(data)
    except ValueError as e:
        assert "StructuralFeatures" in str(e)
    else:
        raise AssertionError("HopTokens accepted a graph without features")


def test_structural_features_are_laplacian_eigenvectors():
    data = _graph(n=7)
    out = StructuralFeatures(spectral_dim=3, degree=True)(data.clone()).x
    assert out.shape == (7, 4)
    a = torch.zeros(7, 7)
    a[data.edge_index[0], data.edge_index[1]] = 1.0
    d = a.sum(1).pow(-0.5)
    lap = torch.eye(7) - d[:, None] * a * d[None, :]
    vals = torch.linalg.eigvalsh(lap)
    for i in range(3):
        u = out[:, i] / 7 ** 0.5
        assert abs(u.norm().item() - 1) < 1e-4
        lam = (u @ lap @ u).item()
        torch.testing.assert_close(lap @ u, lam * u, atol=1e-4, rtol=1e-4)
        assert abs(lam - vals[i + 1].item()) < 1e-4  # the trivial eigenvector is skipped
        first_max = (u.abs() >= u.abs().max() - 1e-5).nonzero()[0, 0]
        assert u[first_max] > 0  # sign convention
    deg = out[:, 3]
    assert abs(deg.mean().item()) < 1e-5 and abs(deg.std().item() - 1) < 1e-4
    both = StructuralFeatures(spectral_dim=2, degree=False, onehot=True, cat=True)(data.clone()).x
    assert both.shape == (7, 3 + 2 + 7)
    torch.testing.assert_close(both[:, :3], data.x)


def test_structural_features_reject_too_many_eigenvectors():
    try:
        StructuralFeatures(spectral_dim=6)(_graph(n=7))
    except ValueError as e:
        assert "spectral_dim" in str(e)
    else:
        raise AssertionError("spectral_dim > N - 2 was accepted")


def test_directed_hop_tokens_match_dense_reference():
    # a directed graph: 0->1->2->3, 0->3, 4->0; node 4 has no in-edge, node 3 no out-edge
    ei = torch.tensor([[0, 1, 2, 0, 4], [1, 2, 3, 3, 0]])
    n = 5
    x = torch.randn(n, 3, generator=torch.Generator().manual_seed(0))
    out = HopTokens(num_hops=2, directed=True)(Data(x=x, edge_index=ei, num_nodes=n)).hop_tokens
    assert out.shape == (n, 2 * 2 + 1, 3)
    a = torch.zeros(n, n, dtype=torch.float64)
    a[ei[0], ei[1]] = 1.0  # a[u, v] = 1 for u -> v
    a += torch.eye(n, dtype=torch.float64)
    d_out, d_in = a.sum(1), a.sum(0)
    w = d_out.rsqrt()[:, None] * a * d_in.rsqrt()[None, :]
    p_in, p_out = w.T, w  # p_in[v, u]: what v receives from u; p_out[u, v]: what u points to
    xd = x.double()
    for k in (1, 2):
        torch.testing.assert_close(out[:, k].double(), torch.linalg.matrix_power(p_in, k) @ xd, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(out[:, 2 + k].double(), torch.linalg.matrix_power(p_out, k) @ xd,
                                   atol=1e-5, rtol=1e-5)
    # node 4 receives only its self-loop, weighted (d_out d_in)^-1/2 = (2 * 1)^-1/2
    torch.testing.assert_close(out[4, 1], x[4] / 2 ** 0.5)
    # the two directions are distinct on a directed graph, and equal to the undirected tokens on a symmetric one
    assert not torch.allclose(out[:, 1], out[:, 3])
    sym = _graph()
    both = HopTokens(num_hops=2, directed=True)(sym.clone()).hop_tokens
    und = HopTokens(num_hops=2)(sym.clone()).hop_tokens
    torch.testing.assert_close(both[:, 1:3], und[:, 1:])
    torch.testing.assert_close(both[:, 3:], und[:, 1:])


def test_directed_structural_features_have_in_and_out_degree():
    ei = torch.tensor([[0, 0, 0, 1, 2], [1, 2, 3, 2, 3]])  # node 0: out 3, in 0; node 3: in 2, out 0
    data = Data(edge_index=ei, num_nodes=4)
    out = StructuralFeatures(spectral_dim=2, degree=True, directed=True)(data.clone()).x
    assert out.shape == (4, 2 + 2)
    log_in, log_out = torch.log1p(torch.tensor([0.0, 1, 2, 2])), torch.log1p(torch.tensor([3.0, 1, 1, 0]))
    for col, ref in ((2, log_in), (3, log_out)):
        torch.testing.assert_close(out[:, col], (ref - ref.mean()) / ref.std())
    # the spectral part is that of the symmetrised graph
    sym = StructuralFeatures(spectral_dim=2, degree=False)(Data(edge_index=to_undirected(ei), num_nodes=4)).x
    torch.testing.assert_close(out[:, :2], sym)
