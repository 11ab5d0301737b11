# Node classification: the hop-token iMixer, its MLP twin, GCN and GAT (configs/graph/*_full_karate.py:
# full graph per step, the checkpoint of the lowest validation cross-entropy, early stopping after 50
# epochs, at most 200), one split per seed. polblogs: its largest connected component (1,222 nodes),
# 10/10/80; football 30/20/50; karate the configs' 50/25/25. The graphs have no node features: 16
# Laplacian eigenvectors + log-degree (17), as the configs' `features='structural'`.
#     python tools/benchmark.py configs/benchmarks/graph_nodes.py
_loaders = ('train_dataloader', 'val_dataloader', 'test_dataloader')


def _data(**options):
    return {f'{loader}.dataset.{k}': v for loader in _loaders for k, v in options.items()}


_structural = dict(features='structural')
_model = dict(**{'model.model.in_channels': 17})
benchmark = dict(
    task='graph',
    title='Node classification, full graph',
    metric='cls/accuracy',
    seeds=[0, 1, 2],
    runs=[
        dict(name='hop iMixer', role='imixer', config='configs/graph/hopimixer_full_karate.py'),
        dict(name='hop MLP twin', role='twin', config='configs/graph/hopmlpmixer_full_karate.py'),
        dict(name='GCN', role='baseline', config='configs/graph/gcn_full_karate.py'),
        dict(name='GAT', role='baseline', config='configs/graph/gat_full_karate.py'),
    ],
    datasets=dict(
        karate={},
        football={**_data(graph='football', split_ratios=(0.3, 0.2, 0.5), **_structural), **_model,
                  'model.model.num_classes': 12},
        polblogs={**_data(graph='polblogs', largest_component=True, split_ratios=(0.1, 0.1, 0.8), **_structural),
                  **_model, 'model.model.num_classes': 2},
    ),
    # one split per seed
    cfg_options=_data(split_seed='{seed}'),
)
