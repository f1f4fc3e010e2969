"""A model file run by OpenVINO: the runtime of the `int8-static-openvino` variants (f32 and
bf16 float parts).

OpenVINO compiles the whole graph for the CPU it runs on (oneDNN's int8 kernels, VNNI where the
CPU has it); on the 2-core AMD EPYC of docs/performance.md it encodes static int8 1.17 times as
fast as onnxruntime runs dynamic int8, one thread each, and closer to fp32.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import openvino as ov


class OpenVinoTokenStates:
    """An OpenVINO model (IR or ONNX file) compiled for the CPU with `threads` threads."""

    def __init__(self, model_file: Path, threads: int, float_precision: str = "f32") -> None:
        core = ov.Core()
        config: dict[str, object] = {
            "PERFORMANCE_HINT": "LATENCY",
            "NUM_STREAMS": 1,
            # On CPUs with BF16 (AVX512_BF16, AMX) OpenVINO would run the float parts in bf16 by
            # default; the variant says which, so the recorded variant says how vectors were made.
            # Asked for bf16, OpenVINO emulates it on AVX-512 CPUs without native bf16 and runs
            # f32 on others (tasks/embedding/variants.default_variant picks bf16 only where native).
            "INFERENCE_PRECISION_HINT": float_precision,
            # Pinning would tie every prefork process's threads to the same first cores.
            "ENABLE_CPU_PINNING": False,
        }
        if threads:
            config["INFERENCE_NUM_THREADS"] = threads
        self.compiled = core.compile_model(core.read_model(str(model_file)), "CPU", config)
        self.request = self.compiled.create_infer_request()
        self.input_names = {port.get_any_name() for port in self.compiled.inputs}
        self.threads = int(self.compiled.get_property("INFERENCE_NUM_THREADS"))
        # The export's first output is the token states (last_hidden_state).
        self._output = self.compiled.outputs[0]

    def run(self, feeds: dict[str, np.ndarray]) -> np.ndarray:
        states = self.request.infer(feeds)[self._output]
        return np.asarray(states, dtype=np.float32)
