# RetinaNet + FPN after the classification pretraining of dense_pretrain.py (the cell of the same name and seed:
# '{best:dense_pretrain/<name>}'), the recipe of the published table: 300 iterations at batch 4 on the digit
# scenes (1,000 train / 200 val, 112x112); 'mnist': the MNIST scenes (6,000 / 1,000), the unseen check.
_det = 'configs/det/retinanet_imixer-pyramid-t-clspre_fpn_600i_digits.py'
_cells = [('iMixer pyramid-T', 'imixer', _det, {}),
          ('MLP twin pyramid-T', 'twin', _det, {'model.backbone.token_mixer': 'mlp'}),
          ('iMixer pyramid-T-v1 (first design)', 'imixer', _det, {'model.backbone.arch': 'tiny-v1'}),
          ('ResNet-18', 'baseline', 'configs/det/retinanet_r18-clspre_fpn_600i_digits.py', {}),
          ('Swin-T64', 'baseline', 'configs/det/retinanet_swin-t64-clspre_fpn_600i_digits.py', {})]
benchmark = dict(
    task='detection',
    title='RetinaNet on digit scenes after classification pretraining, 300 iterations at batch 4',
    metric='coco/bbox_mAP',
    seeds=[0, 1],
    runs=[dict(name=n, role=r, config=c,
               cfg_options={**o, 'model.backbone.init_cfg.checkpoint': f'{{best:dense_pretrain/{n}}}'})
          for n, r, c, o in _cells],
    datasets=dict(digits={}, mnist={f'{k}.dataset.source': 'mnist'
                                    for k in ('train_dataloader', 'val_dataloader', 'test_dataloader')}),
    cfg_options={'train_cfg.max_iters': 300, 'train_dataloader.batch_size': 4},
)
