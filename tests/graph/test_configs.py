"""The graph configs: every MLP twin is a short override of its iMixer config and builds the same model but
for the token mixer; no config restates the implicit recipe; the baselines build."""
import ast
import re
from pathlib import Path

import pytest
from mmengine.config import Config

from backbones.implicit import ImplicitLayer
from backbones.registry import MODELS
from backbones.token_mixers import ImplicitMLP, Mlp

ROOT = Path(__file__).resolve().parents[2]
GRAPH = ROOT / "configs/graph"
TWINS = sorted(GRAPH.glob("hopmlpmixer_*.py"))


def _code_lines(path: Path) -> list:
    return [line for line in path.read_text().splitlines() if line.strip() and not line.strip().startswith("#")]


def _base_of(path: Path) -> Path:
    bases = ast.literal_eval(re.search(r"^_base_\s*=\s*(\[.*?\])", path.read_text(), re.M | re.S).group(1))
    assert len(bases) == 1, f"{path.name}: a twin derives from its iMixer config alone"
    return (path.parent / bases[0]).resolve()


def _layout(model) -> list:
    """``(name, type)`` of every module outside the blocks' token mixers, and the token mixers' places."""
    mixers = [name for name, m in model.named_modules() if isinstance(m, (ImplicitMLP, Mlp)) and
              name.endswith("mlp_tokens")]
    inside = tuple(f"{name}." for name in mixers)
    rest = [(name, type(m).__name__) for name, m in model.named_modules()
            if name not in mixers and not name.startswith(inside)]
    return mixers, rest


def test_there_are_twins():
    assert {p.name for p in TWINS} >= {"hopmlpmixer_minibatch_karate.py", "hopmlpmixer_minibatch_polblogs.py",
                                       "hopmlpmixer_full_karate.py"}


@pytest.mark.parametrize("twin", TWINS, ids=lambda p: p.name)
def test_twin_is_a_short_override_differing_only_in_the_token_mixer(twin):
    lines = _code_lines(twin)
    assert len(lines) <= 8, f"{twin.name} has {len(lines)} lines of code"
    assert "_delete_" not in twin.read_text()
    base = _base_of(twin)
    assert base.name == twin.name.replace("hopmlpmixer", "hopimixer")
    cfg_t, cfg_i = Config.fromfile(twin), Config.fromfile(base)
    assert cfg_t.model.model.token_mixer == "mlp" and cfg_i.model.model.token_mixer == "implicit"
    twin_model, imixer_model = MODELS.build(cfg_t.model), MODELS.build(cfg_i.model)
    mixers_t, rest_t = _layout(twin_model)
    mixers_i, rest_i = _layout(imixer_model)
    assert mixers_t == mixers_i and mixers_t, "the token mixers sit at the same places"
    assert all(isinstance(twin_model.get_submodule(n), Mlp) for n in mixers_t)
    assert all(isinstance(imixer_model.get_submodule(n), ImplicitMLP) for n in mixers_i)
    assert rest_t == rest_i, "apart from the token mixers the two models are built alike"
    # and the data / schedule are the same: only the model's token mixer differs
    dict_t, dict_i = cfg_t.to_dict(), cfg_i.to_dict()
    dict_t["model"]["model"].pop("token_mixer"), dict_i["model"]["model"].pop("token_mixer")
    assert dict_t == dict_i


def test_configs_do_not_restate_the_recipe_and_imixers_build_it():
    for path in sorted(GRAPH.glob("*.py")) + sorted((GRAPH / "_base_").glob("*.py")):
        text = path.read_text()
        assert not re.search(r"\b(h_ratio|n_iter|coeff)\s*=", text), f"{path.name} restates the implicit recipe"
    layers = [m for m in MODELS.build(Config.fromfile(GRAPH / "hopimixer_full_karate.py").model).modules()
              if isinstance(m, ImplicitLayer)]
    assert layers and all((m.hidden / m.dim, m.n_iter, m.coeff) == (2.0, 2, 0.9) for m in layers)


@pytest.mark.parametrize("name, conv", [("gcn_full_karate.py", "GCNConv"), ("gat_full_karate.py", "GATConv")])
def test_baseline_configs_build_and_train_like_the_imixer(name, conv):
    cfg = Config.fromfile(GRAPH / name)
    model = MODELS.build(cfg.model)
    assert type(model).__name__ == "GraphNodeClassifier" and type(model.model.conv1).__name__ == conv
    assert cfg.train_dataloader.dataset.mode == "graph" and cfg.train_dataloader.batch_size == 1
    ref = Config.fromfile(GRAPH / "hopimixer_full_karate.py")
    for key in ("split_seed", "split_ratios", "graph"):  # the same split as the iMixer's
        assert cfg.test_dataloader.dataset[key] == ref.test_dataloader.dataset[key]
    assert cfg.train_cfg == ref.train_cfg and cfg.default_hooks.checkpoint == ref.default_hooks.checkpoint
    assert [h for h in cfg.custom_hooks if h["type"] == "EarlyStoppingHook"] == \
        [h for h in ref.custom_hooks if h["type"] == "EarlyStoppingHook"]
