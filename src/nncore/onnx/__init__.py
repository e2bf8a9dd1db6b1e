"""nncore.onnx — export nncore models to ONNX, import the MLPs other tools export.

::

    import nncore.onnx
    nncore.onnx.export(model, "model.onnx")            # or model.to_onnx("model.onnx")
    nncore.onnx.export(estimator, "mlp.onnx")          # nncore.sklearn's MLPs, as skl2onnx
    model = nncore.onnx.load("model.onnx")             # -> nncore.nn.Sequential

What it is for: running an nncore model in any ONNX runtime (onnxruntime, OpenVINO,
TensorRT, a browser), and running, fine-tuning, saving (safetensors) or embedding (the C
API) an MLP trained in PyTorch or scikit-learn. :func:`export` writes every nncore layer;
:func:`load` reads MLP-shaped graphs (a chain of Gemm or MatMul + Add and the activations,
in the forms ``torch.onnx.export`` and skl2onnx write them).
What it is not: a general ONNX runtime or converter. A graph that is not a chain of those
layers (a Conv, a loop, a branch, an op it does not know) is refused with a ValueError
naming the node; nothing is half-built.

A file is untrusted input: nothing in it is executed, external data is read only from a
regular file in the model's own folder, and every size is checked against the data
before anything is allocated (see :func:`load`).

Needs the ``onnx`` package: ``pip install "nncore[onnx]"``.
"""
from __future__ import annotations

try:
    import onnx  # noqa: F401  (the submodules use it; checked here for a clear message)
except ImportError as e:
    raise ImportError('nncore.onnx needs the onnx package: pip install "nncore[onnx]" '
                      f"({e})") from e

from . import _estimators  # noqa: F401  (registers the scikit-learn estimators' builders)
from ._export import MAX_OPSET, MIN_OPSET, ComputeModeNotExported, export
from ._load import PostProcessingDropped, load

__all__ = ["export", "load", "PostProcessingDropped", "ComputeModeNotExported", "MIN_OPSET",
           "MAX_OPSET"]
