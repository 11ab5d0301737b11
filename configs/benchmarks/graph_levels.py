# Graph classification (PyG's benchmark/kernel protocol: stratified 10-fold CV, test accuracy at the epoch of
# the lowest validation loss; here folds 0-2 of the 10, `seed` picks the fold) and link prediction
# (RandomLinkSplit, one split per seed; ROC-AUC on the held-out edges). Every run is a config of
# configs/graph, one per dataset.
#     python tools/benchmark.py configs/benchmarks/graph_levels.py
_loaders = ('train_dataloader', 'val_dataloader', 'test_dataloader')
benchmark = dict(
    task='graph',
    title='Graph classification (folds 0-2 of 10)',
    metric='cls/accuracy',
    seeds=[0, 1, 2],
    datasets=dict(solubility={}, b3db={}),
    runs=[
        dict(name=name, role=role, config={ds: f'configs/graph/graphcls_{model}_{ds}.py' for ds in ('solubility', 'b3db')})
        for name, role, model in (('pooled hop iMixer', 'imixer', 'hopimixer'), ('pooled hop MLP twin', 'twin', 'hopmlpmixer'),
                                  ('GIN-0', 'baseline', 'gin'), ('GCN + mean pool', 'baseline', 'gcn'))],
    cfg_options={f'{loader}.dataset.fold': '{seed}' for loader in _loaders},
)
