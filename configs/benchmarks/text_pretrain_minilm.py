# Pretraining the default text recipe (issue 25): imixer_bbc-news.py (MiniLM's fixed word-piece table, its
# width, depth and token mixer) with the mixer started from that recipe's masked LM on GCIDE, against the
# default recipe itself from scratch, at the same fine-tuning budget, on the five text sets of docs/text.md
# (256 tokens for BBC News, 64 for the sentence sets, as the default recipe's table). The two masked LMs are
# trained first, once, by the user's commands (3,000 iterations x 2,048 tokens, seed 0):
#     python tools/train.py configs/text/mlm_imixer_gcide_minilm.py --work-dir work_dirs/mlm_imixer_gcide_minilm
#     python tools/train.py configs/text/mlm_imixer_gcide_minilm.py --work-dir work_dirs/mlm_imixer_gcide_minilm_256 \
#         --cfg-options max_length=256 train_dataloader.batch_size=8
# then
#     python tools/prepare_data.py bbc_news movie_snippets tweets amazon_snippets nyt_snippets bert_uncased
#     python tools/benchmark.py configs/benchmarks/text_pretrain_minilm.py
# Test accuracy of the best checkpoint by validation accuracy, 10 epochs, three seeds.
_sentences = ['movie_snippets', 'tweets', 'amazon_snippets', 'nyt_snippets']
benchmark = dict(
    task='text',
    title="The default text recipe from its GCIDE masked LM (then the set's texts) vs from scratch (MiniLM's table, 10 epochs)",
    metric='cls/accuracy',
    seeds=[0, 1, 2],
    datasets={'bbc_news': {'source': 'bbc_news'}, **{s: {'source': s, 'max_length': 64} for s in _sentences}},
    runs=[
        dict(name='iMixer from its GCIDE masked LM', role='imixer',
             config={'bbc_news': 'configs/text/imixer_bbc-news_minilm-init.py',
                     **{s: 'configs/text/imixer_sentences_minilm-init.py' for s in _sentences}}),
        dict(name='iMixer default recipe, from scratch', role='baseline', config='configs/text/imixer_bbc-news.py'),
        # task-adaptive: the masked LM trained on further on the set's own training texts (same seed), by
        #     python tools/benchmark.py configs/benchmarks/text_tapt_minilm_mlm.py
        dict(name="iMixer from its GCIDE masked LM, then the task's texts", role='baseline',
             config={'bbc_news': 'configs/text/imixer_bbc-news_minilm-init.py',
                     **{s: 'configs/text/imixer_sentences_minilm-init.py' for s in _sentences}},
             cfg_options={'model.init_cfg.checkpoint':
                          "{best:text_tapt_minilm_mlm/iMixer masked LM, GCIDE then the task's texts}"}),
    ],
)
