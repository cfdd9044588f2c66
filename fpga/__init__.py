"""fpga: a fixed Verilog core for SQNN inference and writers of its parameter files."""

__all__: list[str] = []
