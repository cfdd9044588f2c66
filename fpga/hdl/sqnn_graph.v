// sqnn_graph: shared adder graph of one layer (fixed core, never generated).
//
// Computes, for the K input bits t, the count T = sum_i t_i and every neuron's count P_j of its selected inputs
// (see sqnn_layer.v), with the partial sums that several neurons share built once (fpga/graph.py).  The graph is
// structure of sqnn_struct.vh, slot SLOT:
//   signal s < K is input bit s; signal K + n is node n = signal A_n + signal B_n (unsigned, two operands,
//   operands before the node), W_s bits wide, at bits [OFF_s +: W_s] of `bus`; input s sits at bit s;
//   STG_s = 0: computed in the layer's first clock from in_bits, and registered (bus_r);
//   STG_s = 1: computed in the second clock, from the registered first-clock signals (bus_r) and the other
//   second-clock signals (bus).
// Tables (sqnn_g_*(SLOT)): ops packs A_n, B_n (SQNN_G_SB bits each, A first, node 0 in the low bits); sig packs
// {STG_s, W_s, OFF_s} (SQNN_G_OB + SQNN_G_WB + 1 bits per signal).  A reader takes signal s from bus_r if
// STG_s = 0, else from bus.  Registers that nothing reads are removed by synthesis.
// Output: counts[r*CW +: CW] = count of row r in the second clock (row 0: T, row 1 + j: P_j); roots packs
// 1 + the signal index of every row's count (0: an empty row, count 0), SQNN_G_SB bits per row.
`default_nettype none
module sqnn_graph (clk, in_bits, counts);
  parameter SLOT = 0;     // slot of sqnn_struct.vh (0..2: hidden layers, 3: output layer)
  parameter K    = 1;     // input width
  parameter ROWS = 1;     // counted subsets: T and one per neuron
  parameter CW   = 3;     // width of every count (>= the width of any signal)

  /* verilator lint_off UNUSEDPARAM */
  `include "sqnn_struct.vh"
  /* verilator lint_on UNUSEDPARAM */

  localparam NN  = sqnn_g_nodes(SLOT);
  localparam SW  = sqnn_g_bus(SLOT);
  localparam SGB = SQNN_G_OB + SQNN_G_WB + 1;
  localparam [SQNN_G_OPS_W-1:0] OPS = sqnn_g_ops(SLOT);
  localparam [SQNN_G_SIG_W-1:0] SIG = sqnn_g_sig(SLOT);
  localparam [SQNN_G_ROOT_W-1:0] ROOTS = sqnn_g_root(SLOT);

  input  wire          clk;
  input  wire [K-1:0]  in_bits;
  output wire [ROWS*CW-1:0] counts;

  wire [SW-1:0] bus;
  /* verilator lint_off UNUSEDSIGNAL */  // registered copies nothing reads
  reg  [SW-1:0] bus_r;
  /* verilator lint_on UNUSEDSIGNAL */

  assign bus[K-1:0] = in_bits;
  always @(posedge clk) bus_r <= bus;

  genvar n, r;
  // Table fields and operands are zero-extended (to integer, to the node's or the count's width).
  /* verilator lint_off WIDTHEXPAND */
  generate
    for (n = 0; n < NN; n = n + 1) begin : g_node
      localparam integer A = OPS[(2*n)*SQNN_G_SB +: SQNN_G_SB];
      localparam integer B = OPS[(2*n+1)*SQNN_G_SB +: SQNN_G_SB];
      localparam [SGB-1:0] DY = SIG[(K+n)*SGB +: SGB];
      localparam [SGB-1:0] DA = SIG[A*SGB +: SGB];
      localparam [SGB-1:0] DB = SIG[B*SGB +: SGB];
      localparam integer OFF = DY[SQNN_G_OB-1:0];
      localparam integer W   = DY[SQNN_G_OB +: SQNN_G_WB];
      localparam integer AO  = DA[SQNN_G_OB-1:0];
      localparam integer AW  = DA[SQNN_G_OB +: SQNN_G_WB];
      localparam integer BO  = DB[SQNN_G_OB-1:0];
      localparam integer BW  = DB[SQNN_G_OB +: SQNN_G_WB];
      wire [W-1:0] a;
      wire [W-1:0] b;
      if (DY[SGB-1] && !DA[SGB-1]) begin : g_ar
        assign a = bus_r[AO +: AW];
      end else begin : g_ac
        assign a = bus[AO +: AW];
      end
      if (DY[SGB-1] && !DB[SGB-1]) begin : g_br
        assign b = bus_r[BO +: BW];
      end else begin : g_bc
        assign b = bus[BO +: BW];
      end
      assign bus[OFF +: W] = a + b;
    end
    for (r = 0; r < ROWS; r = r + 1) begin : g_row
      localparam integer R1 = ROOTS[r*SQNN_G_SB +: SQNN_G_SB];
      if (R1 == 0) begin : g_empty
        assign counts[r*CW +: CW] = {CW{1'b0}};
      end else begin : g_root
        localparam [SGB-1:0] DR = SIG[(R1-1)*SGB +: SGB];
        localparam integer RO = DR[SQNN_G_OB-1:0];
        localparam integer RW = DR[SQNN_G_OB +: SQNN_G_WB];
        if (DR[SGB-1]) begin : g_comb
          assign counts[r*CW +: CW] = bus[RO +: RW];
        end else begin : g_reg
          assign counts[r*CW +: CW] = bus_r[RO +: RW];
        end
      end
    end
  endgenerate
  /* verilator lint_on WIDTHEXPAND */
endmodule
`default_nettype wire
