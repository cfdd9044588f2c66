// sqnn_graph: shared adder graph of one layer (fixed core, never generated).
//
// Computes, for the K input bits t, the count T = sum_i t_i and every neuron's count P_j of its selected inputs
// (see sqnn_layer.v), with the partial sums that several neurons share built once (fpga/graph.py).  The graph is
// structure of sqnn_struct.vh, slot SLOT: node n (W_n bits, unsigned) is the sum of two operands, each an input
// bit or an earlier node.  Nodes of the layer's first clock are computed from in_bits; every node and input has
// a registered copy (s_r, in_r; synthesis removes the ones nothing reads).  Nodes of the second clock read the
// registered copy of a first-clock operand (flag R = 1) and the value of a second-clock operand (R = 0).
//
// Every operand and count is read from one bus of CW-bit slots, src = {0, in_r, in_bits, s_r, s} (input bits
// zero-extended), at a slot index given by the tables: node n is slot n (s[n*CW +: CW], its W_n bits
// zero-extended), its registered copy slot NS + n, input i slot 2 NS + i, its registered copy 2 NS + K + i, and
// slot 2 NS + 2 K is 0 (NS = max(1, number of nodes)).  The nodes are built in chunks of SQNN_G_CH, one
// sqnn_graph_chunk instance each, with the chunk's table as a parameter: yosys elaborates a module in time that
// grows faster than linearly with its generate scopes and localparams, so this module holds only one assign per
// operand (src slot -> the chunk's operand ports a, b; the zero slot where the chunk reads its own node).
//
// Tables, in chunks of SQNN_G_CH entries (entry e in chunk e / SQNN_G_CH, bits [(e % SQNN_G_CH) * width +:
// width]), fields from the low bits (IB = SQNN_G_IB bits per slot index, WB = SQNN_G_WB bits per width):
//   sqnn_g_node(SLOT, c): node n = {BL, B, AL, A, W}: operands A and B are src slots; AL = 1: operand A is an
//                         unregistered node of the same chunk, read inside sqnn_graph_chunk (A is its node
//                         index, its port slot holds 0);
//   sqnn_g_row(SLOT, c):  row r = {R}: the row's count is src slot R (the zero slot for an empty row).
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
  localparam NEB = 2 * IB + WB + 2;
  localparam NN  = sqnn_g_nodes(SLOT, 0);
  localparam NC  = (NN + SQNN_G_CH - 1) / SQNN_G_CH;   // chunks of the node table
  localparam NS  = NN > 0 ? NN : 1;                    // node slots (one unused slot if the graph is empty)

  input  wire               clk;
  input  wire [K-1:0]       in_bits;
  output wire [ROWS*CW-1:0] counts;

  /* verilator lint_off UNUSEDSIGNAL */  // slots nothing reads
  reg  [K-1:0]     in_r;
  // split_var: verilator converts a bus that runs through all chunks ~6x faster in pieces
  wire [NS*CW-1:0] s   /*verilator split_var*/;        // nodes
  wire [NS*CW-1:0] s_r /*verilator split_var*/;        // their registered copies
  wire [K*CW-1:0]  in_x;                               // in_bits, zero-extended to CW bits each
  wire [K*CW-1:0]  in_rx;                              // in_r, the same
  wire [(2*NS+2*K+1)*CW-1:0] src = {{CW{1'b0}}, in_rx, in_x, s_r, s};
  wire [NS*CW-1:0] a   /*verilator split_var*/;        // operand ports of the chunks, node by node
  wire [NS*CW-1:0] b   /*verilator split_var*/;
  /* verilator lint_on UNUSEDSIGNAL */
  always @(posedge clk) in_r <= in_bits;

  genvar c, i, r;
  generate
    if (NN == 0) begin : g_none
      assign s = {CW{1'b0}};
      assign s_r = {CW{1'b0}};
      assign a = {CW{1'b0}};
      assign b = {CW{1'b0}};
    end
    for (i = 0; i < K; i = i + 1) begin : g_in
      assign in_x[i*CW +: CW]  = {{(CW - 1){1'b0}}, in_bits[i]};
      assign in_rx[i*CW +: CW] = {{(CW - 1){1'b0}}, in_r[i]};
    end
    // Operands a, b of node c*CH + i: src slots A, B (fields written out: no localparams, which yosys
    // elaborates slowly in a large module), or 0 if the chunk reads its own node (AL, BL).
    for (c = 0; c < NC; c = c + 1) begin : g_chunk
      localparam N = (c + 1) * SQNN_G_CH <= NN ? SQNN_G_CH : NN - c * SQNN_G_CH;   // nodes of chunk c
      localparam [SQNN_G_CH*NEB-1:0] NODES = sqnn_g_node(SLOT, c);
      for (i = 0; i < N; i = i + 1) begin : g_op
        assign a[(c*SQNN_G_CH + i)*CW +: CW] =
          NODES[i*NEB + WB + IB] ? {CW{1'b0}} : src[NODES[i*NEB + WB +: IB]*CW +: CW];
        assign b[(c*SQNN_G_CH + i)*CW +: CW] =
          NODES[i*NEB + WB + 2*IB + 1] ? {CW{1'b0}} : src[NODES[i*NEB + WB + IB + 1 +: IB]*CW +: CW];
      end
      sqnn_graph_chunk #(.CW(CW), .IB(IB), .WB(WB), .CH(SQNN_G_CH), .N(N), .BASE(c * SQNN_G_CH), .NODES(NODES))
        u_chunk (.clk(clk), .a(a[c*SQNN_G_CH*CW +: N*CW]), .b(b[c*SQNN_G_CH*CW +: N*CW]),
                 .sums(s[c*SQNN_G_CH*CW +: N*CW]), .sums_r(s_r[c*SQNN_G_CH*CW +: N*CW]));
    end
    for (r = 0; r < ROWS; r = r + 1) begin : g_row
      localparam [SQNN_G_CH*IB-1:0] ROWC = sqnn_g_row(SLOT, r / SQNN_G_CH);
      assign counts[r*CW +: CW] = src[ROWC[(r % SQNN_G_CH)*IB +: IB]*CW +: CW];
    end
  endgenerate
endmodule
`default_nettype wire
