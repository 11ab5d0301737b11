# Classification pretraining of the dense backbones, one recipe for all (configs/cls/pretrain_*_scene-digits.py):
# 5,000 single digits drawn like the scenes (56x56 RGB), 600 iterations at batch 32, AdamW lr 1e-3, 100 warm-up
# iterations, cosine; metric on the 1,000 validation digits (the config's test split is its val split).
# Its checkpoints initialise dense_det.py and dense_seg.py ('{best:dense_pretrain/<run name>}', same seed).
# 'mnist' pretrains on the MNIST digits the MNIST scenes are drawn from (the unseen check, never used to choose).
_mnist = {f'{k}.dataset.source': 'mnist' for k in ('train_dataloader', 'val_dataloader', 'test_dataloader')}
benchmark = dict(
    task='detection',
    title='Classification pretraining of the dense backbones: scene digits 56x56, 600 iterations at batch 32',
    metric='cls/accuracy',
    seeds=[0, 1],
    runs=[
        dict(name='iMixer pyramid-T', role='imixer', config='configs/cls/pretrain_imixer-pyramid-t_scene-digits.py'),
        dict(name='iMixer pyramid-T-v2 (full window matrices)', role='imixer',
             config='configs/cls/pretrain_imixer-pyramid-t_scene-digits.py', cfg_options={'model.backbone.arch': 'tiny-v2'}),
        dict(name='MLP twin pyramid-T', role='twin', config='configs/cls/pretrain_mlpmixer-pyramid-t_scene-digits.py'),
        dict(name='iMixer pyramid-T-v1 (first design)', role='imixer',
             config='configs/cls/pretrain_imixer-pyramid-t_scene-digits.py', cfg_options={'model.backbone.arch': 'tiny-v1'}),
        dict(name='ResNet-18', role='baseline', config='configs/cls/pretrain_r18_scene-digits.py'),
        dict(name='Swin-T64', role='baseline', config='configs/cls/pretrain_swin-t64_scene-digits.py'),
    ],
    datasets=dict(digits={}, mnist=_mnist),
)
