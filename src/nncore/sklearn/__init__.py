"""nncore.sklearn — scikit-learn's MLPClassifier and MLPRegressor, trained by nncore.

Change one import and keep every parameter::

    # from sklearn.neural_network import MLPClassifier
    from nncore.sklearn import MLPClassifier

Same parameters, defaults, fitted attributes and methods as scikit-learn 1.9's
estimators (with float64 data and an int ``random_state``, the same model to
rounding), trained by nncore's C core; plus ``dropout``, ``l1``, ``clip_norm``,
``dtype``, ``n_threads``, ``class_weight`` and nncore's optimizers. The trained
network is ``model_`` (an ``nncore.nn.Sequential``).

Needs scikit-learn and scipy: ``pip install "nncore[sklearn]"``. Importing this
module registers nncore's thread pool with threadpoolctl (when installed), so
``threadpool_limits(1)`` limits nncore too.
"""
from . import _deps  # noqa: F401  (first: without the extra, the ImportError naming it)
from ._classifier import MLPClassifier
from ._regressor import MLPRegressor
from ._threads import register_threadpool_controller

__all__ = ["MLPClassifier", "MLPRegressor"]

register_threadpool_controller()
