"""NumPy twins of the Keras image layers of the network (``_layers.Layer`` kinds other
than ``"dense"``), on blocks of rows, in the rows' float dtype.

Images are channels last, ``(rows, height, width, channels)``. Both convolutions
are one matrix product each, as the dense layers are:

- ``Conv2D`` (padding "same"): the ``k x k`` patches, taken with the stride, side by
  side (im2col), times the kernel as a ``(k * k * in, out)`` matrix;
- ``Conv2DTranspose`` (padding "same"): each input pixel times the kernel as an
  ``(in, k * k * out)`` matrix, the ``k x k`` results added into the output at the
  stride (col2im), then the output window "same" padding keeps.

Padding as TensorFlow defines "same" (and Keras on every backend): a convolution
from ``n`` to ``m = ceil(n / s)`` values pads ``max((m - 1) * s + k - n, 0)`` zeros,
the smaller half before; the transposed convolution from ``n`` to ``n * s`` is that
convolution's adjoint (``tf.nn.conv2d_transpose``), so it drops the same amounts.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from ._layers import Layer

# The bytes a convolution's step may hold at once (patches, output) per block of
# rows. Its patches are read twice (copied, then packed by the BLAS): blocks that
# stay in a CPU's cache run about twice as fast as _inference's general 16 MB blocks
# (benchmarks/bench_transform.py, the conv rows).
BLOCK_BYTES = 8 << 20
# The convolutional kinds of layer.
KINDS = ("conv", "conv_transpose")
# A step of the forward pass: (block of rows, arrays by name) -> block of rows.
Operation = Callable[[np.ndarray, dict], np.ndarray]


def _same_padding(n_in: int, n_out: int, kernel_size: int, strides: int) -> tuple[int, int]:
    """``(before, after)``: the zeros TensorFlow's "same" adds around ``n_in`` values."""
    total = max((n_out - 1) * strides + kernel_size - n_in, 0)
    return total // 2, total - total // 2


def conv2d(x: np.ndarray, matrix: np.ndarray, layer: Layer) -> np.ndarray:
    """``Conv2D`` of ``x`` ``(rows, h, w, in)``; ``matrix`` is the kernel reshaped to
    ``(k * k * in, out)``, rows in the kernel's ``(kh, kw, in)`` order."""
    k, s = layer.kernel_size, layer.strides
    (h, w, c), (oh, ow, filters) = layer.input_shape, layer.output_shape
    top, bottom = _same_padding(h, oh, k, s)
    left, right = _same_padding(w, ow, k, s)
    padded = np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)))
    patches = np.empty((len(x), oh, ow, k, k, c), dtype=x.dtype)
    for i in range(k):
        for j in range(k):
            patches[:, :, :, i, j] = padded[
                :, i : i + s * (oh - 1) + 1 : s, j : j + s * (ow - 1) + 1 : s
            ]
    return (patches.reshape(-1, k * k * c) @ matrix).reshape(len(x), oh, ow, filters)


def conv2d_transpose(x: np.ndarray, matrix: np.ndarray, layer: Layer) -> np.ndarray:
    """``Conv2DTranspose`` of ``x`` ``(rows, h, w, in)``; ``matrix`` is the kernel
    ``(kh, kw, out, in)`` laid out as ``(in, k * k * out)``, columns in ``(kh, kw, out)``
    order."""
    k, s = layer.kernel_size, layer.strides
    (h, w, c), (oh, ow, filters) = layer.input_shape, layer.output_shape
    # What each input pixel adds to the k x k output pixels its kernel covers.
    spread = (x.reshape(-1, c) @ matrix).reshape(len(x), h, w, k, k, filters)
    full = np.zeros((len(x), s * (h - 1) + k, s * (w - 1) + k, filters), dtype=x.dtype)
    for i in range(k):
        for j in range(k):
            full[:, i : i + s * (h - 1) + 1 : s, j : j + s * (w - 1) + 1 : s] += spread[
                :, :, :, i, j
            ]
    top, _ = _same_padding(oh, h, k, s)
    left, _ = _same_padding(ow, w, k, s)
    return full[:, top : top + oh, left : left + ow]


def kernel_matrices(layers, weights: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """``"<layer>.matrix"``: each convolution's kernel as the matrix its operation
    multiplies by, from ``weights`` (already in the pass's dtype), made once."""
    matrices = {}
    for layer in layers:
        kernel = weights.get(f"{layer.name}.kernel")
        if layer.kind == "conv":
            matrices[f"{layer.name}.matrix"] = kernel.reshape(-1, kernel.shape[-1])
        elif layer.kind == "conv_transpose":
            matrix = np.transpose(kernel, (3, 0, 1, 2)).reshape(kernel.shape[-1], -1)
            matrices[f"{layer.name}.matrix"] = np.ascontiguousarray(matrix)
    return matrices


def operation(layer: Layer) -> Operation:
    """The forward step of a layer other than ``"dense"`` (without bias and activation)."""
    if layer.kind in KINDS:
        function = conv2d if layer.kind == "conv" else conv2d_transpose
        key = f"{layer.name}.matrix"
        return lambda x, w: function(x, w[key], layer)
    if layer.kind == "reshape":
        return lambda x, w: x.reshape((len(x), *layer.output_shape))
    if layer.kind == "flatten":
        return lambda x, w: x.reshape(len(x), -1)
    if layer.kind == "crop":
        (top, _), (left, _) = layer.cropping
        height, width, _ = layer.output_shape
        return lambda x, w: x[:, top : top + height, left : left + width]
    raise ValueError(f"No NumPy operation for a layer of kind {layer.kind!r}.")


def values_per_row(layer: Layer) -> int:
    """The values a layer's step holds at once per row, temporaries included: what
    bounds the rows of a block (see ``_inference._BLOCK_ELEMENTS``)."""
    if layer.kind not in KINDS:
        return math.prod(layer.output_shape)
    k, s = layer.kernel_size, layer.strides
    (h, w, c), (oh, ow, filters) = layer.input_shape, layer.output_shape
    if layer.kind == "conv":  # the padded input, the patches, the output
        return (h + k) * (w + k) * c + oh * ow * (k * k * c + filters)
    return (h * w * k * k + (s * (h - 1) + k) * (s * (w - 1) + k)) * filters
