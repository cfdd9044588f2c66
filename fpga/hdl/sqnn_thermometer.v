// sqnn_thermometer: comparator stage of the thermometer encoder (fixed core, never generated).
//
//   therm[j] = (x[feature_of(j)] >= edge[j]) = not sign(x - edge[j])   (x - edge in EDGE_BITS + 1 bits: a carry
//              chain whose other operand is the constant edge once the ROM is folded in, so no LUT on Xilinx)
//
// Features are FEATURE_BITS-bit two's complement integers (feature 0 in the least significant bits).
// Edge ROM: N_THERM signed EDGE_BITS-bit words (EDGE_BITS = FEATURE_BITS + 1, so an edge above the largest
// input can be stored as max + 1 and never fires, an edge at or below the smallest as min and always
// fires).  Feature-index ROM: N_THERM words of FIDX_BITS bits (thermometer bit j belongs to that feature).
// Latency: 1 clock.
`default_nettype none
module sqnn_thermometer (clk, features, therm);
  parameter N_FEATURES   = 1;
  parameter FEATURE_BITS = 16;
  parameter EDGE_BITS    = 17;
  parameter N_THERM      = 1;
  parameter FIDX_BITS    = 1;
  parameter EFILE        = "edges.mem";
  parameter FFILE        = "edge_feature.mem";

  input  wire                               clk;
  input  wire [N_FEATURES*FEATURE_BITS-1:0] features;
  output reg  [N_THERM-1:0]                 therm;

  reg [EDGE_BITS-1:0] e_rom [0:N_THERM-1];
  reg [FIDX_BITS-1:0] f_rom [0:N_THERM-1];
  initial begin
    $readmemh(EFILE, e_rom, 0, N_THERM - 1);
    $readmemh(FFILE, f_rom, 0, N_THERM - 1);
  end

  // Sign-extend every feature once to EDGE_BITS.
  wire [N_FEATURES*EDGE_BITS-1:0] wide;
  genvar f, j;
  generate
    for (f = 0; f < N_FEATURES; f = f + 1) begin : g_feat
      assign wide[f*EDGE_BITS +: EDGE_BITS] = {{(EDGE_BITS - FEATURE_BITS){features[f*FEATURE_BITS + FEATURE_BITS - 1]}},
                                               features[f*FEATURE_BITS +: FEATURE_BITS]};
    end
    for (j = 0; j < N_THERM; j = j + 1) begin : g_cmp
      wire [EDGE_BITS-1:0] x = wide[f_rom[j]*EDGE_BITS +: EDGE_BITS];
      /* verilator lint_off UNUSEDSIGNAL */  // only the sign is used
      wire [EDGE_BITS:0]   d = {x[EDGE_BITS-1], x} - {e_rom[j][EDGE_BITS-1], e_rom[j]};
      /* verilator lint_on UNUSEDSIGNAL */
      always @(posedge clk) therm[j] <= ~d[EDGE_BITS];
    end
  endgenerate
endmodule
`default_nettype wire
