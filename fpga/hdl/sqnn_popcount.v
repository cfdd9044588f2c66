// sqnn_popcount: pipelined population count of a K-bit vector (fixed core, never generated).
//
// Stage A (registered): the vector is cut into groups of 6 bits (one LUT6 level on most FPGAs) and the
// 3-bit count of each group is registered.  Stage B (combinational, registered by the caller): the group
// counts are summed.  `count` is valid one clock after `bits`.
`default_nettype none
module sqnn_popcount (clk, bits, count);
  parameter K  = 1;   // vector width, >= 1
  parameter CW = 4;   // width of `count`, >= 4 and >= clog2(K+1)

  localparam NG = (K + 5) / 6;   // number of 6-bit groups
  localparam KP = 6 * NG;        // padded width

  input  wire          clk;
  input  wire [K-1:0]  bits;
  output reg  [CW-1:0] count;

  wire [KP-1:0] padded;
  generate
    if (KP > K) begin : g_pad
      assign padded = {{(KP - K){1'b0}}, bits};
    end else begin : g_nopad
      assign padded = bits;
    end
  endgenerate

  reg [3*NG-1:0] groups_d, groups;
  reg [2:0]      g_sum;
  integer g, b;
  always @* begin
    groups_d = {3*NG{1'b0}};
    for (g = 0; g < NG; g = g + 1) begin
      g_sum = 3'd0;
      for (b = 0; b < 6; b = b + 1)
        g_sum = g_sum + {2'b00, padded[6*g + b]};
      groups_d[3*g +: 3] = g_sum;
    end
  end
  always @(posedge clk) groups <= groups_d;

  always @* begin
    count = {CW{1'b0}};
    for (g = 0; g < NG; g = g + 1)
      count = count + {{(CW - 3){1'b0}}, groups[3*g +: 3]};
  end
endmodule
`default_nettype wire
