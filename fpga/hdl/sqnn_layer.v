// sqnn_layer: one binary hidden layer (fixed core, never generated).
//
//   out_bits[j] = (dot_j >= thr_j),  dot_j = sum_i (+-1 in_i)(+-1 w_ji) = 2 * popcount(~(in ^ w_j)) - K
//
// Bit 1 means +1.  Weight ROM: M words of K bits (word j = neuron j, bit i = input i), threshold ROM: M
// signed THR_BITS-bit words, both loaded with $readmemh from WFILE / TFILE.  Latency: 2 clocks.
`default_nettype none
module sqnn_layer (clk, in_bits, out_bits);
  parameter K        = 1;    // input width
  parameter M        = 1;    // number of neurons
  parameter THR_BITS = 2;    // signed width of the thresholds (clamped to [-K, K+1] by the writer)
  parameter WFILE    = "layer0_weights.mem";
  parameter TFILE    = "layer0_thresholds.mem";

  function integer sqnn_clog2;
    input integer v;
    integer r;
    begin
      r = 0;
      while ((1 << r) < v) r = r + 1;
      sqnn_clog2 = r;
    end
  endfunction

  localparam CW0 = sqnn_clog2(K + 1);
  localparam CW  = (CW0 < 4) ? 4 : CW0;                               // popcount width
  localparam DW  = ((CW + 2 > THR_BITS) ? CW + 2 : THR_BITS) + 1;      // signed dot width
  localparam signed [DW-1:0] K_S = K;

  input  wire         clk;
  input  wire [K-1:0] in_bits;
  output reg  [M-1:0] out_bits;

  reg [K-1:0]        w_rom [0:M-1];
  reg [THR_BITS-1:0] t_rom [0:M-1];
  initial begin
    $readmemh(WFILE, w_rom, 0, M - 1);
    $readmemh(TFILE, t_rom, 0, M - 1);
  end

  genvar j;
  generate
    for (j = 0; j < M; j = j + 1) begin : g_neuron
      wire [CW-1:0] n_match;
      sqnn_popcount #(.K(K), .CW(CW)) u_pop (
        .clk(clk), .bits(~(in_bits ^ w_rom[j])), .count(n_match));
      wire signed [DW-1:0] dot = $signed({{(DW - CW - 1){1'b0}}, n_match, 1'b0}) - K_S;
      wire signed [DW-1:0] thr = $signed({{(DW - THR_BITS){t_rom[j][THR_BITS-1]}}, t_rom[j]});
      always @(posedge clk) out_bits[j] <= (dot >= thr);
    end
  endgenerate
endmodule
`default_nettype wire
