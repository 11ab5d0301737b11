# BBC News classifier started from the masked LM pretrained on the outside corpus GCIDE (mlm_imixer_gcide.py,
# run first:  python tools/train.py configs/text/mlm_imixer_gcide.py --work-dir work_dirs/mlm_imixer_gcide
# ): its tokenizer (the export's 8,000 GCIDE word pieces), width, depth, token count and encoder weights. The
# from-scratch control at the same fine-tuning budget and tokenizer is this config with
# --cfg-options model.init_cfg=None. Another text set: --cfg-options source=tweets (configs/benchmarks/text_pretrain.py
# runs the five sets of docs/text.md, docs/lm.md has the table).
_base_ = ['./imixer_bbc-news_mlm-init.py']
tokenizer = 'work_dirs/mlm_imixer_gcide/hf_export'
model = dict(init_cfg=dict(checkpoint='work_dirs/mlm_imixer_gcide/best_lm_perplexity_iter_1000.pth'))
