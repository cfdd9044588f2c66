// sqnn_graph: shared adder graph of one layer (fixed core, never generated).
//
// Computes, for the K input bits t, the count T = sum_i t_i and every neuron's count P_j of its selected inputs
// (see sqnn_layer.v), with the partial sums that several neurons share built once (fpga/graph.py).  The graph is
// structure of sqnn_struct.vh, slot SLOT: node n (W_n bits, unsigned) is the sum of two operands, each an input
// bit or an earlier node.  Node n is s[n*CW +: CW] (its W_n bits, zero-extended); the nodes are built in chunks
// of SQNN_G_CH, one sqnn_graph_chunk instance each (sqnn_graph_chunk.v): yosys elaborates a generate loop in
// time quadratic in the size of the module, so each chunk is a small module of its own (linear overall).  Nodes
// of the layer's first clock are computed from in_bits; every node and input has a registered copy (s_r, in_r;
// synthesis removes the ones nothing reads).  Nodes of the second clock read the registered copy of a
// first-clock operand (flag R = 1) and the value of a second-clock operand (R = 0).
//
// Tables, in chunks of SQNN_G_CH entries (entry e in chunk e / SQNN_G_CH, bits [(e % SQNN_G_CH) * width +:
// width]), fields from the low bits (IB = SQNN_G_IB bits per index, WB = SQNN_G_WB bits per width):
//   sqnn_g_node(SLOT, c): node n = {BR, BN, B, AR, AN, A, W}: operand A is node A if AN = 1, else input A;
//   sqnn_g_row(SLOT, c):  row r = {NONEMPTY, RR, RN, R}: the row's count is node / input R (registered copy if
//                         RR = 1), 0 if the row is empty.
// Output: counts[r*CW +: CW] = count of row r in the layer's second clock (row 0: T, row 1 + j: P_j).
`default_nettype none
module sqnn_graph (clk, in_bits, counts);
  parameter SLOT = 0;     // slot of sqnn_struct.vh (0..2: hidden layers, 3: output layer)
  parameter K    = 1;     // input width
  parameter ROWS = 1;     // counted subsets: T and one per neuron
  parameter CW   = 3;     // width of every count (>= the width of any node)

  /* verilator lint_off UNUSEDPARAM */
  `include "sqnn_struct.vh"
  /* verilator lint_on UNUSEDPARAM */

  localparam IB  = SQNN_G_IB;
  localparam WB  = SQNN_G_WB;
  localparam REB = IB + 3;
  localparam NN  = sqnn_g_nodes(SLOT, 0);
  localparam NC  = (NN + SQNN_G_CH - 1) / SQNN_G_CH;   // chunks of the node table
  localparam NS  = NN > 0 ? NN : 1;                    // node slots (one unused slot if the graph is empty)

  input  wire               clk;
  input  wire [K-1:0]       in_bits;
  output wire [ROWS*CW-1:0] counts;

  /* verilator lint_off UNUSEDSIGNAL */  // registered copies nothing reads
  reg  [K-1:0]    in_r;
  reg  [NS*CW-1:0] s_r;
  wire [NS*CW-1:0] s;
  /* verilator lint_on UNUSEDSIGNAL */
  always @(posedge clk) begin
    in_r <= in_bits;
    s_r  <= s;
  end

  genvar c, r;
  generate
    if (NN == 0) begin : g_none
      assign s = {CW{1'b0}};
    end
    for (c = 0; c < NC; c = c + 1) begin : g_chunk
      localparam N = (c + 1) * SQNN_G_CH <= NN ? SQNN_G_CH : NN - c * SQNN_G_CH;   // nodes of chunk c
      sqnn_graph_chunk #(.K(K), .NS(NS), .CW(CW), .IB(IB), .WB(WB), .CH(SQNN_G_CH), .N(N), .NODES(sqnn_g_node(SLOT, c)))
        u_chunk (.in_bits(in_bits), .in_r(in_r), .s(s), .s_r(s_r), .sums(s[c*SQNN_G_CH*CW +: N*CW]));
    end
    // Table fields and operands are zero-extended (to integer, to the count's width).
    /* verilator lint_off WIDTHEXPAND */
    for (r = 0; r < ROWS; r = r + 1) begin : g_row
      localparam [SQNN_G_CH*REB-1:0] CHUNK = sqnn_g_row(SLOT, r / SQNN_G_CH);
      localparam [REB-1:0] E = CHUNK[(r % SQNN_G_CH)*REB +: REB];
      localparam integer R  = E[0 +: IB];
      localparam         RN = E[IB];
      localparam         RR = E[IB + 1];
      if (!E[IB + 2]) begin : g_empty
        assign counts[r*CW +: CW] = {CW{1'b0}};
      end else if (RN && RR) begin : g_nr
        assign counts[r*CW +: CW] = s_r[R*CW +: CW];
      end else if (RN) begin : g_n
        assign counts[r*CW +: CW] = s[R*CW +: CW];
      end else if (RR) begin : g_ir
        assign counts[r*CW +: CW] = in_r[R];
      end else begin : g_i
        assign counts[r*CW +: CW] = in_bits[R];
      end
    end
    /* verilator lint_on WIDTHEXPAND */
  endgenerate
endmodule
`default_nettype wire
