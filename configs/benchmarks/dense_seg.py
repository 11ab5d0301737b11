# UPerNet after the classification pretraining of dense_pretrain.py (the cell of the same name and seed), the
# recipe of the published table: 300 iterations at batch 8 on the digit-scene masks (loss class-weighted by
# imixer.ClassBalanceHook); 'mnist': the MNIST scenes, the unseen check. The same runs as dense_det.py.
_seg = 'configs/seg/upernet_imixer-pyramid-t-clspre_600i_digits.py'
_cells = [('iMixer pyramid-T', 'imixer', _seg, {}),
          ('MLP twin pyramid-T', 'twin', _seg, {'model.backbone.token_mixer': 'mlp'}),
          ('iMixer pyramid-T-v1 (first design)', 'imixer', _seg, {'model.backbone.arch': 'tiny-v1'}),
          ('ResNet-18', 'baseline', 'configs/seg/upernet_r18-clspre_600i_digits.py', {}),
          ('Swin-T64', 'baseline', 'configs/seg/upernet_swin-t64-clspre_600i_digits.py', {})]
benchmark = dict(
    task='segmentation',
    title='UPerNet on digit scenes after classification pretraining, 300 iterations at batch 8',
    metric='mIoU',
    seeds=[0, 1],
    runs=[dict(name=n, role=r, config=c,
               cfg_options={**o, 'model.backbone.init_cfg.checkpoint': f'{{best:dense_pretrain/{n}}}'})
          for n, r, c, o in _cells],
    datasets=dict(digits={}, mnist={f'{k}.dataset.source': 'mnist'
                                    for k in ('train_dataloader', 'val_dataloader', 'test_dataloader')}),
    cfg_options={'train_cfg.max_iters': 300, 'train_dataloader.batch_size': 8},
)
