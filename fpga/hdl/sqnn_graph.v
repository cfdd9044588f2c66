// sqnn_graph: shared adder graph of one layer (fixed core, never generated).
//
// Computes, for the K input bits t, the count T = sum_i t_i and every neuron's count P_j of its selected inputs
// (see sqnn_layer.v), with the partial sums that several neurons share built once (fpga/graph.py).  The graph is
// structure of sqnn_struct.vh, slot SLOT: node n (g_chunk[n / SQNN_G_CH].g_node[n % SQNN_G_CH].s, W_n bits,
// unsigned; one constant-function call per chunk keeps elaboration fast) is the sum of two operands,
// each an input bit or an earlier node.  Nodes of the layer's first clock are computed from in_bits; every
// node and input has a registered copy (s_r, in_r; synthesis removes the ones nothing reads).  Nodes of the
// second clock read the registered copy of a first-clock operand (flag R = 1) and the value of a second-clock
// operand (R = 0).
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
  localparam NEB = 2 * IB + WB + 4;
  localparam REB = IB + 3;
  localparam NN  = sqnn_g_nodes(SLOT, 0);
  localparam NC  = (NN + SQNN_G_CH - 1) / SQNN_G_CH;   // chunks of the node table

  input  wire               clk;
  input  wire [K-1:0]       in_bits;
  output wire [ROWS*CW-1:0] counts;

  /* verilator lint_off UNUSEDSIGNAL */  // registered copies nothing reads
  reg [K-1:0] in_r;
  /* verilator lint_on UNUSEDSIGNAL */
  always @(posedge clk) in_r <= in_bits;

  genvar c, i, r;
  // Table fields and operands are zero-extended (to integer, to the node's or the count's width).
  /* verilator lint_off WIDTHEXPAND */
  generate
    for (c = 0; c < NC; c = c + 1) begin : g_chunk
      localparam [SQNN_G_CH*NEB-1:0] CHUNK = sqnn_g_node(SLOT, c);
      for (i = 0; i < SQNN_G_CH && c * SQNN_G_CH + i < NN; i = i + 1) begin : g_node
        // fields of entry i (one localparam each: yosys elaborates a localparam in a generate loop slowly)
        localparam integer W  = CHUNK[i*NEB +: WB];
        localparam integer A  = CHUNK[i*NEB + WB +: IB];
        localparam [1:0]   AK = CHUNK[i*NEB + WB + IB +: 2];          // {registered, node}
        localparam integer B  = CHUNK[i*NEB + WB + IB + 2 +: IB];
        localparam [1:0]   BK = CHUNK[i*NEB + WB + 2*IB + 2 +: 2];
        wire [W-1:0] a;
        wire [W-1:0] b;
        wire [W-1:0] s = a + b;
        /* verilator lint_off UNUSEDSIGNAL */
        reg  [W-1:0] s_r;
        /* verilator lint_on UNUSEDSIGNAL */
        always @(posedge clk) s_r <= s;
        if (AK == 2'b11) begin : g_anr
          assign a = g_chunk[A / SQNN_G_CH].g_node[A % SQNN_G_CH].s_r;
        end else if (AK == 2'b01) begin : g_an
          assign a = g_chunk[A / SQNN_G_CH].g_node[A % SQNN_G_CH].s;
        end else if (AK == 2'b10) begin : g_air
          assign a = in_r[A];
        end else begin : g_ai
          assign a = in_bits[A];
        end
        if (BK == 2'b11) begin : g_bnr
          assign b = g_chunk[B / SQNN_G_CH].g_node[B % SQNN_G_CH].s_r;
        end else if (BK == 2'b01) begin : g_bn
          assign b = g_chunk[B / SQNN_G_CH].g_node[B % SQNN_G_CH].s;
        end else if (BK == 2'b10) begin : g_bir
          assign b = in_r[B];
        end else begin : g_bi
          assign b = in_bits[B];
        end
      end
    end
    for (r = 0; r < ROWS; r = r + 1) begin : g_row
      localparam [SQNN_G_CH*REB-1:0] CHUNK = sqnn_g_row(SLOT, r / SQNN_G_CH);
      localparam [REB-1:0] E = CHUNK[(r % SQNN_G_CH)*REB +: REB];
      localparam integer R  = E[0 +: IB];
      localparam         RN = E[IB];
      localparam         RR = E[IB + 1];
      if (!E[IB + 2]) begin : g_empty
        assign counts[r*CW +: CW] = {CW{1'b0}};
      end else if (RN && RR) begin : g_nr
        assign counts[r*CW +: CW] = g_chunk[R / SQNN_G_CH].g_node[R % SQNN_G_CH].s_r;
      end else if (RN) begin : g_n
        assign counts[r*CW +: CW] = g_chunk[R / SQNN_G_CH].g_node[R % SQNN_G_CH].s;
      end else if (RR) begin : g_ir
        assign counts[r*CW +: CW] = in_r[R];
      end else begin : g_i
        assign counts[r*CW +: CW] = in_bits[R];
      end
    end
  endgenerate
  /* verilator lint_on WIDTHEXPAND */
endmodule
`default_nettype wire
