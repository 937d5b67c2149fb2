"""Tiny pruning configs for the pipeline tests: scikit-learn digits and its small CNN, one or two
epochs per phase, so a whole run takes seconds."""

TINY = ["data.dataset=digits", "model=cnn_digits", "reference.epochs=3", "reference.milestones=[]",
        "train.epochs=2", "train.milestones=[]", "finetune.epochs=1", "finetune.milestones=[]",
        "finetune.lr=0.01", "report.latency_repeats=1", "report.latency_batch_sizes=[1, 4]", "runtime.threads=1"]
#: a strong SPR, so that the tiny run prunes filters
STRONG = ["regularizer.lam=50", "regularizer.alpha=0.3", "prune.tol=0.03", "train.epochs=3"]
