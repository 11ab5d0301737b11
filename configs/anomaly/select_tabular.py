# Choosing IMixerTabularDetector's defaults without judging a choice on the set it is scored on.
# Every candidate runs the whole suite (15 sets, seeds 0-2); summary.md's "leave-one-dataset-out" table
# picks, for each set, the candidate with the best mean ROC-AUC on the *other* sets (near-copies of one
# source left out together) and ranks that held-out column against the baselines. The candidate best
# over all sets becomes the default; the held-out column is what to expect on unseen data.
# Every candidate fits + scores a 5,000 x 100 cell within the 10-s budget (docs/anomaly.md, timing).
#   python tools/benchmark_anomaly.py configs/anomaly/select_tabular.py
_base_ = './suite_odds.py'

_grid = dict(t16_r2_i150=dict(max_tokens=16, score_repeats=2, max_iters=150),
             t16_r4_i300=dict(max_tokens=16, score_repeats=4, max_iters=300),
             t32_r2_i150=dict(max_tokens=32, score_repeats=2, max_iters=150),
             t32_r4_i300=dict(max_tokens=32, score_repeats=4, max_iters=300))
detectors = dict(
    _delete_=True,
    iforest=dict(type='IForestDetector'),
    lof=dict(type='LOFDetector'),
    ocsvm=dict(type='OCSVMDetector'),
    knn=dict(type='KNNDetector'),
    **{f'imixer_{k}': dict(type='IMixerTabularDetector', token_mixer='implicit', **v) for k, v in _grid.items()})
seeds = [0, 1, 2]
selection = dict(candidates=[f'imixer_{k}' for k in _grid], name='imixer (LODO)')
out_dir = 'results/anomaly/select_tabular'
