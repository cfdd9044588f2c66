// sqnn_popcount: combinational count of selected input bits (fixed core, never generated).
//
//   count = sum_{a < NA} bits[IDX[a]]          (IDENT = 1: the NA = K bits themselves, IDX unused)
//
// The selected bits are cut into groups of 6 (one LUT6 level: a 6-bit -> 3-bit count per group), and the
// group counts are summed by a balanced binary adder tree.  IDX packs NA input indices of IB bits each, index
// a in bits [a*IB +: IB]; it is a structural constant of sqnn_struct.vh, so every selection is a wire.
`default_nettype none
module sqnn_popcount (bits, count);
  parameter K     = 1;    // input width, >= 1
  parameter NA    = 1;    // number of selected bits, >= 0
  parameter IB    = 1;    // bits per index
  parameter IDENT = 0;    // 1: select bits[0 .. NA-1]
  parameter [((NA > 0) ? NA : 1)*IB-1:0] IDX = {(((NA > 0) ? NA : 1)*IB){1'b0}};
  parameter CW    = 3;    // width of `count`, >= 3 and >= clog2(NA + 1)

  localparam NG = (NA + 5) / 6;        // number of 6-bit groups
  localparam NGP = (NG > 0) ? NG : 1;

  /* verilator lint_off UNUSEDSIGNAL */  // inputs not selected by this neuron
  input  wire [K-1:0]  bits;
  /* verilator lint_on UNUSEDSIGNAL */
  output wire [CW-1:0] count;

  // 3-bit population count of 6 bits as plain logic (two full adders and their sum; one LUT6 per output
  // bit).  Written as gates, not as a table: yosys would turn a table into a ROM and move registers into it.
  function [2:0] pc6;
    input [5:0] v;
    reg s1, c1, s2, c2, k;
    begin
      s1 = v[0] ^ v[1] ^ v[2];
      c1 = (v[0] & v[1]) | (v[0] & v[2]) | (v[1] & v[2]);
      s2 = v[3] ^ v[4] ^ v[5];
      c2 = (v[3] & v[4]) | (v[3] & v[5]) | (v[4] & v[5]);
      k  = s1 & s2;
      pc6 = {(c1 & c2) | (c1 & k) | (c2 & k), c1 ^ c2 ^ k, s1 ^ s2};
    end
  endfunction

  wire [6*NGP-1:0] sel;
  genvar a, g;
  generate
    for (a = 0; a < 6 * NGP; a = a + 1) begin : g_sel
      if (a >= NA) begin : g_pad
        assign sel[a] = 1'b0;
      end else if (IDENT != 0) begin : g_ident
        assign sel[a] = bits[a];
      end else begin : g_idx
        localparam integer I = {{(32 - IB){1'b0}}, IDX[a*IB +: IB]};
        assign sel[a] = bits[I];
      end
    end
  endgenerate

  wire [3*NGP-1:0] groups;
  generate
    for (g = 0; g < NGP; g = g + 1) begin : g_group
      assign groups[3*g +: 3] = pc6(sel[6*g +: 6]);
    end
  endgenerate

  // Balanced tree, in place: after the pass with stride s, slot g (g a multiple of 2s) holds the sum of
  // groups g .. g + 2s - 1.  (Measured with yosys synth_xilinx: fewer LUTs than a tree of exact-width
  // adders, which yosys maps to LUTs without carry chains.)
  reg [NGP*CW-1:0] acc;
  integer i, s;
  always @* begin
    acc = {NGP*CW{1'b0}};
    for (i = 0; i < NGP; i = i + 1)
      acc[i*CW +: CW] = {{(CW - 3){1'b0}}, groups[3*i +: 3]};
    for (s = 1; s < NGP; s = 2 * s)
      for (i = 0; i + s < NGP; i = i + 2 * s)
        acc[i*CW +: CW] = acc[i*CW +: CW] + acc[(i + s)*CW +: CW];
  end
  assign count = acc[CW-1:0];
endmodule
`default_nettype wire
