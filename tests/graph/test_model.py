"""HopMixer: shapes, reset_parameters, errors, permutation equivariance of the whole pipeline."""
import pytest
import torch
from torch_geometric.data import Data
from torch_geometric.utils import to_undirected

from backbones.registry import MODELS
from tasks.graph import HopMixer, HopTokens, NodeClassifier


@pytest.mark.parametrize("token_mixer", ["implicit", "mlp"])
@pytest.mark.parametrize("readout", ["mean", "attention", "first", "last"])
def test_shapes_and_backward(token_mixer, readout):
    implicit = dict(n_iter=2) if token_mixer == "implicit" else {}
    m = HopMixer(5, 3, num_hops=2, embed_dim=16, num_blocks=1, token_mixer=token_mixer, readout=readout, **implicit)
    out = m(torch.randn(8, 3, 5))
    assert out.shape == (8, 3)
    out.sum().backward()
    assert m.lin_in.weight.grad is not None and torch.isfinite(m.lin_in.weight.grad).all()
    assert "HopMixer(5, 3, num_hops=2" in str(m)


def test_reset_parameters_reinitialises_everything():
    m = HopMixer(5, 3, num_hops=2, embed_dim=16, num_blocks=1, readout="attention")
    with torch.no_grad():
        for p in m.parameters():
            p.fill_(0.0)
    m.reset_parameters()
    for name, p in m.named_parameters():
        if name.endswith("weight") and p.dim() == 2 or name == "query":
            assert p.abs().sum() > 0, f"{name} still zero after reset_parameters()"
    norms = [mod.weight for n, mod in m.named_modules() if n.endswith("norm1")]
    assert norms and all(torch.all(w == 1) for w in norms)
    m.eval()
    assert torch.isfinite(m(torch.randn(4, 3, 5))).all()


def test_bad_arguments_and_inputs():
    with pytest.raises(ValueError, match="readout"):
        HopMixer(5, 3, readout="max")
    m = HopMixer(5, 3, num_hops=2, embed_dim=16, num_blocks=1)
    with pytest.raises(ValueError, match=r"\(B, 3, 5\)"):
        m(torch.randn(4, 4, 5))
    with pytest.raises(ValueError, match="token_mixer"):
        HopMixer(5, 3, token_mixer="conv")


def test_registered_and_wrapper_flattens_full_graph_batches():
    clf = MODELS.build(dict(type="NodeClassifier", model=dict(type="HopMixer", in_channels=5, num_classes=3,
                                                                 num_hops=2, embed_dim=16, num_blocks=1)))
    assert isinstance(clf, NodeClassifier)
    x, y = torch.randn(1, 6, 3, 5), torch.randint(0, 3, (1, 6))
    assert clf(x, y, mode="loss")["loss"].ndim == 0
    preds = clf(x, y, mode="predict")
    assert len(preds) == 6 and int(preds[2]["gt_label"]) == int(y[0, 2])


@pytest.mark.parametrize("token_mixer", ["implicit", "mlp"])
def test_permutation_equivariance(token_mixer):
    n = 12
    g = torch.Generator().manual_seed(1)
    ei = to_undirected(torch.randint(0, n, (2, 30), generator=g), num_nodes=n)
    x = torch.randn(n, 4, generator=g)
    perm = torch.randperm(n, generator=g)  # new node i is old node perm[i]
    inv = torch.empty_like(perm)
    inv[perm] = torch.arange(n)
    data = Data(x=x, edge_index=ei, num_nodes=n)
    pdata = Data(x=x[perm], edge_index=inv[ei], num_nodes=n)
    t, pt = HopTokens(3)(data).hop_tokens, HopTokens(3)(pdata).hop_tokens
    implicit = dict(n_iter=3) if token_mixer == "implicit" else {}
    m = HopMixer(4, 3, num_hops=3, embed_dim=16, num_blocks=2, token_mixer=token_mixer, **implicit).eval()
    with torch.no_grad():
        out, pout = m(t), m(pt)
    torch.testing.assert_close(pout, out[perm], atol=1e-5, rtol=1e-5)
    assert not torch.allclose(out, out[torch.roll(torch.arange(n), 1)])  # the check is not vacuous


def _implicit_layers(module):
    from backbones.implicit import ImplicitLayer

    return [m for m in module.modules() if isinstance(m, ImplicitLayer)]


def test_default_build_is_the_authors_recipe_and_the_spec_passes_through():
    m = HopMixer(5, 3, num_hops=2, embed_dim=16, num_blocks=2)
    layers = _implicit_layers(m)
    assert len(layers) == 2 and m.token_mixer == "implicit"
    for layer in layers:
        assert (layer.hidden / layer.dim, layer.n_iter, layer.coeff, layer.solver) == (2.0, 2, 0.9, "unroll")
    spec = HopMixer(5, 3, num_hops=2, embed_dim=16, num_blocks=1, token_mixer=dict(type="implicit", n_iter=4))
    assert _implicit_layers(spec)[0].n_iter == 4 and spec.token_mixer_cfg == {"type": "implicit", "n_iter": 4}
    legacy = HopMixer(5, 3, num_hops=2, embed_dim=16, num_blocks=1, n_iter=3)  # older configs' keywords
    assert _implicit_layers(legacy)[0].n_iter == 3
    twin = HopMixer(5, 3, num_hops=2, embed_dim=16, num_blocks=1, token_mixer="mlp")
    assert not _implicit_layers(twin) and twin.token_mixer == "mlp"
    with pytest.raises(ValueError, match="token_mixer='mlp'"):
        HopMixer(5, 3, token_mixer="mlp", n_iter=4)


def test_directed_model_takes_2k_plus_1_tokens():
    m = HopMixer(5, 3, num_hops=2, embed_dim=16, num_blocks=1, directed=True)
    assert m(torch.randn(4, 5, 5)).shape == (4, 3) and "directed=True" in repr(m)
    with pytest.raises(ValueError, match=r"\(B, 5, 5\).*directed=True"):
        m(torch.randn(4, 3, 5))


@pytest.mark.parametrize("gnn", ["GCN", "GAT"])
def test_gnn_wrapper_scores_the_split_nodes_of_one_graph(gnn):
    clf = MODELS.build(dict(type="GraphNodeClassifier", model=dict(type=gnn, in_channels=3, num_classes=2)))
    g = torch.Generator().manual_seed(0)
    x, ei = torch.randn(1, 8, 3, generator=g), to_undirected(torch.randint(0, 8, (2, 12), generator=g))[None]
    nodes, y = torch.tensor([[1, 4, 6]]), torch.tensor([[0, 1, 1]])
    loss = clf(x, y, mode="loss", edge_index=ei, nodes=nodes)["loss"]
    loss.backward()
    assert loss.ndim == 0 and all(p.grad is not None for p in clf.parameters())
    preds = clf(x, y, mode="predict", edge_index=ei, nodes=nodes)
    clf.eval()
    full = clf.model(x[0], ei[0])
    assert len(preds) == 3 and int(preds[1]["gt_label"]) == 1
    torch.testing.assert_close(clf(x, mode="tensor", edge_index=ei, nodes=nodes), full[nodes[0]])
    with pytest.raises(ValueError, match="mode='graph'"):
        clf(x[0], y[0], mode="loss")
