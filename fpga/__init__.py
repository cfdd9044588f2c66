"""fpga: a fixed Verilog core for SQNN inference and pure writers of its parameter files.

* :func:`write_project` writes a self-contained folder (fixed HDL, ``sqnn_params.vh``, ROMs) atomically;
* :func:`verify_project` checks it against its manifest and the model;
* :func:`simulate` co-simulates it with verilator (or iverilog), :func:`estimate_resources` synthesises it
  with yosys;
* ``render_*`` are the pure writers (``{filename: text}``), :func:`quantize_features` the input encoding.
"""

from .cost import estimate_cost
from .project import check_replaceable, export_cli, read_manifest, verify_project, write_project
from .quantize import (
    SaturationWarning,
    auto_frac_bits,
    dequantize_features,
    quantize_edges,
    quantize_features,
)
from .render import (
    class_threshold,
    model_facts,
    render_coe,
    render_hdl,
    render_manifest,
    render_memories,
    render_mif,
    render_params,
    render_project,
    render_readme,
    render_structure,
)
from .resources import estimate_resources, synthesize_netlist, synthesize_sources
from .simulate import (
    SimulationError,
    UnsafeCacheError,
    build,
    default_cache_dir,
    lint,
    missing_build_tools,
    simulate,
)
from .stochastic import StochasticConfig, noise_table, theta_quantized

__all__ = [
    "SaturationWarning",
    "SimulationError",
    "StochasticConfig",
    "UnsafeCacheError",
    "auto_frac_bits",
    "build",
    "check_replaceable",
    "class_threshold",
    "default_cache_dir",
    "dequantize_features",
    "estimate_cost",
    "estimate_resources",
    "export_cli",
    "lint",
    "missing_build_tools",
    "model_facts",
    "noise_table",
    "quantize_edges",
    "quantize_features",
    "read_manifest",
    "render_coe",
    "render_hdl",
    "render_manifest",
    "render_memories",
    "render_mif",
    "render_params",
    "render_project",
    "render_readme",
    "render_structure",
    "simulate",
    "synthesize_netlist",
    "synthesize_sources",
    "theta_quantized",
    "verify_project",
    "write_project",
]
