"""scikit-learn estimators: ``from relunet.sklearn import MLPClassifier, MLPRegressor``.

The public import path; the estimators live in :mod:`relunet.interop.sklearn`.
"""

from relunet.interop.sklearn import EXPECTED_FAILED_CHECKS, MLPClassifier, MLPRegressor

__all__ = ["EXPECTED_FAILED_CHECKS", "MLPClassifier", "MLPRegressor"]
