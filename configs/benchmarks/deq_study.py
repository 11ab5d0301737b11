# The DEQ toolkit's study (issue 27): parametrisation x solver x gradient x Jacobian penalty on the
# iMixer-T on digits (its recipe, 10 epochs) and on a 5,000-image MNIST subset (imixer-t_mnist-5k.py), one
# dimension varied at a time from a convergent base (spectral norm, fixed-point iteration to tol 1e-3 within 30 steps, implicit gradient, no penalty); the authors' unrolled
# mode is the solver='unroll' row. Per run, docs/deq.md reports the test accuracy, the training
# time and the solver statistics of probe.json (mean iterations, mean worst residual), and the share of
# logged training iterations whose worst residual stays above tol (from the run's scalars.json).
# The MLP-Mixer twin on the same recipe is in configs/benchmarks/cls_digits.py.
#     python tools/benchmark.py configs/benchmarks/deq_study.py
_mixer = 'model.backbone.token_mixer.'
_base = {_mixer + 'solver': 'fixed_point'}  # grad: 'implicit', the default of a convergent solver
_cfg = dict(digits='configs/cls/imixer-t_digits.py', mnist='configs/cls/imixer-t_mnist-5k.py')

benchmark = dict(
    task='deq',
    title='Implicit-core study on digits and MNIST-5k (iMixer-T, 10 epochs): parametrisation, solver, gradient, Jacobian penalty',
    metric='cls/accuracy',
    seeds=[0, 1, 2],
    runs=[
        dict(name='spectral, fixed point, implicit', role='imixer', config=_cfg,
             cfg_options=_base),
        # solver
        dict(name='spectral, unroll (authors: 2 steps, grad unroll)', role='baseline',
             config=_cfg),
        dict(name='spectral, Anderson, implicit', role='baseline', config=_cfg,
             cfg_options={_mixer + 'solver': 'anderson'}),
        dict(name='spectral, Broyden, implicit', role='baseline', config=_cfg,
             cfg_options={_mixer + 'solver': 'broyden'}),
        # gradient
        dict(name='spectral, fixed point, grad unroll', role='baseline', config=_cfg,
             cfg_options={**_base, _mixer + 'grad': 'unroll'}),
        dict(name='spectral, fixed point, phantom', role='baseline', config=_cfg,
             cfg_options={**_base, _mixer + 'grad': 'phantom'}),
        # Jacobian penalty
        dict(name='spectral, fixed point, implicit, jac_reg 1', role='baseline',
             config=_cfg, cfg_options={**_base, _mixer + 'jac_reg': 1.0}),
        # parametrisation
        dict(name='monotone, fixed point, implicit', role='baseline', config=_cfg,
             cfg_options={_mixer + 'type': 'monotone'}),
    ],
    # digits: 10 of the recipe's 30 epochs (the schedule follows the run), the shared 2-core machine's budget
    datasets=dict(digits={'train_cfg.max_epochs': 10}, mnist={}),
)
