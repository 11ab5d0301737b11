# The ODDS / ADBench anomaly-detection suite: 15 tabular sets x 6 detectors x 5 seeds, ADBench's
# unsupervised protocol (stratified 60/40 split per seed, standardisation fitted on the training part,
# detectors fitted on the unlabelled contaminated training part, ROC-AUC / AP on the test part).
#   python tools/prepare_data.py --for-tests          # prepares every fetched set (3 small packages)
#   python tools/benchmark_anomaly.py configs/anomaly/suite_odds.py [--quick] [--data my.mat] [--device cuda]
# How the iMixer detector's defaults were chosen (leave-one-dataset-out): configs/anomaly/select_tabular.py
datasets = ['cardio', 'shuttle', 'satellite', 'ionosphere', 'pima', 'wbc', 'wine', 'breastw', 'arrhythmia',
            'lympho', 'glass', 'satimage-2', 'landsat', 'spambase', 'wdbc']
detectors = dict(
    imixer=dict(type='IMixerTabularDetector', token_mixer='implicit'),
    mlpmixer=dict(type='IMixerTabularDetector', token_mixer='mlp'),
    iforest=dict(type='IForestDetector'),
    lof=dict(type='LOFDetector'),
    ocsvm=dict(type='OCSVMDetector'),
    knn=dict(type='KNNDetector'),
)
seeds = [0, 1, 2, 3, 4]
test_size = 0.4
standardize = True
out_dir = 'results/anomaly/odds'
# --quick: two small sets, two seeds, shorter neural training
quick = dict(
    datasets=['ionosphere', 'wine'],
    seeds=[0, 1],
    detector_overrides=dict(imixer=dict(max_iters=100, min_iters=50), mlpmixer=dict(max_iters=100, min_iters=50)),
    out_dir='results/anomaly/odds_quick')
