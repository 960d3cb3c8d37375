"""A model's ROC and precision-recall curves on its held-out rows, measured at training
(fraud/training.py) and stored with its metrics, so that its admin page draws them
without NumPy or scikit-learn (neither is imported by a web process).

Each curve is a list of [x, y] pairs in scikit-learn's order, at most MAX_POINTS of them
(evenly spaced along the curve, both ends kept), rounded to ROUNDING decimals: a few
kilobytes in the model's metadata, enough for a chart a few hundred pixels wide.
"""

MAX_POINTS = 200
ROUNDING = 4


def holdout_curves(y, probabilities) -> dict:
    """{"roc": [[false positive rate, true positive rate], ...],
    "precision_recall": [[recall, precision], ...]}. Both classes must be in `y`."""
    from sklearn.metrics import precision_recall_curve, roc_curve

    false_positive_rate, true_positive_rate, _ = roc_curve(y, probabilities)
    precision, recall, _ = precision_recall_curve(y, probabilities)
    return {
        "roc": downsampled(false_positive_rate, true_positive_rate),
        "precision_recall": downsampled(recall, precision),
    }


def downsampled(xs, ys, most: int = MAX_POINTS) -> list[list[float]]:
    """At most `most` of the points (xs[i], ys[i]), evenly spaced by index, the first and
    the last always among them."""
    import numpy as np

    count = len(xs)
    kept = np.unique(np.linspace(0, count - 1, num=min(count, most)).round().astype(int))
    return [[round(float(xs[i]), ROUNDING), round(float(ys[i]), ROUNDING)] for i in kept]
