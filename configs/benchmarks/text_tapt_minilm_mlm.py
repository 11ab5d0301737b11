# Task-adaptive pretraining, step 1: the default recipe's GCIDE masked LM (configs/benchmarks/text_pretrain_minilm.py
# says how to train it) trained on further on each text set's own *training* texts, one LM per set and seed
# (configs/text/mlm_imixer_minilm_task.py: 300 iterations). Step 2, the classifiers it starts: the run
# 'iMixer from its GCIDE masked LM, then the task's texts' of configs/benchmarks/text_pretrain_minilm.py.
#     python tools/benchmark.py configs/benchmarks/text_tapt_minilm_mlm.py configs/benchmarks/text_pretrain_minilm.py
_lm64 = 'work_dirs/mlm_imixer_gcide_minilm/best_lm_perplexity_iter_3000.pth'
benchmark = dict(
    task='lm',
    title="The default recipe's GCIDE masked LM trained on further on each set's training texts, 300 iterations",
    metric='lm/perplexity',
    higher_is_better=False,
    seeds=[0, 1, 2],
    datasets={'bbc_news': {'source': 'bbc_news'},
              **{s: {'source': s, 'max_length': 64, 'train_dataloader.batch_size': 32, 'model.init_cfg.checkpoint': _lm64}
                 for s in ['movie_snippets', 'tweets', 'amazon_snippets', 'nyt_snippets']}},
    runs=[dict(name="iMixer masked LM, GCIDE then the task's texts", role='imixer',
               config='configs/text/mlm_imixer_minilm_task.py')],
)
