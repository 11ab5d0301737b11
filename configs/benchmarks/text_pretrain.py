# Pretraining then fine-tuning (issue 25): the text classifier started from the iMixer masked LM trained on
# the outside corpus GCIDE (its 8,000-piece tokenizer, width, depth, 64 tokens and encoder weights, the LM
# head left out) against the same config from scratch (model.init_cfg=None: the same tokenizer, budget and
# seeds), on the five text sets of docs/text.md. The masked LM is trained first, once, by the user's command
#     python tools/train.py configs/text/mlm_imixer_gcide.py --work-dir work_dirs/mlm_imixer_gcide
# (1,000 iterations, seed 0); then
#     python tools/prepare_data.py bbc_news movie_snippets tweets amazon_snippets nyt_snippets
#     python tools/benchmark.py configs/benchmarks/text_pretrain.py
# Test accuracy of the best checkpoint by validation accuracy, 10 epochs, three seeds.
_cfg = 'configs/text/imixer_bbc-news_gcide-init.py'
benchmark = dict(
    task='text',
    title='Text classification from the GCIDE masked LM vs from scratch (GCIDE tokenizer, 64 tokens, 10 epochs)',
    metric='cls/accuracy',
    seeds=[0, 1, 2],
    datasets={s: {'source': s} for s in ['bbc_news', 'movie_snippets', 'tweets', 'amazon_snippets', 'nyt_snippets']},
    runs=[
        dict(name='iMixer from the GCIDE masked LM', role='imixer', config=_cfg),
        dict(name='iMixer from scratch', role='baseline', config=_cfg, cfg_options={'model.init_cfg': None}),
        # a 3x longer masked LM:  python tools/train.py configs/text/mlm_imixer_gcide.py
        #     --work-dir work_dirs/mlm_imixer_gcide_3k --cfg-options train_cfg.max_iters=3000 train_cfg.val_interval=500
        dict(name='iMixer from the GCIDE masked LM, 3,000 iterations', role='baseline', config=_cfg, cfg_options={
            'tokenizer': 'work_dirs/mlm_imixer_gcide_3k/hf_export',
            'model.init_cfg.checkpoint': 'work_dirs/mlm_imixer_gcide_3k/best_lm_perplexity_iter_3000.pth'}),
    ],
)
