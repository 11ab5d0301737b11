# BBC News classifier started from the self-pretrained masked LM (mlm_imixer_bbc-news.py, run first:
#     python tools/train.py configs/text/mlm_imixer_bbc-news.py
# ): its tokenizer (the export's), width, depth, token count and encoder weights (init_cfg: the encoder's keys
# match, the LM head is left out, the classification head is new). The from-scratch control at the same
# fine-tuning budget is this config with --cfg-options model.init_cfg=None. For another set, pretrain on it
# (source=NAME) and point tokenizer= and model.init_cfg.checkpoint= at that run (configs/benchmarks/text_selfpretrain.py).
_base_ = ['./imixer_bbc-news_wordpiece.py']
max_length = 64        # the LM's token count (a Mixer's token-mixing weights are N x D)
tokenizer = 'work_dirs/mlm_imixer_bbc-news/hf_export'
model = dict(hf_config=dict(mlp_ratio=(1.0, 4.0)),
             init_cfg=dict(type='Pretrained', checkpoint='work_dirs/mlm_imixer_bbc-news/iter_300.pth'))
