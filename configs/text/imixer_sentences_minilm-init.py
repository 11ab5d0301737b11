# imixer_bbc-news_minilm-init.py for single sentences at 64 tokens (the default recipe's setting for the four
# sentence sets, docs/text.md), started from the 64-token masked LM (run first:
#     python tools/train.py configs/text/mlm_imixer_gcide_minilm.py --work-dir work_dirs/mlm_imixer_gcide_minilm
# ); another set: --cfg-options source=tweets. The from-scratch control: imixer_bbc-news.py with max_length=64.
_base_ = ['./imixer_bbc-news_minilm-init.py']
source = 'movie_snippets'
max_length = 64
model = dict(init_cfg=dict(checkpoint='work_dirs/mlm_imixer_gcide_minilm/best_lm_perplexity_iter_3000.pth'))
