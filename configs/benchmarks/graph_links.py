# Link prediction (PyG's RandomLinkSplit, one split per seed): ROC-AUC on the held-out edges. polblogs is
# directed (a -> b and b -> a are different links). Every run is a config of configs/graph, one per dataset.
#     python tools/benchmark.py configs/benchmarks/graph_links.py
_loaders = ('train_dataloader', 'val_dataloader', 'test_dataloader')
benchmark = dict(
    task='graph',
    title='Link prediction',
    metric='link/auc',
    seeds=[0, 1, 2],
    datasets=dict(football={}, polblogs={}),
    runs=[
        dict(name=name, role=role, config={ds: f'configs/graph/link_{model}_{ds}.py' for ds in ('football', 'polblogs')})
        for name, role, model in (('hop iMixer + MLP decoder', 'imixer', 'hopimixer'),
                                  ('hop MLP twin', 'twin', 'hopmlpmixer'), ('GCN + MLP decoder', 'baseline', 'gcn'),
                                  ('Adamic-Adar', 'baseline', 'adamicadar'))],
    cfg_options={f'{loader}.dataset.split_seed': '{seed}' for loader in _loaders},
)
