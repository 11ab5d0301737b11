"""The one registry tree of imixer.

Every buildable thing (backbones, task models, datasets, metrics, hooks) registers in a child of
mmengine's root registries with scope ``imixer``. OpenMMLab toolboxes reach it by scope prefix, the
way mmdet configs reach mmpretrain backbones::

    custom_imports = dict(imports=['backbones'], allow_failed_imports=False)
    model = dict(backbone=dict(type='imixer.IMixerPyramid', ...))

and imixer's own configs set ``default_scope = 'imixer'``.
"""
from mmengine import registry as _root
from mmengine.registry import Registry

MODELS = Registry("model", parent=_root.MODELS, scope="imixer", locations=["backbones", "tasks"])
DATASETS = Registry("dataset", parent=_root.DATASETS, scope="imixer", locations=["tasks"])
METRICS = Registry("metric", parent=_root.METRICS, scope="imixer", locations=["tasks"])
HOOKS = Registry("hook", parent=_root.HOOKS, scope="imixer", locations=["tasks"])
TRANSFORMS = Registry("transform", parent=_root.TRANSFORMS, scope="imixer", locations=["tasks"])

# Children of mmengine's other root registries, so a config with default_scope='imixer' finds the
# runner's loops, optimizers, schedulers, ... without "failed to search registry" warnings.
_CHILDREN = {name: Registry(name.lower(), parent=getattr(_root, name), scope="imixer")
             for name in ("RUNNERS", "RUNNER_CONSTRUCTORS", "LOOPS", "DATA_SAMPLERS", "MODEL_WRAPPERS",
                          "WEIGHT_INITIALIZERS", "OPTIMIZERS", "OPTIM_WRAPPERS", "OPTIM_WRAPPER_CONSTRUCTORS",
                          "PARAM_SCHEDULERS", "EVALUATOR", "TASK_UTILS", "VISUALIZERS", "VISBACKENDS",
                          "LOG_PROCESSORS", "INFERENCERS", "FUNCTIONS")}
OPTIM_WRAPPERS = _CHILDREN["OPTIM_WRAPPERS"]  # tasks.common.amp registers CPUAmpOptimWrapper here

# Names of the registered *backbones* (a subset of MODELS, which also holds task models).
_BACKBONES: list = []


def register_backbone(name=None):
    """Register a backbone class or a named-variant builder function in :data:`MODELS`.

    Args:
        name: registry name; the object's ``__name__`` when omitted.
    """

    def _wrap(obj):
        key = name or obj.__name__
        MODELS.register_module(name=key, module=obj)
        _BACKBONES.append(key)
        return obj

    return _wrap

from ._compat import alias_registry_scope  # noqa: E402

alias_registry_scope("imixer", __name__)  # mmengine 0.10.7 imports ``imixer.registry`` on a scope switch
