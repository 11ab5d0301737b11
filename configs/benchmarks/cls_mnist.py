# The paper's claim on MNIST (python tools/prepare_data.py mnist): iMixer-S vs MLP-Mixer-S, the same
# recipe and budget (configs/cls/*-s_mnist.py), three seeds, plus the solver ablation on the iMixer:
# the authors' unrolled loop with 1 and 4 steps, and the convergent solvers with the implicit gradient.
#     python tools/benchmark.py configs/benchmarks/cls_mnist.py
_imixer = 'configs/cls/imixer-s_mnist.py'
_tm = 'model.backbone'  # implicit options as plain keywords of the backbone
benchmark = dict(
    task='classification',
    title='MNIST, iMixer-S vs MLP-Mixer-S, and the solver ablation',
    metric='cls/accuracy',
    seeds=[0, 1, 2],
    runs=[
        dict(name='iMixer-S', role='imixer', config=_imixer),
        dict(name='MLP-Mixer-S', role='twin', config='configs/cls/mlpmixer-s_mnist.py'),
        dict(name='iMixer-S, unroll n_iter=1', role='baseline', config=_imixer, cfg_options={f'{_tm}.n_iter': 1}),
        dict(name='iMixer-S, unroll n_iter=4', role='baseline', config=_imixer, cfg_options={f'{_tm}.n_iter': 4}),
        dict(name='iMixer-S, fixed point + implicit', role='baseline', config=_imixer,
             cfg_options={f'{_tm}.solver': 'fixed_point', f'{_tm}.grad': 'implicit', f'{_tm}.tol': 1e-3,
                          f'{_tm}.max_iter': 30}),
        dict(name='iMixer-S, Anderson + implicit', role='baseline', config=_imixer,
             cfg_options={f'{_tm}.solver': 'anderson', f'{_tm}.grad': 'implicit', f'{_tm}.tol': 1e-3,
                          f'{_tm}.max_iter': 30}),
    ],
)
