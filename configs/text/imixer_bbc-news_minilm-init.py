# The default text recipe (imixer_bbc-news.py: MiniLM's fixed table, 256 tokens) with its mixer started from
# the masked LM of the same recipe on the outside corpus GCIDE (mlm_imixer_gcide_minilm.py at 256 tokens, run
# first:  python tools/train.py configs/text/mlm_imixer_gcide_minilm.py --work-dir work_dirs/mlm_imixer_gcide_minilm_256
#         --cfg-options max_length=256 train_dataloader.batch_size=8
# ): init_cfg loads the encoder (its keys match, the LM head is left out, the classification head is new).
# The from-scratch control is imixer_bbc-news.py itself; the sentence sets (64 tokens): imixer_sentences_minilm-init.py.
_base_ = ['./imixer_bbc-news.py']
model = dict(init_cfg=dict(type='Pretrained',
                           checkpoint='work_dirs/mlm_imixer_gcide_minilm_256/best_lm_perplexity_iter_3000.pth'))
