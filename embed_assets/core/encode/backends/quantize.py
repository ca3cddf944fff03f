"""Deriving reduced-precision graphs from the fp32 ONNX graph with ONNX Runtime's own tools.

int8: ``onnxruntime.quantization.quantize_dynamic`` — weights to int8 per output channel
(per-tensor weights lose far more: dense cosine 0.89 against 0.99), activations quantized
per tensor at run time, except the first feed-forward output projections, kept in fp32
(see :class:`~.spec.QuantizationSettings`). fp16 (CUDA only): ``onnxruntime.transformers.float16`` with
float32 inputs and outputs kept, so feeds and vectors stay float32.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from .spec import QuantizationSettings


def ffn_output_nodes(source: Path, count: int) -> list[str]:
    """The first ``count`` feed-forward output projections, in graph order: matrix products
    with a weight that narrows (more rows than columns, e.g. 1536 → 384)."""
    import onnx

    if count <= 0:
        return []
    graph = onnx.load(str(source), load_external_data=False).graph
    shapes = {init.name: list(init.dims) for init in graph.initializer}
    found = []
    for node in graph.node:
        dims = shapes.get(node.input[1], []) if node.op_type == "MatMul" and len(node.input) == 2 else []
        if len(dims) == 2 and dims[0] > dims[1]:
            found.append(node.name)
    return found[:count]


def quantize_int8(source: Path, dest: Path, settings: QuantizationSettings) -> float:
    """Write the int8 graph of ``source`` to ``dest``; the seconds it took."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    started = time.perf_counter()
    keep = ffn_output_nodes(source, settings.fp32_ffn_outputs)
    quiet = logging.getLogger().level
    logging.getLogger().setLevel(max(quiet, logging.ERROR))  # the quantizer logs every skipped node
    try:
        quantize_dynamic(source, dest, per_channel=settings.per_channel, reduce_range=settings.reduce_range,
                         weight_type=getattr(QuantType, settings.weight_type),
                         op_types_to_quantize=list(settings.op_types) or None, nodes_to_exclude=keep)
    finally:
        logging.getLogger().setLevel(quiet)
    return time.perf_counter() - started


def convert_fp16(source: Path, dest: Path) -> float:
    """Write the float16 graph of ``source`` to ``dest`` (for the CUDA execution provider)."""
    import onnx
    from onnxruntime.transformers.float16 import convert_float_to_float16

    started = time.perf_counter()
    model = convert_float_to_float16(onnx.load(str(source)), keep_io_types=True)
    onnx.save(model, str(dest))
    return time.perf_counter() - started
