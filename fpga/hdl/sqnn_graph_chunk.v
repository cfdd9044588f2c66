// sqnn_graph_chunk: up to CH consecutive nodes of a layer's shared adder graph (fixed core, never generated).
//
// Instantiated by sqnn_graph.v, one instance per chunk of its node table (NODES: the chunk's entries, layout
// in sqnn_graph.v).  Node BASE + i is sums[i*CW +: CW] = its two operands, summed in its own W_i bits and
// zero-extended to CW bits; sums_r is its registered copy (one register per node: yosys's Xilinx passes take
// far longer on one register as wide as all nodes).  An operand that is an unregistered node of this chunk
// (flag L) is read here from sums; every other operand arrives from sqnn_graph in a[i*CW +: CW] / b[i*CW +: CW].
// Each node is kept as its own two-input adder (keep): yosys would otherwise merge adder trees into
// multi-operand adders, which map to more LUTs (demo net: about 9 % more).
`default_nettype none
module sqnn_graph_chunk (clk, a, b, sums, sums_r);
  parameter CW   = 3;     // width of every operand and node slot
  parameter IB   = 1;     // bits per index of the table
  parameter WB   = 1;     // bits per width of the table
  parameter CH   = 1;     // entries per chunk of the table
  parameter N    = 1;     // nodes of this chunk (<= CH)
  parameter BASE = 0;     // index of the chunk's first node
  localparam NEB = 2 * IB + WB + 2;
  parameter [CH*NEB-1:0] NODES = 0;

  /* verilator lint_off UNUSEDSIGNAL */  // operand slots of local operands are 0 and unread
  input  wire [N*CW-1:0] a;
  input  wire [N*CW-1:0] b;
  /* verilator lint_on UNUSEDSIGNAL */
  input  wire            clk;
  output wire [N*CW-1:0] sums;
  output wire [N*CW-1:0] sums_r;

  genvar i;
  // Table fields are zero-extended to integer.
  /* verilator lint_off WIDTHEXPAND */
  generate
    for (i = 0; i < N; i = i + 1) begin : g_node
      localparam [NEB-1:0] E  = NODES[i*NEB +: NEB];
      localparam integer   W  = E[0 +: WB];
      localparam integer   A  = E[WB +: IB];
      localparam           AL = E[WB + IB];
      localparam integer   B  = E[WB + IB + 1 +: IB];
      localparam           BL = E[WB + 2*IB + 1];
      wire [W-1:0] x;
      wire [W-1:0] y;
      (* keep *) wire [W-1:0] v = x + y;   // its own adder (see above)
      reg  [W-1:0] v_r;
      always @(posedge clk) v_r <= v;
      if (AL) begin : g_al
        assign x = sums[(A - BASE)*CW +: W];
      end else begin : g_a
        assign x = a[i*CW +: W];
      end
      if (BL) begin : g_bl
        assign y = sums[(B - BASE)*CW +: W];
      end else begin : g_b
        assign y = b[i*CW +: W];
      end
      if (W < CW) begin : g_ext
        assign sums[i*CW +: CW]   = {{(CW - W){1'b0}}, v};
        assign sums_r[i*CW +: CW] = {{(CW - W){1'b0}}, v_r};
      end else begin : g_full
        assign sums[i*CW +: CW]   = v;
        assign sums_r[i*CW +: CW] = v_r;
      end
    end
  endgenerate
  /* verilator lint_on WIDTHEXPAND */
endmodule
`default_nettype wire
